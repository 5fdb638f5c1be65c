// `mote run --platform kvm --gdb PORT`: the monitor serves the GDB remote
// protocol for the whole VM (docs/debugging.md). The packets are the shared
// loop of kernel/lib/gdb/server.h; this is the machine under it:
//  - threads are vCPUs (gdb thread k+1 is vCPU k), stopped all together;
//  - registers come from the vCPU (KVM_GET_REGS/SREGS/FPU, or an emulator)
//    and go back only when gdb changed them;
//  - memory is read and written at the virtual addresses gdb names, through
//    the guest's own page tables (the stopped vCPU's CR3) and the one checked
//    guest-memory accessor; software breakpoints are int3 bytes written into
//    guest RAM that way, so read-only text takes them too;
//  - single steps and the program's entry breakpoint are the CPU's (KVM's
//    guest debug: TF and a DR0 execute breakpoint).
// Who drives it: the run loop (vCPU threads, monitor/vm/run.h) on KVM, the
// emulator in tests. Both stop every vCPU, call on_stop(), and apply
// debug_config() to each vCPU before resuming.
#pragma once

#include <stdint.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "kernel/lib/gdb/server.h"
#include "monitor/vm/memory.h"

namespace mote::vm::gdbstub {

// One vCPU's registers in the layout the packets use: Linux mcontext gregs
// (mote::gdb::Greg order) and an fxsave image.
struct CpuState {
  uint64_t gregs[23] = {};
  alignas(16) uint8_t fxsave[512] = {};
  bool has_fxsave = false;
  uint64_t cr3 = 0;
};

// The vCPUs, as the driver gives access to them while all are stopped.
class Cpus {
 public:
  virtual size_t count() const = 0;
  virtual bool load(size_t cpu, CpuState* out) = 0;
  virtual bool store(size_t cpu, const CpuState& in) = 0;

 protected:
  ~Cpus() = default;
};

// Why a vCPU stopped.
enum class StopKind {
  Start,       // before the VM's first instruction (no program entry breakpoint asked for)
  Step,        // a single step gdb asked for ended
  Breakpoint,  // an int3: pc is at it (KVM reports it so; the emulator after it, and says so)
  Entry,       // the program's entry breakpoint (DR0)
  Interrupt,   // gdb sent ^C while the VM ran
};

// What a vCPU's guest debug should be until the next stop.
struct DebugConfig {
  bool single_step = false;
  std::optional<uint64_t> exec_breakpoint;  // a hardware execute breakpoint
};

enum class Verdict { Resume, Kill, Detached };

class Stub {
 public:
  // `fd`: the connection to gdb (a connected socket, or a pipe in tests).
  Stub(const GuestMemory& mem, int fd);
  Stub(const Stub&) = delete;
  Stub& operator=(const Stub&) = delete;

  // The VM's first stop waits for the program's entry: the kernel tells it
  // (hypercall DebugProgram) just before it jumps there.
  void expect_program_entry() { wait_entry_ = true; }
  bool waiting_for_entry() const { return wait_entry_; }
  // The hypercall: the program starts at `rip` with its initial stack at
  // `rsp` (argc, argv, envp, auxv, as Linux lays it out). Arms the entry
  // breakpoint when the first stop waits for it; the auxiliary vector is
  // read from that stack when gdb asks.
  void program_starts(uint64_t rip, uint64_t rsp);

  // All vCPUs are stopped; `cpu` stopped for `kind` with its register pc at
  // `pc_after_int3` (Breakpoint from an emulator: one past the int3).
  // Serves gdb until it resumes the VM; vCPU registers gdb changed are
  // stored back. Returns what the driver does next.
  Verdict on_stop(Cpus& cpus, size_t cpu, StopKind kind, bool pc_after_int3 = false);

  // The guest debug each vCPU runs with until the next stop.
  DebugConfig debug_config(size_t cpu) const;
  // Bumped whenever a DebugConfig changes (the hypercall arms the entry
  // breakpoint from a running vCPU's exit).
  uint64_t config_generation() const { return generation_.load(std::memory_order_acquire); }

  // gdb is attached (false after detach or when it went away).
  bool attached() const { return server_.active; }
  // The VM ended with `status` (the program's exit status; 128+n for a
  // signal): tells gdb.
  void on_exit(int status);

  int fd() const { return server_.link.fd; }

 private:
  class Target;
  friend class Target;

  std::optional<uint64_t> translate(uint64_t va) const;
  bool peek(uint64_t va, uint8_t* out, size_t n) const;
  bool poke(uint64_t va, const uint8_t* src, size_t n);
  bool set_breakpoint(uint64_t va, bool insert);
  void find_auxv(uint64_t sp);

  const GuestMemory& mem_;
  mote::gdb::Server server_;
  // gdb's software breakpoints: virtual address -> (guest-physical address, the byte under the int3).
  struct Breakpoint {
    uint64_t gpa;
    uint8_t saved;
  };
  std::map<uint64_t, Breakpoint> breakpoints_;
  // Registers of the current stop, loaded on first use.
  std::vector<std::optional<CpuState>> regs_;
  std::vector<CpuState> loaded_;  // as loaded: what gdb changed goes back
  Cpus* cpus_ = nullptr;
  size_t stopped_ = 0;
  uint64_t cr3_ = 0;  // the stopped vCPU's: one address space for the whole VM
  int step_cpu_ = -1;
  bool wait_entry_ = false;
  std::optional<uint64_t> entry_;
  uint64_t entry_rsp_ = 0;
  uint64_t auxv_ = 0, auxv_len_ = 0;
  // What debug_config() reads, which the hypercall changes from a running
  // vCPU's thread while others ask.
  mutable std::mutex config_mu_;
  std::atomic<uint64_t> generation_{0};
  bool resumed_ = false;  // gdb resumed once: later stops are reported
};

}  // namespace mote::vm::gdbstub
