// futex_ops: the futex system call itself, through raw syscall(SYS_futex, ...):
//   - FUTEX_WAIT: changed value -> EAGAIN; relative timeout -> ETIMEDOUT (not early); bad
//     timeout, unaligned address, bad address, zero bitset and unknown op errors
//   - FUTEX_WAIT_BITSET with absolute CLOCK_MONOTONIC and FUTEX_CLOCK_REALTIME deadlines
//     (future and past)
//   - FUTEX_WAKE waking exactly 2 of 6 waiters; FUTEX_WAKE_BITSET waking only the waiters whose
//     bitsets intersect
//   - FUTEX_CMP_REQUEUE (and its EAGAIN on a changed value), FUTEX_REQUEUE waking 1 and moving 2
//   - FUTEX_WAKE_OP: the operation on the second word, the conditional second wake happening
//     and not, and the operations SET/ADD/OR/ANDN/XOR with OPARG_SHIFT
//   - each of the above in both the shared and the FUTEX_PRIVATE_FLAG form
//   - FUTEX_WAIT interrupted by a signal: EINTR without SA_RESTART, restarted with SA_RESTART
//     (untimed), EINTR with a timeout even with SA_RESTART
//   - condition-variable storms: 16 threads through 1000 pthread_cond_broadcast rounds (musl's
//     broadcast requeues onto the mutex), and timed waits on a CLOCK_MONOTONIC condvar
// Whether a waiter has reached the kernel cannot be observed, so waking loops until the
// expected number were woken (wake returns the count) and then checks nobody else woke;
// waiters are parked on known futexes by requeueing them before the exact-count checks.
// Only the counts are printed. A failed check prints FAIL, a line on stderr, exit status 1.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"

// From <linux/futex.h> (not available to musl-gcc).
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_BITSET_MATCH_ANY 0xffffffffu
#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_OR 2
#define FUTEX_OP_ANDN 3
#define FUTEX_OP_XOR 4
#define FUTEX_OP_OPARG_SHIFT 8
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP_CMP_NE 1
#define FUTEX_OP_CMP_LT 2
#define FUTEX_OP_CMP_LE 3
#define FUTEX_OP_CMP_GT 4
#define FUTEX_OP_CMP_GE 5
#define FUTEX_OP(op, oparg, cmp, cmparg) \
    ((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout,
                  uint32_t *uaddr2, uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

// The requeue and wake-op calls take a count (val2) where the others take the timeout.
#define VAL2(n) ((const struct timespec *)(uintptr_t)(n))

// The result as "0 / count" or -errno.
static long result(long r) { return r >= 0 ? r : -errno; }

static int64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    return ts;
}

#define DEADLINE_NS (10LL * 1000000000)

// --- Waiter threads -------------------------------------------------------------------------

struct waiter {
    uint32_t *word;
    int op;             // FUTEX_WAIT or FUTEX_WAIT_BITSET, with the private flag or not
    uint32_t expected;
    uint32_t bitset;
    long result;        // 0 or -errno
    int done;
    pthread_t thread;
};

static void *waiter_main(void *arg) {
    struct waiter *w = arg;
    long r = futex(w->word, w->op, w->expected, NULL, NULL, w->bitset);
    w->result = result(r);
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void start_waiter(struct waiter *w, uint32_t *word, int op, uint32_t bitset) {
    w->word = word;
    w->op = op;
    w->expected = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    w->bitset = bitset;
    w->result = 1;
    w->done = 0;
    int rc = pthread_create(&w->thread, NULL, waiter_main, w);
    if (rc != 0) {
        fprintf(stderr, "pthread_create: %s\n", strerror(rc));
        exit(1);
    }
}

static int count_done(struct waiter *w, int n) {
    int done = 0;
    for (int i = 0; i < n; i++) done += __atomic_load_n(&w[i].done, __ATOMIC_SEQ_CST);
    return done;
}

// Waits (polling) until `want` of the n waiters have returned.
static void await_done(struct waiter *w, int n, int want, const char *what) {
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + DEADLINE_NS;
    while (count_done(w, n) < want) {
        if (now_ns(CLOCK_MONOTONIC) > deadline) fatal(what);
        sleep_ms(1);
    }
}

// Joins the waiters; 1 if every one was woken normally (result 0).
static int join_all(struct waiter *w, int n) {
    int ok = 1;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].result != 0) ok = 0;
    }
    return ok;
}

// Wakes with `op` until `want` waiters have been woken in total (the waiters may not have
// reached the kernel yet). 0 if some call returned more than it was asked for.
static int wake_until(uint32_t *word, int op, int want, uint32_t bitset, const char *what) {
    int total = 0, ok = 1;
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + DEADLINE_NS;
    for (;;) {
        long r = futex(word, op, (uint32_t)(want - total), NULL, NULL, bitset);
        if (r < 0 || r > want - total) ok = 0;
        if (r > 0) total += (int)r;
        if (total >= want || r < 0) break;
        if (now_ns(CLOCK_MONOTONIC) > deadline) fatal(what);
        sleep_ms(1);
    }
    return ok && total == want;
}

// Moves `want` waiters from `from` (whose value is `value`) to `to` with FUTEX_CMP_REQUEUE,
// waking none; afterwards they are known to be queued on `to`.
static int requeue_until(uint32_t *from, uint32_t *to, int private_flag, int want, const char *what) {
    int total = 0, ok = 1;
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + DEADLINE_NS;
    for (;;) {
        long r = futex(from, FUTEX_CMP_REQUEUE | private_flag, 0, VAL2(want - total), to,
                       __atomic_load_n(from, __ATOMIC_SEQ_CST));
        if (r < 0 || r > want - total) ok = 0;
        if (r > 0) total += (int)r;
        if (total >= want || r < 0) break;
        if (now_ns(CLOCK_MONOTONIC) > deadline) fatal(what);
        sleep_ms(1);
    }
    return ok && total == want;
}

static char label_buf[160];

// "private: <what>" or "<what>": the same checks in both forms.
static const char *label(const char *what, int private_flag) {
    snprintf(label_buf, sizeof label_buf, "%s%s", private_flag ? "private: " : "", what);
    return label_buf;
}

// --- Waits that end by themselves -----------------------------------------------------------

static void test_wait_errors_and_timeouts(int pf) {
    uint32_t word = 1;
    long r = result(futex(&word, FUTEX_WAIT | pf, 0, NULL, NULL, 0));
    check(label("FUTEX_WAIT with a changed value: EAGAIN", pf), r == -EAGAIN);

    struct timespec rel = {0, 30 * 1000000};
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    r = result(futex(&word, FUTEX_WAIT | pf, 1, &rel, NULL, 0));
    int64_t elapsed = now_ns(CLOCK_MONOTONIC) - t0;
    check(label("FUTEX_WAIT relative 30 ms: ETIMEDOUT, not early", pf),
          r == -ETIMEDOUT && elapsed >= 30 * 1000000);

    int64_t deadline = now_ns(CLOCK_MONOTONIC) + 30 * 1000000;
    struct timespec abs_ts = ts_of(deadline);
    r = result(futex(&word, FUTEX_WAIT_BITSET | pf, 1, &abs_ts, NULL, FUTEX_BITSET_MATCH_ANY));
    check(label("FUTEX_WAIT_BITSET absolute CLOCK_MONOTONIC: ETIMEDOUT at the deadline", pf),
          r == -ETIMEDOUT && now_ns(CLOCK_MONOTONIC) >= deadline);

    deadline = now_ns(CLOCK_REALTIME) + 30 * 1000000;
    abs_ts = ts_of(deadline);
    r = result(futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | pf, 1, &abs_ts, NULL,
                     FUTEX_BITSET_MATCH_ANY));
    check(label("FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME absolute: ETIMEDOUT at the deadline", pf),
          r == -ETIMEDOUT && now_ns(CLOCK_REALTIME) >= deadline);

    abs_ts = ts_of(now_ns(CLOCK_MONOTONIC) - 1000000000);
    t0 = now_ns(CLOCK_MONOTONIC);
    r = result(futex(&word, FUTEX_WAIT_BITSET | pf, 1, &abs_ts, NULL, FUTEX_BITSET_MATCH_ANY));
    elapsed = now_ns(CLOCK_MONOTONIC) - t0;
    check(label("FUTEX_WAIT_BITSET with a deadline in the past: ETIMEDOUT at once", pf),
          r == -ETIMEDOUT && elapsed < 1000000000);

    struct timespec bad = {0, 1000000000};
    r = result(futex(&word, FUTEX_WAIT | pf, 1, &bad, NULL, 0));
    check(label("FUTEX_WAIT with tv_nsec 1000000000: EINVAL", pf), r == -EINVAL);
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    r = result(futex(&word, FUTEX_WAIT | pf, 1, &bad, NULL, 0));
    check(label("FUTEX_WAIT with a negative timeout: EINVAL", pf), r == -EINVAL);
    r = result(futex(&word, FUTEX_WAIT_BITSET | pf, 1, &rel, NULL, 0));
    check(label("FUTEX_WAIT_BITSET with bitset 0: EINVAL", pf), r == -EINVAL);
    r = result(futex(&word, FUTEX_WAKE_BITSET | pf, 1, NULL, NULL, 0));
    check(label("FUTEX_WAKE_BITSET with bitset 0: EINVAL", pf), r == -EINVAL);
    uint32_t pair[2] = {0, 0};
    r = result(futex((uint32_t *)((char *)pair + 1), FUTEX_WAKE | pf, 1, NULL, NULL, 0));
    check(label("FUTEX_WAKE on an unaligned address: EINVAL", pf), r == -EINVAL);
    r = result(futex(NULL, FUTEX_WAIT | pf, 0, &rel, NULL, 0));
    check(label("FUTEX_WAIT on address 0: EFAULT", pf), r == -EFAULT);
    r = result(futex(&word, 99 | pf, 0, NULL, NULL, 0));
    check(label("unknown futex op 99: ENOSYS", pf), r == -ENOSYS);
    r = futex(&word, FUTEX_WAKE | pf, INT_MAX, NULL, NULL, 0);
    check_value(label("FUTEX_WAKE with no waiters returns", pf), r, 0);
}

// --- Wake counts, bitsets -------------------------------------------------------------------

static void test_wake_counts(int pf) {
    enum { M = 6, N = 2 };
    static uint32_t word;
    struct waiter w[M];
    word = 0;
    for (int i = 0; i < M; i++) start_waiter(&w[i], &word, FUTEX_WAIT | pf, 0);
    int ok = wake_until(&word, FUTEX_WAKE | pf, N, 0, "FUTEX_WAKE: waking 2 waiters");
    await_done(w, M, N, "FUTEX_WAKE: the 2 woken waiters return");
    sleep_ms(20);
    check_value(label("FUTEX_WAKE 2 of 6 waiters: waiters returned", pf), count_done(w, M), N);
    check(label("FUTEX_WAKE never returns more than asked", pf), ok);
    ok = wake_until(&word, FUTEX_WAKE | pf, M - N, 0, "FUTEX_WAKE: waking the rest");
    await_done(w, M, M, "FUTEX_WAKE: all waiters return");
    check(label("FUTEX_WAKE of the other 4: all 6 woken normally", pf), join_all(w, M) && ok);
}

static void test_bitsets(int pf) {
    enum { M = 4 };
    static const uint32_t bits[M] = {0x1, 0x2, 0x4, 0x3};
    static uint32_t word;
    struct waiter w[M];
    word = 0;
    for (int i = 0; i < M; i++) start_waiter(&w[i], &word, FUTEX_WAIT_BITSET | pf, bits[i]);
    // 0x2 intersects the waiters with 0x2 and 0x3.
    int ok = wake_until(&word, FUTEX_WAKE_BITSET | pf, 2, 0x2, "FUTEX_WAKE_BITSET 0x2");
    await_done(w, M, 2, "FUTEX_WAKE_BITSET 0x2: 2 waiters return");
    sleep_ms(20);
    char woken[64] = "";
    for (int i = 0; i < M; i++)
        if (__atomic_load_n(&w[i].done, __ATOMIC_SEQ_CST))
            snprintf(woken + strlen(woken), sizeof woken - strlen(woken), " 0x%x", bits[i]);
    printf("%s:%s\n", label("FUTEX_WAKE_BITSET 0x2 woke the waiters with bitsets", pf), woken);
    if (strcmp(woken, " 0x2 0x3") != 0 || !ok) {
        fprintf(stderr, "FAIL: FUTEX_WAKE_BITSET 0x2 woke%s\n", woken);
        failures++;
    }
    // Now only 0x1 and 0x4 wait: a 0x8 wake finds nobody, 0x1 finds one, FUTEX_WAKE the last.
    // (Wakes that must find a waiter retry until it has reached the kernel: on a loaded
    // machine a waiter thread may start late.)
    long r = futex(&word, FUTEX_WAKE_BITSET | pf, INT_MAX, NULL, NULL, 0x8);
    check_value(label("FUTEX_WAKE_BITSET 0x8 (no intersection) woke", pf), r, 0);
    ok = wake_until(&word, FUTEX_WAKE_BITSET | pf, 1, 0x1, "FUTEX_WAKE_BITSET 0x1");
    check_value(label("FUTEX_WAKE_BITSET 0x1 woke", pf), ok, 1);
    await_done(w, M, 3, "FUTEX_WAKE_BITSET 0x1: the waiter returns");
    check(label("FUTEX_WAKE_BITSET 0x1 woke the 0x1 waiter", pf), w[0].done && !w[2].done);
    ok = wake_until(&word, FUTEX_WAKE | pf, 1, 0, "FUTEX_WAKE (any bitset)");
    check_value(label("FUTEX_WAKE (any bitset) woke", pf), ok, 1);
    await_done(w, M, M, "FUTEX_WAKE_BITSET: all waiters return");
    check(label("FUTEX_WAIT_BITSET waiters all woken normally", pf), join_all(w, M));
}

// --- Requeue ---------------------------------------------------------------------------------

static void test_requeue(int pf) {
    enum { M = 5 };
    static uint32_t f1, f2;
    struct waiter w[M];
    f1 = 0;
    f2 = 100;
    for (int i = 0; i < M; i++) start_waiter(&w[i], &f1, FUTEX_WAIT | pf, 0);
    int ok = requeue_until(&f1, &f2, pf, M, "FUTEX_CMP_REQUEUE: moving 5 waiters");
    sleep_ms(20);
    check(label("FUTEX_CMP_REQUEUE moved all 5 waiters, woke none", pf), ok && count_done(w, M) == 0);

    long r = result(futex(&f2, FUTEX_CMP_REQUEUE | pf, 1, VAL2(INT_MAX), &f1, 99));
    check(label("FUTEX_CMP_REQUEUE with a changed value: EAGAIN", pf), r == -EAGAIN);
    r = futex(&f1, FUTEX_WAKE | pf, INT_MAX, NULL, NULL, 0);
    check_value(label("FUTEX_WAKE on the first futex after the requeue woke", pf), r, 0);

    // All 5 now wait on f2: FUTEX_REQUEUE wakes 1 and moves 2 back to f1 (returns 3).
    r = futex(&f2, FUTEX_REQUEUE | pf, 1, VAL2(2), &f1, 0);
    check_value(label("FUTEX_REQUEUE nr_wake 1, nr_requeue 2 returned", pf), r, 3);
    await_done(w, M, 1, "FUTEX_REQUEUE: the woken waiter returns");
    r = futex(&f1, FUTEX_WAKE | pf, INT_MAX, NULL, NULL, 0);
    check_value(label("FUTEX_WAKE on the first futex woke the 2 requeued", pf), r, 2);
    r = futex(&f2, FUTEX_WAKE | pf, INT_MAX, NULL, NULL, 0);
    check_value(label("FUTEX_WAKE on the second futex woke the rest", pf), r, 2);
    await_done(w, M, M, "FUTEX_REQUEUE: all waiters return");
    check(label("requeued waiters all woken normally", pf), join_all(w, M));
}

// --- Wake-op ---------------------------------------------------------------------------------

static void test_wake_op(int pf) {
    enum { M = 4 };
    static uint32_t park, f1, f2;
    struct waiter w[M];
    park = 7;
    f1 = 0;
    f2 = 0;
    // Park 2 waiters on f1 and 2 on f2, so every count below is exact.
    for (int i = 0; i < M; i++) start_waiter(&w[i], &park, FUTEX_WAIT | pf, 0);
    int ok = requeue_until(&park, &f1, pf, 2, "FUTEX_WAKE_OP: parking 2 waiters on f1");
    ok = requeue_until(&park, &f2, pf, 2, "FUTEX_WAKE_OP: parking 2 waiters on f2") && ok;
    check(label("FUTEX_WAKE_OP: 2 waiters parked on each futex", pf), ok);

    // oldval 0 == 0: wakes 1 on f1 and 1 on f2; f2 becomes 1.
    long r = futex(&f1, FUTEX_WAKE_OP | pf, 1, VAL2(1), &f2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
    check_value(label("FUTEX_WAKE_OP ADD 1, CMP_EQ 0 (true) woke", pf), r, 2);
    check_value(label("FUTEX_WAKE_OP second word after ADD 1", pf), f2, 1);
    // oldval 1 != 0: wakes 1 on f1 only; f2 becomes 2.
    r = futex(&f1, FUTEX_WAKE_OP | pf, 1, VAL2(1), &f2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
    check_value(label("FUTEX_WAKE_OP ADD 1, CMP_EQ 0 (false) woke", pf), r, 1);
    check_value(label("FUTEX_WAKE_OP second word after another ADD 1", pf), f2, 2);
    // f1 is empty now; oldval 2 > 1: wakes the last waiter on f2; f2 becomes 5.
    r = futex(&f1, FUTEX_WAKE_OP | pf, 1, VAL2(1), &f2, FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_GT, 1));
    check_value(label("FUTEX_WAKE_OP SET 5, CMP_GT 1 (true) woke", pf), r, 1);
    check_value(label("FUTEX_WAKE_OP second word after SET 5", pf), f2, 5);
    await_done(w, M, M, "FUTEX_WAKE_OP: all waiters return");
    check(label("FUTEX_WAKE_OP waiters all woken normally", pf), join_all(w, M));

    // The operations, with nobody waiting (each call returns 0).
    static const struct {
        const char *name;
        int op, oparg;
        uint32_t before, after;
    } ops[] = {
        {"OR 0x0f", FUTEX_OP_OR, 0x0f, 0xf0, 0xff},
        {"ANDN 0xf0", FUTEX_OP_ANDN, 0xf0, 0xff, 0x0f},
        {"XOR 0xff", FUTEX_OP_XOR, 0xff, 0x0f, 0xf0},
        {"SET 1<<4 (OPARG_SHIFT)", FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, 0xf0, 0x10},
        {"ADD 1<<10 (OPARG_SHIFT)", FUTEX_OP_ADD | FUTEX_OP_OPARG_SHIFT, 10, 0x10, 0x410},
    };
    int all = 1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        f2 = ops[i].before;
        r = futex(&f1, FUTEX_WAKE_OP | pf, 1, VAL2(1), &f2, FUTEX_OP(ops[i].op, ops[i].oparg, FUTEX_OP_CMP_NE, 0));
        char what[96];
        snprintf(what, sizeof what, "FUTEX_WAKE_OP %s: 0x%x -> 0x%x", ops[i].name, ops[i].before, f2);
        printf("%s\n", label(what, pf));
        if (r != 0 || f2 != ops[i].after) all = 0;
    }
    check(label("FUTEX_WAKE_OP operations", pf), all);
}

// --- Interrupted by a signal ---------------------------------------------------------------

static int usr1_count;

static void on_usr1(int sig) {
    (void)sig;
    __atomic_fetch_add(&usr1_count, 1, __ATOMIC_SEQ_CST);
}

struct interrupted {
    uint32_t word;
    int timed;
    int about_to_wait;
    int done;
    long result;
};

static void *interrupted_waiter(void *arg) {
    struct interrupted *w = arg;
    struct timespec ts = {20, 0};
    __atomic_store_n(&w->about_to_wait, 1, __ATOMIC_SEQ_CST);
    long r = futex(&w->word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, w->timed ? &ts : NULL, NULL, 0);
    w->result = result(r);
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

// Signals a waiter until it has taken `signals` of them, then wakes it until it returns.
static long interrupt_wait(int sa_flags, int timed, int signals) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = sa_flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    __atomic_store_n(&usr1_count, 0, __ATOMIC_SEQ_CST);

    struct interrupted w = {0, timed, 0, 0, 1};
    pthread_t t;
    if (pthread_create(&t, NULL, interrupted_waiter, &w) != 0) fatal("pthread_create");
    while (!__atomic_load_n(&w.about_to_wait, __ATOMIC_SEQ_CST)) sleep_ms(1);
    sleep_ms(10);
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + DEADLINE_NS;
    while (!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST)) {
        if (__atomic_load_n(&usr1_count, __ATOMIC_SEQ_CST) < signals) pthread_kill(t, SIGUSR1);
        else futex(&w.word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
        if (now_ns(CLOCK_MONOTONIC) > deadline) fatal("interrupted FUTEX_WAIT: the waiter returns");
        sleep_ms(5);
    }
    pthread_join(t, NULL);
    signal(SIGUSR1, SIG_DFL);
    return w.result;
}

static void test_interrupted(void) {
    long r = interrupt_wait(0, 0, 1);
    check("FUTEX_WAIT interrupted by a handler without SA_RESTART: EINTR", r == -EINTR);
    r = interrupt_wait(SA_RESTART, 0, 3);
    check("FUTEX_WAIT interrupted by SA_RESTART handlers: restarted, then woken (0)", r == 0);
    r = interrupt_wait(SA_RESTART, 1, 1);
    check("FUTEX_WAIT with a timeout interrupted by an SA_RESTART handler: EINTR", r == -EINTR);
}

// --- Condition-variable storms ---------------------------------------------------------------

#define STORM_THREADS 16
#define STORM_ROUNDS 1000
#define TIMED_ROUNDS 300

static pthread_mutex_t storm_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t storm_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t storm_main = PTHREAD_COND_INITIALIZER;
static pthread_cond_t timed_cond;
static int storm_generation, storm_arrived, storm_rounds, storm_timed, storm_timeouts;
static long storm_wakeups;

static void *storm_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&storm_mutex);
    for (int r = 0; r < storm_rounds; r++) {
        if (++storm_arrived == STORM_THREADS) pthread_cond_signal(&storm_main);
        int generation = storm_generation;
        while (storm_generation == generation) {
            if (storm_timed) {
                struct timespec far = ts_of(now_ns(CLOCK_MONOTONIC) + 60LL * 1000000000);
                if (pthread_cond_timedwait(&timed_cond, &storm_mutex, &far) == ETIMEDOUT) storm_timeouts++;
            } else {
                pthread_cond_wait(&storm_cond, &storm_mutex);
            }
        }
        storm_wakeups++;
    }
    pthread_mutex_unlock(&storm_mutex);
    return NULL;
}

static void storm(int rounds, int timed) {
    pthread_t t[STORM_THREADS];
    storm_rounds = rounds;
    storm_timed = timed;
    storm_wakeups = 0;
    storm_arrived = 0;
    for (int i = 0; i < STORM_THREADS; i++)
        if (pthread_create(&t[i], NULL, storm_worker, NULL) != 0) fatal("pthread_create");
    pthread_mutex_lock(&storm_mutex);
    for (int r = 0; r < rounds; r++) {
        while (storm_arrived < STORM_THREADS) pthread_cond_wait(&storm_main, &storm_mutex);
        storm_arrived = 0;
        storm_generation++;
        pthread_cond_broadcast(timed ? &timed_cond : &storm_cond);
    }
    pthread_mutex_unlock(&storm_mutex);
    for (int i = 0; i < STORM_THREADS; i++) pthread_join(t[i], NULL);
}

static void test_storms(void) {
    storm(STORM_ROUNDS, 0);
    check_value("pthread_cond_broadcast storm: 16 threads x 1000 rounds, wakeups", storm_wakeups,
                (long long)STORM_THREADS * STORM_ROUNDS);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&timed_cond, &ca);
    pthread_condattr_destroy(&ca);
    storm(TIMED_ROUNDS, 1);
    check_value("pthread_cond_timedwait (CLOCK_MONOTONIC) storm: 16 threads x 300 rounds, wakeups",
                storm_wakeups, (long long)STORM_THREADS * TIMED_ROUNDS);
    check_value("pthread_cond_timedwait storm: timeouts", storm_timeouts, 0);
    pthread_cond_destroy(&timed_cond);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int pf = 0; pf <= FUTEX_PRIVATE_FLAG; pf += FUTEX_PRIVATE_FLAG) {
        test_wait_errors_and_timeouts(pf);
        test_wake_counts(pf);
        test_bitsets(pf);
        test_requeue(pf);
        test_wake_op(pf);
    }
    test_interrupted();
    test_storms();
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all futex checks passed\n");
    return 0;
}
