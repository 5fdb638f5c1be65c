// exit, ids, arch_prctl (TLS), set_tid_address, robust lists, and signals
// sent by the program to itself (kill/tkill/tgkill). The program is pid 1 and
// its main thread tid 1, as in a container; it runs as uid/gid 0.
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/linux/futex.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {
constexpr u64 kArchSetGs = 0x1001, kArchSetFs = 0x1002, kArchGetFs = 0x1003, kArchGetGs = 0x1004;
constexpr u64 kArchGetCpuid = 0x1011, kArchSetCpuid = 0x1012;
constexpr u64 kUserTop = 0x800000000000ull;

bool is_self(i64 id) { return id == core::g_proc.pid; }

constexpr u32 kFutexWaiters = 0x80000000u, kFutexOwnerDied = 0x40000000u;
constexpr u32 kFutexTidMask = 0x3fffffffu;

// A robust futex the exiting thread still holds: marked OWNER_DIED, one
// waiter woken (Documentation/locking/robust-futex-ABI.rst).
void release_robust(u64 uaddr, int tid) {
  u32 v;
  if ((uaddr & 3) || !get_user(&v, uaddr).ok()) return;
  if ((v & kFutexTidMask) != u32(tid)) return;
  u32 next = (v & kFutexWaiters) | kFutexOwnerDied;
  if (!put_user(uaddr, next).ok()) return;
  if (v & kFutexWaiters) futex_wake(uaddr, 1);
}

void walk_robust_list(core::Thread* t) {
  u64 head = t->robust_list;
  if (!head || t->robust_len != 24) return;
  u64 h[3];  // list.next, futex_offset, list_op_pending
  if (!copy_from_user(h, head, sizeof h).ok()) return;
  i64 offset = i64(h[1]);
  u64 entry = h[0] & ~u64(1), pending = h[2] & ~u64(1);
  for (int n = 0; entry && entry != head && n < 2048; ++n) {
    u64 next;
    if (!get_user(&next, entry).ok()) break;
    if (entry != pending) release_robust(entry + u64(offset), t->tid);
    entry = next & ~u64(1);
  }
  if (pending) release_robust(pending + u64(offset), t->tid);
}

}  // namespace

// exit(2): the calling thread ends; the last one ends the process.
i64 sys_exit(const SysArgs& a) {
  core::Thread* t = core::current();
  if (core::g_nthreads <= 1) core::terminate(int(a.u(0) & 0xff));
  walk_robust_list(t);
  if (t->clear_child_tid) {
    // pthread_join waits for this word to become 0.
    if (put_user(t->clear_child_tid, u32(0)).ok()) futex_wake(t->clear_child_tid, 1);
  }
  futex_forget(t);
  core::forget_signals(t);
  // Its pending signals die with it; a process-directed one it was picked
  // for stays queued for the others.
  core::thread_remove(t);
  for (core::Thread* o = core::g_threads; o; o = o->next)
    if (core::has_deliverable(o)) core::interrupt(o);
  core::kunlock();
  platform::thread_exit();
}

i64 sys_exit_group(const SysArgs& a) { core::terminate(int(a.u(0) & 0xff)); }

i64 sys_arch_prctl(const SysArgs& a) {
  switch (a.c_int(0)) {  // int option
    case kArchSetFs:
      if (a.u(1) >= kUserTop) return -EPERM;
      platform::set_fs_base(a.u(1));
      return 0;
    case kArchGetFs:
      return put_user(a.u(1), platform::fs_base()).ok() ? 0 : -EFAULT;
    case kArchSetGs:
      // %gs belongs to the core on every platform (per-CPU data).
      return -EPERM;
    case kArchGetGs:
      return put_user(a.u(1), u64(0)).ok() ? 0 : -EFAULT;
    case kArchGetCpuid:
      return 1;  // cpuid is enabled
    case kArchSetCpuid:
      return -ENODEV;  // no CPUID faulting
    default:
      return -EINVAL;  // includes CET (0x3001-0x3003): not supported, as on most kernels
  }
}

i64 sys_set_tid_address(const SysArgs& a) {
  core::Thread* t = core::current();
  t->clear_child_tid = a.u(0);
  return t->tid;
}

i64 sys_set_robust_list(const SysArgs& a) {
  if (a.u(1) != 24) return -EINVAL;  // sizeof(struct robust_list_head)
  core::Thread* t = core::current();
  t->robust_list = a.u(0);
  t->robust_len = a.u(1);
  return 0;
}

i64 sys_get_robust_list(const SysArgs& a) {
  core::Thread* t = a.c_int(0) == 0 ? core::current() : core::find_thread(int(a.c_int(0)));
  if (!t) return -ESRCH;
  if (!put_user(a.u(1), t->robust_list).ok()) return -EFAULT;
  if (!put_user(a.u(2), t->robust_len).ok()) return -EFAULT;
  return 0;
}

i64 sys_getpid(const SysArgs&) { return core::g_proc.pid; }
i64 sys_gettid(const SysArgs&) { return core::current()->tid; }
i64 sys_getppid(const SysArgs&) { return core::g_proc.ppid; }
i64 sys_getpgrp(const SysArgs&) { return core::g_proc.pgid; }
i64 sys_getpgid(const SysArgs& a) {
  return (a.c_int(0) == 0 || is_self(a.c_int(0))) ? core::g_proc.pgid : -ESRCH;
}
i64 sys_getsid(const SysArgs& a) {
  return (a.c_int(0) == 0 || is_self(a.c_int(0))) ? core::g_proc.sid : -ESRCH;
}

i64 sys_kill(const SysArgs& a) {
  i64 pid = i64(i32(a.u(0)));
  int sig = int(a.u(1));
  if (sig < 0 || sig > core::kNumSignals) return -EINVAL;
  // 0 (own group) and -1 (every process it may signal) reach only itself here.
  if (pid != 0 && pid != -1 && !is_self(pid)) return -ESRCH;
  return core::send_signal(nullptr, sig, core::user_siginfo(sig, core::kSiUser));
}

namespace {
i64 signal_thread(i32 tid, int sig) {
  if (sig < 0 || sig > core::kNumSignals) return -EINVAL;
  core::Thread* t = core::find_thread(tid);
  if (!t) return -ESRCH;
  return core::send_signal(t, sig, core::user_siginfo(sig, core::kSiTkill));
}
}  // namespace

i64 sys_tkill(const SysArgs& a) {
  if (i32(a.u(0)) <= 0) return -EINVAL;
  return signal_thread(i32(a.u(0)), int(a.u(1)));
}

i64 sys_tgkill(const SysArgs& a) {
  i32 tgid = i32(a.u(0)), tid = i32(a.u(1));
  if (tgid <= 0 || tid <= 0) return -EINVAL;
  if (!is_self(tgid)) return -ESRCH;
  return signal_thread(tid, int(a.u(2)));
}

}  // namespace mote::linux
