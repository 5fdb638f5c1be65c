// threads: POSIX threads on top of clone, futex and the thread pointer.
//   - pthread_create/join: 8 threads x 1,000,000 __atomic increments, 8 x 200,000 increments
//     under a mutex (exact totals); trylock, error-checking and recursive mutexes
//   - a condition-variable producer/consumer: bounded queue, 4 producers, 4 consumers, the
//     count and sum of the items consumed
//   - pthread_barrier over 50 rounds (one serial thread a round, every thread sees the round)
//   - a rwlock: readers never see a half-done write; tryrdlock/trywrlock under a read lock
//   - __thread values per thread, pthread_once, pthread_key destructors
//   - pthread_cancel of a thread blocked in pthread_cond_wait and of one in sleep(), with
//     cleanup handlers; cancellation deferred while disabled
//   - pthread_detach and detached-at-creation threads finishing; return values through join
//     and pthread_exit; 200 threads created and joined one after another
//   - gettid differs between threads, getpid is the same; sched_yield ping-pong
//   - pthread_setname_np/getname_np on itself and on another thread
//   - pthread_attr with a custom stack size (used) and a user-supplied stack
// Prints only totals and ok lines (no tids, times or interleavings), so the output is the
// same natively and under mote at any CPU count. A failed check prints FAIL on stdout, a
// line on stderr, and the exit status is 1.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"

static void must(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "FAIL: %s: %s\n", what, strerror(rc));
        exit(1);
    }
}

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

// --- Counters: atomics and a mutex ----------------------------------------------------------

#define COUNT_THREADS 8
#define ATOMIC_ITERS 1000000
#define MUTEX_ITERS 200000

static long atomic_counter;
static long mutex_counter;
static pthread_mutex_t counter_mutex = PTHREAD_MUTEX_INITIALIZER;

static void *atomic_worker(void *arg) {
    (void)arg;
    for (int i = 0; i < ATOMIC_ITERS; i++) __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *mutex_worker(void *arg) {
    (void)arg;
    for (int i = 0; i < MUTEX_ITERS; i++) {
        pthread_mutex_lock(&counter_mutex);
        mutex_counter++;
        pthread_mutex_unlock(&counter_mutex);
    }
    return NULL;
}

static void run_all(void *(*fn)(void *), int n, const char *what) {
    pthread_t t[COUNT_THREADS];
    for (int i = 0; i < n; i++) must(pthread_create(&t[i], NULL, fn, NULL), what);
    for (int i = 0; i < n; i++) must(pthread_join(t[i], NULL), what);
}

static void *trylock_other(void *arg) {
    int rc = pthread_mutex_trylock((pthread_mutex_t *)arg);
    if (rc == 0) pthread_mutex_unlock((pthread_mutex_t *)arg);
    return (void *)(intptr_t)rc;
}

static void test_counters(void) {
    run_all(atomic_worker, COUNT_THREADS, "atomic threads");
    check_value("atomic total", atomic_counter, (long long)COUNT_THREADS * ATOMIC_ITERS);
    run_all(mutex_worker, COUNT_THREADS, "mutex threads");
    check_value("mutex total", mutex_counter, (long long)COUNT_THREADS * MUTEX_ITERS);

    // trylock from another thread while held: EBUSY; after unlock: 0.
    pthread_t t;
    void *ret;
    pthread_mutex_lock(&counter_mutex);
    must(pthread_create(&t, NULL, trylock_other, &counter_mutex), "trylock thread");
    pthread_join(t, &ret);
    check("trylock of a held mutex: EBUSY", (intptr_t)ret == EBUSY);
    pthread_mutex_unlock(&counter_mutex);
    must(pthread_create(&t, NULL, trylock_other, &counter_mutex), "trylock thread");
    pthread_join(t, &ret);
    check("trylock of a free mutex: 0", (intptr_t)ret == 0);

    pthread_mutexattr_t ma;
    pthread_mutex_t m;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&m, &ma);
    pthread_mutex_lock(&m);
    check("errorcheck mutex locked twice: EDEADLK", pthread_mutex_lock(&m) == EDEADLK);
    pthread_mutex_unlock(&m);
    check("errorcheck mutex unlocked when free: EPERM", pthread_mutex_unlock(&m) == EPERM);
    pthread_mutex_destroy(&m);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m, &ma);
    int rc = pthread_mutex_lock(&m) | pthread_mutex_lock(&m) | pthread_mutex_lock(&m);
    rc |= pthread_mutex_unlock(&m) | pthread_mutex_unlock(&m) | pthread_mutex_unlock(&m);
    check("recursive mutex locked 3 times, unlocked 3 times", rc == 0);
    pthread_mutex_destroy(&m);
    pthread_mutexattr_destroy(&ma);
}

// --- Producer/consumer on a bounded queue ---------------------------------------------------

#define QUEUE_SIZE 16
#define PRODUCERS 4
#define CONSUMERS 4
#define ITEMS_PER_PRODUCER 20000
#define STOP_ITEM (-1L)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    long items[QUEUE_SIZE];
    int head, count;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
           {0}, 0, 0};

static void queue_put(long item) {
    pthread_mutex_lock(&queue.lock);
    while (queue.count == QUEUE_SIZE) pthread_cond_wait(&queue.not_full, &queue.lock);
    queue.items[(queue.head + queue.count) % QUEUE_SIZE] = item;
    queue.count++;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

static long queue_get(void) {
    pthread_mutex_lock(&queue.lock);
    while (queue.count == 0) pthread_cond_wait(&queue.not_empty, &queue.lock);
    long item = queue.items[queue.head];
    queue.head = (queue.head + 1) % QUEUE_SIZE;
    queue.count--;
    pthread_cond_signal(&queue.not_full);
    pthread_mutex_unlock(&queue.lock);
    return item;
}

static void *producer(void *arg) {
    long base = (long)(intptr_t)arg * 1000000;
    for (long i = 1; i <= ITEMS_PER_PRODUCER; i++) queue_put(base + i);
    return NULL;
}

struct consumed {
    long count, sum;
};

static void *consumer(void *arg) {
    struct consumed *c = arg;
    for (;;) {
        long item = queue_get();
        if (item == STOP_ITEM) return NULL;
        c->count++;
        c->sum += item;
    }
}

static void test_producer_consumer(void) {
    pthread_t p[PRODUCERS], c[CONSUMERS];
    struct consumed got[CONSUMERS] = {{0, 0}};
    for (int i = 0; i < CONSUMERS; i++) must(pthread_create(&c[i], NULL, consumer, &got[i]), "consumer");
    for (int i = 0; i < PRODUCERS; i++)
        must(pthread_create(&p[i], NULL, producer, (void *)(intptr_t)(i + 1)), "producer");
    for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++) queue_put(STOP_ITEM);
    long count = 0, sum = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(c[i], NULL);
        count += got[i].count;
        sum += got[i].sum;
    }
    long want = 0;
    for (long p = 1; p <= PRODUCERS; p++)
        want += p * 1000000 * ITEMS_PER_PRODUCER + (long)ITEMS_PER_PRODUCER * (ITEMS_PER_PRODUCER + 1) / 2;
    check_value("condvar queue items consumed", count, (long long)PRODUCERS * ITEMS_PER_PRODUCER);
    check_value("condvar queue sum", sum, want);
}

// --- Barrier --------------------------------------------------------------------------------

#define BARRIER_THREADS 4
#define BARRIER_ROUNDS 50

static pthread_barrier_t barrier;
static int barrier_slots[BARRIER_ROUNDS][BARRIER_THREADS];
static int barrier_serial, barrier_mismatches;

static void *barrier_worker(void *arg) {
    int me = (int)(intptr_t)arg;
    for (int r = 0; r < BARRIER_ROUNDS; r++) {
        barrier_slots[r][me] = r * 100 + me + 1;
        int rc = pthread_barrier_wait(&barrier);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD) __atomic_fetch_add(&barrier_serial, 1, __ATOMIC_SEQ_CST);
        else if (rc != 0) __atomic_fetch_add(&barrier_mismatches, 1000, __ATOMIC_SEQ_CST);
        // Every thread's write of this round is visible after the barrier.
        for (int t = 0; t < BARRIER_THREADS; t++)
            if (barrier_slots[r][t] != r * 100 + t + 1) __atomic_fetch_add(&barrier_mismatches, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_barrier(void) {
    pthread_t t[BARRIER_THREADS];
    must(pthread_barrier_init(&barrier, NULL, BARRIER_THREADS), "barrier init");
    for (int i = 0; i < BARRIER_THREADS; i++)
        must(pthread_create(&t[i], NULL, barrier_worker, (void *)(intptr_t)i), "barrier thread");
    for (int i = 0; i < BARRIER_THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    check_value("barrier rounds with one serial thread", barrier_serial, BARRIER_ROUNDS);
    check_value("barrier mismatches", barrier_mismatches, 0);
}

// --- Read-write lock ------------------------------------------------------------------------

#define RW_READERS 4
#define RW_WRITERS 2
#define RW_WRITES 5000
#define RW_READS 20000

static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static long rw_a, rw_b;
static long rw_violations;

static void *rw_writer(void *arg) {
    (void)arg;
    for (int i = 0; i < RW_WRITES; i++) {
        pthread_rwlock_wrlock(&rwlock);
        rw_a++;
        if ((i & 63) == 0) sched_yield();  // a reader in between would see a != b
        rw_b++;
        pthread_rwlock_unlock(&rwlock);
    }
    return NULL;
}

static void *rw_reader(void *arg) {
    (void)arg;
    long bad = 0;
    for (int i = 0; i < RW_READS; i++) {
        pthread_rwlock_rdlock(&rwlock);
        if (rw_a != rw_b) bad++;
        pthread_rwlock_unlock(&rwlock);
    }
    __atomic_fetch_add(&rw_violations, bad, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *rw_try(void *arg) {
    int rd = pthread_rwlock_tryrdlock(&rwlock);
    if (rd == 0) pthread_rwlock_unlock(&rwlock);
    int wr = pthread_rwlock_trywrlock(&rwlock);
    if (wr == 0) pthread_rwlock_unlock(&rwlock);
    *(int *)arg = (rd == 0) && (wr == EBUSY);
    return NULL;
}

static void test_rwlock(void) {
    pthread_t t[RW_READERS + RW_WRITERS];
    for (int i = 0; i < RW_WRITERS; i++) must(pthread_create(&t[i], NULL, rw_writer, NULL), "writer");
    for (int i = 0; i < RW_READERS; i++) must(pthread_create(&t[RW_WRITERS + i], NULL, rw_reader, NULL), "reader");
    for (int i = 0; i < RW_READERS + RW_WRITERS; i++) pthread_join(t[i], NULL);
    check_value("rwlock writes", rw_a, (long long)RW_WRITERS * RW_WRITES);
    check_value("rwlock readers saw a half-done write", rw_violations, 0);

    int ok = 0;
    pthread_t other;
    pthread_rwlock_rdlock(&rwlock);
    must(pthread_create(&other, NULL, rw_try, &ok), "rwlock try thread");
    pthread_join(other, NULL);
    pthread_rwlock_unlock(&rwlock);
    check("rwlock read-locked: another thread's tryrdlock 0, trywrlock EBUSY", ok);
}

// --- Thread-local storage, pthread_once, keys -----------------------------------------------

#define TLS_THREADS 6

static __thread int tls_value = 7;
static __thread char tls_buffer[64];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static pthread_key_t key;
static int key_destructor_runs;
static long key_destructor_sum;

static void once_routine(void) {
    __atomic_fetch_add(&once_runs, 1, __ATOMIC_SEQ_CST);
    sleep_ms(5);  // the others must wait for it
}

static void key_destructor(void *value) {
    __atomic_fetch_add(&key_destructor_runs, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&key_destructor_sum, (long)(intptr_t)value, __ATOMIC_SEQ_CST);
}

static void *tls_worker(void *arg) {
    int me = (int)(intptr_t)arg;
    int ok = tls_value == 7 && tls_buffer[0] == 0;
    tls_value = 100 + me;
    snprintf(tls_buffer, sizeof tls_buffer, "thread %d", me);
    pthread_once(&once, once_routine);
    ok = ok && once_runs == 1;
    pthread_setspecific(key, (void *)(intptr_t)(me + 1));
    for (int i = 0; i < 100; i++) sched_yield();
    char want[64];
    snprintf(want, sizeof want, "thread %d", me);
    ok = ok && tls_value == 100 + me && strcmp(tls_buffer, want) == 0;
    ok = ok && pthread_getspecific(key) == (void *)(intptr_t)(me + 1);
    return (void *)(intptr_t)ok;
}

static void test_tls(void) {
    pthread_t t[TLS_THREADS];
    must(pthread_key_create(&key, key_destructor), "pthread_key_create");
    tls_value = 1;
    for (int i = 0; i < TLS_THREADS; i++)
        must(pthread_create(&t[i], NULL, tls_worker, (void *)(intptr_t)i), "tls thread");
    int all_ok = 1;
    for (int i = 0; i < TLS_THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        all_ok = all_ok && ret == (void *)1;
    }
    check("__thread: initial values in each thread, own values kept", all_ok);
    check("__thread: main thread's value untouched", tls_value == 1);
    check_value("pthread_once runs", once_runs, 1);
    check_value("pthread_key destructor runs", key_destructor_runs, TLS_THREADS);
    check_value("pthread_key destructor value sum", key_destructor_sum, TLS_THREADS * (TLS_THREADS + 1) / 2);
    pthread_key_delete(key);
}

// --- Cancellation ---------------------------------------------------------------------------

static pthread_mutex_t cancel_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cond = PTHREAD_COND_INITIALIZER;
static int cancel_waiting;
static int cleanup_condwait, cleanup_sleep, cleanup_had_mutex;
static sem_t sem_started, sem_cancel_sent;
static int cancel_survived;

static void cleanup_unlock(void *arg) {
    (void)arg;
    // Cancelled in pthread_cond_wait: the mutex is held again when the handler runs.
    cleanup_had_mutex = pthread_mutex_trylock(&cancel_mutex) == EBUSY;
    cleanup_condwait++;
    pthread_mutex_unlock(&cancel_mutex);
}

static void *cancel_in_condwait(void *arg) {
    (void)arg;
    pthread_mutex_lock(&cancel_mutex);
    pthread_cleanup_push(cleanup_unlock, NULL);
    cancel_waiting = 1;
    for (;;) pthread_cond_wait(&cancel_cond, &cancel_mutex);  // never signalled
    pthread_cleanup_pop(0);
    return NULL;
}

static void cleanup_count(void *arg) { ++*(int *)arg; }

static void *cancel_in_sleep(void *arg) {
    (void)arg;
    pthread_cleanup_push(cleanup_count, &cleanup_sleep);
    sem_post(&sem_started);
    for (;;) sleep(100);
    pthread_cleanup_pop(0);
    return NULL;
}

static void *cancel_disabled(void *arg) {
    (void)arg;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    sem_post(&sem_started);
    while (sem_wait(&sem_cancel_sent) != 0) {}
    sleep_ms(10);  // a cancellation point, but cancellation is disabled
    cancel_survived = 1;
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    pthread_testcancel();
    cancel_survived = 2;  // not reached
    return NULL;
}

static void test_cancel(void) {
    pthread_t t;
    void *ret = NULL;
    sem_init(&sem_started, 0, 0);
    sem_init(&sem_cancel_sent, 0, 0);

    // Blocked in pthread_cond_wait: once main holds the mutex with cancel_waiting set, the
    // thread has released it inside pthread_cond_wait.
    must(pthread_create(&t, NULL, cancel_in_condwait, NULL), "cancel thread");
    for (;;) {
        pthread_mutex_lock(&cancel_mutex);
        int waiting = cancel_waiting;
        pthread_mutex_unlock(&cancel_mutex);
        if (waiting) break;
        sleep_ms(1);
    }
    must(pthread_cancel(t), "pthread_cancel");
    pthread_join(t, &ret);
    check("cancel in pthread_cond_wait: join gives PTHREAD_CANCELED", ret == PTHREAD_CANCELED);
    check_value("cancel in pthread_cond_wait: cleanup handler runs", cleanup_condwait, 1);
    check("cancel in pthread_cond_wait: cleanup handler holds the mutex", cleanup_had_mutex);
    check("mutex free after the cancelled thread's cleanup", pthread_mutex_trylock(&cancel_mutex) == 0);
    pthread_mutex_unlock(&cancel_mutex);

    must(pthread_create(&t, NULL, cancel_in_sleep, NULL), "cancel thread");
    while (sem_wait(&sem_started) != 0) {}
    must(pthread_cancel(t), "pthread_cancel");
    pthread_join(t, &ret);
    check("cancel in sleep(): join gives PTHREAD_CANCELED", ret == PTHREAD_CANCELED);
    check_value("cancel in sleep(): cleanup handler runs", cleanup_sleep, 1);

    must(pthread_create(&t, NULL, cancel_disabled, NULL), "cancel thread");
    while (sem_wait(&sem_started) != 0) {}
    must(pthread_cancel(t), "pthread_cancel");
    sem_post(&sem_cancel_sent);
    pthread_join(t, &ret);
    check("cancel while disabled: acted on at pthread_testcancel after enabling",
          ret == PTHREAD_CANCELED && cancel_survived == 1);
    sem_destroy(&sem_started);
    sem_destroy(&sem_cancel_sent);
}

// --- Detach, return values, churn -----------------------------------------------------------

static sem_t detached_done;
static int detached_work;

static void *detached_worker(void *arg) {
    sleep_ms(5);
    __atomic_fetch_add(&detached_work, (int)(intptr_t)arg, __ATOMIC_SEQ_CST);
    sem_post(&detached_done);
    return NULL;
}

static void *times_three_plus_one(void *arg) { return (void *)((intptr_t)arg * 3 + 1); }

// pthread_exit from two calls deep: unwinds (glibc) or leaves (musl) the nested frames.
__attribute__((noinline)) static void exit_inner(intptr_t value) { pthread_exit((void *)value); }
__attribute__((noinline)) static void exit_outer(intptr_t value) { exit_inner(value + 7); }

static void *exiting_worker(void *arg) {
    (void)arg;
    exit_outer(70);
    return NULL;
}

static void *churn_worker(void *arg) { return arg; }

static void test_detach_and_return(void) {
    sem_init(&detached_done, 0, 0);
    pthread_t t;
    must(pthread_create(&t, NULL, detached_worker, (void *)1), "detached thread");
    check("pthread_detach", pthread_detach(t) == 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int state = -1;
    pthread_attr_getdetachstate(&attr, &state);
    must(pthread_create(&t, &attr, detached_worker, (void *)10), "detached thread");
    pthread_attr_destroy(&attr);
    while (sem_wait(&detached_done) != 0) {}
    while (sem_wait(&detached_done) != 0) {}
    check("detached threads finish their work", __atomic_load_n(&detached_work, __ATOMIC_SEQ_CST) == 11 &&
                                                    state == PTHREAD_CREATE_DETACHED);
    sem_destroy(&detached_done);

    void *ret = NULL;
    must(pthread_create(&t, NULL, times_three_plus_one, (void *)14), "return thread");
    pthread_join(t, &ret);
    check_value("return value through pthread_join", (intptr_t)ret, 43);
    must(pthread_create(&t, NULL, exiting_worker, NULL), "exit thread");
    pthread_join(t, &ret);
    check_value("pthread_exit value through pthread_join", (intptr_t)ret, 77);

    long sum = 0;
    for (long i = 1; i <= 200; i++) {
        must(pthread_create(&t, NULL, churn_worker, (void *)i), "churn thread");
        pthread_join(t, &ret);
        sum += (intptr_t)ret;
    }
    check_value("200 threads created and joined in turn, sum of results", sum, 200 * 201 / 2);
}

// --- Identity, yield, names -----------------------------------------------------------------

#define ID_THREADS 4

struct identity {
    pid_t tid, pid;
    pthread_t self;
};

static void *identity_worker(void *arg) {
    struct identity *id = arg;
    id->tid = tid();
    id->pid = getpid();
    id->self = pthread_self();
    return NULL;
}

static volatile int turn;

static void *pingpong(void *arg) {
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        while (__atomic_load_n(&turn, __ATOMIC_SEQ_CST) != me) sched_yield();
        __atomic_store_n(&turn, 1 - me, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static sem_t name_set, name_checked;
static char name_seen_by_thread[32];

static void *named_worker(void *arg) {
    (void)arg;
    while (sem_wait(&name_set) != 0) {}
    pthread_getname_np(pthread_self(), name_seen_by_thread, sizeof name_seen_by_thread);
    // Its own name, from itself.
    pthread_setname_np(pthread_self(), "self-named");
    sem_post(&name_checked);
    while (sem_wait(&name_set) != 0) {}
    return NULL;
}

static void test_identity(void) {
    pthread_t t[ID_THREADS];
    struct identity id[ID_THREADS];
    for (int i = 0; i < ID_THREADS; i++) must(pthread_create(&t[i], NULL, identity_worker, &id[i]), "id thread");
    for (int i = 0; i < ID_THREADS; i++) pthread_join(t[i], NULL);
    int distinct = 1, same_pid = 1, self_ok = 1;
    pid_t main_tid = tid();
    for (int i = 0; i < ID_THREADS; i++) {
        if (id[i].tid <= 0 || id[i].tid == main_tid) distinct = 0;
        for (int j = 0; j < i; j++)
            if (id[i].tid == id[j].tid) distinct = 0;
        if (id[i].pid != getpid()) same_pid = 0;
        if (!pthread_equal(id[i].self, t[i])) self_ok = 0;
    }
    check("main thread: gettid == getpid", main_tid == getpid());
    check("gettid differs between threads", distinct);
    check("getpid is the same in every thread", same_pid);
    check("pthread_self in the thread equals pthread_create's handle", self_ok);

    check("sched_yield returns 0", sched_yield() == 0);
    pthread_t a, b;
    must(pthread_create(&a, NULL, pingpong, (void *)0), "pingpong");
    must(pthread_create(&b, NULL, pingpong, (void *)1), "pingpong");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    check("sched_yield ping-pong between two threads: 1000 turns each", turn == 0);

    // Names: of itself (prctl) and of another thread (/proc/self/task/TID/comm).
    char name[32] = "";
    check("pthread_setname_np(self)", pthread_setname_np(pthread_self(), "main-thread") == 0);
    check("pthread_getname_np(self)", pthread_getname_np(pthread_self(), name, sizeof name) == 0 &&
                                          strcmp(name, "main-thread") == 0);
    check("pthread_setname_np with 16 characters: ERANGE",
          pthread_setname_np(pthread_self(), "0123456789abcdef") == ERANGE);
    check("pthread_setname_np with 15 characters", pthread_setname_np(pthread_self(), "0123456789abcde") == 0);
    check("pthread_getname_np(self) 15 characters",
          pthread_getname_np(pthread_self(), name, sizeof name) == 0 && strcmp(name, "0123456789abcde") == 0);
    sem_init(&name_set, 0, 0);
    sem_init(&name_checked, 0, 0);
    pthread_t w;
    must(pthread_create(&w, NULL, named_worker, NULL), "named thread");
    check("pthread_setname_np(other thread)", pthread_setname_np(w, "worker-1") == 0);
    name[0] = 0;
    check("pthread_getname_np(other thread)", pthread_getname_np(w, name, sizeof name) == 0 &&
                                                  strcmp(name, "worker-1") == 0);
    sem_post(&name_set);
    while (sem_wait(&name_checked) != 0) {}
    check("the thread sees the name given to it", strcmp(name_seen_by_thread, "worker-1") == 0);
    name[0] = 0;
    check("pthread_getname_np(other thread) after it renamed itself",
          pthread_getname_np(w, name, sizeof name) == 0 && strcmp(name, "self-named") == 0);
    name[0] = 0;
    check("main thread's name unchanged",
          pthread_getname_np(pthread_self(), name, sizeof name) == 0 && strcmp(name, "0123456789abcde") == 0);
    sem_post(&name_set);
    pthread_join(w, NULL);
    sem_destroy(&name_set);
    sem_destroy(&name_checked);
}

// --- Stacks ---------------------------------------------------------------------------------

#define BIG_STACK (16 << 20)
#define BIG_USE (12 << 20)

struct stack_info {
    size_t attr_size;
    char *local;
    long sum;
};

static void *big_stack_worker(void *arg) {
    struct stack_info *si = arg;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstacksize(&attr, &si->attr_size);
        pthread_attr_destroy(&attr);
    }
    // 12 MiB of locals: more than fits in the default 8 MiB stack.
    volatile char big[BIG_USE];
    for (size_t i = 0; i < sizeof big; i += 4096) big[i] = (char)((i >> 12) & 63);
    long sum = 0;
    for (size_t i = 0; i < sizeof big; i += 4096) sum += big[i];
    si->sum = sum;
    return NULL;
}

static void *user_stack_worker(void *arg) {
    struct stack_info *si = arg;
    char local = 1;
    si->local = &local;
    volatile char buf[64 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 512) buf[i] = 1;
    long sum = 0;
    for (size_t i = 0; i < sizeof buf; i += 512) sum += buf[i];
    si->sum = sum;
    return NULL;
}

static void test_stacks(void) {
    pthread_attr_t attr;
    pthread_t t;
    struct stack_info si = {0, NULL, 0};
    pthread_attr_init(&attr);
    must(pthread_attr_setstacksize(&attr, BIG_STACK), "pthread_attr_setstacksize");
    must(pthread_create(&t, &attr, big_stack_worker, &si), "big stack thread");
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    long want = 0;
    for (size_t i = 0; i < BIG_USE; i += 4096) want += (char)((i >> 12) & 63);
    check("pthread_attr_setstacksize(16 MiB): the thread has it", si.attr_size >= BIG_STACK);
    check_value("12 MiB of locals on the 16 MiB stack, checksum", si.sum, want);

    size_t size = 256 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    pthread_attr_init(&attr);
    must(pthread_attr_setstack(&attr, stack, size), "pthread_attr_setstack");
    si.local = NULL;
    si.sum = 0;
    must(pthread_create(&t, &attr, user_stack_worker, &si), "user stack thread");
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    check("pthread_attr_setstack: the thread runs on the given stack",
          si.local >= stack && si.local < stack + size && si.sum == 128);
    munmap(stack, size);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_counters();
    test_producer_consumer();
    test_barrier();
    test_rwlock();
    test_tls();
    test_cancel();
    test_detach_and_return();
    test_identity();
    test_stacks();
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all thread checks passed\n");
    return 0;
}
