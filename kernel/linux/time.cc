// Clocks and sleeping: the system calls behind the vDSO (kernel/vdso/), and
// every clock it leaves to them (CPU-time clocks, alarm clocks).
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/timer.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u64 kNs = 1000000000ull;
constexpr u64 kTimerAbstime = 1;

struct Timespec {
  i64 sec;
  i64 nsec;
};

enum Clock : i64 {
  kRealtime = 0, kMonotonic = 1, kProcessCpu = 2, kThreadCpu = 3, kMonotonicRaw = 4,
  kRealtimeCoarse = 5, kMonotonicCoarse = 6, kBoottime = 7, kRealtimeAlarm = 8,
  kBoottimeAlarm = 9, kTai = 11,
};

// A CPU-time clock id (clock_getcpuclockid, pthread_getcpuclockid):
// (~pid << 3) | type, with bit 2 for a thread; type 0 PROF, 1 VIRT, 2 SCHED.
bool read_cpu_clock(i64 id, u64* ns) {
  if ((id & 3) == 3) return false;
  i64 pid = ~(id >> 3);
  if (id & 4) {
    core::Thread* t = pid == 0 ? core::current() : core::find_thread(int(pid));
    if (!t) return false;
    *ns = t == core::current() ? platform::thread_cpu_ns() : platform::thread_cpu_ns_of(t);
    return true;
  }
  if (pid != 0 && pid != core::g_proc.pid) return false;
  *ns = platform::process_cpu_ns();
  return true;
}

// Reads a clock; false when the id is not a clock. Kernel lock held for
// negative (CPU-clock) ids.
bool read_clock(i64 id, u64* ns) {
  if (id < 0) return read_cpu_clock(id, ns);
  switch (id) {
    case kRealtime:
    case kRealtimeCoarse:
    case kRealtimeAlarm:
    case kTai: *ns = platform::wall_ns(); return true;
    case kMonotonic:
    case kMonotonicRaw:
    case kMonotonicCoarse:
    case kBoottime:
    case kBoottimeAlarm: *ns = platform::monotonic_ns(); return true;
    case kProcessCpu: *ns = platform::process_cpu_ns(); return true;
    case kThreadCpu: *ns = platform::thread_cpu_ns(); return true;
    default: return false;
  }
}

Timespec to_ts(u64 ns) { return Timespec{i64(ns / kNs), i64(ns % kNs)}; }

// Reads and validates a duration or absolute time.
i64 load_ts(u64 addr, u64* ns) {
  Timespec t;
  if (!get_user(&t, addr).ok()) return -EFAULT;
  if (t.sec < 0 || t.nsec < 0 || t.nsec >= i64(kNs)) return -EINVAL;
  u64 s = u64(t.sec);
  *ns = s > (~u64(0) - u64(t.nsec)) / kNs ? ~u64(0) : s * kNs + u64(t.nsec);
  return 0;
}

u64 add_sat(u64 a, u64 b) { return a > ~u64(0) - b ? ~u64(0) : a + b; }

// Sleeps until the monotonic clock reaches `deadline` or a signal comes.
// Returns 0, or an ERESTART code with the time left in *left.
i64 sleep_until(u64 deadline, u64* left) {
  for (;;) {
    core::Wake w = core::sleep_until(deadline, true);
    u64 now = platform::monotonic_ns();
    if (w == core::Wake::Timeout) {
      if (now >= deadline) return 0;
      continue;  // early wake-up
    }
    *left = deadline > now ? deadline - now : 0;
    return -core::kErestartBlock;
  }
}

}  // namespace

u64 monotonic_at_wall(u64 wall) {
  u64 now_wall = platform::wall_ns();
  u64 now = platform::monotonic_ns();
  return wall > now_wall ? add_sat(now, wall - now_wall) : now;
}

i64 sys_clock_gettime(const SysArgs& a) {
  u64 ns;
  if (!read_clock(i64(i32(a.u(0))), &ns)) return -EINVAL;
  return put_user(a.u(1), to_ts(ns)).ok() ? 0 : -EFAULT;
}

i64 sys_clock_getres(const SysArgs& a) {
  u64 ns;
  if (!read_clock(i64(i32(a.u(0))), &ns)) return -EINVAL;
  if (!a.u(1)) return 0;
  i64 id = i64(i32(a.u(0)));  // clockid_t is an int
  u64 res = (id == kRealtimeCoarse || id == kMonotonicCoarse) ? 4000000
                                                                : platform::clock_resolution_ns();
  return put_user(a.u(1), to_ts(res)).ok() ? 0 : -EFAULT;
}

i64 sys_gettimeofday(const SysArgs& a) {
  if (a.u(0)) {
    u64 ns = platform::wall_ns();
    Timespec tv{i64(ns / kNs), i64((ns % kNs) / 1000)};
    if (!put_user(a.u(0), tv).ok()) return -EFAULT;
  }
  if (a.u(1)) {
    u32 tz[2] = {0, 0};  // UTC, no DST
    if (!copy_to_user(a.u(1), tz, sizeof tz).ok()) return -EFAULT;
  }
  return 0;
}

i64 sys_time(const SysArgs& a) {
  i64 s = i64(platform::wall_ns() / kNs);
  if (a.u(0) && !put_user(a.u(0), s).ok()) return -EFAULT;
  return s;
}

i64 sys_nanosleep(const SysArgs& a) {
  u64 dur;
  i64 r = load_ts(a.u(0), &dur);
  if (r) return r;
  u64 left = 0;
  r = sleep_until(add_sat(platform::monotonic_ns(), dur), &left);
  if (r && a.u(1) && !put_user(a.u(1), to_ts(left)).ok()) return -EFAULT;
  return r;
}

i64 sys_clock_nanosleep(const SysArgs& a) {
  i64 id = i64(i32(a.u(0)));  // clockid_t is an int
  u64 flags = u32(a.u(1));  // int flags
  u64 t;
  if (id == kThreadCpu || (id < 0 && (id & 4))) return -EINVAL;
  if (id != kRealtime && id != kMonotonic && id != kBoottime && id != kTai &&
      id != kProcessCpu)
    return id == kMonotonicRaw || id == kRealtimeCoarse || id == kMonotonicCoarse ? -EOPNOTSUPP
                                                                                  : -EINVAL;
  i64 r = load_ts(a.u(2), &t);
  if (r) return r;
  u64 deadline;
  if (!(flags & kTimerAbstime))
    deadline = add_sat(platform::monotonic_ns(), t);
  else if (id == kRealtime || id == kTai)
    deadline = monotonic_at_wall(t);
  else
    deadline = t;  // the monotonic clock itself (CLOCK_BOOTTIME reads the same)
  if (id == kProcessCpu) {
    // Sleeping burns no CPU time: a CPU-clock sleep would wait forever for
    // a single-threaded program; Linux lets it, we refuse it.
    return -EINVAL;
  }
  u64 left = 0;
  r = sleep_until(deadline, &left);
  // Relative sleeps report the time left (absolute ones just restart).
  if (r && !(flags & kTimerAbstime) && a.u(3) && !put_user(a.u(3), to_ts(left)).ok())
    return -EFAULT;
  return r;
}

}  // namespace mote::linux
