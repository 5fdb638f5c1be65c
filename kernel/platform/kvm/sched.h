// The VM platform's thread scheduler (sched.cc).
#pragma once

#include "kernel/lib/types.h"
#include "kernel/platform/kvm/traps.h"

namespace mote::kvm {

// Makes the running program thread (the boot thread, on the syscall stack
// ending at boot_stack_top) the first scheduled thread; takes over the timer.
void sched_init(u64 boot_stack_top);
// The timer interrupt's handler until sched_init (lapic.cc installs it).
void boot_timer_interrupt();

// The timer or an IPI interrupted program code (f, on the IST stack): when
// the slice is over or signals wait, continues on the thread's kernel stack
// (switching threads, delivering signals) and returns to the program from
// there; else returns.
void after_interrupt(TrapFrame* f);
// Runs fn on the running thread's kernel stack with a copy of f, then
// returns to the program from it (never returns here).
[[noreturn]] void run_on_kernel_stack(TrapFrame* f, void (*fn)(TrapFrame*));
void mote_vm_preempted_frame(TrapFrame* f);
// Called by the system call path after the core returns (kernel lock free):
// switches when the call asked for it (sched_setaffinity off this CPU).
void resched_after_syscall();
// The scheduler runs (the program has started).
bool sched_active();

// The running thread's system call in flight (platform.cc): its register
// frame, and its FPU state once the core asked for it. Per thread: the
// scheduler swaps Cpu::sys with the thread.
struct SyscallState {
  u64* gregs;
  platform::UserContext ctx;
  bool fpu_saved;
  bool dirty;  // gregs changed: the return reloads them all
  alignas(16) u8 fpu[512];  // fxsave image (Linux's signal-frame fpstate)
};

// A reschedule IPI interrupted this CPU (f: the interrupted state).
void on_resched_ipi(TrapFrame* f);
// Makes an AP's idle thread (on the BSP, before the AP starts: allocations
// change page tables, which only the kernel lock's holder may do).
struct Cpu;
void sched_prepare_cpu(Cpu* c);
// An application processor joins the scheduler (never returns).
[[noreturn]] void sched_enter_ap();

// platform.cc: where the syscall entry switches stacks (the running thread's).
void set_kernel_stack(u64 top);
// The running core::Thread, where the syscall path reads it (per CPU).
void set_cpu_thread(void* thread);
// The program's first thread before the scheduler runs.
extern void* g_boot_thread;

}  // namespace mote::kvm
