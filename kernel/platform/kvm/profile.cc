#include "kernel/platform/kvm/profile.h"

#include "kernel/linux/syscalls.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/memory.h"

namespace mote::kvm {

Profile* g_profile;
void (*g_syscall_handler)(core::SyscallFrame&) = core::on_syscall;

namespace {

// The call's own time; one that blocked is counted apart (its time went to
// idle or to other threads).
void timed_syscall(core::SyscallFrame& f) {
  Profile* p = g_profile;
  if (!p) return core::on_syscall(f);
  const u64 t0 = rdtsc(), switches0 = p->switches, nr = f.nr;
  core::on_syscall(f);
  if (p->switches != switches0) {
    ++p->blocked_calls;
  } else if (nr < 512) {
    p->sys_tsc[nr] += rdtsc() - t0;
    ++p->sys_count[nr];
  }
}

}  // namespace

void profile_start() {
  auto m = core_map(sizeof(Profile));
  if (!m.ok()) {
    kprintf("mote kernel: no memory for `profile`\n");
    return;
  }
  auto* p = reinterpret_cast<Profile*>(m.value());
  p->start_tsc = rdtsc();
  g_profile = p;
  g_syscall_handler = timed_syscall;
}

namespace {

// Hundredths of a percent of `total`.
unsigned long permyriad(u64 part, u64 total) {
  return total ? (unsigned long)(part * 10000 / total) : 0;
}

}  // namespace

void profile_report() {
  Profile* p = g_profile;
  if (!p) return;
  g_profile = nullptr;
  const u64 total = rdtsc() - p->start_tsc;
  u64 sys = 0, calls = 0;
  for (usize i = 0; i < 512; ++i) sys += p->sys_tsc[i], calls += p->sys_count[i];
  const u64 kernel = sys + p->irq_tsc + p->timer_tsc;
  const u64 program = total > kernel + p->idle_tsc ? total - kernel - p->idle_tsc : 0;
  auto pct = [&](u64 v) {
    unsigned long m = permyriad(v, total);
    return m;
  };
  kprintf("mote-profile: %lu TSC ticks: program (and entry/exit, faults) %lu.%02lu%%, system calls "
          "%lu.%02lu%% (%lu), interrupts %lu.%02lu%% (%lu), timer %lu.%02lu%% (%lu), idle %lu.%02lu%%\n",
          (unsigned long)total, pct(program) / 100, pct(program) % 100, pct(sys) / 100, pct(sys) % 100,
          (unsigned long)calls, pct(p->irq_tsc) / 100, pct(p->irq_tsc) % 100, (unsigned long)p->irqs,
          pct(p->timer_tsc) / 100, pct(p->timer_tsc) % 100, (unsigned long)p->timers,
          pct(p->idle_tsc) / 100, pct(p->idle_tsc) % 100);
  // The system calls by time, most first (a selection: 512 entries at most).
  bool shown[512] = {};
  for (int k = 0; k < 20; ++k) {
    usize best = 512;
    for (usize i = 0; i < 512; ++i)
      if (!shown[i] && p->sys_count[i] && (best == 512 || p->sys_tsc[i] > p->sys_tsc[best])) best = i;
    if (best == 512) break;
    shown[best] = true;
    const char* name = linux::syscall_desc(best).name;
    kprintf("mote-profile:   %-16s %8lu calls %6lu.%02lu%% %8lu ticks/call\n", name ? name : "?",
            (unsigned long)p->sys_count[best], pct(p->sys_tsc[best]) / 100,
            pct(p->sys_tsc[best]) % 100, (unsigned long)(p->sys_tsc[best] / p->sys_count[best]));
  }
  if (p->blocked_calls)
    kprintf("mote-profile:   %lu calls blocked (their time is idle's or other threads')\n",
            (unsigned long)p->blocked_calls);
  if (p->tx_frames)
    kprintf("mote-profile:   net send: %lu frames (copy %lu, notify %lu ticks each), %lu waited "
            "for a buffer (%lu ticks each)\n", (unsigned long)p->tx_frames,
            (unsigned long)(p->tx_copy_tsc / p->tx_frames), (unsigned long)(p->tx_notify_tsc / p->tx_frames),
            (unsigned long)p->tx_waits, (unsigned long)(p->tx_waits ? p->tx_wait_tsc / p->tx_waits : 0));
  if (p->irqs)
    kprintf("mote-profile:   device interrupt %lu ticks each\n", (unsigned long)(p->irq_tsc / p->irqs));
}

}  // namespace mote::kvm
