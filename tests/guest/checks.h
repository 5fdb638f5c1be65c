/* The checks the issue-5 guest programs (threads, futex_ops, signals,
 * timers) share. Each check prints one line on stdout ("what: ok" or
 * "what value"), so native and mote runs can be compared line by line; a
 * failed one also prints "FAIL: ..." on stderr and counts in `failures`,
 * which the program turns into exit status 1. */
#ifndef MOTE_GUEST_CHECKS_H
#define MOTE_GUEST_CHECKS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int failures;

static inline void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) {
        fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

/* Prints "what value"; a value other than want is a failure. */
static inline void check_value(const char *what, long long got, long long want) {
    printf("%s %lld\n", what, got);
    if (got != want) {
        fprintf(stderr, "FAIL: %s: got %lld, expected %lld\n", what, got, want);
        failures++;
    }
}

/* A check that can only hang or go wrong in a broken kernel: stop with a message. */
static inline void fatal(const char *what) {
    printf("%s: FAIL\n", what);
    fprintf(stderr, "FAIL: %s\n", what);
    exit(1);
}

/* Sleeps ms milliseconds, through interruptions by signal handlers. */
static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

#endif
