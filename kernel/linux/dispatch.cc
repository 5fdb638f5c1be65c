// The system-call entry of the core: every platform funnels the program's
// syscalls here (the process platform from SIGSYS and from rewritten call
// sites, the VM platform from its LSTAR entry).
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/strace.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::core {

namespace {

bool read_program_memory(u64 addr, void* buf, usize len) {
  return linux::copy_from_user(buf, addr, len).ok();
}

void trace(const SyscallFrame& f, bool done) {
  char line[512];
  TextBuffer out(line, sizeof line - 1);
  // With several threads each line says whose call it is (as strace -f).
  if (g_nthreads > 1 && current()) out.append("[tid %d] ", current()->tid);
  linux::format_syscall(out, f.nr, f.args, i64(f.ret), done, read_program_memory);
  out.append_raw("\n", 1);
  if (out.truncated()) {
    line[sizeof line - 2] = '\n';
    platform::console_write(2, line, sizeof line - 1);
  } else {
    platform::console_write(2, out.data(), out.size());
  }
}

// Calls that touch no shared state (or only their own thread's) run
// without the kernel lock, so they never wait for another CPU.
struct LocklessSet {
  u64 w[5] = {};  // numbers below 320: a bit each
  constexpr LocklessSet() {
    const u64 nrs[] = {__NR_gettid, __NR_getpid, __NR_getppid, __NR_sched_yield,
                       __NR_clock_gettime, __NR_gettimeofday, __NR_time, __NR_getcpu,
                       __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid};
    for (u64 nr : nrs) w[nr / 64] |= u64(1) << (nr % 64);
  }
};
constexpr LocklessSet kLockless;

bool lockless(const SyscallFrame& f) {
  u64 nr = f.nr;
  if (nr >= 320 || !(kLockless.w[nr / 64] & (u64(1) << (nr % 64)))) return false;
  // CPU clocks of other threads (negative ids) look the thread up.
  return nr != __NR_clock_gettime || i64(f.args[0]) >= 0;
}

}  // namespace

void on_syscall(SyscallFrame& f) {
  // The frame's arguments are the handlers' SysArgs (same layout, no copy).
  static_assert(sizeof(linux::SysArgs) == sizeof f.args);
  const linux::SysArgs& a = *reinterpret_cast<const linux::SysArgs*>(f.args);
  if (lockless(f)) {
    // (Numbers in the lockless set are below 320: inside the table, no
    // bounds check on the hot path.)
    static_assert(linux::kMaxSyscall >= 320);
    const linux::SyscallDesc& d = linux::g_syscall_table[f.nr];
    f.ret = u64(d.handler ? d.handler(a) : -ENOSYS);
    if (g_proc.strace) {
      KLockGuard lock;
      trace(f, true);
    }
    return;
  }
  const linux::SyscallDesc& d = linux::syscall_desc(f.nr);
  klock();
  if (g_proc.strace && d.ret == linux::Arg::Noreturn) trace(f, false);
  i64 r = d.handler ? d.handler(a) : -ENOSYS;
  f.ret = u64(r);
  if (r <= -kErestartSys && r >= -kErestartBlock) {
    // Interrupted by a signal: restarted or -EINTR once it is dealt with
    // (deliver_signals); --strace shows the interruption.
    Thread* t = current();
    t->restart_nr = f.nr;
    t->restart_ret = r;
    f.ret = u64(-EINTR);
  }
  if (g_proc.strace) trace(f, true);
  kunlock();
}

}  // namespace mote::core
