// One vCPU: its fd, its kvm_run mapping, and the vCPU ioctls of the KVM API
// (Documentation/virt/kvm/api.rst; section names cited at each call).
#pragma once

#include <linux/kvm.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/boot/entry.h"
#include "monitor/vm/cpuid.h"
#include "monitor/vm/exit.h"
#include "monitor/vm/expected.h"
#include "monitor/vm/fd.h"
#include "monitor/vm/gdb/stub.h"

namespace mote::vm {

class Vcpu {
 public:
  Vcpu(UniqueFd fd, uint32_t id, kvm_run* run, size_t run_size)
      : fd_(std::move(fd)), id_(id), run_(run), run_size_(run_size) {}
  int fd() const { return fd_.get(); }
  Vcpu(Vcpu&& o) noexcept;
  Vcpu& operator=(Vcpu&&) = delete;
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();

  uint32_t id() const { return id_; }

  // KVM_SET_CPUID2 (before the first KVM_RUN) and KVM_GET_CPUID2 (what the
  // guest really sees, which may differ: see cpuid.h).
  Expected<void> set_cpuid(const CpuidTable& table);
  Expected<CpuidTable> cpuid() const;

  // KVM_GET_TSC_KHZ: the guest TSC frequency.
  Expected<uint32_t> tsc_khz() const;

  // KVM_GET_SREGS + KVM_SET_SREGS + KVM_SET_REGS: the direct 64-bit entry.
  // Call after set_cpuid: KVM checks CR4 and EFER against the guest's CPUID.
  Expected<void> set_entry_state(const boot::EntryState& state);

  // KVM_SET_MP_STATE(KVM_MP_STATE_RUNNABLE): an application processor would
  // otherwise wait for INIT/SIPI (machine-notes.md: it blocks forever).
  Expected<void> make_runnable();

  // StartCpu: an application processor whose entry state was set at setup
  // (set_entry_state, before the first KVM_RUN) starts at rip/rsp:
  // KVM_GET_REGS + KVM_SET_REGS, then make_runnable. On its own thread,
  // out of KVM_RUN.
  Expected<void> start_at(uint64_t rip, uint64_t rsp);

  // KVM_RUN until the next exit the monitor must handle. For an I/O or MMIO
  // exit, the exit's data points into kvm_run: an IN's or a read's result
  // goes there before the next run(). EINTR and KVM_EXIT_INTR resume
  // transparently, except after kick(): then one Interrupted exit.
  Expected<VmExit> run();

  // From another thread: make the vCPU's thread leave KVM_RUN soon (or not
  // enter it) with an Interrupted exit. kvm_run.immediate_exit covers a
  // thread about to enter; the signal (kKickSignal, whose handler
  // install_kick_handler sets up, without SA_RESTART) one that is inside.
  // `tid` is the vCPU thread's (gettid); the signal goes by tgkill, the one
  // call it needs (pthread_kill would block and restore signals around it).
  static constexpr int kKickSignal = SIGUSR2;
  static void install_kick_handler();
  void kick(pid_t pid, pid_t tid);

  // KVM_GET_REGS.
  Expected<kvm_regs> regs() const;

  // --gdb (monitor/vm/gdb/stub.h). KVM_SET_GUEST_DEBUG: int3s, single steps
  // and an execute breakpoint become Debug exits; clear_guest_debug turns
  // it all off (after gdb detached).
  Expected<void> set_guest_debug(const gdbstub::DebugConfig& config);
  Expected<void> clear_guest_debug();
  // KVM_GET_REGS/SREGS/FPU into the stub's layout, and back (KVM_SET_REGS,
  // KVM_SET_FPU) for what gdb changes. Not while the vCPU runs.
  Expected<void> load_debug_state(gdbstub::CpuState* out) const;
  Expected<void> store_debug_state(const gdbstub::CpuState& in);

 private:
  VmExit translate_exit() const;

  UniqueFd fd_;
  uint32_t id_;
  kvm_run* run_;
  size_t run_size_;
};

}  // namespace mote::vm
