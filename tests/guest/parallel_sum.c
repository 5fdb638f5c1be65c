// parallel_sum: CPU-bound work split over threads. N threads (argv[1], default 2) each sum
// a mixing function of the indexes in their share of 0..ITERATIONS-1; the combined checksum
// (a sum modulo 2^64) is the same for any thread count. No output depends on timing.
// Used by the differential tests and by tests/integration/threads_speed.py, which times it
// under `mote run --cpus 1` and `--cpus 2`.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITERATIONS 1000000000ULL
#define MAX_THREADS 64

struct share {
    uint64_t begin, end, sum;
    pthread_t thread;
};

// A mixing step per index (splitmix64's finaliser, then one LCG step): enough integer work
// that the loop is CPU-bound, not memory-bound.
static inline uint64_t mix(uint64_t i) {
    uint64_t x = i * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x * 6364136223846793005ULL + 1442695040888963407ULL;
}

static void *work(void *arg) {
    struct share *s = arg;
    uint64_t sum = 0;
    for (uint64_t i = s->begin; i < s->end; i++) sum += mix(i);
    s->sum = sum;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "usage: parallel_sum [THREADS 1..%d]\n", MAX_THREADS);
        return 2;
    }
    static struct share shares[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        shares[t].begin = ITERATIONS * (uint64_t)t / (uint64_t)threads;
        shares[t].end = ITERATIONS * (uint64_t)(t + 1) / (uint64_t)threads;
        int rc = pthread_create(&shares[t].thread, NULL, work, &shares[t]);
        if (rc != 0) {
            fprintf(stderr, "FAIL: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    uint64_t total = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(shares[t].thread, NULL);
        total += shares[t].sum;
    }
    printf("threads %d\n", threads);
    printf("iterations %llu\n", (unsigned long long)ITERATIONS);
    printf("checksum 0x%016llx\n", (unsigned long long)total);
    return 0;
}
