// futex(2) for a program with one thread (threads come with clone in a later
// issue; this file then grows wait queues). With no other thread to wake a
// waiter, a wait whose value matches can only end at its timeout: it sleeps
// until then, and without a timeout it waits forever, as Linux would. Wakes
// find no waiters and return 0.
#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u32 kWait = 0, kWake = 1, kFd = 2, kRequeue = 3, kCmpRequeue = 4, kWakeOp = 5;
constexpr u32 kLockPi = 6, kUnlockPi = 7, kTrylockPi = 8, kWaitBitset = 9, kWakeBitset = 10;
constexpr u32 kWaitRequeuePi = 11, kCmpRequeuePi = 12, kLockPi2 = 13;
constexpr u32 kPrivate = 128, kClockRealtime = 256;
constexpr u64 kNs = 1000000000ull;

struct Timespec {
  i64 sec, nsec;
};

// Waits for a wake that cannot come: until the deadline, or forever.
i64 wait_alone(u64 timeout_addr, u32 op, u32 flags) {
  if (!timeout_addr) {
    for (;;) platform::idle_until(~u64(0));
  }
  Timespec t;
  if (!get_user(&t, timeout_addr).ok()) return -EFAULT;
  if (t.sec < 0 || t.nsec < 0 || t.nsec >= i64(kNs)) return -EINVAL;
  u64 ns = u64(t.sec) * kNs + u64(t.nsec);
  u64 now = platform::monotonic_ns();
  u64 deadline;
  if (op == kWait) {
    deadline = now + ns;  // FUTEX_WAIT: relative timeout
  } else {
    // FUTEX_WAIT_BITSET: absolute, on CLOCK_MONOTONIC or CLOCK_REALTIME.
    u64 base = (flags & kClockRealtime) ? platform::wall_ns() : now;
    deadline = ns <= base ? now : now + (ns - base);
  }
  while (platform::idle_until(deadline) < deadline) {
  }
  return -ETIMEDOUT;
}

}  // namespace

i64 sys_futex(const SysArgs& a) {
  u64 uaddr = a.u(0);
  u32 op = u32(a.u(1)) & ~(kPrivate | kClockRealtime);
  u32 flags = u32(a.u(1));
  u32 val = u32(a.u(2));
  if ((flags & kClockRealtime) && op != kWaitBitset && op != kWaitRequeuePi && op != kLockPi2)
    return -ENOSYS;
  if (uaddr & 3) return -EINVAL;
  u32 cur;
  switch (op) {
    case kWait:
    case kWaitBitset:
      if (op == kWaitBitset && u32(a.u(5)) == 0) return -EINVAL;
      if (!get_user(&cur, uaddr).ok()) return -EFAULT;
      if (cur != val) return -EAGAIN;
      return wait_alone(a.u(3), op, flags);
    case kWake:
    case kWakeBitset:
      if (op == kWakeBitset && u32(a.u(5)) == 0) return -EINVAL;
      return 0;  // nobody waits
    case kRequeue:
      return 0;
    case kCmpRequeue:
      if (!get_user(&cur, uaddr).ok()) return -EFAULT;
      return cur == u32(a.u(5)) ? 0 : -EAGAIN;
    case kWakeOp: {
      // Applies the operation to *uaddr2 (FUTEX_OP encoding), wakes nobody.
      u64 uaddr2 = a.u(4);
      u32 encoded = u32(a.u(5));
      u32 opcode = (encoded >> 28) & 7, oparg = (encoded >> 12) & 0xfff;
      if (encoded & (1u << 31)) oparg = 1u << (oparg & 31);  // FUTEX_OP_OPARG_SHIFT
      u32 old;
      if (!get_user(&old, uaddr2).ok()) return -EFAULT;
      u32 next;
      switch (opcode) {
        case 0: next = oparg; break;
        case 1: next = old + oparg; break;
        case 2: next = old | oparg; break;
        case 3: next = old & ~oparg; break;
        case 4: next = old ^ oparg; break;
        default: return -ENOSYS;
      }
      if (!put_user(uaddr2, next).ok()) return -EFAULT;
      return 0;
    }
    case kFd:
    case kLockPi:
    case kUnlockPi:
    case kTrylockPi:
    case kWaitRequeuePi:
    case kCmpRequeuePi:
    case kLockPi2:
    default:
      return -ENOSYS;  // priority-inheritance futexes: not yet
  }
}

}  // namespace mote::linux
