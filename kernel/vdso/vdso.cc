// The vDSO (linux-vdso.so.1) of both platforms: clock_gettime, gettimeofday
// and time without a system call, as Linux's, from the data page one page
// below this image (abi/vdso_data.h).
//  - The VM platform: from the TSC, with the kernel's parameters. The
//    program runs in ring 0 there, so rdtsc is always allowed.
//  - The process platform: through the host's own vDSO clock_gettime, which
//    the core reads its clocks with too (the same clocks, no offset),
//    instead of a trip through the core.
// Clocks other than these, and every clock before the platform has
// published its data, take the system call. Built as a position-independent
// shared object with no relocations and embedded in both kernels
// (vdso_blob.S).
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

using HostClockGettime = long (*)(long, Timespec*);

// The process platform's read: the host's clock_gettime, if the core has
// one (it may drop it, so the pointer is read every time).
bool host_read(const VdsoData* v, bool is_wall, Timespec* ts) {
  if (!v->host_clock) return false;
  auto fn = __atomic_load_n(reinterpret_cast<HostClockGettime*>(v->host_clock), __ATOMIC_ACQUIRE);
  return fn && fn(is_wall ? 0 : 1, ts) == 0;  // CLOCK_REALTIME, CLOCK_MONOTONIC
}

// The wall clock or the monotonic one, whichever platform this is.
bool read(bool is_wall, Timespec* ts) {
  const VdsoData* v = vvar();
  uint64_t ns;
  if (since_boot(v, &ns)) {
    ns += is_wall ? v->wall0 : v->mono_base;
    ts->sec = long(ns / kNs);
    ts->nsec = long(ns % kNs);
    return true;
  }
  return host_read(v, is_wall, ts);
}

}  // namespace

extern "C" {

int __vdso_clock_gettime(int clock, Timespec* ts) {
  // The kernel's read_clock: REALTIME, REALTIME_COARSE and TAI are the wall
  // clock; MONOTONIC, MONOTONIC_RAW, MONOTONIC_COARSE and BOOTTIME the
  // monotonic one.
  bool is_wall = clock == 0 || clock == 5 || clock == 11;
  bool is_mono = clock == 1 || clock == 4 || clock == 6 || clock == 7;
  if ((is_wall || is_mono) && read(is_wall, ts)) return 0;
  return int(syscall2(228, clock, long(ts)));  // __NR_clock_gettime
}

int __vdso_gettimeofday(Timeval* tv, int* tz) {
  Timespec ts;
  if (!read(true, &ts)) return int(syscall2(96, long(tv), long(tz)));  // __NR_gettimeofday
  if (tv) {
    tv->sec = ts.sec;
    tv->usec = ts.nsec / 1000;
  }
  if (tz) tz[0] = tz[1] = 0;  // UTC, no DST: as the system call
  return 0;
}

long __vdso_time(long* t) {
  Timespec ts;
  if (!read(true, &ts)) return syscall2(201, long(t), 0);  // __NR_time
  if (t) *t = ts.sec;
  return ts.sec;
}

int clock_gettime(int, Timespec*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(Timeval*, int*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));

}  // extern "C"
