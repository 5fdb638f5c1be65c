// Raw Linux system calls to the host, for the process platform only. Every
// `syscall` instruction of the core is inlined from here into the core's text,
// which is the region Syscall User Dispatch lets through; the seccomp filter
// (sandbox.cc) limits which of them the host accepts once the program runs.
#pragma once

#include <asm/unistd_64.h>

#include "kernel/lib/types.h"

namespace mote::host {

inline long syscall6(long nr, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}
inline long syscall0(long nr) { return syscall6(nr, 0, 0, 0, 0, 0, 0); }
inline long syscall1(long nr, long a) { return syscall6(nr, a, 0, 0, 0, 0, 0); }
inline long syscall2(long nr, long a, long b) { return syscall6(nr, a, b, 0, 0, 0, 0); }
inline long syscall3(long nr, long a, long b, long c) { return syscall6(nr, a, b, c, 0, 0, 0); }
inline long syscall4(long nr, long a, long b, long c, long d) {
  return syscall6(nr, a, b, c, d, 0, 0);
}
inline long syscall5(long nr, long a, long b, long c, long d, long e) {
  return syscall6(nr, a, b, c, d, e, 0);
}

inline bool failed(long r) { return r < 0 && r > -4096; }

// struct timespec of the host's calls (clock_gettime, futex, ppoll).
struct Timespec {
  i64 sec, nsec;
};
inline Timespec timespec_of(u64 ns) {
  return Timespec{i64(ns / 1000000000ull), i64(ns % 1000000000ull)};
}

inline long write(int fd, const void* buf, usize n) {
  return syscall3(__NR_write, fd, long(buf), long(n));
}
inline long read(int fd, void* buf, usize n) { return syscall3(__NR_read, fd, long(buf), long(n)); }
inline long mmap(u64 addr, u64 len, int prot, int flags, int fd, u64 off) {
  return syscall6(__NR_mmap, long(addr), long(len), prot, flags, fd, long(off));
}
inline long munmap(u64 addr, u64 len) { return syscall2(__NR_munmap, long(addr), long(len)); }
inline long mprotect(u64 addr, u64 len, int prot) {
  return syscall3(__NR_mprotect, long(addr), long(len), prot);
}
[[noreturn]] inline void exit_group(int status) {
  for (;;) syscall1(__NR_exit_group, status);
}

// Host constants (asm-generic/mman-common.h, linux/mman.h).
inline constexpr int kMapPrivate = 0x02, kMapFixed = 0x10, kMapAnonymous = 0x20;
inline constexpr int kMapNoreserve = 0x4000, kMapFixedNoreplace = 0x100000;

}  // namespace mote::host
