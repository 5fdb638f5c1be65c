/* The host's time-stamp counter rate, for a guest that cannot measure it.
 *
 *   tsc_khz
 *
 * Prints "tsc_khz=K": the TSC ticks per millisecond, counted against
 * CLOCK_MONOTONIC_RAW over 200 ms (the median of three tries; each TSC read
 * sits between the two closest of 16 pairs of clock reads).
 * Under QEMU's TCG without -icount a guest's TSC is the host's, and a Linux
 * guest on a busy host can fail to calibrate its TSC against the PIT and then
 * hang in its boot ("tsc: Unable to calibrate against PIT"): bench/vm_net_bench.py
 * gives it this rate (tsc_early_khz=) instead. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A clock reading with the TSC read beside it: the pair whose clock read was
 * quickest of a few, so a preemption between the two does not skew it. */
static void sample(int64_t *ns, uint64_t *tsc)
{
    int64_t best = INT64_MAX;
    for (int i = 0; i < 16; ++i) {
        int64_t a = now_ns();
        uint64_t t = rdtsc();
        int64_t b = now_ns();
        if (b - a < best) {
            best = b - a;
            *ns = a + (b - a) / 2;
            *tsc = t;
        }
    }
}

int main(void)
{
    double r[3];
    for (int k = 0; k < 3; ++k) {
        int64_t n0, n1;
        uint64_t t0, t1;
        sample(&n0, &t0);
        struct timespec d = {0, 200000000};
        nanosleep(&d, NULL);
        sample(&n1, &t1);
        r[k] = (double)(t1 - t0) * 1e6 / (double)(n1 - n0);
    }
    double lo = r[0] < r[1] ? r[0] : r[1], hi = r[0] < r[1] ? r[1] : r[0];
    double mid = r[2] < lo ? lo : r[2] > hi ? hi : r[2];
    printf("tsc_khz=%.0f\n", mid);
    return 0;
}
