// `profile` on the kernel command line: where the vCPU's time goes, printed
// when the VM exits -- the program, each system call (the core's work for
// it; a call that blocked, letting the CPU idle or run other threads, is
// counted apart, its time theirs), device and timer interrupts, and idle
// (halted). TSC time: wall-clock cycles on hardware, instructions under
// QEMU -icount. For finding what a workload costs the kernel; with one
// vCPU (the counters are not per CPU).
#pragma once

#include "kernel/lib/types.h"
#include "kernel/platform/platform.h"

namespace mote::kvm {

struct Profile {
  u64 start_tsc;
  u64 idle_tsc, irq_tsc, timer_tsc;
  u64 irqs, timers;
  u64 switches;  // thread switches: a system call that saw one blocked
  u64 blocked_calls;
  u64 tx_waits, tx_wait_tsc, tx_frames, tx_notify_tsc, tx_copy_tsc;  // virtio-net sends: ring-full waits
  u64 sys_tsc[512];
  u32 sys_count[512];
};
extern Profile* g_profile;  // null: off

// What the system-call entry calls: core::on_syscall, or with `profile` a
// wrapper that times it (an indirect call costs the entry nothing more).
extern void (*g_syscall_handler)(core::SyscallFrame&);

// Starts counting (boot, after memory is up).
void profile_start();
// Prints the figures to the console.
void profile_report();

}  // namespace mote::kvm
