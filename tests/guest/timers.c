// timers: sleeping, clocks, POSIX timers, interval timers, alarm, and the scheduler calls.
//   - nanosleep and clock_nanosleep (relative and TIMER_ABSTIME, on CLOCK_REALTIME,
//     CLOCK_MONOTONIC and CLOCK_BOOTTIME) sleep at least as asked; past deadlines return at
//     once; bad timespecs and clocks are EINVAL
//   - clock_gettime/clock_getres on every clock (REALTIME, MONOTONIC, PROCESS_CPUTIME_ID,
//     THREAD_CPUTIME_ID, MONOTONIC_RAW, REALTIME_COARSE, MONOTONIC_COARSE, BOOTTIME):
//     readable, never decreasing; coarse clocks lag their fine ones; BOOTTIME >= MONOTONIC;
//     CPU clocks grow with a busy loop and not with a sleep; another thread's CPU clock
//   - timer_create: SIGEV_SIGNAL periodic (si_code SI_TIMER, si_value, timer_gettime,
//     overruns counted while the signal is blocked), SIGEV_NONE (timer_gettime counts down),
//     TIMER_ABSTIME, SIGEV_THREAD_ID (the signal goes to the named thread), SIGEV_THREAD,
//     timer_delete, errors
//   - setitimer/getitimer: ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF firing; alarm()'s
//     return value (remaining seconds, rounded up)
//   - sched_getaffinity/sched_setaffinity (set to the current mask, read back, pinned to one
//     CPU), sched_getcpu/getcpu in the mask, sched_get_priority_max/min, sched_getscheduler,
//     sched_getparam
//   - nanosleep/clock_nanosleep interrupted by a signal: EINTR with the remaining time (not
//     for TIMER_ABSTIME), also with SA_RESTART
// Prints only names, fixed values and ok lines (no times, CPU numbers or CPU counts). A
// failed check prints FAIL, a line on stderr, and the exit status is 1.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid  // glibc before 2.41 has no name for it
#endif

#define MS 1000000LL
#define SEC 1000000000LL

static int64_t ns_of(struct timespec ts) { return (int64_t)ts.tv_sec * SEC + ts.tv_nsec; }

static struct timespec ts_of(int64_t ns) {
    struct timespec ts = {(time_t)(ns / SEC), (long)(ns % SEC)};
    return ts;
}

static int64_t now(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return -1;
    return ns_of(ts);
}

// Spins until this thread has used `cpu_ns` of CPU time (0 if that takes 10 s of real time).
static int burn_cpu(int64_t cpu_ns) {
    int64_t start = now(CLOCK_THREAD_CPUTIME_ID), wall_end = now(CLOCK_MONOTONIC) + 10 * SEC;
    volatile uint64_t x = 1;
    while (now(CLOCK_THREAD_CPUTIME_ID) - start < cpu_ns) {
        for (int i = 0; i < 10000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        if (now(CLOCK_MONOTONIC) > wall_end) return 0;
    }
    return 1;
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) fatal("sigaction");
}

static void mask(int how, int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(how, &s, NULL);
}

// Takes a signal left pending (e.g. a timer tick after the last one counted).
static void drain(int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&s, NULL, &zero) == sig) {}
}

static const struct {
    clockid_t id;
    const char *name;
} clocks[] = {
    {CLOCK_REALTIME, "CLOCK_REALTIME"},
    {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
    {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
    {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
    {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
    {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
    {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
    {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
};

// --- Sleeping --------------------------------------------------------------------------------

static void test_sleeps(void) {
    char what[128];
    struct timespec req = ts_of(20 * MS);
    int64_t t0 = now(CLOCK_MONOTONIC);
    int rc = nanosleep(&req, NULL);
    check("nanosleep 20 ms: 0, at least 20 ms", rc == 0 && now(CLOCK_MONOTONIC) - t0 >= 20 * MS);

    static const clockid_t sleep_clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
    static const char *sleep_names[] = {"CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_BOOTTIME"};
    for (int i = 0; i < 3; i++) {
        clockid_t c = sleep_clocks[i];
        req = ts_of(10 * MS);
        t0 = now(CLOCK_MONOTONIC);
        rc = clock_nanosleep(c, 0, &req, NULL);
        snprintf(what, sizeof what, "clock_nanosleep %s relative 10 ms: 0, at least 10 ms", sleep_names[i]);
        check(what, rc == 0 && now(CLOCK_MONOTONIC) - t0 >= 10 * MS);

        int64_t deadline = now(c) + 10 * MS;
        req = ts_of(deadline);
        rc = clock_nanosleep(c, TIMER_ABSTIME, &req, NULL);
        snprintf(what, sizeof what, "clock_nanosleep %s TIMER_ABSTIME: 0, not before the deadline", sleep_names[i]);
        check(what, rc == 0 && now(c) >= deadline);

        req = ts_of(now(c) - SEC);
        t0 = now(CLOCK_MONOTONIC);
        rc = clock_nanosleep(c, TIMER_ABSTIME, &req, NULL);
        snprintf(what, sizeof what, "clock_nanosleep %s TIMER_ABSTIME in the past: 0 at once", sleep_names[i]);
        check(what, rc == 0 && now(CLOCK_MONOTONIC) - t0 < SEC);
    }

    struct timespec bad = {0, 1000000000};
    errno = 0;
    check("nanosleep with tv_nsec 1000000000: EINVAL", nanosleep(&bad, NULL) == -1 && errno == EINVAL);
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    errno = 0;
    check("nanosleep with a negative time: EINVAL", nanosleep(&bad, NULL) == -1 && errno == EINVAL);
    req = ts_of(MS);
    check("clock_nanosleep on clock 100: EINVAL", clock_nanosleep(100, 0, &req, NULL) == EINVAL);
    req.tv_sec = 0;
    req.tv_nsec = 0;
    check("nanosleep 0: 0", nanosleep(&req, NULL) == 0);
}

// --- Clocks ----------------------------------------------------------------------------------

struct cpu_seen {
    int64_t own_start, main_clock;
    clockid_t main_cpu_clock;
};

static void *cpu_thread(void *arg) {
    struct cpu_seen *s = arg;
    s->own_start = now(CLOCK_THREAD_CPUTIME_ID);
    s->main_clock = now(s->main_cpu_clock);
    return NULL;
}

static void test_clocks(void) {
    char what[160];
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec ts, res;
        int ok = clock_gettime(clocks[i].id, &ts) == 0 && ts.tv_nsec >= 0 && ts.tv_nsec < SEC;
        int64_t prev = ns_of(ts);
        for (int j = 0; j < 1000 && ok; j++) {
            int64_t t = now(clocks[i].id);
            if (t < prev) ok = 0;
            prev = t;
        }
        ok = ok && clock_getres(clocks[i].id, &res) == 0 && ns_of(res) > 0 && ns_of(res) <= 100 * MS;
        snprintf(what, sizeof what, "%s: readable, never decreasing, resolution in (0, 100 ms]", clocks[i].name);
        check(what, ok);
    }
    struct timespec ts;
    errno = 0;
    check("clock_gettime on clock 100: EINVAL", clock_gettime(100, &ts) == -1 && errno == EINVAL);

    int64_t coarse = now(CLOCK_MONOTONIC_COARSE), fine = now(CLOCK_MONOTONIC);
    check("CLOCK_MONOTONIC_COARSE lags CLOCK_MONOTONIC by less than 1 s", coarse <= fine && fine - coarse < SEC);
    coarse = now(CLOCK_REALTIME_COARSE);
    fine = now(CLOCK_REALTIME);
    check("CLOCK_REALTIME_COARSE lags CLOCK_REALTIME by less than 1 s", coarse <= fine && fine - coarse < SEC);
    int64_t mono = now(CLOCK_MONOTONIC), boot = now(CLOCK_BOOTTIME);
    check("CLOCK_BOOTTIME >= CLOCK_MONOTONIC", boot >= mono);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t real = now(CLOCK_REALTIME);
    time_t t = time(NULL);
    check("CLOCK_REALTIME agrees with gettimeofday and time (within 1 s)",
          llabs(real - ((int64_t)tv.tv_sec * SEC + tv.tv_usec * 1000)) < SEC && llabs(real / SEC - t) <= 1);
    int64_t raw0 = now(CLOCK_MONOTONIC_RAW);
    sleep_ms(20);
    check("CLOCK_MONOTONIC_RAW advances over a 20 ms sleep", now(CLOCK_MONOTONIC_RAW) - raw0 >= 15 * MS);

    // CPU time: grows with a busy loop, hardly with a sleep.
    // (The process interval encloses the thread interval: read in the order p0 t0 ... t1 p1.)
    int64_t proc0 = now(CLOCK_PROCESS_CPUTIME_ID), thread0 = now(CLOCK_THREAD_CPUTIME_ID);
    int burned = burn_cpu(30 * MS);
    int64_t thread1 = now(CLOCK_THREAD_CPUTIME_ID), proc1 = now(CLOCK_PROCESS_CPUTIME_ID);
    check("CLOCK_THREAD_CPUTIME_ID grows by 30 ms in a busy loop", burned && thread1 - thread0 >= 30 * MS);
    check("CLOCK_PROCESS_CPUTIME_ID grows at least as much", proc1 - proc0 >= thread1 - thread0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t ru_ns = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * SEC +
                    ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    check("getrusage: user + system time at least 20 ms", ru_ns >= 20 * MS);
    thread0 = now(CLOCK_THREAD_CPUTIME_ID);
    sleep_ms(50);
    check("a 50 ms sleep uses less than 25 ms of CPU time", now(CLOCK_THREAD_CPUTIME_ID) - thread0 < 25 * MS);
    clockid_t pc;
    check("clock_getcpuclockid(getpid()) reads the process CPU time",
          clock_getcpuclockid(getpid(), &pc) == 0 && now(pc) >= proc1);

    struct cpu_seen s = {0, 0, 0};
    pthread_t th;
    check("pthread_getcpuclockid(self)", pthread_getcpuclockid(pthread_self(), &s.main_cpu_clock) == 0);
    int64_t main_cpu = now(CLOCK_THREAD_CPUTIME_ID);
    if (pthread_create(&th, NULL, cpu_thread, &s) != 0) fatal("pthread_create");
    pthread_join(th, NULL);
    check("a new thread's CPU clock starts below the busy main thread's", s.own_start < main_cpu);
    check("another thread reads the main thread's CPU clock", s.main_clock >= main_cpu);
}

// --- POSIX timers ----------------------------------------------------------------------------

static struct {
    volatile int count, code, value, overrun;
    volatile pthread_t thread;
} tick;

static void on_tick(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    tick.code = si->si_code;
    tick.value = si->si_value.sival_int;
    tick.overrun = si->si_overrun;
    tick.thread = pthread_self();
    __atomic_fetch_add(&tick.count, 1, __ATOMIC_SEQ_CST);
}

static void reset_tick(void) {
    tick.count = tick.code = tick.value = tick.overrun = 0;
    __asm__ volatile("" ::: "memory");
}

struct target {
    pid_t tid;
    int ready;
    sem_t release;
};

static void *target_thread(void *arg) {
    struct target *t = arg;
    t->tid = (pid_t)syscall(SYS_gettid);
    __atomic_store_n(&t->ready, 1, __ATOMIC_SEQ_CST);
    while (sem_wait(&t->release) != 0) {}
    return NULL;
}

static sem_t notified;
static volatile int notify_value, notify_other_thread;
static pthread_t main_thread;

static void notify(union sigval v) {
    notify_value = v.sival_int;
    notify_other_thread = !pthread_equal(pthread_self(), main_thread);
    sem_post(&notified);
}

static void test_posix_timers(void) {
    handle(SIGUSR1, on_tick, 0);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 123;
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) fatal("timer_create");

    // Periodic, 10 ms: five ticks, each waited for with sigsuspend.
    reset_tick();
    mask(SIG_BLOCK, SIGUSR1);
    sigset_t unblocked;
    pthread_sigmask(SIG_SETMASK, NULL, &unblocked);
    sigdelset(&unblocked, SIGUSR1);
    struct itimerspec spec = {ts_of(10 * MS), ts_of(10 * MS)}, cur;
    check("timer_settime periodic 10 ms", timer_settime(timer, 0, &spec, NULL) == 0);
    int64_t deadline = now(CLOCK_MONOTONIC) + 10 * SEC;
    while (tick.count < 5 && now(CLOCK_MONOTONIC) < deadline) sigsuspend(&unblocked);
    printf("SIGEV_SIGNAL timer: ticks %d, si_code %s, si_value %d\n", tick.count,
           tick.code == SI_TIMER ? "SI_TIMER" : "other", tick.value);
    if (tick.count != 5 || tick.code != SI_TIMER || tick.value != 123) {
        fprintf(stderr, "FAIL: SIGEV_SIGNAL periodic timer\n");
        failures++;
    }
    check("timer_gettime: interval 10 ms, value in (0, 10 ms]",
          timer_gettime(timer, &cur) == 0 && ns_of(cur.it_interval) == 10 * MS && ns_of(cur.it_value) > 0 &&
              ns_of(cur.it_value) <= 10 * MS);

    // Blocked for 60 ms: one signal, the missed expirations counted as overruns.
    drain(SIGUSR1);
    reset_tick();
    sleep_ms(60);
    sigsuspend(&unblocked);
    int overrun = timer_getoverrun(timer);
    check("overruns while blocked: si_overrun >= 2, timer_getoverrun agrees",
          tick.count == 1 && tick.overrun >= 2 && overrun == tick.overrun);
    check("timer_delete", timer_delete(timer) == 0);
    drain(SIGUSR1);
    mask(SIG_UNBLOCK, SIGUSR1);
    reset_tick();
    sleep_ms(30);
    check("no ticks after timer_delete", tick.count == 0);
    errno = 0;
    check("timer_gettime of a deleted timer: EINVAL", timer_gettime(timer, &cur) == -1 && errno == EINVAL);

    // SIGEV_NONE: no signal, timer_gettime counts down.
    ev.sigev_notify = SIGEV_NONE;
    check("timer_create SIGEV_NONE", timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0);
    struct itimerspec one_s = {{0, 0}, {1, 0}}, zero = {{0, 0}, {0, 0}}, later;
    timer_settime(timer, 0, &one_s, NULL);
    timer_gettime(timer, &cur);
    sleep_ms(20);
    timer_gettime(timer, &later);
    check("SIGEV_NONE timer counts down from 1 s",
          ns_of(cur.it_value) <= SEC && ns_of(cur.it_value) > 0 &&
              ns_of(later.it_value) <= ns_of(cur.it_value) - 15 * MS);
    // (What timer_gettime reports for a disarmed SIGEV_NONE timer varies between Linux versions.)
    struct itimerspec old;
    timer_settime(timer, 0, &zero, &old);
    check("disarming returns the old value",
          ns_of(old.it_value) > 0 && ns_of(old.it_value) <= ns_of(later.it_value));
    timer_delete(timer);

    // TIMER_ABSTIME on CLOCK_MONOTONIC, taken with sigwaitinfo.
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR2;
    ev.sigev_value.sival_int = 456;
    mask(SIG_BLOCK, SIGUSR2);
    timer_create(CLOCK_MONOTONIC, &ev, &timer);
    int64_t at = now(CLOCK_MONOTONIC) + 20 * MS;
    struct itimerspec abs_spec = {{0, 0}, ts_of(at)};
    timer_settime(timer, TIMER_ABSTIME, &abs_spec, NULL);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int sig = sigwaitinfo(&usr2, &si);
    check("TIMER_ABSTIME timer: SIGUSR2, SI_TIMER, si_value 456, not before the deadline",
          sig == SIGUSR2 && si.si_code == SI_TIMER && si.si_value.sival_int == 456 && now(CLOCK_MONOTONIC) >= at);
    timer_delete(timer);
    mask(SIG_UNBLOCK, SIGUSR2);

    // SIGEV_THREAD_ID: the signal goes to the named thread (every thread has it unblocked).
    struct target tt;
    tt.ready = 0;
    sem_init(&tt.release, 0, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, target_thread, &tt) != 0) fatal("pthread_create");
    while (!__atomic_load_n(&tt.ready, __ATOMIC_SEQ_CST)) sleep_ms(1);
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 789;
    ev.sigev_notify_thread_id = tt.tid;
    reset_tick();
    check("timer_create SIGEV_THREAD_ID", timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0);
    struct itimerspec once = {{0, 0}, ts_of(10 * MS)};
    timer_settime(timer, 0, &once, NULL);
    deadline = now(CLOCK_MONOTONIC) + 10 * SEC;
    while (tick.count == 0 && now(CLOCK_MONOTONIC) < deadline) sleep_ms(1);
    check("SIGEV_THREAD_ID timer: the handler ran on the named thread, SI_TIMER, si_value 789",
          tick.count == 1 && pthread_equal(tick.thread, th) && tick.code == SI_TIMER && tick.value == 789);
    timer_delete(timer);
    sem_post(&tt.release);
    pthread_join(th, NULL);
    sem_destroy(&tt.release);
    ev.sigev_notify_thread_id = 0x7ffffff0;  // above any pid_max: no such thread
    errno = 0;
    check("timer_create SIGEV_THREAD_ID of no such thread: EINVAL",
          timer_create(CLOCK_MONOTONIC, &ev, &timer) == -1 && errno == EINVAL);

    // SIGEV_THREAD: the C library runs the function on a thread of its own.
    main_thread = pthread_self();
    sem_init(&notified, 0, 0);
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = notify;
    ev.sigev_value.sival_int = 31;
    check("timer_create SIGEV_THREAD", timer_create(CLOCK_REALTIME, &ev, &timer) == 0);
    timer_settime(timer, 0, &once, NULL);
    struct timespec wait_until;
    clock_gettime(CLOCK_REALTIME, &wait_until);
    wait_until.tv_sec += 10;
    int rc;
    while ((rc = sem_timedwait(&notified, &wait_until)) != 0 && errno == EINTR) {}
    check("SIGEV_THREAD timer: the function ran on another thread with si_value 31",
          rc == 0 && notify_value == 31 && notify_other_thread);
    timer_delete(timer);
    sem_destroy(&notified);

    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    errno = 0;
    check("timer_create on clock 100: EINVAL", timer_create(100, &ev, &timer) == -1 && errno == EINVAL);
    signal(SIGUSR1, SIG_DFL);
}

// --- Interval timers and alarm ----------------------------------------------------------------

static volatile int vtalrm_count, prof_count;

static void on_vtalrm(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    vtalrm_count++;
}

static void on_prof(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    prof_count++;
}

static int64_t tv_ns(struct timeval tv) { return (int64_t)tv.tv_sec * SEC + tv.tv_usec * 1000; }

// Busy until *counter is non-zero (0 if 10 s pass first).
static int burn_until(volatile int *counter) {
    int64_t end = now(CLOCK_MONOTONIC) + 10 * SEC;
    volatile uint64_t x = 1;
    while (*counter == 0) {
        for (int i = 0; i < 10000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        if (now(CLOCK_MONOTONIC) > end) return 0;
    }
    return 1;
}

static void test_itimers(void) {
    struct itimerval one_s = {{0, 0}, {1, 0}}, old, cur, off = {{0, 0}, {0, 0}};
    check("setitimer ITIMER_REAL 1 s: old value 0",
          setitimer(ITIMER_REAL, &one_s, &old) == 0 && tv_ns(old.it_value) == 0);
    getitimer(ITIMER_REAL, &cur);
    check("getitimer ITIMER_REAL: value in (0, 1 s]", tv_ns(cur.it_value) > 0 && tv_ns(cur.it_value) <= SEC &&
                                                              tv_ns(cur.it_interval) == 0);
    setitimer(ITIMER_REAL, &off, &old);
    getitimer(ITIMER_REAL, &cur);
    check("disarming returns the remaining time; then 0",
          tv_ns(old.it_value) > 0 && tv_ns(old.it_value) <= SEC && tv_ns(cur.it_value) == 0);

    handle(SIGVTALRM, on_vtalrm, 0);
    struct itimerval twenty = {{0, 0}, {0, 20000}};
    vtalrm_count = 0;
    setitimer(ITIMER_VIRTUAL, &twenty, NULL);
    check("ITIMER_VIRTUAL 20 ms: SIGVTALRM after 20 ms of user time", burn_until(&vtalrm_count) && vtalrm_count == 1);
    setitimer(ITIMER_VIRTUAL, &off, NULL);
    handle(SIGPROF, on_prof, 0);
    prof_count = 0;
    setitimer(ITIMER_PROF, &twenty, NULL);
    check("ITIMER_PROF 20 ms: SIGPROF after 20 ms of CPU time", burn_until(&prof_count) && prof_count == 1);
    setitimer(ITIMER_PROF, &off, NULL);
    signal(SIGVTALRM, SIG_DFL);
    signal(SIGPROF, SIG_DFL);

    check_value("alarm(10) returns", alarm(10), 0);
    check_value("alarm(5) returns the remaining seconds", alarm(5), 10);
    getitimer(ITIMER_REAL, &cur);
    check("getitimer after alarm(5): value in (4 s, 5 s]", tv_ns(cur.it_value) > 4 * SEC && tv_ns(cur.it_value) <= 5 * SEC);
    check_value("alarm(0) returns", alarm(0), 5);
    check_value("alarm(0) again returns", alarm(0), 0);
    struct itimerval short_one = {{0, 0}, {0, 300000}};
    setitimer(ITIMER_REAL, &short_one, NULL);
    check_value("alarm(0) with 300 ms left returns (rounded up)", alarm(0), 1);
}

// --- Scheduler -------------------------------------------------------------------------------

static void test_sched(void) {
    cpu_set_t set, again, one;
    CPU_ZERO(&set);
    check("sched_getaffinity: at least one CPU",
          sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1);
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    check("raw sched_getaffinity returns a size in whole words", bytes > 0 && bytes % 8 == 0);
    check("sched_setaffinity to the current mask", sched_setaffinity(0, sizeof set, &set) == 0);
    CPU_ZERO(&again);
    sched_getaffinity(0, sizeof again, &again);
    check("sched_getaffinity reads the same mask back", CPU_EQUAL(&set, &again));
    int cpu = sched_getcpu();
    check("sched_getcpu is in the mask", cpu >= 0 && CPU_ISSET(cpu, &set));
    unsigned gcpu = ~0u, node = ~0u;
    check("getcpu is in the mask", syscall(SYS_getcpu, &gcpu, &node, NULL) == 0 && gcpu < CPU_SETSIZE &&
                                       CPU_ISSET(gcpu, &set));

    // Pinned to the highest CPU in the mask: the thread runs there.
    int last = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) last = i;
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    int pinned = sched_setaffinity(0, sizeof one, &one) == 0;
    for (int i = 0; i < 10 && pinned; i++) {
        sched_yield();
        if (sched_getcpu() != last) pinned = 0;
    }
    check("pinned to one CPU: sched_getcpu reports it", pinned);
    check("affinity restored", sched_setaffinity(0, sizeof set, &set) == 0);
    CPU_ZERO(&one);
    errno = 0;
    check("sched_setaffinity with an empty mask: EINVAL", sched_setaffinity(0, sizeof one, &one) == -1 && errno == EINVAL);

    static const struct {
        int policy;
        const char *name;
    } policies[] = {{SCHED_OTHER, "SCHED_OTHER"}, {SCHED_FIFO, "SCHED_FIFO"}, {SCHED_RR, "SCHED_RR"},
                    {SCHED_BATCH, "SCHED_BATCH"}, {SCHED_IDLE, "SCHED_IDLE"}};
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
        printf("sched_get_priority_min/max %s: %d %d\n", policies[i].name,
               sched_get_priority_min(policies[i].policy), sched_get_priority_max(policies[i].policy));
    check("sched_get_priority_max/min of SCHED_FIFO: 99 and 1",
          sched_get_priority_max(SCHED_FIFO) == 99 && sched_get_priority_min(SCHED_FIFO) == 1);
    // Raw calls: musl's wrappers for these two are ENOSYS stubs.
    check_value("sched_getscheduler(0)", syscall(SYS_sched_getscheduler, 0), SCHED_OTHER);
    struct sched_param param = {.sched_priority = -1};
    long rc = syscall(SYS_sched_getparam, 0, &param);
    check_value("sched_getparam(0) priority", rc == 0 ? param.sched_priority : -1, 0);
}

// --- Sleeps interrupted by a signal ----------------------------------------------------------

static volatile int alarms;

static void on_alarm(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    alarms++;
}

static void arm_50ms(void) {
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void test_interrupted_sleeps(void) {
    handle(SIGALRM, on_alarm, 0);
    struct timespec two_s = {2, 0}, rem = {0, 0};
    alarms = 0;
    arm_50ms();
    errno = 0;
    int rc = nanosleep(&two_s, &rem);
    check("nanosleep 2 s interrupted after 50 ms: -1 EINTR, handler ran", rc == -1 && errno == EINTR && alarms == 1);
    check("nanosleep: remaining time in (1 s, 2 s)", ns_of(rem) > SEC && ns_of(rem) < 2 * SEC);

    arm_50ms();
    rem.tv_sec = rem.tv_nsec = 0;
    rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &two_s, &rem);
    check("clock_nanosleep relative interrupted: EINTR, remaining time in (1 s, 2 s)",
          rc == EINTR && ns_of(rem) > SEC && ns_of(rem) < 2 * SEC);

    arm_50ms();
    struct timespec deadline = ts_of(now(CLOCK_MONOTONIC) + 2 * SEC);
    rem.tv_sec = 12345;
    rem.tv_nsec = 6789;
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, &rem);
    check("clock_nanosleep TIMER_ABSTIME interrupted: EINTR, remaining time untouched",
          rc == EINTR && rem.tv_sec == 12345 && rem.tv_nsec == 6789);

    handle(SIGALRM, on_alarm, SA_RESTART);
    alarms = 0;
    arm_50ms();
    errno = 0;
    rc = nanosleep(&two_s, &rem);
    check("nanosleep interrupted by an SA_RESTART handler: still -1 EINTR", rc == -1 && errno == EINTR && alarms == 1);
    signal(SIGALRM, SIG_DFL);
}

// --- CLOCK_MONOTONIC across CPUs ----------------------------------------------------------

// Two threads, each pinned to its own CPU when there are two, read the clock
// in turn under a lock: every read must be at or after the one before it,
// whichever CPU made it (the VM kernel reads each vCPU's TSC).
static pthread_spinlock_t mono_lock;
static int64_t mono_last;
static long mono_backward;

static void *mono_reader(void *arg) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(intptr_t)arg, &set);
    sched_setaffinity(0, sizeof set, &set);  // fails harmlessly with one CPU
    for (int i = 0; i < 20000; i++) {
        pthread_spin_lock(&mono_lock);
        int64_t t = now(CLOCK_MONOTONIC);
        if (t < mono_last) mono_backward++;
        mono_last = t;
        pthread_spin_unlock(&mono_lock);
    }
    return NULL;
}

static void test_monotonic_across_cpus(void) {
    pthread_spin_init(&mono_lock, PTHREAD_PROCESS_PRIVATE);
    pthread_t a, b;
    if (pthread_create(&a, NULL, mono_reader, (void *)0) != 0 ||
        pthread_create(&b, NULL, mono_reader, (void *)1) != 0)
        fatal("pthread_create");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    check("CLOCK_MONOTONIC never goes back between threads on different CPUs", mono_backward == 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_sleeps();
    test_clocks();
    test_posix_timers();
    test_itimers();
    test_sched();
    test_interrupted_sleeps();
    test_monotonic_across_cpus();
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all timer checks passed\n");
    return 0;
}
