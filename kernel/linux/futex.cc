// futex(2): wait queues keyed by address. One address space holds the whole
// program, so private and shared futexes are the same thing: the key is the
// virtual address. Everything runs under the kernel lock, which makes the
// value check and the enqueue of a wait atomic against every wake; a waiter
// sleeps with the lock dropped (core::sleep).
//
// A wait forever that nothing could end fails with EDEADLK (docs/compat.md).
//
// Supported: WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE,
// WAKE_OP, with FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME. The
// priority-inheritance operations (LOCK_PI, ...) fail with ENOSYS: glibc uses
// them only for PTHREAD_PRIO_INHERIT mutexes (docs/compat.md).
#include "kernel/linux/futex.h"

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

constexpr u32 kWait = 0, kWake = 1, kFd = 2, kRequeue = 3, kCmpRequeue = 4, kWakeOp = 5;
constexpr u32 kLockPi = 6, kUnlockPi = 7, kTrylockPi = 8, kWaitBitset = 9, kWakeBitset = 10;
constexpr u32 kWaitRequeuePi = 11, kCmpRequeuePi = 12, kLockPi2 = 13;
constexpr u32 kPrivate = 128, kClockRealtime = 256;
constexpr u32 kBitsetAny = 0xffffffffu;
constexpr u64 kNs = 1000000000ull;

using core::Thread;

constexpr usize kBuckets = 256;
Thread* g_buckets[kBuckets];

Thread*& bucket(u64 key) { return g_buckets[(key * 0x9e3779b97f4a7c15ull) >> 56]; }

void enqueue(Thread* t, u64 key, u32 bitset) {
  t->futex_key = key;
  t->futex_bitset = bitset;
  // At the tail: wakes go in FIFO order.
  Thread** p = &bucket(key);
  while (*p) p = &(*p)->futex_next;
  t->futex_next = nullptr;
  *p = t;
}

// Takes `t` off its queue if it is still on one.
void dequeue(Thread* t) {
  if (!t->futex_key) return;
  for (Thread** p = &bucket(t->futex_key); *p; p = &(*p)->futex_next) {
    if (*p == t) {
      *p = t->futex_next;
      break;
    }
  }
  t->futex_key = 0;
  t->futex_next = nullptr;
}

// Wakes up to n waiters on key whose bitset intersects `bitset`.
i64 wake(u64 key, i64 n, u32 bitset) {
  i64 woken = 0;
  Thread** p = &bucket(key);
  while (*p && woken < n) {
    Thread* t = *p;
    if (t->futex_key != key || !(t->futex_bitset & bitset)) {
      p = &t->futex_next;
      continue;
    }
    *p = t->futex_next;
    t->futex_key = 0;
    t->futex_next = nullptr;
    core::wake_up(t);
    ++woken;
  }
  return woken;
}

// Wakes up to n waiters on key, moves up to n2 of the rest to key2.
i64 requeue(u64 key, i64 n, u64 key2, i64 n2) {
  i64 woken = wake(key, n, kBitsetAny), moved = 0;
  if (key == key2) return woken;
  Thread** p = &bucket(key);
  while (*p && moved < n2) {
    Thread* t = *p;
    if (t->futex_key != key) {
      p = &t->futex_next;
      continue;
    }
    *p = t->futex_next;
    enqueue(t, key2, t->futex_bitset);
    ++moved;
  }
  return woken + moved;
}

// The monotonic deadline of a wait's timeout, or kForever.
i64 deadline(u64 timeout_addr, u32 op, u32 flags, u64* out) {
  *out = core::kForever;
  if (!timeout_addr) return 0;
  i64 t[2];
  if (!copy_from_user(t, timeout_addr, sizeof t).ok()) return -EFAULT;
  if (t[0] < 0 || t[1] < 0 || t[1] >= i64(kNs)) return -EINVAL;
  u64 ns = u64(t[0]) * kNs + u64(t[1]);
  if (op == kWait)
    *out = platform::monotonic_ns() + ns;  // FUTEX_WAIT: relative, on CLOCK_MONOTONIC
  else
    *out = (flags & kClockRealtime) ? monotonic_at_wall(ns) : ns;  // may be past: at once
  return 0;
}

i64 wait(u64 uaddr, u32 val, u64 timeout_addr, u32 op, u32 flags, u32 bitset) {
  u64 until;
  if (i64 e = deadline(timeout_addr, op, flags, &until)) return e;
  u32 cur;
  if (!get_user(&cur, uaddr).ok()) return -EFAULT;
  if (cur != val) return -EAGAIN;
  // Nothing could ever wake it (one thread, no timer: a forked child
  // waiting for its parent, which runs only after it): fail, as pipes do.
  if (until == core::kForever && !core::wake_possible()) return -EDEADLK;
  Thread* t = core::current();
  core::prepare_sleep(true);
  enqueue(t, uaddr, bitset);
  core::Wake w = core::sleep(until);
  if (w == core::Wake::Woken) return 0;
  dequeue(t);
  if (t->wake == 1) return 0;  // woken just as the wait ended
  if (w == core::Wake::Timeout) return -ETIMEDOUT;
  return timeout_addr ? -core::kErestartBlock : -core::kErestartSys;
}

i64 wake_op(u64 uaddr, i64 n, u64 uaddr2, i64 n2, u32 encoded) {
  u32 opcode = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
  u32 oparg = (encoded >> 12) & 0xfff, cmparg = encoded & 0xfff;
  if (encoded & (1u << 31)) {  // FUTEX_OP_OPARG_SHIFT
    if (oparg > 31) return -EINVAL;
    oparg = 1u << oparg;
  }
  u32 old;
  if (!get_user(&old, uaddr2).ok()) return -EFAULT;
  u32 next;
  switch (opcode) {
    case 0: next = oparg; break;         // SET
    case 1: next = old + oparg; break;   // ADD
    case 2: next = old | oparg; break;   // OR
    case 3: next = old & ~oparg; break;  // ANDN
    case 4: next = old ^ oparg; break;   // XOR
    default: return -ENOSYS;
  }
  if (!put_user(uaddr2, next).ok()) return -EFAULT;
  i64 woken = wake(uaddr, n, kBitsetAny);
  i32 o = i32(old), c = i32(cmparg);
  bool hit;
  switch (cmp) {
    case 0: hit = o == c; break;
    case 1: hit = o != c; break;
    case 2: hit = o < c; break;
    case 3: hit = o <= c; break;
    case 4: hit = o > c; break;
    case 5: hit = o >= c; break;
    default: return -ENOSYS;
  }
  if (hit) woken += wake(uaddr2, n2, kBitsetAny);
  return woken;
}

}  // namespace

i64 futex_wake(u64 uaddr, i64 n) { return wake(uaddr, n, kBitsetAny); }

void futex_forget(core::Thread* t) { dequeue(t); }

i64 sys_futex(const SysArgs& a) {
  u64 uaddr = a.u(0);
  u32 flags = u32(a.u(1));
  u32 op = flags & ~(kPrivate | kClockRealtime);
  u32 val = u32(a.u(2));
  if ((flags & kClockRealtime) && op != kWaitBitset && op != kWaitRequeuePi && op != kLockPi2 &&
      op != kWait)
    return -ENOSYS;
  if (uaddr & 3) return -EINVAL;
  // For the requeue and wake-op calls the fourth argument is a count.
  i64 n2 = i64(u32(a.u(3)));
  switch (op) {
    case kWait:
      return wait(uaddr, val, a.u(3), op, flags, kBitsetAny);
    case kWaitBitset:
      if (u32(a.u(5)) == 0) return -EINVAL;
      return wait(uaddr, val, a.u(3), op, flags, u32(a.u(5)));
    case kWake:
      return wake(uaddr, i64(i32(val)) < 0 ? 0 : i64(val), kBitsetAny);
    case kWakeBitset:
      if (u32(a.u(5)) == 0) return -EINVAL;
      return wake(uaddr, i64(val), u32(a.u(5)));
    case kRequeue:
    case kCmpRequeue: {
      if (i32(val) < 0 || i32(n2) < 0) return -EINVAL;
      u64 uaddr2 = a.u(4);
      if (uaddr2 & 3) return -EINVAL;
      if (op == kCmpRequeue) {
        u32 cur;
        if (!get_user(&cur, uaddr).ok()) return -EFAULT;
        if (cur != u32(a.u(5))) return -EAGAIN;
      }
      return requeue(uaddr, i64(val), uaddr2, n2);
    }
    case kWakeOp:
      if (a.u(4) & 3) return -EINVAL;
      return wake_op(uaddr, i64(val), a.u(4), n2, u32(a.u(5)));
    case kFd:
    case kLockPi:
    case kUnlockPi:
    case kTrylockPi:
    case kWaitRequeuePi:
    case kCmpRequeuePi:
    case kLockPi2:
    default:
      return -ENOSYS;  // priority-inheritance futexes (docs/compat.md)
  }
}

}  // namespace mote::linux
