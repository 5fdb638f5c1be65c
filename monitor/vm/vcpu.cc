#include "monitor/vm/vcpu.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>

namespace mote::vm {

namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + strerror(errno); }

kvm_segment to_kvm(const boot::SegmentState& s) {
  kvm_segment k{};
  k.base = s.descriptor.base;
  k.limit = s.descriptor.byte_limit();
  k.selector = s.selector;
  k.type = s.descriptor.type;
  k.present = s.descriptor.present;
  k.dpl = s.descriptor.dpl;
  k.db = s.descriptor.db;
  k.s = s.descriptor.s;
  k.l = s.descriptor.l;
  k.g = s.descriptor.g;
  k.avl = s.descriptor.avl;
  k.unusable = 0;
  return k;
}

}  // namespace

Vcpu::Vcpu(Vcpu&& o) noexcept
    : fd_(std::move(o.fd_)), id_(o.id_), run_(std::exchange(o.run_, nullptr)), run_size_(o.run_size_) {}

Vcpu::~Vcpu() {
  if (run_) munmap(run_, run_size_);
}

Expected<void> Vcpu::set_cpuid(const CpuidTable& table) {
  KvmCpuidBuffer buf(table.size());
  std::memcpy(buf.entries(), table.data(), table.size() * sizeof(kvm_cpuid_entry2));
  // KVM API doc "KVM_SET_CPUID2".
  if (ioctl(fd_.get(), kKvmSetCpuid2, buf.arg()) < 0) return fail(errno_text("KVM_SET_CPUID2"));
  return {};
}

Expected<CpuidTable> Vcpu::cpuid() const {
  // KVM API doc "KVM_GET_CPUID2": E2BIG when nent is smaller than the table.
  for (size_t n = 128; n <= 4096; n *= 2) {
    KvmCpuidBuffer buf(n);
    if (ioctl(fd_.get(), kKvmGetCpuid2, buf.arg()) == 0) return buf.table();
    if (errno != E2BIG) return fail(errno_text("KVM_GET_CPUID2"));
  }
  return fail("KVM_GET_CPUID2: more than 4096 entries");
}

Expected<uint32_t> Vcpu::tsc_khz() const {
  // KVM API doc "KVM_GET_TSC_KHZ" (KVM_CAP_GET_TSC_KHZ): returns the frequency.
  int khz = ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  if (khz <= 0) return fail(errno_text("KVM_GET_TSC_KHZ"));
  return uint32_t(khz);
}

Expected<void> Vcpu::set_entry_state(const boot::EntryState& st) {
  // KVM API doc "KVM_GET_SREGS"/"KVM_SET_SREGS": start from the reset state so
  // apic_base, TR and LDT keep KVM's values (TR: a busy TSS, as VM entry needs).
  kvm_sregs sregs{};
  if (ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return fail(errno_text("KVM_GET_SREGS"));
  sregs.cs = to_kvm(st.code);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = to_kvm(st.data);
  sregs.gdt.base = st.gdt_base;
  sregs.gdt.limit = st.gdt_limit;
  sregs.idt.base = 0;
  sregs.idt.limit = 0;  // no IDT: any exception before the kernel's own ends in a triple fault
  sregs.cr0 = st.cr0.bits();
  sregs.cr3 = st.cr3;
  sregs.cr4 = st.cr4.bits();
  sregs.efer = st.efer.bits();
  if (ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) return fail(errno_text("KVM_SET_SREGS"));

  // KVM API doc "KVM_SET_REGS".
  kvm_regs regs{};
  regs.rip = st.rip;
  regs.rsp = st.rsp;
  regs.rflags = st.rflags;
  regs.rdi = st.rdi;
  regs.rsi = st.rsi;
  if (ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return fail(errno_text("KVM_SET_REGS"));
  return {};
}

Expected<void> Vcpu::make_runnable() {
  kvm_mp_state state{KVM_MP_STATE_RUNNABLE};
  if (ioctl(fd_.get(), KVM_SET_MP_STATE, &state) < 0) return fail(errno_text("KVM_SET_MP_STATE"));
  return {};
}

Expected<void> Vcpu::start_at(uint64_t rip, uint64_t rsp) {
  kvm_regs regs{};
  if (ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return fail(errno_text("KVM_GET_REGS"));
  regs.rip = rip;
  regs.rsp = rsp;
  regs.rflags = 0x2;  // interrupts off, as the boot CPU's entry
  if (ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return fail(errno_text("KVM_SET_REGS"));
  return make_runnable();
}

Expected<kvm_regs> Vcpu::regs() const {
  kvm_regs regs{};
  if (ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return fail(errno_text("KVM_GET_REGS"));
  return regs;
}

Expected<void> Vcpu::set_guest_debug(const gdbstub::DebugConfig& c) {
  // KVM API doc "KVM_SET_GUEST_DEBUG": int3s exit to the monitor (USE_SW_BP),
  // TF on every entry (SINGLESTEP), and debugreg[0]/[7] as DR0/DR7 for an
  // execute breakpoint (DR7.L0, R/W0 = LEN0 = 00: SDM 3B 18.2.4).
  kvm_guest_debug d{};
  d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
  if (c.single_step) d.control |= KVM_GUESTDBG_SINGLESTEP;
  if (c.exec_breakpoint) {
    d.control |= KVM_GUESTDBG_USE_HW_BP;
    d.arch.debugreg[0] = *c.exec_breakpoint;
    d.arch.debugreg[7] = 1;
  }
  if (ioctl(fd_.get(), KVM_SET_GUEST_DEBUG, &d) < 0) return fail(errno_text("KVM_SET_GUEST_DEBUG"));
  return {};
}

Expected<void> Vcpu::clear_guest_debug() {
  kvm_guest_debug d{};
  if (ioctl(fd_.get(), KVM_SET_GUEST_DEBUG, &d) < 0) return fail(errno_text("KVM_SET_GUEST_DEBUG"));
  return {};
}

namespace {

// kvm_regs <-> Linux mcontext gregs (mote::gdb::Greg order).
constexpr std::pair<int, __u64 kvm_regs::*> kGregs[] = {
    {mote::gdb::R8, &kvm_regs::r8},   {mote::gdb::R9, &kvm_regs::r9},   {mote::gdb::R10, &kvm_regs::r10},
    {mote::gdb::R11, &kvm_regs::r11}, {mote::gdb::R12, &kvm_regs::r12}, {mote::gdb::R13, &kvm_regs::r13},
    {mote::gdb::R14, &kvm_regs::r14}, {mote::gdb::R15, &kvm_regs::r15}, {mote::gdb::RDI, &kvm_regs::rdi},
    {mote::gdb::RSI, &kvm_regs::rsi}, {mote::gdb::RBP, &kvm_regs::rbp}, {mote::gdb::RBX, &kvm_regs::rbx},
    {mote::gdb::RDX, &kvm_regs::rdx}, {mote::gdb::RAX, &kvm_regs::rax}, {mote::gdb::RCX, &kvm_regs::rcx},
    {mote::gdb::RSP, &kvm_regs::rsp}, {mote::gdb::RIP, &kvm_regs::rip}, {mote::gdb::EFL, &kvm_regs::rflags}};

// kvm_fpu <-> the fxsave image (SDM vol 1, 10.5.1 FXSAVE Area).
void fpu_to_fxsave(const kvm_fpu& f, uint8_t* fx) {
  std::memcpy(fx + 0, &f.fcw, 2);
  std::memcpy(fx + 2, &f.fsw, 2);
  fx[4] = f.ftwx;
  std::memcpy(fx + 6, &f.last_opcode, 2);
  std::memcpy(fx + 8, &f.last_ip, 8);
  std::memcpy(fx + 16, &f.last_dp, 8);
  std::memcpy(fx + 24, &f.mxcsr, 4);
  for (int i = 0; i < 8; ++i) std::memcpy(fx + 32 + 16 * i, f.fpr[i], 16);
  for (int i = 0; i < 16; ++i) std::memcpy(fx + 160 + 16 * i, f.xmm[i], 16);
}

void fxsave_to_fpu(const uint8_t* fx, kvm_fpu* f) {
  std::memcpy(&f->fcw, fx + 0, 2);
  std::memcpy(&f->fsw, fx + 2, 2);
  f->ftwx = fx[4];
  std::memcpy(&f->last_opcode, fx + 6, 2);
  std::memcpy(&f->last_ip, fx + 8, 8);
  std::memcpy(&f->last_dp, fx + 16, 8);
  std::memcpy(&f->mxcsr, fx + 24, 4);
  for (int i = 0; i < 8; ++i) std::memcpy(f->fpr[i], fx + 32 + 16 * i, 16);
  for (int i = 0; i < 16; ++i) std::memcpy(f->xmm[i], fx + 160 + 16 * i, 16);
}

}  // namespace

Expected<void> Vcpu::load_debug_state(gdbstub::CpuState* out) const {
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm_fpu fpu{};
  if (ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return fail(errno_text("KVM_GET_REGS"));
  if (ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return fail(errno_text("KVM_GET_SREGS"));
  for (const auto& [greg, field] : kGregs) out->gregs[greg] = regs.*field;
  out->gregs[mote::gdb::CSGSFS] = sregs.cs.selector;
  out->cr3 = sregs.cr3;
  out->has_fxsave = ioctl(fd_.get(), KVM_GET_FPU, &fpu) == 0;
  if (out->has_fxsave) fpu_to_fxsave(fpu, out->fxsave);
  return {};
}

Expected<void> Vcpu::store_debug_state(const gdbstub::CpuState& in) {
  kvm_regs regs{};
  if (ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return fail(errno_text("KVM_GET_REGS"));
  for (const auto& [greg, field] : kGregs) regs.*field = in.gregs[greg];
  if (ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return fail(errno_text("KVM_SET_REGS"));
  if (in.has_fxsave) {
    kvm_fpu fpu{};
    fxsave_to_fpu(in.fxsave, &fpu);
    if (ioctl(fd_.get(), KVM_SET_FPU, &fpu) < 0) return fail(errno_text("KVM_SET_FPU"));
  }
  return {};
}

Expected<VmExit> Vcpu::run() {
  for (;;) {
    // KVM API doc "KVM_RUN": EINTR when a signal is pending; go back in,
    // unless kick() asked for this.
    bool interrupted = false;
    if (ioctl(fd_.get(), KVM_RUN, 0) < 0) {
      if (errno != EINTR && errno != EAGAIN) return fail(errno_text("KVM_RUN"));
      interrupted = true;
    } else if (run_->exit_reason == KVM_EXIT_INTR) {
      interrupted = true;
    }
    if (!interrupted) return translate_exit();
    if (__atomic_exchange_n(&run_->immediate_exit, 0, __ATOMIC_ACQ_REL)) {
      VmExit e;
      e.kind = ExitKind::Interrupted;
      return e;
    }
  }
}

namespace {
void on_kick(int) {}
}  // namespace

void Vcpu::install_kick_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_kick;  // no SA_RESTART: KVM_RUN returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(kKickSignal, &sa, nullptr);
}

void Vcpu::kick(pid_t pid, pid_t tid) {
  // KVM API doc "immediate_exit": KVM_RUN returns EINTR at once while it is
  // set; the signal interrupts a KVM_RUN already running.
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_RELEASE);
  syscall(SYS_tgkill, pid, tid, kKickSignal);
}

VmExit Vcpu::translate_exit() const {
  // KVM API doc 5. "The kvm_run structure", one case per exit_reason.
  VmExit e;
  switch (run_->exit_reason) {
    case KVM_EXIT_IO: {
      e.kind = ExitKind::Io;
      e.io.out = run_->io.direction == KVM_EXIT_IO_OUT;
      e.io.port = run_->io.port;
      e.io.size = run_->io.size;
      e.io.count = run_->io.count;
      // The data lives in the kvm_run mapping at data_offset; trust KVM, but
      // not blindly: a bad offset becomes an empty span the dispatcher rejects.
      uint64_t len = uint64_t(run_->io.size) * run_->io.count;
      uint64_t off = run_->io.data_offset;
      if (off <= run_size_ && len <= run_size_ - off)
        e.io.data = std::span<uint8_t>(reinterpret_cast<uint8_t*>(run_) + off, len);
      break;
    }
    case KVM_EXIT_MMIO:
      e.kind = ExitKind::Mmio;
      e.mmio.gpa = run_->mmio.phys_addr;
      e.mmio.write = run_->mmio.is_write;
      e.mmio.len = run_->mmio.len;
      // KVM_EXIT_MMIO: "data" holds a write's bytes, and a read's bytes go
      // there before the next KVM_RUN (at most 8).
      if (e.mmio.len <= sizeof run_->mmio.data) e.mmio.data = std::span<uint8_t>(run_->mmio.data, e.mmio.len);
      break;
    case KVM_EXIT_DEBUG:
      // KVM API doc "KVM_EXIT_DEBUG": kvm_debug_exit_arch on x86.
      e.kind = ExitKind::Debug;
      e.code = run_->debug.arch.exception;
      e.dr6 = run_->debug.arch.dr6;
      break;
    case KVM_EXIT_HLT: e.kind = ExitKind::Hlt; break;
    case KVM_EXIT_SHUTDOWN: e.kind = ExitKind::Shutdown; break;
    case KVM_EXIT_INTERNAL_ERROR:
      e.kind = ExitKind::InternalError;
      e.code = run_->internal.suberror;
      break;
    case KVM_EXIT_FAIL_ENTRY:
      e.kind = ExitKind::FailEntry;
      e.code = run_->fail_entry.hardware_entry_failure_reason;
      break;
    default:
      e.kind = ExitKind::Other;
      e.code = run_->exit_reason;
      break;
  }
  return e;
}

}  // namespace mote::vm
