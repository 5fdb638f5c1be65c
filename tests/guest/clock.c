// clock: time reaches the guest and sleeping sleeps. Prints only ok/FAIL lines, because real
// times differ between runs.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static int failures;

static void check(const char *what, int ok, const char *detail) {
    if (ok) {
        printf("%s: ok\n", what);
    } else {
        printf("%s: FAIL %s\n", what, detail);
        failures++;
    }
}

static int64_t ns(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void) {
    char detail[128];

    // Monotonic across many reads.
    int64_t prev = ns(CLOCK_MONOTONIC), first = prev;
    int backwards = 0;
    for (int i = 0; i < 5000; i++) {
        int64_t now = ns(CLOCK_MONOTONIC);
        if (now < prev) backwards++;
        prev = now;
    }
    snprintf(detail, sizeof detail, "(%d backward steps, first %lld)", backwards, (long long)first);
    check("CLOCK_MONOTONIC never goes backwards", backwards == 0 && first > 0, detail);

    struct timespec res;
    int rc = clock_getres(CLOCK_MONOTONIC, &res);
    snprintf(detail, sizeof detail, "(rc %d, %ld.%09ld)", rc, (long)res.tv_sec, res.tv_nsec);
    check("clock_getres(CLOCK_MONOTONIC) at most 1 ms",
          rc == 0 && res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000, detail);

    // nanosleep(20 ms) sleeps at least 20 ms.
    const int64_t want = 20 * 1000000;
    struct timespec req = {0, want};
    int64_t t0 = ns(CLOCK_MONOTONIC);
    rc = nanosleep(&req, NULL);
    int64_t slept = ns(CLOCK_MONOTONIC) - t0;
    snprintf(detail, sizeof detail, "(rc %d, slept %lld ns)", rc, (long long)slept);
    check("nanosleep(20ms) sleeps at least 20ms", rc == 0 && slept >= want, detail);

    // clock_nanosleep, relative and absolute.
    t0 = ns(CLOCK_MONOTONIC);
    rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
    slept = ns(CLOCK_MONOTONIC) - t0;
    snprintf(detail, sizeof detail, "(rc %d, slept %lld ns)", rc, (long long)slept);
    check("clock_nanosleep relative 20ms", rc == 0 && slept >= want, detail);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    t0 = (int64_t)deadline.tv_sec * 1000000000 + deadline.tv_nsec;
    deadline.tv_nsec += want;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    slept = ns(CLOCK_MONOTONIC) - t0;
    snprintf(detail, sizeof detail, "(rc %d, slept %lld ns)", rc, (long long)slept);
    check("clock_nanosleep TIMER_ABSTIME 20ms", rc == 0 && slept >= want, detail);

    // A deadline in the past returns at once (1 ns after boot: past on any
    // system, even a VM booted a moment ago).
    deadline.tv_sec = 0;
    deadline.tv_nsec = 1;
    t0 = ns(CLOCK_MONOTONIC);
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    slept = ns(CLOCK_MONOTONIC) - t0;
    snprintf(detail, sizeof detail, "(rc %d, took %lld ns)", rc, (long long)slept);
    check("past TIMER_ABSTIME deadline returns at once", rc == 0 && slept < 1000000000, detail);

    // Bad arguments.
    struct timespec bad = {0, 1000000000};
    errno = 0;
    rc = nanosleep(&bad, NULL);
    snprintf(detail, sizeof detail, "(rc %d, errno %d)", rc, errno);
    check("nanosleep tv_nsec=1e9 -> EINVAL", rc == -1 && errno == EINVAL, detail);

    // Wall clock: realtime, gettimeofday and time agree within a second, and it is after 2020.
    struct timespec rt;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &rt);
    gettimeofday(&tv, NULL);
    time_t t = time(NULL);
    int64_t diff_tv = (int64_t)tv.tv_sec - rt.tv_sec, diff_t = (int64_t)t - rt.tv_sec;
    snprintf(detail, sizeof detail, "(realtime %lld, gettimeofday %lld, time %lld)",
             (long long)rt.tv_sec, (long long)tv.tv_sec, (long long)t);
    check("CLOCK_REALTIME is after 2020", rt.tv_sec > 1577836800, detail);
    check("gettimeofday within 1s of CLOCK_REALTIME", diff_tv >= 0 && diff_tv <= 1, detail);
    // time() reads the coarse clock on Linux (vDSO, updated per tick): right after a
    // second boundary it can still say the previous second.
    check("time() within 1s of CLOCK_REALTIME", diff_t >= -1 && diff_t <= 1, detail);
    check("gettimeofday tv_usec in range", tv.tv_usec >= 0 && tv.tv_usec < 1000000, detail);

    // The monotonic clock advanced at least as much as we slept overall.
    int64_t total = ns(CLOCK_MONOTONIC) - first;
    snprintf(detail, sizeof detail, "(%lld ns)", (long long)total);
    check("CLOCK_MONOTONIC advanced over the test", total >= 3 * want, detail);

    printf(failures ? "clock: FAIL\n" : "clock: ok\n");
    return failures ? 1 : 0;
}
