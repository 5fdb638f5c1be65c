// Descriptor tables (GDT with TSS, IDT) and trap dispatch for the VM
// platform. SDM 3A chapter 3 (segments), 6 (interrupts), 7.7 (64-bit TSS).
#pragma once

#include "kernel/lib/types.h"
#include "kernel/platform/platform.h"

namespace mote::kvm {

inline constexpr u8 kTimerVector = 48;
inline constexpr u8 kSpuriousVector = 255;
// Device interrupts through the I/O APIC (ioapic.h): a few vectors, one
// priority class above the timer's (SDM 3A 10.8.3.1). Each calls the handler
// its driver registered, which quiets the device (a level-triggered line
// must be acknowledged at the device before the EOI, or it fires again at
// once), then the LAPIC gets its EOI.
inline constexpr u8 kDeviceVectorBase = 0x40;
inline constexpr u32 kDeviceVectors = 4;

// The frame trap_common builds, lowest address first.
struct TrapFrame {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector, error;
  u64 rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

// Builds and loads the GDT (with a 64-bit TSS whose IST1 is the trap stack)
// and the IDT (every gate on IST1).
void traps_init();
// An application processor's own GDT and TSS (IST1 = ist_top), the shared IDT.
void traps_init_ap(u32 index, u64 ist_top);

// The next trap with `vector` at `rip` resumes at `resume` instead of being
// fatal (self-tests that provoke faults). Cleared when it triggers.
void expect_trap(u8 vector, u64 resume);
struct TrapRecord {
  u32 count;
  u8 vector;
  u64 rip, error, cr2;
};
const TrapRecord& last_expected_trap();

// Where the xAPIC registers are mapped: identity at boot, the direct map once
// the kernel has its own page tables (lapic_init sets it).
extern u64 g_lapic_virt;

// Starts the program's signal handlers in a trap frame of program code: for
// `fault` (on_fault: reports and exits when there is no handler), or for
// pending signals (returns false when there were none). platform.cc.
bool deliver_at_trap(TrapFrame* f, const core::FaultFrame* fault);

// Called on every timer interrupt (after EOI).
void set_timer_handler(void (*fn)());

// A free device vector whose interrupts call fn(arg) (with interrupts off,
// on the IST stack, never under the scheduler lock); 0 when all are taken.
u8 device_vector_alloc(void (*fn)(void*), void* arg);

}  // namespace mote::kvm
