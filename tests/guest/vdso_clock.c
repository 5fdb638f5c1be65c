// vdso_clock: reads every clock the vDSO serves through the C library
// (clock_gettime, gettimeofday, time), checks each against the system call
// made directly, and reports whether the process has a vDSO (AT_SYSINFO_EHDR,
// the [vdso] line of /proc/self/maps). tests/integration/qemu_vdso.py runs it
// on the VM platform, with and without the vDSO, and counts the system calls.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void) {
  int bad = 0;
  const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
                              CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
                              CLOCK_TAI};
  for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; ++i) {
    // libc (the vDSO when there is one) between two system calls: in order.
    struct timespec a, b, c;
    syscall(SYS_clock_gettime, clocks[i], &a);
    for (int k = 0; k < 1000; ++k) clock_gettime(clocks[i], &b);
    syscall(SYS_clock_gettime, clocks[i], &c);
    if (ns(b) < ns(a) || ns(c) < ns(b) || ns(c) - ns(a) > 5000000000LL) {
      printf("clock %d out of order: %lld %lld %lld\n", (int)clocks[i], ns(a), ns(b), ns(c));
      bad = 1;
    }
  }
  // time() reads the coarse clock on Linux, which lags CLOCK_REALTIME by up
  // to a tick: across a second boundary it may still give the last second.
  // So its lower bound is the coarse clock read before it.
  struct timespec a, ac, c;
  struct timeval tv;
  syscall(SYS_clock_gettime, CLOCK_REALTIME_COARSE, &ac);
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &a);
  for (int k = 0; k < 1000; ++k) gettimeofday(&tv, NULL);
  time_t t = time(NULL);
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &c);
  long long tvns = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
  if (tvns < ns(a) / 1000 * 1000 || tvns > ns(c) || t < ac.tv_sec || t > c.tv_sec) {
    printf("gettimeofday/time out of order\n");
    bad = 1;
  }
  struct timezone tz = {1, 1};
  gettimeofday(&tv, &tz);
  if (tz.tz_minuteswest != 0 || tz.tz_dsttime != 0) bad = 1;
  // A clock the vDSO leaves to the kernel.
  struct timespec cpu;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) != 0) bad = 1;
  int maps = 0;
  FILE* f = fopen("/proc/self/maps", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) maps += strstr(line, "[vdso]") != NULL;
  if (f) fclose(f);
  printf("vdso %s, maps %d, clocks %s\n", getauxval(AT_SYSINFO_EHDR) ? "yes" : "no", maps,
         bad ? "BAD" : "ok");
  return bad;
}
