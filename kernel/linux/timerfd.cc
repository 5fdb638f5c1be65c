// timerfd: timers read as files (timerfd_create, timerfd_settime,
// timerfd_gettime). A timerfd counts its expirations; read returns the
// count (8 bytes) and clears it, blocking while it is zero (EAGAIN with
// TFD_NONBLOCK); poll/epoll see it readable while the count is non-zero.
//
// The timers run on the same platform timer as the interval and POSIX
// timers (timer.cc): rearm() includes timerfd_deadline() and
// timers_expire() calls timerfd_expire(), which counts expirations and
// wakes readers and pollers. Counts are also brought up to date whenever
// the file is read, polled or queried, so a late platform timer is never
// seen by the program as a missing expiration.
//
// Times are kept on the monotonic clock (CLOCK_BOOTTIME is the same clock
// here: there is no suspend); an absolute CLOCK_REALTIME time is converted
// when the timer is set, so a later change of the wall clock does not move
// it, and TFD_TIMER_CANCEL_ON_SET is accepted but never cancels (the wall
// clock cannot be set under mote). TFD_IOC_SET_TICKS is not implemented
// (docs/compat.md).
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/fs/fdtable.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/listed.h"
#include "kernel/lib/string.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/timer.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u64 kNs = 1000000000ull;
constexpr u32 kCloexec = 0x80000, kNonblock = 0x800;           // TFD_CLOEXEC, TFD_NONBLOCK
constexpr u64 kTimerAbstime = 1, kTimerCancelOnSet = 2;        // TFD_TIMER_*
constexpr int kClockRealtime = 0, kClockMonotonic = 1, kClockBoottime = 7;
constexpr int kClockRealtimeAlarm = 8, kClockBoottimeAlarm = 9;

struct Itimerspec {
  i64 interval_sec, interval_nsec, value_sec, value_nsec;
};

// Every open timerfd is listed, for expiry and the deadline.
class TimerFd final : public AnonFile, public Listed<TimerFd> {
 public:
  TimerFd(Ref<fs::Inode> node, u32 flags, bool realtime)
      : AnonFile(static_cast<Ref<fs::Inode>&&>(node), flags), realtime_(realtime) {}

  Result<usize> pread(void* buf, usize len, u64) override {
    if (len < 8) return err(EINVAL);
    for (;;) {
      update(platform::monotonic_ns());
      if (ticks_) break;
      if (flags & fs::kONonblock) return err(EAGAIN);
      if (!armed_ && !core::wake_possible()) return err(EDEADLK);
      // Sleeps to the expiry at the latest: the count is brought up to date
      // here even when the platform timer's wake-up comes late.
      if (core::wait_on(waiters_, armed_ ? expires_ : core::kForever, true) ==
          core::Wake::Interrupted)
        return err(core::kErestartSys);
    }
    u64 v = ticks_;
    ticks_ = 0;
    memcpy(buf, &v, 8);
    return usize(8);
  }

  u32 poll_ready() override {
    update(platform::monotonic_ns());
    return ticks_ ? fs::kPollIn | fs::kPollRdnorm : 0;
  }

  // Counts the expirations up to `now`; true when there were any.
  bool update(u64 now) {
    if (!armed_ || now < expires_) return false;
    if (interval_) {
      u64 missed = (now - expires_) / interval_;
      ticks_ += missed + 1;
      expires_ += (missed + 1) * interval_;
    } else {
      ticks_ += 1;
      armed_ = false;
    }
    return true;
  }

  // The time left and the interval, as timerfd_gettime reports them.
  Itimerspec current() {
    u64 now = platform::monotonic_ns();
    update(now);
    Itimerspec s{i64(interval_ / kNs), i64(interval_ % kNs), 0, 0};
    if (armed_) {
      u64 left = expires_ - now;  // update() left expires_ in the future
      s.value_sec = i64(left / kNs);
      s.value_nsec = i64(left % kNs);
    }
    return s;
  }

  // timerfd_settime: value 0 disarms; the count starts afresh.
  void set(u64 value, u64 interval, bool absolute) {
    ticks_ = 0;
    interval_ = interval;
    armed_ = value != 0;
    if (armed_) {
      u64 now = platform::monotonic_ns();
      if (!absolute) {
        expires_ = now + value;
      } else if (realtime_) {
        expires_ = monotonic_at_wall(value);
      } else {
        expires_ = value;  // may be past: expires at once
      }
    }
    timers_rearm();
    core::notify_poll();  // readiness may have gone
  }

  void wake() {
    core::wake_all(waiters_);
  }

  bool armed() const { return armed_; }
  u64 expires() const { return expires_; }

 private:
  bool realtime_;
  bool armed_ = false;
  u64 expires_ = 0;   // monotonic ns
  u64 interval_ = 0;  // ns, 0: one-shot
  u64 ticks_ = 0;     // expirations not yet read
  core::WaitQueue waiters_;
};

// The timerfd behind fd: EBADF when no file, EINVAL when another kind.
Result<TimerFd*> timerfd_of(int fd, Ref<fs::File>& hold) {
  hold = fs::fds().get(fd);
  if (!hold) return err(EBADF);
  for (TimerFd* t = Listed<TimerFd>::first(); t; t = t->next_listed())
    if (t == hold.get()) return t;
  return err(EINVAL);
}

i64 load_ns(i64 sec, i64 nsec, u64* out) {
  if (sec < 0 || nsec < 0 || nsec >= i64(kNs)) return -EINVAL;
  *out = u64(sec) * kNs + u64(nsec);
  return 0;
}

}  // namespace

u64 timerfd_deadline() {
  u64 first = 0;
  for (TimerFd* t = Listed<TimerFd>::first(); t; t = t->next_listed()) {
    if (!t->armed()) continue;
    u64 w = t->expires() ? t->expires() : 1;
    if (!first || w < first) first = w;
  }
  return first;
}

bool timerfd_armed() {
  for (TimerFd* t = Listed<TimerFd>::first(); t; t = t->next_listed())
    if (t->armed()) return true;
  return false;
}

void timerfd_expire() {
  u64 now = platform::monotonic_ns();
  bool any = false;
  for (TimerFd* t = Listed<TimerFd>::first(); t; t = t->next_listed()) {
    if (!t->update(now)) continue;
    t->wake();
    any = true;
  }
  if (any) core::notify_poll();
}

i64 sys_timerfd_create(const SysArgs& a) {
  int clock = int(i32(a.u(0)));
  u32 flags = u32(a.u(1));
  if (flags & ~(kCloexec | kNonblock)) return -EINVAL;
  bool realtime = false;
  switch (clock) {
    case kClockRealtime: case kClockRealtimeAlarm: realtime = true; break;
    case kClockMonotonic: case kClockBoottime: case kClockBoottimeAlarm: break;
    default: return -EINVAL;
  }
  auto node = anon_inode();
  if (!node) return -ENOMEM;
  auto f = make_ref<TimerFd>(node, 2 /*O_RDWR*/ | (flags & kNonblock), realtime);
  if (!f) return -ENOMEM;
  auto fd = fs::fds().install(Ref<fs::File>(f), flags & kCloexec, 0, nofile_limit());
  return fd.ok() ? fd.value() : -fd.error();
}

i64 sys_timerfd_settime(const SysArgs& a) {
  u64 flags = u32(a.u(1));  // int flags
  if (flags & ~(kTimerAbstime | kTimerCancelOnSet)) return -EINVAL;
  // The new value is checked before the fd, as Linux does.
  Itimerspec its;
  if (!get_user(&its, a.u(2)).ok()) return -EFAULT;
  u64 interval, value;
  if (load_ns(its.interval_sec, its.interval_nsec, &interval) ||
      load_ns(its.value_sec, its.value_nsec, &value))
    return -EINVAL;
  Ref<fs::File> hold;
  auto t = timerfd_of(a.fd(0), hold);
  if (!t.ok()) return -t.error();
  if (a.u(3)) {
    Itimerspec old = t.value()->current();
    if (!put_user(a.u(3), old).ok()) return -EFAULT;
  }
  t.value()->set(value, interval, flags & kTimerAbstime);
  return 0;
}

i64 sys_timerfd_gettime(const SysArgs& a) {
  Ref<fs::File> hold;
  auto t = timerfd_of(a.fd(0), hold);
  if (!t.ok()) return -t.error();
  Itimerspec s = t.value()->current();
  return put_user(a.u(1), s).ok() ? 0 : -EFAULT;
}

}  // namespace mote::linux
