// The VM platform's vDSO (linux-vdso.so.1): clock_gettime, gettimeofday and
// time without a system call, as Linux's, from the kernel's data page one page
// below this image (abi/vdso_data.h). The program runs in ring 0 on this
// platform, so rdtsc is always allowed. Clocks other than the TSC-based ones,
// and every clock before the kernel has published its data, take the
// system call. Built as a position-independent shared object with no
// relocations and embedded in the kernel (vdso_blob.S).
#include "abi/vdso_data.h"

using mote::abi::VdsoData;

namespace {

struct Timespec {
  long sec, nsec;
};
struct Timeval {
  long sec, usec;
};

constexpr uint64_t kNs = 1000000000ull;

// One page below this image's ELF header (the linker's __ehdr_start), found
// RIP-relative wherever the image is mapped.
const VdsoData* vvar() {
  const VdsoData* p;
  asm("lea __ehdr_start-4096(%%rip), %0" : "=r"(p));
  return p;
}

long syscall2(long nr, long a, long b) {
  long r;
  asm volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return r;
}

// False until the kernel published the clock's parameters.
bool since_boot(const VdsoData* v, uint64_t* ns) {
  if (!__atomic_load_n(&v->ready, __ATOMIC_ACQUIRE)) return false;
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  *ns = mote::abi::vdso_ns_since_boot(*v, uint64_t(hi) << 32 | lo);
  return true;
}

bool wall(uint64_t* ns) {
  const VdsoData* v = vvar();
  if (!since_boot(v, ns)) return false;
  *ns += v->wall0;
  return true;
}

}  // namespace

extern "C" {

int __vdso_clock_gettime(int clock, Timespec* ts) {
  const VdsoData* v = vvar();
  uint64_t ns;
  // The kernel's read_clock: REALTIME, REALTIME_COARSE and TAI are the wall
  // clock; MONOTONIC, MONOTONIC_RAW, MONOTONIC_COARSE and BOOTTIME the
  // monotonic one.
  bool is_wall = clock == 0 || clock == 5 || clock == 11;
  bool is_mono = clock == 1 || clock == 4 || clock == 6 || clock == 7;
  if ((is_wall || is_mono) && since_boot(v, &ns)) {
    ns += is_wall ? v->wall0 : v->mono_base;
    ts->sec = long(ns / kNs);
    ts->nsec = long(ns % kNs);
    return 0;
  }
  return int(syscall2(228, clock, long(ts)));  // __NR_clock_gettime
}

int __vdso_gettimeofday(Timeval* tv, int* tz) {
  uint64_t ns;
  if (!wall(&ns)) return int(syscall2(96, long(tv), long(tz)));  // __NR_gettimeofday
  if (tv) {
    tv->sec = long(ns / kNs);
    tv->usec = long(ns % kNs / 1000);
  }
  if (tz) tz[0] = tz[1] = 0;  // UTC, no DST: as the system call
  return 0;
}

long __vdso_time(long* t) {
  uint64_t ns;
  if (!wall(&ns)) return syscall2(201, long(t), 0);  // __NR_time
  long s = long(ns / kNs);
  if (t) *t = s;
  return s;
}

int clock_gettime(int, Timespec*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(Timeval*, int*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));

}  // extern "C"
