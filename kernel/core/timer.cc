// The core's use of the platform's one-shot timer: the program's interval
// and POSIX timers (linux/timer.cc) share it. The boot self-test below
// proves the platform contract: an armed timer fires once, at or after its
// deadline, and ends an idle that was waiting longer.
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/timer.h"
#include "kernel/platform/platform.h"

namespace mote::core {

namespace {
volatile u64 g_timer_fired_at;
volatile u32 g_timer_fires;
u64 g_run_deadline;  // written once at boot
u64 g_timeout_ns;

[[noreturn]] void run_timed_out() {
  u64 ms = g_timeout_ns / 1000000;
  console_printf("mote: timeout: the run took longer than --timeout %lu.%03lu s; stopped\n",
                 (unsigned long)(ms / 1000), (unsigned long)(ms % 1000));
  platform::exit(abi::kTimeoutStatus);
}
}  // namespace

void set_run_deadline(u64 timeout_ns) {
  g_timeout_ns = timeout_ns;
  g_run_deadline = timeout_ns ? platform::monotonic_ns() + timeout_ns : 0;
}

u64 run_deadline() { return g_run_deadline; }

void on_timer() {
  g_timer_fired_at = platform::monotonic_ns();
  g_timer_fires = g_timer_fires + 1;
  if (g_run_deadline && g_timer_fired_at >= g_run_deadline) run_timed_out();
  if (!g_threads) return;  // the boot self-test: no program yet
  // Called where sleeping is not allowed (an interrupt on the VM platform):
  // with the kernel lock busy, its holder does the work when it lets go.
  post_work(kWorkTimer);
  run_posted_work();
}

void do_posted_work(u32 work) {
  if (work & kWorkTimer) linux::timers_expire();
  linux::inet_timer_work();  // frames that arrived, the stack's timers
  linux::timers_rearm();
}

bool timer_selftest() {
  constexpr u64 kMs = 1000000;
  u64 start = platform::monotonic_ns();
  u64 deadline = start + 20 * kMs;
  g_timer_fires = 0;
  platform::timer_arm(deadline);
  // Idle far past the deadline: the timer must end the wait early.
  u64 woke = platform::idle_until(start + 2000 * kMs);
  const u64 fired = g_timer_fired_at;
  bool ok = true;
  if (g_timer_fires != 1) {
    console_printf("mote: selftest timer: fired %u times, expected once\n", g_timer_fires);
    ok = false;
  } else if (g_timer_fired_at < deadline) {
    console_printf("mote: selftest timer: fired %lu ns before its deadline\n",
                   (unsigned long)(deadline - g_timer_fired_at));
    ok = false;
  }
  if (woke >= start + 1000 * kMs) {
    console_printf("mote: selftest timer: the timer did not end the idle wait\n");
    ok = false;
  }
  // Disarmed, it stays silent.
  platform::timer_arm(0);
  u32 before = g_timer_fires;
  platform::idle_until(platform::monotonic_ns() + 30 * kMs);
  if (g_timer_fires != before) {
    console_printf("mote: selftest timer: fired while disarmed\n");
    ok = false;
  }
  // A deadline moved later: one firing, not before the new deadline (the VM
  // platform keeps the LAPIC counting for the old one and arms again when it
  // comes). Then moved earlier: it fires by the new one.
  for (int later = 1; later >= 0 && ok; --later) {
    u64 t0 = platform::monotonic_ns();
    u64 first = t0 + (later ? 20 : 1000) * kMs, second = t0 + (later ? 60 : 20) * kMs;
    before = g_timer_fires;
    platform::timer_arm(first);
    platform::timer_arm(second);
    while (g_timer_fires == before && platform::monotonic_ns() < t0 + 2000 * kMs)
      platform::idle_until(t0 + 2000 * kMs);
    platform::idle_until(platform::monotonic_ns() + 30 * kMs);  // and no second firing
    if (g_timer_fires != before + 1 || g_timer_fired_at < second ||
        g_timer_fired_at >= t0 + 1000 * kMs) {
      console_printf("mote: selftest timer: deadline moved %s: fired %u times, %ld us after "
                     "the deadline\n", later ? "later" : "earlier", g_timer_fires - before,
                     long(g_timer_fired_at - second) / 1000);
      ok = false;
    }
  }
  if (ok)
    console_printf("mote: selftest timer: ok (fired %lu us after arming, woke after %lu us)\n",
                   (unsigned long)((fired - start) / 1000),
                   (unsigned long)((woke - start) / 1000));
  return ok;
}

}  // namespace mote::core
