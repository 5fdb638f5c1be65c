// rt_sigaction, rt_sigprocmask, sigaltstack: recorded per process. See
// kernel/core/signals.h for what is acted on.
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"

namespace mote::linux {

namespace {
constexpr int kSigKill = 9, kSigStop = 19;
constexpr u64 kUnblockable = (u64(1) << (kSigKill - 1)) | (u64(1) << (kSigStop - 1));
constexpr int kSsOnstack = 1, kSsDisable = 2;
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
    next.mask &= ~kUnblockable;
    cur = next;
  }
  return 0;
}

i64 sys_rt_sigprocmask(const SysArgs& a) {
  if (a.u(3) != 8) return -EINVAL;
  u64 old = core::g_proc.sigmask;
  if (a.u(1)) {
    u64 set;
    if (!get_user(&set, a.u(1)).ok()) return -EFAULT;
    u64 next;
    switch (a.u(0)) {
      case 0: next = old | set; break;   // SIG_BLOCK
      case 1: next = old & ~set; break;  // SIG_UNBLOCK
      case 2: next = set; break;         // SIG_SETMASK
      default: return -EINVAL;
    }
    core::g_proc.sigmask = next & ~kUnblockable;
  }
  if (a.u(2) && !put_user(a.u(2), old).ok()) return -EFAULT;
  core::deliver_pending();
  return 0;
}

i64 sys_sigaltstack(const SysArgs& a) {
  u64* st = core::g_proc.altstack;  // {ss_sp, ss_flags, ss_size}
  if (a.u(1)) {
    u64 old[3] = {st[0], st[2] ? 0 : u64(kSsDisable), st[2]};
    if (!copy_to_user(a.u(1), old, sizeof old).ok()) return -EFAULT;
  }
  if (a.u(0)) {
    u64 next[3];
    if (!copy_from_user(next, a.u(0), sizeof next).ok()) return -EFAULT;
    int flags = int(next[1]);
    if (flags & ~(kSsDisable | kSsOnstack | (1 << 31) /*SS_AUTODISARM*/)) return -EINVAL;
    if (flags & kSsDisable) {
      st[0] = st[1] = st[2] = 0;
    } else {
      if (next[2] < 2048) return -ENOMEM;  // MINSIGSTKSZ
      st[0] = next[0];
      st[1] = 0;
      st[2] = next[2];
    }
  }
  return 0;
}

}  // namespace mote::linux
