// Per-CPU data of the VM platform, at %gs:0 on each CPU (the program cannot
// change %gs: ARCH_SET_GS is EPERM). The first five fields are used from
// assembly (syscall_entry.S): keep their offsets.
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

struct SyscallState;
struct KThread;

inline constexpr u32 kMaxCpus = 16;

struct Cpu {
  Cpu* self;                 // 0
  u64 kernel_stack_top;      // 8: the running thread's
  u64 user_rsp;              // 16: the program's %rsp (entry), then the return's
  u64 user_rip;              // 24: where the syscall return jumps
  void* thread;              // 32: the running core::Thread
  u32 index, apic_id;
  SyscallState* sys;         // the running thread's system call in flight
  KThread* cur;              // the running thread (sched.cc)
  KThread* idle;             // this CPU's idle thread
  KThread* switched_from;    // the thread the last switch here left
  u64 slice_end;             // the running thread's slice, 0: none
  // This CPU's LAPIC timer (lapic.cc): when it fires (monotonic ns), 0 when
  // it is not counting; whether its LVT is set for use (unmasked).
  u64 timer_at;
  bool timer_lvt;
  bool need_resched;
  volatile bool halted;      // idle in hlt: a wake-up needs an IPI
  volatile u32 tlb_flush;    // a TLB flush asked of this CPU, not yet done
  // In a trap handler on the IST stack: a thread must not sleep here (the
  // kernel lock is spun for instead, see wait_word).
  bool in_trap;
  u64 ist_top;               // an AP's trap stack, made by the BSP before it starts
  alignas(16) u8 trap_fpu[512];  // fxsave image for signals at traps
};

extern Cpu g_cpus[kMaxCpus];
extern u32 g_ncpus;  // online

inline Cpu* this_cpu() {
  Cpu* c;
  asm volatile("mov %%gs:0, %0" : "=r"(c));
  return c;
}

// Makes g_cpus[0] the boot CPU's (%gs base), before anything reads it.
void cpu_init_bsp();

// IPIs (smp.cc): vectors, and sending one to a CPU.
inline constexpr u8 kReschedVector = 0xf0, kTlbVector = 0xf1;
void send_ipi_to(u32 cpu, u8 vector);
// Every other online CPU drops its TLB entries for the lower half; returns
// when all have (munmap, mprotect, mremap: the caller holds the kernel lock).
void tlb_shootdown();
// While spinning with interrupts off: do a flush another CPU waits for.
void tlb_service();

}  // namespace mote::kvm
