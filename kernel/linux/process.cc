// exit, ids, arch_prctl (TLS), set_tid_address, robust lists, and signals
// sent by the program to itself (kill/tkill/tgkill). The program is pid 1 and
// its main thread tid 1, as in a container; it runs as uid/gid 0.
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
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
}  // namespace

i64 sys_exit(const SysArgs& a) { core::terminate(int(a.u(0) & 0xff)); }
i64 sys_exit_group(const SysArgs& a) { core::terminate(int(a.u(0) & 0xff)); }

i64 sys_arch_prctl(const SysArgs& a) {
  switch (a.u(0)) {
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
  core::g_proc.clear_child_tid = a.u(0);
  return core::g_proc.pid;  // the main thread's tid
}

i64 sys_set_robust_list(const SysArgs& a) {
  if (a.u(1) != 24) return -EINVAL;  // sizeof(struct robust_list_head)
  core::g_proc.robust_list = a.u(0);
  core::g_proc.robust_len = a.u(1);
  return 0;
}

i64 sys_get_robust_list(const SysArgs& a) {
  if (a.i(0) != 0 && !is_self(a.i(0))) return -ESRCH;
  if (!put_user(a.u(1), core::g_proc.robust_list).ok()) return -EFAULT;
  if (!put_user(a.u(2), core::g_proc.robust_len).ok()) return -EFAULT;
  return 0;
}

i64 sys_getpid(const SysArgs&) { return core::g_proc.pid; }
i64 sys_gettid(const SysArgs&) { return core::g_proc.pid; }
i64 sys_getppid(const SysArgs&) { return core::g_proc.ppid; }
i64 sys_getuid(const SysArgs&) { return 0; }
i64 sys_geteuid(const SysArgs&) { return 0; }
i64 sys_getgid(const SysArgs&) { return 0; }
i64 sys_getegid(const SysArgs&) { return 0; }
i64 sys_getpgrp(const SysArgs&) { return core::g_proc.pgid; }
i64 sys_getpgid(const SysArgs& a) {
  return (a.i(0) == 0 || is_self(a.i(0))) ? core::g_proc.pgid : -ESRCH;
}
i64 sys_getsid(const SysArgs& a) {
  return (a.i(0) == 0 || is_self(a.i(0))) ? core::g_proc.sid : -ESRCH;
}

i64 sys_kill(const SysArgs& a) {
  i64 pid = i64(i32(a.u(0)));
  // 0 (own group) and -1 (every process it may signal) reach only itself here.
  if (pid != 0 && pid != -1 && !is_self(pid)) return -ESRCH;
  return core::send_signal_to_self(int(a.u(1)));
}

i64 sys_tkill(const SysArgs& a) {
  if (!is_self(i64(i32(a.u(0))))) return i32(a.u(0)) <= 0 ? -EINVAL : -ESRCH;
  return core::send_signal_to_self(int(a.u(1)));
}

i64 sys_tgkill(const SysArgs& a) {
  i32 tgid = i32(a.u(0)), tid = i32(a.u(1));
  if (tgid <= 0 || tid <= 0) return -EINVAL;
  if (!is_self(tgid) || !is_self(tid)) return -ESRCH;
  return core::send_signal_to_self(int(a.u(2)));
}

}  // namespace mote::linux
