/* Thread costs, timed inside the program (issue 5's bench figures).
 *
 *   threads_bench create_join N      N x pthread_create + pthread_join of a thread
 *                                    that returns at once; ns per create+join
 *   threads_bench futex_pingpong N   two threads hand a token back and forth N times
 *                                    through raw FUTEX_WAIT/FUTEX_WAKE (private) on
 *                                    one word; ns per round trip (two wakes)
 *   threads_bench yield_pingpong N   the same through an atomic turn word, each side
 *                                    calling sched_yield() while it is not its turn;
 *                                    ns per round trip
 *   threads_bench spin_sum T ITER    T threads each sum a mixing function over ITER/T
 *                                    indexes (CPU-bound, no shared memory written in
 *                                    the loop); elapsed ns from the first create to
 *                                    the last join, and a checksum that is the same
 *                                    for any T
 *
 * The ping-pong and create modes run a warm-up of N/100 (at least 100) operations
 * first, outside the timed part. Prints one line:
 *   "threads_bench mode=M threads=T n=N ns=TOTAL ns_per_op=X" (spin_sum adds
 *   " checksum=0x..."; its ns_per_op is per iteration).
 * Exits 1 if any call fails or a hand-off is lost, 2 on a usage error. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64

static double now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("threads_bench: clock_gettime");
        exit(1);
    }
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fail(const char *what, int err)
{
    fprintf(stderr, "threads_bench: %s: %s\n", what, strerror(err));
    exit(1);
}

static pthread_t start(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    if (rc != 0)
        fail("pthread_create", rc);
    return t;
}

static void *join(pthread_t t)
{
    void *ret;
    int rc = pthread_join(t, &ret);
    if (rc != 0)
        fail("pthread_join", rc);
    return ret;
}

static long warmup_of(long n) { return n / 100 < 100 ? 100 : n / 100; }

/* ------------------------------------------------------------- create_join */

static void *returns_arg(void *arg) { return arg; }

static void create_join(long n)
{
    for (long i = 0; i < n; i++) {
        if (join(start(returns_arg, (void *)(i + 1))) != (void *)(i + 1)) {
            fprintf(stderr, "threads_bench: thread %ld returned the wrong value\n", i);
            exit(1);
        }
    }
}

/* ---------------------------------------------------------- futex_pingpong */

/* One word counts hand-offs: the main thread makes it odd (2i+1) and wakes the
 * partner, the partner makes it even (2i+2) and wakes the main thread. Each side
 * sleeps in FUTEX_WAIT on the value it sees until the word reaches the value it
 * waits for (EAGAIN: it changed before the wait; EINTR: retry). */
static uint32_t token;
static long pp_total;  /* round trips, warm-up included */

static long futex(uint32_t *uaddr, int op, uint32_t val)
{
    return syscall(SYS_futex, uaddr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static void futex_await(uint32_t want)
{
    for (;;) {
        uint32_t v = __atomic_load_n(&token, __ATOMIC_ACQUIRE);
        if (v == want)
            return;
        if (futex(&token, FUTEX_WAIT, v) != 0 && errno != EAGAIN && errno != EINTR)
            fail("futex(FUTEX_WAIT)", errno);
    }
}

static void futex_pass(uint32_t v)
{
    __atomic_store_n(&token, v, __ATOMIC_RELEASE);
    if (futex(&token, FUTEX_WAKE, 1) < 0)
        fail("futex(FUTEX_WAKE)", errno);
}

static void *futex_partner(void *arg)
{
    (void)arg;
    for (long i = 0; i < pp_total; i++) {
        futex_await((uint32_t)(2 * i + 1));
        futex_pass((uint32_t)(2 * i + 2));
    }
    return NULL;
}

static void futex_rounds(long from, long to)
{
    for (long i = from; i < to; i++) {
        futex_pass((uint32_t)(2 * i + 1));
        futex_await((uint32_t)(2 * i + 2));
    }
}

/* ---------------------------------------------------------- yield_pingpong */

static int turn;  /* 0: the main thread's, 1: the partner's */

static void yield_await(int mine)
{
    while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != mine) {
        if (sched_yield() != 0)
            fail("sched_yield", errno);
    }
}

static void *yield_partner(void *arg)
{
    (void)arg;
    for (long i = 0; i < pp_total; i++) {
        yield_await(1);
        __atomic_store_n(&turn, 0, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void yield_rounds(long from, long to)
{
    for (long i = from; i < to; i++) {
        __atomic_store_n(&turn, 1, __ATOMIC_RELEASE);
        yield_await(0);
    }
}

/* ---------------------------------------------------------------- spin_sum */

struct share {  /* each on its own cache line */
    uint64_t begin, end, sum;
    pthread_t thread;
} __attribute__((aligned(64)));

/* splitmix64's finaliser, then one LCG step: integer work, no memory traffic. */
static inline uint64_t mix(uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x * 6364136223846793005ULL + 1442695040888963407ULL;
}

static void *spin(void *arg)
{
    struct share *s = arg;
    uint64_t sum = 0;
    for (uint64_t i = s->begin; i < s->end; i++)
        sum += mix(i);
    s->sum = sum;  /* once, at the end: no sharing inside the loop */
    return NULL;
}

static struct share shares[MAX_THREADS];

/* ------------------------------------------------------------------- main */

static long parse(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v <= 0) {
        fprintf(stderr, "threads_bench: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s create_join N | futex_pingpong N | yield_pingpong N | "
                    "spin_sum THREADS ITERATIONS\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage(argv[0]);
    const char *mode = argv[1];

    if (strcmp(mode, "spin_sum") == 0) {
        if (argc != 4)
            return usage(argv[0]);
        long t = parse(argv[2], "THREADS");
        long iters = parse(argv[3], "ITERATIONS");
        if (t > MAX_THREADS) {
            fprintf(stderr, "threads_bench: at most %d threads\n", MAX_THREADS);
            return 2;
        }
        double t0 = now_ns();
        for (long k = 0; k < t; k++) {
            shares[k].begin = (uint64_t)iters * (uint64_t)k / (uint64_t)t;
            shares[k].end = (uint64_t)iters * (uint64_t)(k + 1) / (uint64_t)t;
            shares[k].thread = start(spin, &shares[k]);
        }
        uint64_t total = 0;
        for (long k = 0; k < t; k++) {
            join(shares[k].thread);
            total += shares[k].sum;
        }
        double ns = now_ns() - t0;
        printf("threads_bench mode=%s threads=%ld n=%ld ns=%.0f ns_per_op=%.3f checksum=0x%016llx\n",
               mode, t, iters, ns, ns / (double)iters, (unsigned long long)total);
        return 0;
    }

    if (argc != 3)
        return usage(argv[0]);
    long n = parse(argv[2], "N");
    long warm = warmup_of(n);
    double t0, t1;
    int threads;

    if (strcmp(mode, "create_join") == 0) {
        create_join(warm);  /* warm-up: thread stacks cached, code paths hot */
        t0 = now_ns();
        create_join(n);
        t1 = now_ns();
        threads = 1;
    } else if (strcmp(mode, "futex_pingpong") == 0 || strcmp(mode, "yield_pingpong") == 0) {
        int futex_mode = mode[0] == 'f';
        void (*rounds)(long, long) = futex_mode ? futex_rounds : yield_rounds;
        pp_total = warm + n;
        pthread_t partner = start(futex_mode ? futex_partner : yield_partner, NULL);
        rounds(0, warm);
        t0 = now_ns();
        rounds(warm, warm + n);
        t1 = now_ns();
        join(partner);
        if (futex_mode && token != (uint32_t)(2 * pp_total)) {
            fprintf(stderr, "threads_bench: token %u after %ld round trips\n", token, pp_total);
            return 1;
        }
        threads = 2;
    } else {
        return usage(argv[0]);
    }
    printf("threads_bench mode=%s threads=%d n=%ld ns=%.0f ns_per_op=%.2f\n",
           mode, threads, n, t1 - t0, (t1 - t0) / (double)n);
    return 0;
}
