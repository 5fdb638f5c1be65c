// The platform interface on the VM platforms (mote's KVM monitor, QEMU,
// Firecracker): the program in ring 0 on the kernel's page tables.
#include "kernel/platform/platform.h"

#include "abi/boot_info.h"
#include "kernel/core/signals.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/clock.h"
#include "kernel/platform/kvm/cpu.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/profile.h"
#include "kernel/platform/kvm/sched.h"
#include "kernel/platform/kvm/selftest.h"
#include "kernel/platform/kvm/smp.h"
#include "kernel/platform/kvm/traps.h"
#include "kernel/platform/kvm/vm.h"

extern "C" [[noreturn]] void mote_vm_enter(mote::u64 rip, mote::u64 rsp);
extern "C" void mote_vm_syscall_entry();
extern "C" char mote_vvar_page[], mote_vdso_image_end[];
extern "C" mote::u64 boot_tsc;

namespace mote::kvm {

Cpu g_cpus[kMaxCpus];
u32 g_ncpus = 1;
VmState g_vm;

void cpu_init_bsp() {
  Cpu& c = g_cpus[0];
  c.self = &c;
  c.index = 0;
  wrmsr(Msr::GsBase, reinterpret_cast<u64>(&c));
}

}  // namespace mote::kvm

namespace mote::kvm {

namespace {

// Linux mcontext gregs indexes (the syscall entry's frame, syscall_entry.S).
enum { R8, R9, R10, R11, R12, R13, R14, R15, RDI, RSI, RBP, RBX, RDX, RAX, RCX, RSP, RIP, EFL };


// The rest of the syscall context, made when the core asks for it: the
// gregs the entry does not store, and the FPU state.
void save_fpu(SyscallState* st) {
  st->dirty = true;
  if (st->fpu_saved) return;
  st->ctx.gregs = st->gregs;
  // What the entry leaves out: rcx and r11 as `syscall` set them, then
  // cs/ss (ring 0, no user selectors), err, trapno, oldmask, cr2.
  st->gregs[RCX] = st->gregs[RIP];
  st->gregs[R11] = st->gregs[EFL];
  st->gregs[18] = 0x08 | (u64(0x10) << 48);
  st->gregs[19] = st->gregs[20] = st->gregs[21] = st->gregs[22] = 0;
  asm volatile("fxsave64 %0" : "=m"(st->fpu));
  st->ctx.fpstate = st->fpu;
  st->ctx.fpstate_size = sizeof st->fpu;
  st->fpu_saved = true;
}

}  // namespace


// A fault's or interrupt's register state as a UserContext, and back.
void trap_to_gregs(const TrapFrame* f, u64* g) {
  const u64 v[18] = {f->r8, f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15, f->rdi,
                     f->rsi, f->rbp, f->rbx, f->rdx, f->rax, f->rcx, f->rsp, f->rip, f->rflags};
  memcpy(g, v, sizeof v);
  g[18] = f->cs | (f->ss << 48);
  g[19] = f->error;
  g[20] = f->vector;
  g[21] = 0;
  g[22] = f->vector == 14 ? read_cr2() : 0;
}

void gregs_to_trap(const u64* g, TrapFrame* f) {
  f->r8 = g[R8], f->r9 = g[R9], f->r10 = g[R10], f->r11 = g[R11], f->r12 = g[R12];
  f->r13 = g[R13], f->r14 = g[R14], f->r15 = g[R15], f->rdi = g[RDI], f->rsi = g[RSI];
  f->rbp = g[RBP], f->rbx = g[RBX], f->rdx = g[RDX], f->rax = g[RAX], f->rcx = g[RCX];
  f->rsp = g[RSP], f->rip = g[RIP];
  f->rflags = g[EFL] | 0x200;  // the program always runs with interrupts on
}

// Delivers the current thread's signals into a trap frame (a fault with a
// handler, or an interrupt that stopped program code). False: none to take.
bool deliver_at_trap(TrapFrame* f, const core::FaultFrame* fault) {
  struct InTrap {
    Cpu* c;
    explicit InTrap(Cpu* cpu) : c(cpu) { c->in_trap = true; }
    ~InTrap() { c->in_trap = false; }
  } in_trap(this_cpu());
  u64 g[23];
  trap_to_gregs(f, g);
  u8* fpu = this_cpu()->trap_fpu;
  asm volatile("fxsave64 (%0)" : : "r"(fpu) : "memory");
  platform::UserContext ctx{g, fpu, 512};
  if (fault) {
    core::on_fault(*fault, &ctx);  // returns only when a handler will run
  } else {
    if (!core::signal_work()) return false;
    core::deliver_signals(&ctx);
  }
  gregs_to_trap(g, f);
  asm volatile("fxrstor64 (%0)" : : "r"(fpu) : "memory");
  return true;
}

}  // namespace mote::kvm


// Returns nonzero when the return must reload every register from gregs
// (the core rewrote them: execve, a new stack, a signal handler,
// rt_sigreturn); zero when only the result and the argument registers the
// C code clobbered need restoring (syscall_entry.S).
extern "C" mote::u64 mote_vm_syscall(mote::core::SyscallFrame* f, mote::u64* gregs) {
  using namespace mote::kvm;
  SyscallState st;
  st.gregs = gregs;
  st.fpu_saved = false;
  st.dirty = false;
  Cpu* cpu = this_cpu();
  cpu->sys = &st;
  g_syscall_handler(*f);  // core::on_syscall, or profile's timed wrapper
  // The thread may have slept or moved to another CPU (and a fork's child
  // may have left its own state here). need_resched is tested inline: this
  // is the hot path.
  cpu = this_cpu();
  if (cpu->need_resched) {
    resched_after_syscall();
    cpu = this_cpu();
  }
  cpu->sys = &st;
  gregs[RAX] = f->ret;
  if (mote::core::signal_work_of(static_cast<const mote::core::Thread*>(cpu->thread))) {
    save_fpu(&st);
    mote::core::deliver_signals(&st.ctx);
  }
  // rt_sigreturn or a handler's entry may have changed the FPU image.
  if (st.fpu_saved) asm volatile("fxrstor64 %0" : : "m"(st.fpu));
  this_cpu()->sys = nullptr;  // system calls do not nest: handlers run after the return
  return st.dirty;
}

namespace mote::platform {

using namespace mote::kvm;

const abi::BootInfo& boot_info() { return *g_vm.boot; }
const char* name() { return g_vm.host == Host::MoteMonitor ? "kvm" : "qemu (PVH)"; }

Layout layout() { return Layout{0x10000, 0x7ffffffff000ull, 0x7f0000000000ull}; }
usize reserved_ranges(Reserved*, usize) { return 0; }  // the lower half is the program's

// Demand paging: nothing to do now; frames come on first touch (memory.cc
// fault_in, with the core's VMA protection). The core's commit accounting
// (--mem) keeps the total within what RAM can back.
Result<void> map_anonymous(u64, u64, u32) { return ok(); }

namespace {

// Where an image is: in RAM as the boot loaded it (physically contiguous,
// through the direct map), or decompressed into core memory (initrd.cc),
// whose frames the page tables give.
struct ImageLocation {
  const u8* data;
  u64 size;
  u64 gpa;        // the first byte's guest-physical address; 0 if unpacked
  bool unpacked;

  // The frame holding image bytes [at, at + 4 KiB), at page-aligned `at`.
  u64 frame(u64 at) const { return unpacked ? lookup_page(u64(data) + at, false) : gpa + at; }
  bool zero_copy_ok() const { return unpacked || page_aligned(gpa); }
};

ImageLocation image_location(Image which) {
  if (which == Image::Vdso) {
    // In the kernel's data (vdso_blob.S): the data page, then the image.
    const u8* v = reinterpret_cast<const u8*>(mote_vvar_page);
    return ImageLocation{v, u64(mote_vdso_image_end - mote_vvar_page), virt_to_phys(v), false};
  }
  const auto& u = g_vm.unpacked[which == Image::Program ? 0 : 1];
  if (u.size) return ImageLocation{reinterpret_cast<const u8*>(u.virt), u.size, 0, true};
  const abi::BootInfo& b = *g_vm.boot;
  u64 gpa = which == Image::Program ? b.program_gpa : b.initramfs_gpa;
  u64 size = which == Image::Program ? b.program_size : b.initramfs_size;
  return ImageLocation{size ? static_cast<const u8*>(phys_to_virt(gpa)) : nullptr, size, gpa, false};
}

}  // namespace

Result<void> map_copy(u64 addr, u64 len, u32 prot, const void* src, usize n) {
  const u8* from = static_cast<const u8*>(src);
  for (u64 off = 0; off < len; off += kPageSize) {
    u64 f = frame_alloc();
    if (!f) {
      (void)unmap(addr, off);
      return err(ENOMEM);
    }
    // frame_alloc gives zeroed frames: only the copied bytes are written.
    usize k = off < n ? usize(min<u64>(kPageSize, n - off)) : 0;
    if (k) memcpy(phys_to_virt(f), from + off, k);
    auto r = map_page(addr + off, f, prot);
    if (!r.ok()) {
      frame_free(f);
      (void)unmap(addr, off);
      return r;
    }
  }
  return ok();
}

// -t under QEMU: the launcher applies "mote-termios: HEX" status lines to
// the host terminal (monitor/qemu/launch.cc) and restores it at the end; on
// mote's monitor, a hypercall does (HcConsoleTermios).
Result<void> console_set_termios(int stream, u32 cmd, const u8* termios) {
  if (!(g_vm.boot->flags & abi::kBootTty) || stream < 0 || stream > 2) return err(ENOTTY);
  if (kvm::host_kind() == kvm::Host::MoteMonitor) {
    i64 r = kvm::console_termios(stream, cmd, termios);
    if (r < 0) return err(int(-r));
    return ok();
  }
  char line[14 + 72 + 2] = "mote-termios: ";
  for (usize k = 0; k < 36; ++k) {
    line[14 + 2 * k] = "0123456789abcdef"[termios[k] >> 4];
    line[15 + 2 * k] = "0123456789abcdef"[termios[k] & 15];
  }
  line[14 + 72] = '\n';
  if (!console_status_line(line, 14 + 72 + 1)) return err(ENOTTY);
  return ok();
}

u64 syscall_stack_top() { return this_cpu()->kernel_stack_top; }

void prefault_core(u64, u64) {}  // core memory is mapped when allocated

namespace {
bool xsave_on() { return cpuid(1).ecx & (1u << 27); }  // OSXSAVE: enable_fpu turned it on
}  // namespace

usize fpu_state_size() {
  if (!xsave_on()) return 512;  // fxsave
  return cpuid(0xd, 0).ebx;     // XSAVE area for the features in XCR0
}

void fpu_save(void* area) {
  if (xsave_on()) asm volatile("xsave64 (%0)" : : "r"(area), "a"(~0u), "d"(~0u) : "memory");
  else asm volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

void fpu_restore(const void* area) {
  if (xsave_on()) asm volatile("xrstor64 (%0)" : : "r"(area), "a"(~0u), "d"(~0u) : "memory");
  else asm volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

void fork_depth(int) {}  // nothing program-visible is made behind the core's back

void return_stack(u64 rsp) {
  SyscallState* g_sys = this_cpu()->sys;
  u64* g = g_sys->gregs;
  g[15] = rsp;   // REG_RSP
  g[14] = g[16];  // rcx, r11 as `syscall` leaves them (the entry did not store them)
  g[3] = g[17];
  g_sys->dirty = true;
}

void exec_return(u64 rip, u64 rsp) {
  // A fresh image: every register zero but %rsp (psABI 3.4.1).
  SyscallState* g_sys = this_cpu()->sys;
  u64* g = g_sys->gregs;
  g_sys->dirty = true;
  for (int i = 0; i < 15; ++i) g[i] = 0;  // r8 ... rcx
  g[15] = rsp;
  g[16] = rip;
  g[17] = 0x202;  // IF and the reserved bit
}

ImageBytes image(Image which) {
  if (which == Image::Vdso && g_vm.no_vdso) return ImageBytes{nullptr, 0};
  ImageLocation l = image_location(which);
  if (!l.size) return ImageBytes{nullptr, 0};
  return ImageBytes{l.data, l.size};
}

Result<void> map_image(Image which, u64 addr, u64 len, u32 prot, u64 offset) {
  ImageLocation l = image_location(which);
  // Zero-copy: read-only pages wholly inside a page-aligned image are the
  // image's own frames (the initrd in guest RAM); the rest is copied.
  bool aligned = l.zero_copy_ok() && page_aligned(offset);
  for (u64 off = 0; off < len; off += kPageSize) {
    u64 at = offset + off;
    if (aligned && !(prot & kProtWrite) && at + kPageSize <= l.size) {
      TRY(map_image_page(addr + off, l.frame(at), prot));
      continue;
    }
    // A private copy: writable, unaligned or the image's last partial page.
    usize n = at < l.size ? usize(min<u64>(kPageSize, l.size - at)) : 0;
    auto r = map_copy(addr + off, kPageSize, prot, l.data + at, n);
    if (!r.ok()) {
      (void)unmap(addr, off);
      return r;
    }
  }
  return ok();
}

// Page-table changes that take something away end with every other vCPU's
// TLB flushed (tlb_shootdown) before a frame can be reused.
Result<void> unmap(u64 addr, u64 len) {
  release_pages(addr, len);
  return ok();
}

Result<void> protect(u64 addr, u64 len, u32 prot) {
  Result<void> r = ok();
  for (u64 off = 0; off < len && r.ok(); off += kPageSize) r = protect_page(addr + off, prot);
  tlb_shootdown();
  return r;
}

// mremap: the frames move with their page-table entries; the grown tail is
// unbacked until touched.
Result<void> move(u64 old_addr, u64 old_len, u64 new_addr, u64 new_len) {
  (void)new_len;
  Result<void> r = ok();
  for (u64 off = 0; off < old_len && r.ok(); off += kPageSize) r = move_page(old_addr + off, new_addr + off);
  tlb_shootdown();
  return r;
}

Result<void> discard(u64 addr, u64 len) {
  // MADV_DONTNEED: anonymous pages read as zero again (the frame goes back;
  // the next touch faults a fresh one in). Image pages keep their contents,
  // as Linux rereads a private file mapping.
  for (u64 off = 0; off < len; off += kPageSize) {
    bool image = false;
    u64 f = lookup_page(addr + off, false, &image);
    if (!f || image) continue;
    lookup_page(addr + off, true);
    tlb_shootdown();
    frame_free(f);
  }
  return ok();
}

// Shared pages are frames; the direct map is the core's view of them.
Result<SharedPage> shared_page_alloc() {
  u64 f = frame_alloc();
  if (!f) return err(ENOMEM);
  return SharedPage{reinterpret_cast<u64>(phys_to_virt(f)), f};
}

void shared_page_free(u64 token) { frame_free(token); }

Result<void> map_shared(u64 addr, const u64* tokens, usize n, u32 prot) {
  for (usize i = 0; i < n; ++i) {
    auto r = map_shared_page(addr + i * kPageSize, tokens[i], prot);
    if (!r.ok()) {
      (void)unmap(addr, i * kPageSize);
      return r;
    }
  }
  return ok();
}

Result<u64> map_core(u64 len) { return core_map(len); }
void unmap_core(u64 addr, u64 len) { core_unmap(addr, len); }

void set_fs_base(u64 base) { wrmsr(Msr::FsBase, base); }
u64 fs_base() { return rdmsr(Msr::FsBase); }

u64 hwcap() { return cpuid(1).edx; }
u64 hwcap2() { return 0; }
u64 min_signal_stack() { return 2048; }

u64 monotonic_ns() { return clock_monotonic_ns(); }
u64 wall_ns() { return clock_wall_ns(); }
u64 clock_resolution_ns() { return 1; }


u64 idle_until(u64 deadline_ns) {
  u64 now = clock_monotonic_ns();
  if (now >= deadline_ns) return now;
  lapic_arm(deadline_ns);
  // Interrupts are off in the core; hlt with IF set wakes on the timer.
  asm volatile("sti; hlt; cli" ::: "memory");
  return clock_monotonic_ns();
}

isize console_write(int stream, const void* buf, usize len) {
  return kvm::console_write(stream, buf, len);
}

isize console_read(int stream, void* buf, usize len) { return kvm::console_read(stream, buf, len); }

void random_seed(u8 out[32]) { memcpy(out, g_vm.boot->random_seed, 32); }

void exit(int status) { vm_exit(status); }

void panic(const char* msg) {
  kprintf("mote kernel: panic: %s\n", msg);
  vm_exit(70);
}

}  // namespace mote::platform

namespace mote::kvm {

void cpu_setup_ap(Cpu* c) {
  traps_init_ap(c->index, c->ist_top);
  lapic_init_ap();
  wrmsr(Msr::Efer, rdmsr(Msr::Efer) | 1);               // SCE (LME, NXE: the trampoline)
  wrmsr(Msr::Star, u64(0x08) << 32);
  wrmsr(Msr::Lstar, reinterpret_cast<u64>(&mote_vm_syscall_entry));
  wrmsr(Msr::Fmask, 0x200 | 0x400 | 0x100 | 0x40000);
  enable_fpu();
  u64 cr0;
  asm volatile("mov %%cr0, %0" : "=r"(cr0));
  asm volatile("mov %0, %%cr0" : : "r"(cr0 | (1u << 16)));
}

}  // namespace mote::kvm

namespace mote::platform {

void enter_program(const EntryState& s) {
  // Per-CPU block and kernel stack for syscalls; LSTAR on (SDM 3B 5.8.8).
  constexpr u64 kSyscallStack = 32 * 1024;
  auto stack = core_map(kSyscallStack);
  if (!stack.ok()) panic("no memory for the syscall stack");
  Cpu* cpu = this_cpu();
  cpu->kernel_stack_top = stack.value() + kSyscallStack;
  wrmsr(Msr::Efer, rdmsr(Msr::Efer) | 1);               // SCE
  wrmsr(Msr::Star, u64(0x08) << 32);
  wrmsr(Msr::Lstar, reinterpret_cast<u64>(&mote_vm_syscall_entry));
  wrmsr(Msr::Fmask, 0x200 | 0x400 | 0x100 | 0x40000);   // IF DF TF AC
  enable_fpu();
  // CR0.WP: ring-0 stores honour read-only pages, so the program (in ring 0)
  // faults on them as it would in ring 3 (SDM 3A 4.6.1).
  u64 cr0;
  asm volatile("mov %%cr0, %0" : "=r"(cr0));
  asm volatile("mov %0, %%cr0" : : "r"(cr0 | (1u << 16)));
  sched_init(cpu->kernel_stack_top);
  // The other vCPUs (PVH: QEMU's -smp, from the MADT; mote's monitor: the
  // boot info's cpus, APIC IDs 0..n-1, no ACPI), up to --cpus.
  if (g_vm.boot->cpus != 1) {
    lapic_calibrate();
    smp_start(g_selftest_rsdp, g_vm.boot->cpus, g_vm.boot->cpus);
  }
  if (g_vm.bootstats) {
    // Under QEMU -icount shift=0 the TSC counts guest instructions.
    // boot_tsc lives in .boot (linked at its physical address): read it
    // through the kernel image's higher-half alias.
    u64 entry_tsc = *reinterpret_cast<const u64*>(reinterpret_cast<u64>(&boot_tsc) + kKernelVma);
    kprintf("mote-bootstats: tsc at kernel entry %lu, at program entry %lu, %lu frames\n",
            (unsigned long)entry_tsc, (unsigned long)rdtsc(), (unsigned long)kvm::g_frames_allocated);
  }
  if (g_vm.boot->flags & abi::kBootGdb) kvm::debug_program(s.rip, s.rsp);
  mote_vm_enter(s.rip, s.rsp);
}

}  // namespace mote::platform

// ---- Threads: the scheduler is sched.cc; one CPU for now ------------------
namespace mote::kvm {
void* g_boot_thread;
void set_kernel_stack(u64 top) { this_cpu()->kernel_stack_top = top; }
void set_cpu_thread(void* t) { this_cpu()->thread = t; }
}  // namespace mote::kvm

namespace mote::platform {

u32 cpu_count() { return kvm::g_ncpus; }
u32 current_cpu() { return kvm::this_cpu()->index; }
UserContext* syscall_context() {
  kvm::SyscallState* st = kvm::this_cpu()->sys;
  if (!st) return nullptr;
  kvm::save_fpu(st);
  return &st->ctx;
}
u64 syscall_user_sp() {
  kvm::SyscallState* st = kvm::this_cpu()->sys;
  return st ? st->gregs[15] : kvm::this_cpu()->user_rsp;
}

}  // namespace mote::platform
