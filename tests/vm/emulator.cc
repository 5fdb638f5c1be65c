#include "tests/vm/emulator.h"

#include "monitor/boot/layout.h"
#include "monitor/boot/x86.h"

#include <unicorn/unicorn.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

namespace mote::vmtest {

namespace {

constexpr uint32_t kMsrEfer = 0xc0000080;
constexpr int kKilledStatus = 137;  // gdb's kill: as SIGKILL would end a process

struct Session {
  vm::ExitDispatcher* dispatcher;
  vm::RunTimes* times;
  std::optional<vm::RunResult> result;
  // --gdb: a debug stop the hooks saw (int3, the entry breakpoint).
  vm::gdbstub::Stub* stub = nullptr;
  std::optional<vm::gdbstub::StopKind> debug_stop;
  std::optional<uint64_t> exec_breakpoint;
  uint64_t generation = 0;  // the stub's config generation exec_breakpoint is from
  uint64_t start_rip = 0;  // where this uc_emu_start began: a breakpoint there is behind us (RF)
  bool first_insn = true;
};

uint64_t rip_of(uc_engine* uc) {
  uint64_t rip = 0;
  uc_reg_read(uc, UC_X86_REG_RIP, &rip);
  return rip;
}

// Hands one exit to the monitor's dispatcher, as the KVM run loop does.
void deliver(uc_engine* uc, Session* s, const vm::VmExit& exit) {
  if (s->result) return;  // already stopping
  if (s->times->exits++ == 0) s->times->first_exit_ns = vm::monotonic_ns();
  vm::Action a = s->dispatcher->handle(exit);
  if (a.kind == vm::Action::Kind::Resume) return;
  if (a.kind == vm::Action::Kind::Exit) s->result = vm::RunResult{a.status, {}};
  else s->result = vm::RunResult{vm::kStopStatus, vm::stop_message(a.reason, rip_of(uc))};
  uc_emu_stop(uc);
}

void on_out(uc_engine* uc, uint32_t port, int size, uint32_t value, void* user) {
  uint8_t bytes[4];
  std::memcpy(bytes, &value, sizeof bytes);
  vm::VmExit e;
  e.kind = vm::ExitKind::Io;
  e.io = vm::IoAccess{true, uint16_t(port), uint8_t(size), 1, std::span<uint8_t>(bytes, size_t(size))};
  deliver(uc, static_cast<Session*>(user), e);
}

uint32_t on_in(uc_engine* uc, uint32_t port, int size, void* user) {
  uint8_t bytes[4] = {};
  vm::VmExit e;
  e.kind = vm::ExitKind::Io;
  e.io = vm::IoAccess{false, uint16_t(port), uint8_t(size), 1, std::span<uint8_t>(bytes, size_t(size))};
  deliver(uc, static_cast<Session*>(user), e);
  uint32_t value = 0;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

// MMIO (uc_mmio_map callbacks): one exit per access, data in and out as
// KVM_EXIT_MMIO carries it.
struct MmioWindow {
  Session* s;
  uint64_t base;
};

uint64_t on_mmio_read(uc_engine* uc, uint64_t offset, unsigned size, void* user) {
  auto* w = static_cast<MmioWindow*>(user);
  uint8_t bytes[8] = {};
  vm::VmExit e;
  e.kind = vm::ExitKind::Mmio;
  e.mmio = vm::MmioAccess{w->base + offset, false, size, std::span<uint8_t>(bytes, size)};
  deliver(uc, w->s, e);
  uint64_t value = 0;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

void on_mmio_write(uc_engine* uc, uint64_t offset, unsigned size, uint64_t value, void* user) {
  auto* w = static_cast<MmioWindow*>(user);
  uint8_t bytes[8];
  std::memcpy(bytes, &value, sizeof bytes);
  vm::VmExit e;
  e.kind = vm::ExitKind::Mmio;
  e.mmio = vm::MmioAccess{w->base + offset, true, size, std::span<uint8_t>(bytes, size)};
  deliver(uc, w->s, e);
}

// Exceptions: with no IDT, KVM would report a triple fault. Under --gdb an
// int3 is the debugger's (KVM_GUESTDBG_USE_SW_BP), with rip past it.
void on_interrupt(uc_engine* uc, uint32_t intno, void* user) {
  auto* s = static_cast<Session*>(user);
  if (s->stub && s->stub->attached() && intno == 3) {
    s->debug_stop = vm::gdbstub::StopKind::Breakpoint;
    uc_emu_stop(uc);
    return;
  }
  vm::VmExit e;
  e.kind = vm::ExitKind::Emulator;
  e.detail = "exception " + std::to_string(intno) + " with no IDT (a triple fault on KVM)";
  deliver(uc, static_cast<Session*>(user), e);
}

bool on_invalid(uc_engine* uc, void* user) {
  vm::VmExit e;
  e.kind = vm::ExitKind::Emulator;
  e.detail = "invalid opcode with no IDT (a triple fault on KVM)";
  deliver(uc, static_cast<Session*>(user), e);
  return false;
}

// A hardware execute breakpoint (DR0), checked before each instruction; not
// on the instruction a run resumes at (the resume flag's job on a CPU).
void on_code(uc_engine* uc, uint64_t address, uint32_t, void* user) {
  auto* s = static_cast<Session*>(user);
  bool first = s->first_insn;
  s->first_insn = false;
  // A hypercall (DebugProgram) may have armed it since this run began.
  if (uint64_t gen = s->stub->config_generation(); gen != s->generation) {
    s->generation = gen;
    s->exec_breakpoint = s->stub->debug_config(0).exec_breakpoint;
  }
  if (s->exec_breakpoint && address == *s->exec_breakpoint && !(first && address == s->start_rip)) {
    s->debug_stop = vm::gdbstub::StopKind::Entry;
    uc_emu_stop(uc);
  }
}

// The vCPU as the gdb stub sees it: general registers, rflags, CR3.
class EmuCpus final : public vm::gdbstub::Cpus {
 public:
  explicit EmuCpus(uc_engine* uc) : uc_(uc) {}
  size_t count() const override { return 1; }
  bool load(size_t, vm::gdbstub::CpuState* out) override {
    for (const auto& [greg, reg] : kMap)
      if (uc_reg_read(uc_, reg, &out->gregs[greg])) return false;
    uint64_t cs = 0;
    uc_reg_read(uc_, UC_X86_REG_CS, &cs);
    out->gregs[mote::gdb::CSGSFS] = cs & 0xffff;
    out->has_fxsave = false;
    return uc_reg_read(uc_, UC_X86_REG_CR3, &out->cr3) == UC_ERR_OK;
  }
  bool store(size_t, const vm::gdbstub::CpuState& in) override {
    for (const auto& [greg, reg] : kMap)
      if (uc_reg_write(uc_, reg, &in.gregs[greg])) return false;
    return true;
  }

 private:
  static constexpr std::pair<int, int> kMap[] = {
      {mote::gdb::R8, UC_X86_REG_R8},     {mote::gdb::R9, UC_X86_REG_R9},   {mote::gdb::R10, UC_X86_REG_R10},
      {mote::gdb::R11, UC_X86_REG_R11},   {mote::gdb::R12, UC_X86_REG_R12}, {mote::gdb::R13, UC_X86_REG_R13},
      {mote::gdb::R14, UC_X86_REG_R14},   {mote::gdb::R15, UC_X86_REG_R15}, {mote::gdb::RDI, UC_X86_REG_RDI},
      {mote::gdb::RSI, UC_X86_REG_RSI},   {mote::gdb::RBP, UC_X86_REG_RBP}, {mote::gdb::RBX, UC_X86_REG_RBX},
      {mote::gdb::RDX, UC_X86_REG_RDX},   {mote::gdb::RAX, UC_X86_REG_RAX}, {mote::gdb::RCX, UC_X86_REG_RCX},
      {mote::gdb::RSP, UC_X86_REG_RSP},   {mote::gdb::RIP, UC_X86_REG_RIP}, {mote::gdb::EFL, UC_X86_REG_RFLAGS}};
  uc_engine* uc_;
};

vm::Failure uc_failure(const char* what, uc_err err) {
  return vm::fail(std::string("emulator: ") + what + ": " + uc_strerror(err));
}

// The same state Vcpu::set_entry_state gives KVM, through the emulator's API.
uc_err load_entry_state(uc_engine* uc, const boot::EntryState& st) {
  uc_x86_mmr gdtr{};
  gdtr.base = st.gdt_base;
  gdtr.limit = st.gdt_limit;
  uc_x86_mmr idtr{};
  uc_x86_msr efer{kMsrEfer, st.efer.bits()};
  uint64_t cr0 = st.cr0.bits(), cr3 = st.cr3, cr4 = st.cr4.bits();
  uc_err err;
  if ((err = uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr)) || (err = uc_reg_write(uc, UC_X86_REG_IDTR, &idtr)) ||
      (err = uc_reg_write(uc, UC_X86_REG_CR3, &cr3)) || (err = uc_reg_write(uc, UC_X86_REG_CR4, &cr4)) ||
      (err = uc_reg_write(uc, UC_X86_REG_MSR, &efer)) || (err = uc_reg_write(uc, UC_X86_REG_CR0, &cr0)))
    return err;
  // Selectors load their descriptors from the GDT in guest memory: this
  // checks the GDT the monitor wrote, not just the values it meant.
  uint64_t cs = st.code.selector, ds = st.data.selector;
  if ((err = uc_reg_write(uc, UC_X86_REG_CS, &cs))) return err;
  for (int r : {UC_X86_REG_SS, UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_FS, UC_X86_REG_GS})
    if ((err = uc_reg_write(uc, r, &ds))) return err;
  const std::pair<int, uint64_t> regs[] = {{UC_X86_REG_RIP, st.rip},     {UC_X86_REG_RSP, st.rsp},
                                           {UC_X86_REG_RFLAGS, st.rflags}, {UC_X86_REG_RDI, st.rdi},
                                           {UC_X86_REG_RSI, st.rsi}};
  for (const auto& [id, value] : regs)
    if ((err = uc_reg_write(uc, id, &value))) return err;
  return UC_ERR_OK;
}

}  // namespace

bool paging_was_walked(const vm::GuestMemory& mem, uint64_t cr3, uint64_t va) {
  constexpr uint64_t kAccessed = 1ull << 5;  // SDM 4.5, Table 4-15: A bit of a PML4E
  auto pml4e = mem.read<uint64_t>((cr3 & boot::PageEntry::kAddressMask) + ((va >> 39) & 511) * 8);
  return pml4e && (*pml4e & kAccessed);
}

vm::Expected<vm::RunResult> run_emulated(const vm::GuestMemory& mem, const boot::EntryState& entry,
                                         vm::ExitDispatcher& dispatcher, vm::RunTimes* times,
                                         uint64_t mmio_base, vm::gdbstub::Stub* stub) {
  uc_engine* uc = nullptr;
  uc_err err = uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
  if (err) return uc_failure("uc_open", err);
  struct Closer {
    uc_engine* uc;
    ~Closer() { uc_close(uc); }
  } closer{uc};
  // A CPU model with 1 GiB pages, NX and syscall, like any KVM host's.
  if ((err = uc_ctl_set_cpu_model(uc, UC_CPU_X86_EPYC))) return uc_failure("cpu model", err);
  if ((err = uc_mem_map_ptr(uc, 0, mem.size(), UC_PROT_ALL, mem.host_mapping())))
    return uc_failure("mapping guest RAM", err);
  // Unicorn 2.0 (Debian 12) walks the guest's page tables (it sets their
  // Accessed bits and faults on a missing entry) but then accesses the
  // virtual address as if it were physical. So the higher-half alias is also
  // mapped at its virtual address; the translation itself is unit-tested
  // (boot::translate), and paging_was_walked() checks the walk happened.
  uint64_t alias = std::min(mem.size(), boot::kHigherHalfBytes);
  if ((err = uc_mem_map_ptr(uc, boot::kHigherHalfBase, alias, UC_PROT_ALL, mem.host_mapping())))
    return uc_failure("mapping the higher-half alias", err);
  if ((err = load_entry_state(uc, entry))) return uc_failure("loading the entry state", err);

  Session s{&dispatcher, times, std::nullopt, nullptr, std::nullopt, std::nullopt, 0, 0, true};
  uc_hook h;
  if ((err = uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(on_out), &s, 1, 0, UC_X86_INS_OUT)) ||
      (err = uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(on_in), &s, 1, 0, UC_X86_INS_IN)) ||
      (err = uc_hook_add(uc, &h, UC_HOOK_INTR, reinterpret_cast<void*>(on_interrupt), &s, 1, 0)) ||
      (err = uc_hook_add(uc, &h, UC_HOOK_INSN_INVALID, reinterpret_cast<void*>(on_invalid), &s, 1, 0)))
    return uc_failure("hooks", err);
  MmioWindow window{&s, mmio_base};
  if (mmio_base && (err = uc_mmio_map(uc, mmio_base, 0x1000, on_mmio_read, &window, on_mmio_write, &window)))
    return uc_failure("mapping the MMIO window", err);

  if (stub && (err = uc_hook_add(uc, &h, UC_HOOK_CODE, reinterpret_cast<void*>(on_code), &s, 1, 0)))
    return uc_failure("hooks", err);
  s.stub = stub;

  times->first_entry_ns = vm::monotonic_ns();
  EmuCpus cpus(uc);
  uint64_t rip = entry.rip;
  if (stub && !stub->waiting_for_entry() && stub->on_stop(cpus, 0, vm::gdbstub::StopKind::Start) == vm::gdbstub::Verdict::Kill)
    return vm::RunResult{kKilledStatus, {}};
  for (;;) {
    vm::gdbstub::DebugConfig cfg = stub ? stub->debug_config(0) : vm::gdbstub::DebugConfig{};
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    s.debug_stop.reset();
    s.exec_breakpoint = cfg.exec_breakpoint;
    s.generation = stub ? stub->config_generation() : 0;
    s.start_rip = rip;
    s.first_insn = true;
    err = uc_emu_start(uc, rip, 0, 0, cfg.single_step ? 1 : 0);
    if (s.result) break;
    std::optional<vm::gdbstub::StopKind> kind = s.debug_stop;
    if (!kind && cfg.single_step && !err) kind = vm::gdbstub::StopKind::Step;
    if (!kind) break;
    bool after_int3 = *kind == vm::gdbstub::StopKind::Breakpoint;
    if (stub->on_stop(cpus, 0, *kind, after_int3) == vm::gdbstub::Verdict::Kill) return vm::RunResult{kKilledStatus, {}};
    // The stub wrote guest RAM through the host mapping (breakpoints, gdb's
    // M packets), which Unicorn's translated blocks do not notice: drop them
    // all, as a CPU would see the new bytes.
    uc_ctl_flush_tlb(uc);
  }
  if (s.result) {
    if (stub && s.result->stop_message.empty()) stub->on_exit(s.result->status);
    return *s.result;
  }
  vm::VmExit e;
  e.kind = vm::ExitKind::Emulator;
  e.detail = err ? uc_strerror(err) : "the CPU stopped (hlt)";
  return vm::RunResult{vm::kStopStatus, vm::stop_message(vm::describe(e), rip_of(uc))};
}

}  // namespace mote::vmtest
