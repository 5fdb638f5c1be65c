// Interval and POSIX timers: alarm, setitimer/getitimer (ITIMER_REAL on the
// monotonic clock; ITIMER_VIRTUAL and ITIMER_PROF on the process's CPU
// time), timer_create/settime/gettime/getoverrun/delete with SIGEV_SIGNAL,
// SIGEV_THREAD_ID and SIGEV_NONE. All timers share the platform's one-shot
// timer, armed for the earliest deadline; core::on_timer calls
// timers_expire, which sends the signals and re-arms periodic timers.
// timerfds (timerfd.cc) share the same platform timer.
#include "kernel/linux/timer.h"

#include "kernel/core/fork.h"
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u64 kNs = 1000000000ull;
constexpr int kMaxTimers = 64;
// Slots 0..2: ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF; then POSIX timers.
constexpr int kFirstPosix = 3;

struct Timer {
  bool used = false;
  bool armed = false;
  bool cpu = false;      // counts process CPU time, not the monotonic clock
  u64 expires = 0;       // monotonic ns, or process CPU ns when cpu
  u64 interval = 0;
  int signo = 0;         // 0: SIGEV_NONE
  int tid = 0;           // SIGEV_THREAD_ID target, 0: the process
  u64 value = 0;         // sigev_value
  int overrun = 0;        // expirations while its signal was pending
  int last_overrun = 0;   // of the last signal delivered (timer_getoverrun)
  bool realtime = false;  // CLOCK_REALTIME: absolute times follow the wall clock
};

Timer g_timers[kMaxTimers];

u64 now_of(const Timer& t) {
  return t.cpu ? platform::process_cpu_ns() : platform::monotonic_ns();
}

// When the platform timer must fire for `t` (monotonic ns). A CPU-time
// timer is checked when its CPU time could at the earliest have passed.
u64 wake_at(const Timer& t) {
  if (!t.cpu) return t.expires;
  u64 cpu = platform::process_cpu_ns();
  u64 left = t.expires > cpu ? t.expires - cpu : 0;
  u32 n = platform::cpu_count();
  return platform::monotonic_ns() + left / (n ? n : 1);
}

void rearm() {
  u64 first = inet_deadline();  // the network stack's, 0 when none
  u64 run_end = core::run_deadline();  // --timeout
  if (run_end && (!first || run_end < first)) first = run_end;
  u64 tfd = timerfd_deadline();
  if (tfd && (!first || tfd < first)) first = tfd;
  for (const Timer& t : g_timers) {
    if (!t.armed) continue;
    u64 w = wake_at(t);
    if (!first || w < first) first = w ? w : 1;
  }
  platform::timer_arm(first);
}

void fire(int id, Timer& t) {
  if (!t.signo) return;
  core::SigInfo info;
  memset(&info, 0, sizeof info);
  info.signo = t.signo;
  core::Thread* target = nullptr;
  if (id < kFirstPosix) {
    info.code = core::kSiKernel;
  } else {
    info.code = core::kSiTimer;
    info.f[0] = u64(u32(id - kFirstPosix));  // si_tid; si_overrun when taken
    info.f[1] = t.value;
    if (t.tid) {
      target = core::find_thread(t.tid);
      if (!target) return;  // its thread is gone
    }
  }
  // Still pending from the last expiry: an overrun, not a second signal.
  u64 pending = target ? target->pending : core::g_proc.pending;
  if (pending & core::sig_bit(t.signo)) {
    ++t.overrun;
    return;
  }
  core::send_signal(target, t.signo, info);
}

struct Itimerspec {
  i64 interval_sec, interval_nsec, value_sec, value_nsec;
};

i64 load_ns(i64 sec, i64 nsec, u64* out) {
  if (sec < 0 || nsec < 0 || nsec >= i64(kNs)) return -EINVAL;
  *out = u64(sec) * kNs + u64(nsec);
  return 0;
}

// Time left and interval of a timer, as an itimerspec (ns precision).
Itimerspec current(const Timer& t) {
  Itimerspec s{i64(t.interval / kNs), i64(t.interval % kNs), 0, 0};
  if (t.armed) {
    u64 now = now_of(t);
    u64 left = t.expires > now ? t.expires - now : 1;
    s.value_sec = i64(left / kNs);
    s.value_nsec = i64(left % kNs);
  }
  return s;
}

void set_timer(Timer& t, u64 value, u64 interval, bool absolute) {
  t.interval = interval;
  t.overrun = 0;
  if (!value) {
    t.armed = false;
  } else {
    u64 now = now_of(t);
    if (absolute) {
      if (t.realtime) value = monotonic_at_wall(value);
      t.expires = value > now ? value : now;
    } else {
      t.expires = now + value;
    }
    t.armed = true;
  }
  rearm();
}

Timer* posix_timer(i64 id) {
  if (id < 0 || id >= kMaxTimers - kFirstPosix) return nullptr;
  Timer& t = g_timers[kFirstPosix + id];
  return t.used ? &t : nullptr;
}

}  // namespace

void timer_signal_taken(core::SigInfo* info) {
  i64 id = i64(i32(u32(info->f[0]))) + kFirstPosix;
  if (id < kFirstPosix || id >= kMaxTimers || !g_timers[id].used) return;
  Timer& t = g_timers[id];
  t.last_overrun = t.overrun;
  t.overrun = 0;
  info->f[0] = u64(u32(id - kFirstPosix)) | (u64(u32(t.last_overrun)) << 32);
}

void timers_rearm() { rearm(); }

bool timers_armed() {
  for (const Timer& t : g_timers)
    if (t.armed && t.signo) return true;
  return timerfd_armed();
}

void timers_expire() {
  // timerfds only count, whoever runs: a forked child's and its parent's alike.
  timerfd_expire();
  if (core::is_forked_child()) {
    // A forked child runs in its parent's place; the parent's timers wait.
    platform::timer_arm(platform::monotonic_ns() + 1000000);
    return;
  }
  for (int id = 0; id < kMaxTimers; ++id) {
    Timer& t = g_timers[id];
    if (!t.armed) continue;
    u64 now = now_of(t);
    if (now < t.expires) continue;
    fire(id, t);
    if (t.interval) {
      u64 missed = (now - t.expires) / t.interval;
      t.overrun += int(missed);
      t.expires += (missed + 1) * t.interval;
    } else {
      t.armed = false;
    }
  }
  rearm();
}

// ---- setitimer family -------------------------------------------------------------

i64 sys_getitimer(const SysArgs& a) {
  u64 which = a.u(0);
  if (which > 2) return -EINVAL;
  Itimerspec s = current(g_timers[which]);
  i64 tv[4] = {s.interval_sec, s.interval_nsec / 1000, s.value_sec, s.value_nsec / 1000};
  return copy_to_user(a.u(1), tv, sizeof tv).ok() ? 0 : -EFAULT;
}

i64 sys_setitimer(const SysArgs& a) {
  u64 which = a.u(0);
  if (which > 2) return -EINVAL;
  Timer& t = g_timers[which];
  if (a.u(2)) {
    Itimerspec s = current(t);
    i64 tv[4] = {s.interval_sec, s.interval_nsec / 1000, s.value_sec, s.value_nsec / 1000};
    if (!copy_to_user(a.u(2), tv, sizeof tv).ok()) return -EFAULT;
  }
  if (!a.u(1)) return 0;
  i64 tv[4];
  if (!copy_from_user(tv, a.u(1), sizeof tv).ok()) return -EFAULT;
  if (tv[1] < 0 || tv[1] >= 1000000 || tv[3] < 0 || tv[3] >= 1000000 || tv[0] < 0 || tv[2] < 0)
    return -EINVAL;
  t.used = true;
  t.cpu = which != 0;
  t.signo = which == 0 ? 14 : which == 1 ? 26 : 27;  // SIGALRM SIGVTALRM SIGPROF
  t.tid = 0;
  set_timer(t, u64(tv[2]) * kNs + u64(tv[3]) * 1000, u64(tv[0]) * kNs + u64(tv[1]) * 1000, false);
  return 0;
}

i64 sys_alarm(const SysArgs& a) {
  Timer& t = g_timers[0];
  u64 left = 0;
  if (t.armed) {
    u64 now = platform::monotonic_ns();
    u64 ns = t.expires > now ? t.expires - now : 0;
    left = (ns + kNs / 2) / kNs;  // rounded, and never 0 for a pending alarm
    if (!left) left = 1;
  }
  t.used = true;
  t.cpu = false;
  t.signo = 14;
  t.tid = 0;
  set_timer(t, u64(u32(a.u(0))) * kNs, 0, false);
  return i64(left);
}

// ---- POSIX timers -------------------------------------------------------------------

i64 sys_timer_create(const SysArgs& a) {
  i64 clock = i64(i32(a.u(0)));
  bool cpu = false, realtime = false;
  switch (clock) {
    case 0: case 8: case 11: realtime = true; break;  // REALTIME, REALTIME_ALARM, TAI
    case 1: case 7: case 9: break;                    // MONOTONIC, BOOTTIME(_ALARM)
    case 2: case 3: cpu = true; break;                // PROCESS/THREAD_CPUTIME_ID
    default: return -EINVAL;
  }
  int signo = 14, tid = 0;
  u64 value = 0;
  if (a.u(1)) {
    // struct sigevent: sigev_value (8), sigev_signo (4), sigev_notify (4), tid (4)...
    u8 ev[64];
    if (!copy_from_user(ev, a.u(1), sizeof ev).ok()) return -EFAULT;
    i32 notify, sig, thread;
    memcpy(&value, ev, 8);
    memcpy(&sig, ev + 8, 4);
    memcpy(&notify, ev + 12, 4);
    memcpy(&thread, ev + 16, 4);
    switch (notify) {
      case 1: signo = 0; break;  // SIGEV_NONE
      case 0: signo = sig; break;  // SIGEV_SIGNAL
      case 4:  // SIGEV_THREAD_ID
        if (!core::find_thread(thread)) return -EINVAL;
        signo = sig;
        tid = thread;
        break;
      default: return -EINVAL;  // SIGEV_THREAD is libc's, over SIGEV_THREAD_ID
    }
    if (notify != 1 && (signo < 1 || signo > core::kNumSignals)) return -EINVAL;
  }
  for (int id = kFirstPosix; id < kMaxTimers; ++id) {
    Timer& t = g_timers[id];
    if (t.used) continue;
    i32 out = id - kFirstPosix;
    if (!put_user(a.u(2), out).ok()) return -EFAULT;
    t = Timer{};
    t.used = true;
    t.cpu = cpu;
    t.realtime = realtime;
    t.signo = signo;
    t.tid = tid;
    t.value = a.u(1) ? value : u64(u32(out));  // default sigev_value: the timer id
    return 0;
  }
  return -EAGAIN;
}

i64 sys_timer_settime(const SysArgs& a) {
  Timer* t = posix_timer(a.c_int(0));
  if (!t) return -EINVAL;
  i64 its[4];
  if (!copy_from_user(its, a.u(2), sizeof its).ok()) return -EFAULT;
  u64 interval, value;
  if (load_ns(its[0], its[1], &interval) || load_ns(its[2], its[3], &value)) return -EINVAL;
  if (a.u(3)) {
    Itimerspec s = current(*t);
    if (!put_user(a.u(3), s).ok()) return -EFAULT;
  }
  set_timer(*t, value, interval, a.u(1) & 1 /*TIMER_ABSTIME*/);
  return 0;
}

i64 sys_timer_gettime(const SysArgs& a) {
  Timer* t = posix_timer(a.c_int(0));
  if (!t) return -EINVAL;
  Itimerspec s = current(*t);
  return put_user(a.u(1), s).ok() ? 0 : -EFAULT;
}

i64 sys_timer_getoverrun(const SysArgs& a) {
  Timer* t = posix_timer(a.c_int(0));
  if (!t) return -EINVAL;
  return t->last_overrun;
}

i64 sys_timer_delete(const SysArgs& a) {
  Timer* t = posix_timer(a.c_int(0));
  if (!t) return -EINVAL;
  *t = Timer{};
  rearm();
  return 0;
}

}  // namespace mote::linux
