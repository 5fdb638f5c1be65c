// Signal system calls: dispositions (per process), masks and alternate
// stacks (per thread), waiting for signals, rt_sigreturn. Delivery itself is
// kernel/core/signals.cc.
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"

namespace mote::linux {

namespace {
constexpr int kSigKill = 9, kSigStop = 19;
constexpr u64 kSsOnstack = 1, kSsDisable = 2, kSsAutodisarm = 1ull << 31;
constexpr u64 kNs = 1000000000ull;

u64 current_sp() { return platform::syscall_user_sp(); }
}  // namespace

i64 sys_rt_sigaction(const SysArgs& a) {
  int sig = int(a.u(0));
  if (a.u(3) != 8) return -EINVAL;
  if (sig < 1 || sig > core::kNumSignals) return -EINVAL;
  core::SigAction& cur = core::g_proc.actions[sig];
  core::SigAction next;
  if (a.u(1)) {
    if (sig == kSigKill || sig == kSigStop) return -EINVAL;
    if (!get_user(&next, a.u(1)).ok()) return -EFAULT;
  }
  if (a.u(2) && !put_user(a.u(2), cur).ok()) return -EFAULT;
  if (a.u(1)) {
    next.mask &= ~core::kUnblockable;
    cur = next;
    // Setting SIG_IGN (or a default that ignores) discards pending instances.
    if (core::signal_ignored(sig)) {
      core::g_proc.pending &= ~core::sig_bit(sig);
      for (core::Thread* t = core::g_threads; t; t = t->next) t->pending &= ~core::sig_bit(sig);
    }
  }
  return 0;
}

i64 sys_rt_sigprocmask(const SysArgs& a) {
  if (a.u(3) != 8) return -EINVAL;
  core::Thread* t = core::current();
  u64 old = t->sigmask;
  if (a.u(1)) {
    u64 set;
    if (!get_user(&set, a.u(1)).ok()) return -EFAULT;
    u64 next;
    switch (a.c_int(0)) {  // int how
      case 0: next = old | set; break;   // SIG_BLOCK
      case 1: next = old & ~set; break;  // SIG_UNBLOCK
      case 2: next = set; break;         // SIG_SETMASK
      default: return -EINVAL;
    }
    t->sigmask = next & ~core::kUnblockable;
  }
  if (a.u(2) && !put_user(a.u(2), old).ok()) return -EFAULT;
  // Newly unblocked pending signals are taken on the way out (signal_work).
  return 0;
}

i64 sys_sigaltstack(const SysArgs& a) {
  core::Thread* t = core::current();
  u64* st = t->altstack;  // {ss_sp, ss_flags, ss_size}
  u64 sp = current_sp();
  bool on = sp && core::on_altstack(t, sp);
  if (a.u(1)) {
    u64 flags = st[2] ? ((on ? kSsOnstack : 0) | (st[1] & kSsAutodisarm)) : kSsDisable;
    u64 old[3] = {st[0], flags, st[2]};
    if (!copy_to_user(a.u(1), old, sizeof old).ok()) return -EFAULT;
  }
  if (a.u(0)) {
    u64 next[3];
    if (!copy_from_user(next, a.u(0), sizeof next).ok()) return -EFAULT;
    if (on) return -EPERM;
    u64 flags = u32(next[1]);
    if (flags & ~(kSsDisable | kSsOnstack | kSsAutodisarm)) return -EINVAL;
    if (flags & kSsDisable) {
      st[0] = st[1] = st[2] = 0;
    } else {
      if (next[2] < 2048) return -ENOMEM;  // MINSIGSTKSZ
      st[0] = next[0];
      st[1] = flags & kSsAutodisarm;
      st[2] = next[2];
    }
  }
  return 0;
}

i64 sys_rt_sigreturn(const SysArgs&) {
  platform::UserContext* ctx = platform::syscall_context();
  if (!ctx) core::die_by_signal(11, "rt_sigreturn without a signal frame");
  i64 r = core::sigreturn(*ctx);
  if (r < 0 && r > -4096 && r == -EFAULT) core::die_by_signal(11, "bad signal frame");
  return r;
}

i64 sys_rt_sigpending(const SysArgs& a) {
  if (a.u(1) > 8 || a.u(1) < 8) return -EINVAL;
  core::Thread* t = core::current();
  u64 set = (t->pending | core::g_proc.pending) & t->sigmask;
  return put_user(a.u(0), set).ok() ? 0 : -EFAULT;
}

i64 sys_rt_sigsuspend(const SysArgs& a) {
  if (a.u(1) != 8) return -EINVAL;
  u64 mask;
  if (!get_user(&mask, a.u(0)).ok()) return -EFAULT;
  core::Thread* t = core::current();
  t->saved_mask = t->sigmask;
  t->restore_mask = true;  // the handler's frame gets the old mask
  t->sigmask = mask & ~core::kUnblockable;
  while (!core::has_deliverable(t)) core::sleep_until(core::kForever, true);
  return -core::kErestartNoHand;
}

i64 sys_pause(const SysArgs&) {
  core::Thread* t = core::current();
  while (!core::has_deliverable(t)) core::sleep_until(core::kForever, true);
  return -core::kErestartNoHand;
}

i64 sys_rt_sigtimedwait(const SysArgs& a) {
  if (a.u(3) != 8) return -EINVAL;
  u64 set;
  if (!get_user(&set, a.u(0)).ok()) return -EFAULT;
  set &= ~core::kUnblockable;
  u64 deadline = core::kForever;
  if (a.u(2)) {
    i64 ts[2];
    if (!copy_from_user(ts, a.u(2), sizeof ts).ok()) return -EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= i64(kNs)) return -EINVAL;
    deadline = platform::monotonic_ns() + u64(ts[0]) * kNs + u64(ts[1]);
  }
  core::Thread* t = core::current();
  for (;;) {
    core::SigInfo info;
    int sig = core::dequeue_signal(t, set, &info);
    if (sig) {
      t->waiting_for = 0;
      if (a.u(1) && !copy_to_user(a.u(1), &info, sizeof info).ok()) return -EFAULT;
      return sig;
    }
    // A signal outside the set that the thread takes ends the wait.
    if ((t->pending | core::g_proc.pending) & ~t->sigmask & ~set) {
      t->waiting_for = 0;
      return -EINTR;
    }
    t->waiting_for = set;
    core::Wake w = core::sleep_until(deadline, true);
    t->waiting_for = 0;
    if (w == core::Wake::Timeout && platform::monotonic_ns() >= deadline) {
      if (core::dequeue_signal(t, set, &info)) {
        // Arrived just at the deadline: still ours.
        if (a.u(1) && !copy_to_user(a.u(1), &info, sizeof info).ok()) return -EFAULT;
        return info.signo;
      }
      return -EAGAIN;
    }
  }
}

namespace {
i64 queue_info(core::Thread* t, int sig, u64 uinfo) {
  if (sig < 0 || sig > core::kNumSignals) return -EINVAL;
  core::SigInfo info;
  if (!copy_from_user(&info, uinfo, sizeof info).ok()) return -EFAULT;
  // Only negative codes (or SI_USER/SI_TKILL-like) may come from a program.
  if (info.code >= 0 || info.code == core::kSiTkill) return -EPERM;
  info.signo = sig;
  return core::send_signal(t, sig, info);
}
}  // namespace

i64 sys_rt_sigqueueinfo(const SysArgs& a) {
  i64 pid = i64(i32(a.u(0)));
  if (pid != core::g_proc.pid) return -ESRCH;
  return queue_info(nullptr, int(a.u(1)), a.u(2));
}

i64 sys_rt_tgsigqueueinfo(const SysArgs& a) {
  if (i64(i32(a.u(0))) != core::g_proc.pid) return -ESRCH;
  core::Thread* t = core::find_thread(i32(a.u(1)));
  if (!t) return -ESRCH;
  return queue_info(t, int(a.u(2)), a.u(3));
}

}  // namespace mote::linux
