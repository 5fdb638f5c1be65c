/* Null-syscall cost: N calls of getppid, timed inside the program.
 *
 *   getppid_loop N [wrapper|syscall]
 *
 * "wrapper" (default) calls glibc's getppid(), whose body is the site
 * `mov $110,%eax; syscall` that mote's call-site rewriter patches.
 * "syscall" calls glibc's generic syscall(SYS_getppid), whose site loads the
 * number from a register.
 *
 * A warm-up of N/100 (at least 1000) calls runs first, so one-time costs
 * (the first SIGSYS and the patching of the site) stay out of the timed loop.
 * Prints one line: "getppid_loop mode=M n=N ns_per_call=X ppid=P".
 * Exits 1 if any call fails or returns a different value than the first. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long call_wrapper(void) { return getppid(); }
static long call_syscall(void) { return syscall(SYS_getppid); }

static double now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("clock_gettime");
        exit(1);
    }
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s N [wrapper|syscall]\n", argv[0]);
        return 2;
    }
    char *end;
    errno = 0;
    long n = strtol(argv[1], &end, 10);
    if (errno || *end || n <= 0) {
        fprintf(stderr, "getppid_loop: bad N '%s'\n", argv[1]);
        return 2;
    }
    const char *mode = argc == 3 ? argv[2] : "wrapper";
    long (*call)(void);
    if (strcmp(mode, "wrapper") == 0)
        call = call_wrapper;
    else if (strcmp(mode, "syscall") == 0)
        call = call_syscall;
    else {
        fprintf(stderr, "getppid_loop: bad mode '%s'\n", mode);
        return 2;
    }

    long first = call();
    if (first < 0) {
        perror("getppid");
        return 1;
    }
    long bad = 0;
    long warm = n / 100 < 1000 ? 1000 : n / 100;
    for (long i = 0; i < warm; i++)
        bad += call() != first;

    double t0 = now_ns();
    if (call == call_wrapper) {
        for (long i = 0; i < n; i++)
            bad += getppid() != first;
    } else {
        for (long i = 0; i < n; i++)
            bad += syscall(SYS_getppid) != first;
    }
    double t1 = now_ns();

    if (bad) {
        fprintf(stderr, "getppid_loop: %ld calls returned something other than %ld\n", bad, first);
        return 1;
    }
    printf("getppid_loop mode=%s n=%ld ns_per_call=%.2f ppid=%ld\n", mode, n, (t1 - t0) / (double)n, first);
    return 0;
}
