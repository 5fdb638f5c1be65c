// The Linux system calls the core implements, declared once.
//
// Each row: X(name, return kind, argument kinds...). The number comes from the
// UAPI header (__NR_<name>), the handler is sys_<name>, and the kinds drive
// --strace decoding. Every number not listed here returns -ENOSYS (and shows
// in --strace with its name). Handlers live one file per family:
//   io.cc (fd I/O, dup, fcntl, pipes), fs.cc (paths, stat, directories),
//   poll.cc, memory.cc, process.cc,
//   time.cc, random.cc, signal.cc, info.cc (uname, limits, scheduler),
//   futex.cc, socket.cc (the socket calls; families in kernel/fs/socket.h).
#pragma once

#include <asm/unistd_64.h>

#include "kernel/lib/types.h"

namespace mote::linux {

// How --strace shows an argument or a result.
enum class Arg : u8 {
  None,
  Int,       // signed decimal
  Uint,      // unsigned decimal
  Hex,       // 0x...
  Ptr,       // NULL or 0x...
  Fd,        // int, with AT_FDCWD shown by name
  Str,       // NUL-terminated string in program memory
  InBuf,     // bytes, the length is the next argument
  OutBuf,    // bytes written by the call, length = result
  Iov,       // struct iovec[], count is the next argument (shown before)
  OutIov,    // struct iovec[] filled by the call (shown after, up to result bytes)
  Oct,       // mode bits
  Sig,       // signal number by name
  Clock,     // clockid_t by name
  Timespec,  // const struct timespec*
  OutTimespec,
  Errno,     // result: -1 ENAME on error
  Noreturn,  // result: "?" (exit)
  Domain,    // socket address family by name (AF_UNIX)
  SockType,  // socket type and flags by name (SOCK_STREAM|SOCK_CLOEXEC)
  Sockaddr,  // const struct sockaddr*, the length is the next argument
};

#define MOTE_SYSCALLS(X)                                                        \
  X(read, Errno, Fd, OutBuf, Uint)                                              \
  X(write, Errno, Fd, InBuf, Uint)                                              \
  X(readv, Errno, Fd, OutIov, Int)                                              \
  X(writev, Errno, Fd, Iov, Int)                                                \
  X(pread64, Errno, Fd, OutBuf, Uint, Int)                                      \
  X(pwrite64, Errno, Fd, InBuf, Uint, Int)                                      \
  X(preadv, Errno, Fd, OutIov, Int, Int)                                        \
  X(pwritev, Errno, Fd, Iov, Int, Int)                                          \
  X(lseek, Errno, Fd, Int, Int)                                                 \
  X(ioctl, Errno, Fd, Hex, Ptr)                                                 \
  X(close, Errno, Fd)                                                           \
  X(close_range, Errno, Uint, Uint, Hex)                                        \
  X(dup, Errno, Fd)                                                             \
  X(dup2, Errno, Fd, Fd)                                                        \
  X(dup3, Errno, Fd, Fd, Hex)                                                   \
  X(fcntl, Errno, Fd, Int, Hex)                                                 \
  X(flock, Errno, Fd, Int)                                                      \
  X(pipe, Errno, Ptr)                                                           \
  X(pipe2, Errno, Ptr, Hex)                                                     \
  X(fsync, Errno, Fd)                                                           \
  X(fdatasync, Errno, Fd)                                                       \
  X(sync, Errno)                                                                \
  X(syncfs, Errno, Fd)                                                          \
  X(ftruncate, Errno, Fd, Int)                                                  \
  X(fallocate, Errno, Fd, Hex, Int, Int)                                        \
  X(sendfile, Errno, Fd, Fd, Ptr, Uint)                                         \
  X(copy_file_range, Errno, Fd, Ptr, Fd, Ptr, Uint, Hex)                        \
  X(getdents64, Errno, Fd, Ptr, Uint)                                           \
  X(poll, Errno, Ptr, Uint, Int)                                                \
  X(ppoll, Errno, Ptr, Uint, Timespec, Ptr, Uint)                               \
  X(select, Errno, Int, Ptr, Ptr, Ptr, Ptr)                                     \
  X(pselect6, Errno, Int, Ptr, Ptr, Ptr, Timespec, Ptr)                         \
  X(epoll_create, Errno, Int)                                                   \
  X(epoll_create1, Errno, Hex)                                                  \
  X(epoll_ctl, Errno, Fd, Int, Fd, Ptr)                                         \
  X(epoll_wait, Errno, Fd, Ptr, Int, Int)                                       \
  X(epoll_pwait, Errno, Fd, Ptr, Int, Int, Ptr, Uint)                           \
  X(epoll_pwait2, Errno, Fd, Ptr, Int, Timespec, Ptr, Uint)                     \
  X(eventfd, Errno, Uint)                                                       \
  X(eventfd2, Errno, Uint, Hex)                                                 \
  X(timerfd_create, Errno, Clock, Hex)                                          \
  X(timerfd_settime, Errno, Fd, Hex, Ptr, Ptr)                                  \
  X(timerfd_gettime, Errno, Fd, Ptr)                                            \
  X(signalfd, Errno, Fd, Ptr, Uint)                                             \
  X(signalfd4, Errno, Fd, Ptr, Uint, Hex)                                       \
  X(open, Errno, Str, Hex, Oct)                                                 \
  X(openat, Errno, Fd, Str, Hex, Oct)                                           \
  X(creat, Errno, Str, Oct)                                                     \
  X(stat, Errno, Str, Ptr)                                                      \
  X(lstat, Errno, Str, Ptr)                                                     \
  X(fstat, Errno, Fd, Ptr)                                                      \
  X(newfstatat, Errno, Fd, Str, Ptr, Hex)                                       \
  X(statx, Errno, Fd, Str, Hex, Hex, Ptr)                                       \
  X(statfs, Errno, Str, Ptr)                                                    \
  X(fstatfs, Errno, Fd, Ptr)                                                    \
  X(access, Errno, Str, Oct)                                                    \
  X(faccessat, Errno, Fd, Str, Oct)                                             \
  X(faccessat2, Errno, Fd, Str, Oct, Hex)                                       \
  X(readlink, Errno, Str, OutBuf, Uint)                                         \
  X(readlinkat, Errno, Fd, Str, OutBuf, Uint)                                   \
  X(chdir, Errno, Str)                                                          \
  X(fchdir, Errno, Fd)                                                          \
  X(mkdir, Errno, Str, Oct)                                                     \
  X(mkdirat, Errno, Fd, Str, Oct)                                               \
  X(mknod, Errno, Str, Oct, Hex)                                                \
  X(mknodat, Errno, Fd, Str, Oct, Hex)                                          \
  X(rmdir, Errno, Str)                                                          \
  X(unlink, Errno, Str)                                                         \
  X(unlinkat, Errno, Fd, Str, Hex)                                              \
  X(rename, Errno, Str, Str)                                                    \
  X(renameat, Errno, Fd, Str, Fd, Str)                                          \
  X(renameat2, Errno, Fd, Str, Fd, Str, Hex)                                    \
  X(link, Errno, Str, Str)                                                      \
  X(linkat, Errno, Fd, Str, Fd, Str, Hex)                                       \
  X(symlink, Errno, Str, Str)                                                   \
  X(symlinkat, Errno, Str, Fd, Str)                                             \
  X(truncate, Errno, Str, Int)                                                  \
  X(chmod, Errno, Str, Oct)                                                     \
  X(fchmod, Errno, Fd, Oct)                                                     \
  X(fchmodat, Errno, Fd, Str, Oct)                                              \
  X(chown, Errno, Str, Int, Int)                                                \
  X(lchown, Errno, Str, Int, Int)                                               \
  X(fchown, Errno, Fd, Int, Int)                                                \
  X(fchownat, Errno, Fd, Str, Int, Int, Hex)                                    \
  X(utimensat, Errno, Fd, Str, Ptr, Hex)                                        \
  X(umask, Oct, Oct)                                                            \
  X(brk, Hex, Ptr)                                                              \
  X(mmap, Hex, Ptr, Uint, Hex, Hex, Fd, Hex)                                    \
  X(munmap, Errno, Ptr, Uint)                                                   \
  X(mprotect, Errno, Ptr, Uint, Hex)                                            \
  X(mremap, Hex, Ptr, Uint, Uint, Hex, Ptr)                                     \
  X(madvise, Errno, Ptr, Uint, Int)                                             \
  X(fork, Errno)                                                                \
  X(vfork, Errno)                                                               \
  X(clone, Errno, Hex, Ptr, Ptr, Ptr, Ptr)                                      \
  X(clone3, Errno, Ptr, Uint)                                                   \
  X(wait4, Errno, Int, Ptr, Hex, Ptr)                                           \
  X(execve, Errno, Str, Ptr, Ptr)                                               \
  X(execveat, Errno, Fd, Str, Ptr, Ptr, Hex)                                    \
  X(setpgid, Errno, Int, Int)                                                   \
  X(setsid, Errno)                                                              \
  X(exit, Noreturn, Int)                                                        \
  X(exit_group, Noreturn, Int)                                                  \
  X(arch_prctl, Errno, Hex, Ptr)                                                \
  X(set_tid_address, Errno, Ptr)                                                \
  X(set_robust_list, Errno, Ptr, Uint)                                          \
  X(get_robust_list, Errno, Int, Ptr, Ptr)                                      \
  X(getpid, Errno)                                                              \
  X(gettid, Errno)                                                              \
  X(getppid, Errno)                                                             \
  X(getuid, Errno)                                                              \
  X(geteuid, Errno)                                                             \
  X(getgid, Errno)                                                              \
  X(getegid, Errno)                                                             \
  X(getresuid, Errno, Ptr, Ptr, Ptr)                                            \
  X(getresgid, Errno, Ptr, Ptr, Ptr)                                            \
  X(setuid, Errno, Int)                                                         \
  X(setgid, Errno, Int)                                                         \
  X(setreuid, Errno, Int, Int)                                                  \
  X(setregid, Errno, Int, Int)                                                  \
  X(setresuid, Errno, Int, Int, Int)                                            \
  X(setresgid, Errno, Int, Int, Int)                                            \
  X(setfsuid, Int, Int)                                                         \
  X(setfsgid, Int, Int)                                                         \
  X(setgroups, Errno, Int, Ptr)                                                 \
  X(getpgrp, Errno)                                                             \
  X(getpgid, Errno, Int)                                                        \
  X(getsid, Errno, Int)                                                         \
  X(kill, Errno, Int, Sig)                                                      \
  X(tkill, Errno, Int, Sig)                                                     \
  X(tgkill, Errno, Int, Int, Sig)                                               \
  X(rt_sigaction, Errno, Sig, Ptr, Ptr, Uint)                                   \
  X(rt_sigprocmask, Errno, Int, Ptr, Ptr, Uint)                                 \
  X(sigaltstack, Errno, Ptr, Ptr)                                               \
  X(rt_sigreturn, Errno)                                                        \
  X(rt_sigpending, Errno, Ptr, Uint)                                            \
  X(rt_sigsuspend, Errno, Ptr, Uint)                                            \
  X(rt_sigtimedwait, Errno, Ptr, Ptr, Timespec, Uint)                           \
  X(rt_sigqueueinfo, Errno, Int, Sig, Ptr)                                      \
  X(rt_tgsigqueueinfo, Errno, Int, Int, Sig, Ptr)                               \
  X(pause, Errno)                                                               \
  X(alarm, Int, Uint)                                                           \
  X(getitimer, Errno, Int, Ptr)                                                 \
  X(setitimer, Errno, Int, Ptr, Ptr)                                            \
  X(timer_create, Errno, Clock, Ptr, Ptr)                                       \
  X(timer_settime, Errno, Int, Hex, Ptr, Ptr)                                   \
  X(timer_gettime, Errno, Int, Ptr)                                             \
  X(timer_getoverrun, Errno, Int)                                               \
  X(timer_delete, Errno, Int)                                                   \
  X(uname, Errno, Ptr)                                                          \
  X(sysinfo, Errno, Ptr)                                                        \
  X(getrlimit, Errno, Int, Ptr)                                                 \
  X(setrlimit, Errno, Int, Ptr)                                                 \
  X(prlimit64, Errno, Int, Int, Ptr, Ptr)                                       \
  X(sched_getaffinity, Errno, Int, Uint, Ptr)                                   \
  X(sched_setaffinity, Errno, Int, Uint, Ptr)                                   \
  X(getcpu, Errno, Ptr, Ptr, Ptr)                                               \
  X(sched_getparam, Errno, Int, Ptr)                                            \
  X(sched_getscheduler, Errno, Int)                                             \
  X(sched_setscheduler, Errno, Int, Int, Ptr)                                   \
  X(sched_setparam, Errno, Int, Ptr)                                            \
  X(sched_get_priority_max, Errno, Int)                                         \
  X(sched_get_priority_min, Errno, Int)                                         \
  X(sched_rr_get_interval, Errno, Int, Ptr)                                     \
  X(prctl, Errno, Int, Hex, Hex, Hex, Hex)                                      \
  X(getgroups, Errno, Int, Ptr)                                                 \
  X(getrusage, Errno, Int, Ptr)                                                 \
  X(times, Errno, Ptr)                                                          \
  X(memfd_create, Errno, Str, Hex)                                              \
  X(msync, Errno, Ptr, Uint, Hex)                                               \
  X(mincore, Errno, Ptr, Uint, Ptr)                                             \
  X(sched_yield, Errno)                                                         \
  X(clock_gettime, Errno, Clock, OutTimespec)                                   \
  X(clock_getres, Errno, Clock, OutTimespec)                                    \
  X(gettimeofday, Errno, Ptr, Ptr)                                              \
  X(time, Errno, Ptr)                                                           \
  X(nanosleep, Errno, Timespec, Ptr)                                            \
  X(clock_nanosleep, Errno, Clock, Hex, Timespec, Ptr)                          \
  X(getrandom, Errno, OutBuf, Uint, Hex)                                        \
  X(futex, Errno, Ptr, Hex, Int, Ptr, Ptr, Hex)                                 \
  X(getcwd, Errno, OutBuf, Uint)                                                \
  X(socket, Errno, Domain, SockType, Int)                                       \
  X(socketpair, Errno, Domain, SockType, Int, Ptr)                              \
  X(bind, Errno, Fd, Sockaddr, Uint)                                            \
  X(listen, Errno, Fd, Int)                                                     \
  X(accept, Errno, Fd, Ptr, Ptr)                                                \
  X(accept4, Errno, Fd, Ptr, Ptr, SockType)                                     \
  X(connect, Errno, Fd, Sockaddr, Uint)                                         \
  X(sendto, Errno, Fd, InBuf, Uint, Hex, Sockaddr, Uint)                        \
  X(recvfrom, Errno, Fd, OutBuf, Uint, Hex, Ptr, Ptr)                           \
  X(sendmsg, Errno, Fd, Ptr, Hex)                                               \
  X(recvmsg, Errno, Fd, Ptr, Hex)                                               \
  X(sendmmsg, Errno, Fd, Ptr, Uint, Hex)                                        \
  X(recvmmsg, Errno, Fd, Ptr, Uint, Hex, Timespec)                              \
  X(shutdown, Errno, Fd, Int)                                                   \
  X(getsockname, Errno, Fd, Ptr, Ptr)                                           \
  X(getpeername, Errno, Fd, Ptr, Ptr)                                           \
  X(setsockopt, Errno, Fd, Int, Int, Ptr, Uint)                                 \
  X(getsockopt, Errno, Fd, Int, Int, Ptr, Ptr)

// The program's registers at a system call, as the handlers see them.
struct SysArgs {
  u64 a[6];
  i64 i(int k) const { return i64(a[k]); }
  // A C int argument (pid_t, timer_t, `int who`, a flag word): its low 32
  // bits, as Linux reads it. glibc may leave anything in the upper half
  // (getrusage(RUSAGE_CHILDREN) arrives as 0x00000000ffffffff).
  int c_int(int k) const { return int(a[k]); }
  int fd(int k) const { return int(a[k]); }
  u64 u(int k) const { return a[k]; }
};

using Handler = i64 (*)(const SysArgs&);

#define MOTE_DECLARE(name, ...) i64 sys_##name(const SysArgs& a);
MOTE_SYSCALLS(MOTE_DECLARE)
#undef MOTE_DECLARE

inline constexpr int kMaxSyscall = 512;

struct SyscallDesc {
  const char* name;     // nullptr: no such syscall number
  Handler handler;      // nullptr: not implemented (-ENOSYS)
  Arg ret;
  u8 nargs;
  Arg args[6];
};

// The descriptor of syscall number nr (never null; name may be null).
// The table (table.cc), inline for the syscall entry's sake.
extern const SyscallDesc* const g_syscall_table;
extern const SyscallDesc g_no_such_syscall;
inline const SyscallDesc& syscall_desc(u64 nr) {
  return nr < kMaxSyscall ? g_syscall_table[nr] : g_no_such_syscall;
}

}  // namespace mote::linux
