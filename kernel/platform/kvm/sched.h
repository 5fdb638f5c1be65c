// The VM platform's thread scheduler (sched.cc).
#pragma once

#include "kernel/lib/types.h"
#include "kernel/platform/kvm/traps.h"

namespace mote::kvm {

// Makes the running program thread (the boot thread, on the syscall stack
// ending at boot_stack_top) the first scheduled thread; takes over the timer.
void sched_init(u64 boot_stack_top);

// The timer interrupted program code: switches to another runnable thread
// when the running one's slice is over (does not return then: the thread
// resumes from a copy of f on its kernel stack).
void maybe_preempt(TrapFrame* f);

// The running thread's system call in flight (platform.cc): its register
// frame, and its FPU state once the core asked for it. Per thread: the
// scheduler swaps g_sys with the thread.
struct SyscallState {
  u64* gregs;
  platform::UserContext ctx;
  bool fpu_saved;
  bool dirty;  // gregs changed: the return reloads them all
  alignas(16) u8 fpu[512];  // fxsave image (Linux's signal-frame fpstate)
};
extern SyscallState* g_sys;

// platform.cc: where the syscall entry switches stacks (the running thread's).
void set_kernel_stack(u64 top);
// The running core::Thread, where the syscall path reads it (per CPU).
void set_cpu_thread(void* thread);
// The program's first thread before the scheduler runs.
extern void* g_boot_thread;

}  // namespace mote::kvm
