// The local APIC timer as the platform's one-shot timer (SDM 3A 10.5.4):
// TSC-deadline mode when the CPU has it, else one-shot mode with the APIC
// timer calibrated against the TSC at boot.
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/clock.h"
#include "kernel/platform/kvm/cpu.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/sched.h"
#include "kernel/platform/kvm/traps.h"
#include "kernel/platform/kvm/vm.h"
#include "kernel/platform/platform.h"

namespace mote::kvm {

namespace {

bool g_deadline_mode;
u64 g_ticks_per_ms;

volatile u32* reg(u32 off) { return reinterpret_cast<volatile u32*>(g_lapic_virt + off); }

enum : u32 { kId = 0x20, kSvr = 0xf0, kLvtTimer = 0x320, kInitialCount = 0x380, kCurrentCount = 0x390,
             kDivide = 0x3e0 };

}  // namespace

void lapic_init() {
  g_lapic_virt = reinterpret_cast<u64>(phys_to_virt(0xfee00000ull));
  wrmsr(Msr::ApicBase, rdmsr(Msr::ApicBase) | (1u << 11));
  *reg(kSvr) = 0x100 | kSpuriousVector;
  *reg(kDivide) = 0xb;  // divide by 1
  set_timer_handler(boot_timer_interrupt);
  g_deadline_mode = cpuid(1).ecx & (1u << 24);
  if (g_deadline_mode) {
    *reg(kLvtTimer) = (2u << 17) | kTimerVector | (1u << 16);  // TSC-deadline, masked
    return;
  }
  *reg(kLvtTimer) = kTimerVector | (1u << 16);  // one-shot, masked; calibrated on first use
}

u32 lapic_id() { return *reg(kId) >> 24; }  // xAPIC: bits 31:24

void lapic_init_ap() {
  wrmsr(Msr::ApicBase, rdmsr(Msr::ApicBase) | (1u << 11));
  *reg(kSvr) = 0x100 | kSpuriousVector;
  *reg(kDivide) = 0xb;
  if (g_deadline_mode) *reg(kLvtTimer) = (2u << 17) | kTimerVector | (1u << 16);
  else *reg(kLvtTimer) = kTimerVector | (1u << 16);
}

namespace {
// The APIC timer's count and the TSC read together: the TSC just before
// and just after, so a sample the vCPU was descheduled across shows as a
// wide window and is taken again.
struct Sample {
  u64 tsc;  // the window's middle
  u32 count;
};

Sample sample(u64 max_window) {
  Sample best{};
  u64 best_window = ~u64(0);
  for (int tries = 0; tries < 8 && best_window > max_window; ++tries) {
    u64 a = rdtsc();
    u32 c = *reg(kCurrentCount);
    u64 b = rdtsc();
    if (b - a < best_window) best = Sample{a + (b - a) / 2, c}, best_window = b - a;
  }
  return best;
}

// APIC timer ticks per millisecond (the first time a timer is armed, or
// before the APs start: lapic_calibrate). Each measurement divides the ticks
// counted by the TSC time that really passed, not the 1 ms it aimed for: a
// host that deschedules the vCPU mid-measurement (TCG on a loaded machine)
// stretches both alike. The median of three drops one bad pairing.
void calibrate() {
  const u64 khz = clock_tsc_khz();
  const u64 max_window = khz / 50 + 1;  // 20 us
  u64 rates[3];
  for (u64& rate : rates) {
    *reg(kLvtTimer) = kTimerVector | (1u << 16);  // one-shot, masked
    *reg(kInitialCount) = 0xffffffff;
    Sample a = sample(max_window);
    while (rdtsc() - a.tsc < khz) {
    }
    Sample b = sample(max_window);
    *reg(kInitialCount) = 0;
    u64 tsc = b.tsc - a.tsc, ticks = u64(a.count - b.count);
    rate = tsc ? ticks * khz / tsc : 0;
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2 - i; ++j)
      if (rates[j] > rates[j + 1]) {
        u64 t = rates[j];
        rates[j] = rates[j + 1], rates[j + 1] = t;
      }
  g_ticks_per_ms = rates[1] ? rates[1] : 1;
  this_cpu()->timer_lvt = false;  // masked above
}
}  // namespace

void lapic_calibrate() {
  clock_tsc_khz();
  if (!g_deadline_mode && !g_ticks_per_ms) calibrate();
}

// Each write to the timer is an exit to the hypervisor (under QEMU/TCG two
// MMIO writes, each taking QEMU's global lock and kicking its main loop:
// ~10 us here), and the network stack moves a deadline with nearly every
// segment it sends (the retransmission timer). So the timer is written only
// when the new deadline is earlier than the one counting: a later one waits
// for the earlier to fire, whose handler arms it then -- one early interrupt
// per superseded deadline instead of two writes per send. Disarming writes
// only when the timer counts.
void lapic_arm(u64 deadline_ns) {
  Cpu* c = this_cpu();
  if (deadline_ns == 0) {
    if (!c->timer_at) return;
    c->timer_at = 0;
    if (g_deadline_mode) wrmsr(Msr::TscDeadline, 0);
    else *reg(kInitialCount) = 0;
    return;
  }
  if (c->timer_at && c->timer_at <= deadline_ns) return;  // fires first: its handler re-arms
  if (g_deadline_mode) {
    if (!c->timer_lvt) *reg(kLvtTimer) = (2u << 17) | kTimerVector, c->timer_lvt = true;
    wrmsr(Msr::TscDeadline, clock_tsc_at(deadline_ns));
    c->timer_at = deadline_ns;
    return;
  }
  if (!g_ticks_per_ms) calibrate();
  u64 now = clock_monotonic_ns();
  u64 ns = deadline_ns > now ? deadline_ns - now : 1;
  u64 count = ns / 1000000 * g_ticks_per_ms + (ns % 1000000) * g_ticks_per_ms / 1000000;
  if (count == 0) count = 1;
  if (count > 0xffffffffull) {
    // Fires early (the count's limit); the handler re-arms for the rest.
    count = 0xffffffffull;
    deadline_ns = now + count / g_ticks_per_ms * 1000000;
  }
  if (!c->timer_lvt) *reg(kLvtTimer) = kTimerVector, c->timer_lvt = true;
  *reg(kInitialCount) = u32(count);
  c->timer_at = deadline_ns;
}

void lapic_timer_fired() { this_cpu()->timer_at = 0; }

void enable_fpu() {
  u64 cr0, cr4;
  asm volatile("mov %%cr0, %0" : "=r"(cr0));
  cr0 = (cr0 & ~u64(1u << 2)) | (1u << 1);  // EM off, MP on
  asm volatile("mov %0, %%cr0" : : "r"(cr0));
  asm volatile("mov %%cr4, %0" : "=r"(cr4));
  cr4 |= (1u << 9) | (1u << 10);  // OSFXSR, OSXMMEXCPT
  Cpuid c1 = cpuid(1);
  bool xsave = c1.ecx & (1u << 26);
  if (xsave) cr4 |= 1u << 18;  // OSXSAVE
  asm volatile("mov %0, %%cr4" : : "r"(cr4));
  if (xsave) {
    // x87 | SSE, plus AVX when the CPU has it (what CPUID tells glibc must work).
    u64 xcr0 = 3;
    if (c1.ecx & (1u << 28)) xcr0 |= 4;
    asm volatile("xsetbv" : : "c"(0), "a"(u32(xcr0)), "d"(u32(xcr0 >> 32)));
  }
  asm volatile("fninit");
  u32 mxcsr = 0x1f80;
  asm volatile("ldmxcsr %0" : : "m"(mxcsr));
}

}  // namespace mote::kvm
