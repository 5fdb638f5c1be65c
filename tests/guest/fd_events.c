/* timerfd and signalfd: timers and pending signals read as files.
 *
 * timerfd: one-shot and periodic expiration counts, TFD_TIMER_ABSTIME on
 * CLOCK_MONOTONIC and CLOCK_REALTIME, timerfd_gettime's remaining time and
 * settime's old value, disarming, EAGAIN with TFD_NONBLOCK, epoll and poll
 * readiness (also in a forked child), EINVAL for a short read and for bad
 * arguments.
 * signalfd: SIGUSR1 from raise (SI_TKILL) and kill (SI_USER) with the
 * sender's pid, sigqueue's value, SIGALRM from alarm waking a poll and from
 * setitimer ending a blocking read (SI_KERNEL), EAGAIN with SFD_NONBLOCK,
 * poll and epoll readiness, a new mask on an existing fd, two signals in
 * one read, signals consumed from the pending set, EINVAL for a short read.
 * eventfd: the counter read whole or one at a time (EFD_SEMAPHORE), EAGAIN
 * when empty or full with EFD_NONBLOCK, poll readiness both ways, ESPIPE,
 * lseek a no-op, EINVAL for a short read or a write of 2^64-1.
 * Prints only counts and flags (never raw times), so native and mote runs
 * compare line by line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"

static const long kMs = 1000000L;

static struct itimerspec spec_ms(long value_ms, long interval_ms) {
    struct itimerspec s;
    s.it_value.tv_sec = value_ms / 1000;
    s.it_value.tv_nsec = (value_ms % 1000) * kMs;
    s.it_interval.tv_sec = interval_ms / 1000;
    s.it_interval.tv_nsec = (interval_ms % 1000) * kMs;
    return s;
}

static long long ns_of(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

/* Reads a timerfd's count; -errno on failure. */
static long long read_count(int fd) {
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n);
    if (r < 0) return -errno;
    return r == 8 ? (long long)n : -1000;
}

static void timerfd_tests(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    check("timerfd_create monotonic", fd >= 0);
    check("timerfd cloexec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);

    struct itimerspec s = spec_ms(200, 0), cur;
    check("one-shot settime", timerfd_settime(fd, 0, &s, NULL) == 0);
    check("one-shot gettime", timerfd_gettime(fd, &cur) == 0);
    long long left = ns_of(cur.it_value);
    check("one-shot remaining within bounds", left > 0 && left <= 200 * kMs);
    check_value("one-shot interval", ns_of(cur.it_interval), 0);
    check_value("one-shot blocking read count", read_count(fd), 1);
    timerfd_gettime(fd, &cur);
    check_value("one-shot expired remaining", ns_of(cur.it_value), 0);

    /* Periodic: 20 ms from 20 ms, read after 110 ms: at least 4. */
    s = spec_ms(20, 20);
    timerfd_settime(fd, 0, &s, NULL);
    sleep_ms(110);
    long long n = read_count(fd);
    check("periodic count >= 4 after 110 ms", n >= 4);
    check("periodic next read count >= 1", read_count(fd) >= 1);
    timerfd_gettime(fd, &cur);
    check_value("periodic interval", ns_of(cur.it_interval), 20 * kMs);
    check("periodic remaining within bounds",
          ns_of(cur.it_value) > 0 && ns_of(cur.it_value) <= 20 * kMs);

    /* Old value from settime, then disarm. */
    struct itimerspec old;
    s = spec_ms(0, 0);
    check("disarm settime", timerfd_settime(fd, 0, &s, &old) == 0);
    check_value("old value interval", ns_of(old.it_interval), 20 * kMs);
    timerfd_gettime(fd, &cur);
    check_value("disarmed remaining", ns_of(cur.it_value), 0);
    check_value("disarmed interval", ns_of(cur.it_interval), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    check_value("disarmed nonblocking read", read_count(fd), -EAGAIN);
    close(fd);

    /* TFD_NONBLOCK before the expiry, then a poll for it. */
    fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
    check("timerfd_create boottime", fd >= 0);
    s = spec_ms(30, 0);
    timerfd_settime(fd, 0, &s, NULL);
    check_value("nonblocking read before expiry", read_count(fd), -EAGAIN);
    struct pollfd p = {fd, POLLIN, 0};
    check_value("poll before expiry", poll(&p, 1, 0), 0);
    check_value("poll until expiry", poll(&p, 1, 2000), 1);
    check("poll revents POLLIN", p.revents == POLLIN);
    uint32_t small;
    check_value("short read errno", read(fd, &small, sizeof small) < 0 ? errno : 0, EINVAL);
    check_value("read after poll", read_count(fd), 1);
    uint64_t one = 1;
    check_value("write errno", write(fd, &one, sizeof one) < 0 ? errno : 0, EINVAL);
    close(fd);

    /* ABSTIME on CLOCK_MONOTONIC and CLOCK_REALTIME; a past time expires at once. */
    fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    s = spec_ms(0, 0);
    s.it_value = now;
    s.it_value.tv_nsec += 30 * kMs;
    if (s.it_value.tv_nsec >= 1000000000L) {
        s.it_value.tv_sec++;
        s.it_value.tv_nsec -= 1000000000L;
    }
    check("abstime monotonic settime", timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL) == 0);
    check_value("abstime monotonic read", read_count(fd), 1);
    struct timespec after;
    clock_gettime(CLOCK_MONOTONIC, &after);
    check("abstime monotonic not early", ns_of(after) >= ns_of(s.it_value));
    s.it_value = now;  /* already past */
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL);
    check_value("abstime past read", read_count(fd), 1);
    close(fd);

    fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    check("timerfd_create realtime", fd >= 0);
    clock_gettime(CLOCK_REALTIME, &now);
    s = spec_ms(0, 0);
    s.it_value.tv_sec = now.tv_sec + 1;
    s.it_value.tv_nsec = now.tv_nsec;
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL);
    timerfd_gettime(fd, &cur);
    check("abstime realtime remaining within bounds",
          ns_of(cur.it_value) > 0 && ns_of(cur.it_value) <= 1000 * kMs);

    /* epoll on a timerfd. */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77};
    check("epoll_ctl add timerfd", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    struct epoll_event got[2];
    check_value("epoll_wait before expiry", epoll_wait(ep, got, 2, 0), 0);
    s = spec_ms(30, 0);
    timerfd_settime(fd, 0, &s, NULL);
    check_value("epoll_wait until expiry", epoll_wait(ep, got, 2, 2000), 1);
    check("epoll event data and EPOLLIN", got[0].data.u64 == 77 && got[0].events == EPOLLIN);
    check_value("read after epoll", read_count(fd), 1);
    check_value("epoll_wait after read", epoll_wait(ep, got, 2, 0), 0);
    close(ep);
    close(fd);

    /* A forked child's own timerfd wakes its poll. */
    pid_t child = fork();
    if (child == 0) {
        int cfd = timerfd_create(CLOCK_MONOTONIC, 0);
        struct itimerspec cs = spec_ms(20, 0);
        timerfd_settime(cfd, 0, &cs, NULL);
        struct pollfd cp = {cfd, POLLIN, 0};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int ready = poll(&cp, 1, 3000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* Woken by the expiry, well before poll's own timeout. */
        _exit(ready == 1 && ns_of(t1) - ns_of(t0) < 1500 * kMs && read_count(cfd) == 1 ? 0 : 1);
    }
    int status = -1;
    waitpid(child, &status, 0);
    check("forked child's timerfd poll", WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Bad arguments. */
    check_value("create bad clock errno", timerfd_create(12345, 0) < 0 ? errno : 0, EINVAL);
    check_value("create bad flags errno", timerfd_create(CLOCK_MONOTONIC, 1) < 0 ? errno : 0,
                EINVAL);
    int pfd[2];
    pipe(pfd);
    s = spec_ms(10, 0);
    check_value("settime on a pipe errno", timerfd_settime(pfd[0], 0, &s, NULL) < 0 ? errno : 0,
                EINVAL);
    check_value("gettime bad fd errno", timerfd_gettime(999, &cur) < 0 ? errno : 0, EBADF);
    fd = timerfd_create(CLOCK_MONOTONIC, 0);
    s.it_value.tv_nsec = 1000000000L;
    check_value("settime bad nsec errno", timerfd_settime(fd, 0, &s, NULL) < 0 ? errno : 0,
                EINVAL);
    close(fd);
    close(pfd[0]);
    close(pfd[1]);
}

/* Reads one signalfd_siginfo; its ssi_signo, or -errno. */
static int read_sig(int fd, struct signalfd_siginfo *si) {
    ssize_t r = read(fd, si, sizeof *si);
    if (r < 0) return -errno;
    return r == sizeof *si ? (int)si->ssi_signo : -1000;
}

static int is_pending(int sig) {
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, sig);
}

static void signalfd_tests(void) {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);

    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    int fd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
    check("signalfd created", fd >= 0);
    check("signalfd cloexec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    struct signalfd_siginfo si;
    check_value("nothing pending read", read_sig(fd, &si), -EAGAIN);
    struct pollfd p = {fd, POLLIN, 0};
    check_value("poll nothing pending", poll(&p, 1, 0), 0);

    raise(SIGUSR1);
    check_value("poll after raise", poll(&p, 1, 0), 1);
    check("poll revents POLLIN", p.revents == POLLIN);
    check_value("raise signo", read_sig(fd, &si), SIGUSR1);
    check_value("raise code SI_TKILL", si.ssi_code, SI_TKILL);
    check("raise pid", si.ssi_pid == (uint32_t)getpid());
    check("consumed: no longer pending", !is_pending(SIGUSR1));
    check_value("read after consuming", read_sig(fd, &si), -EAGAIN);

    kill(getpid(), SIGUSR1);
    check_value("kill signo", read_sig(fd, &si), SIGUSR1);
    check_value("kill code SI_USER", si.ssi_code, SI_USER);
    check("kill pid", si.ssi_pid == (uint32_t)getpid());
    check_value("kill uid", si.ssi_uid, getuid());

    union sigval v = {.sival_int = 4242};
    sigqueue(getpid(), SIGUSR1, v);
    check_value("sigqueue signo", read_sig(fd, &si), SIGUSR1);
    check_value("sigqueue code SI_QUEUE", si.ssi_code, SI_QUEUE);
    check_value("sigqueue value", si.ssi_int, 4242);

    /* A signal outside the mask stays pending; a new mask takes it. */
    kill(getpid(), SIGUSR2);
    check_value("outside the mask read", read_sig(fd, &si), -EAGAIN);
    check("outside the mask still pending", is_pending(SIGUSR2));
    sigaddset(&m, SIGUSR2);
    check_value("mask update returns the fd", signalfd(fd, &m, 0), fd);
    check_value("after mask update signo", read_sig(fd, &si), SIGUSR2);

    /* Two signals in one read, lowest first. */
    kill(getpid(), SIGUSR2);
    kill(getpid(), SIGUSR1);
    struct signalfd_siginfo two[3];
    ssize_t r = read(fd, two, sizeof two);
    check_value("two signals read bytes", r, 2 * (long long)sizeof(struct signalfd_siginfo));
    check_value("two signals first", two[0].ssi_signo, SIGUSR1);
    check_value("two signals second", two[1].ssi_signo, SIGUSR2);

    /* Short buffer, and signalfd on a file that is not one. */
    kill(getpid(), SIGUSR1);
    char small[64];
    check_value("short read errno", read(fd, small, sizeof small) < 0 ? errno : 0, EINVAL);
    check_value("after short read signo", read_sig(fd, &si), SIGUSR1);
    int pfd[2];
    pipe(pfd);
    check_value("signalfd on a pipe errno", signalfd(pfd[0], &m, 0) < 0 ? errno : 0, EINVAL);
    check_value("signalfd bad flags errno", signalfd(-1, &m, 1) < 0 ? errno : 0, EINVAL);
    close(pfd[0]);
    close(pfd[1]);

    /* epoll on a signalfd. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 9};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    struct epoll_event got[2];
    check_value("epoll_wait nothing pending", epoll_wait(ep, got, 2, 0), 0);
    kill(getpid(), SIGUSR2);
    check_value("epoll_wait after kill", epoll_wait(ep, got, 2, 0), 1);
    check("epoll event data", got[0].data.u64 == 9);
    check_value("epoll then read signo", read_sig(fd, &si), SIGUSR2);
    close(ep);
    close(fd);

    /* SIGALRM from alarm wakes a blocked poll. */
    sigemptyset(&m);
    sigaddset(&m, SIGALRM);
    fd = signalfd(-1, &m, 0);
    p.fd = fd;
    p.revents = 0;
    alarm(1);
    check_value("poll woken by alarm", poll(&p, 1, 5000), 1);
    check_value("alarm signo", read_sig(fd, &si), SIGALRM);
    check_value("alarm code SI_KERNEL", si.ssi_code, SI_KERNEL);
    check_value("alarm pid", si.ssi_pid, 0);

    /* A blocking read ended by the signal of an interval timer. */
    struct itimerval it = {{0, 0}, {0, 30000}};
    setitimer(ITIMER_REAL, &it, NULL);
    check_value("blocking read signo", read_sig(fd, &si), SIGALRM);
    check("not pending after the read", !is_pending(SIGALRM));
    close(fd);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
}

static void eventfd_tests(void) {
    int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    check("eventfd with EFD_NONBLOCK|EFD_CLOEXEC", fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
          (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    uint64_t v = 0;
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    check("eventfd 3: readable and writable", poll(&p, 1, 0) == 1 &&
          (p.revents & POLLIN) && (p.revents & POLLOUT));
    check("read takes the whole count", read(fd, &v, 8) == 8 && v == 3);
    errno = 0;
    check("read at 0: EAGAIN", read(fd, &v, 8) == -1 && errno == EAGAIN);
    p.revents = 0;
    check("at 0: not readable", poll(&p, 1, 0) == 1 && !(p.revents & POLLIN));
    v = 5;
    check("write adds", write(fd, &v, 8) == 8 && write(fd, &v, 8) == 8);
    check("read returns the sum", read(fd, &v, 8) == 8 && v == 10);
    v = 0xfffffffffffffffeull;
    check("write up to the maximum", write(fd, &v, 8) == 8);
    v = 1;
    errno = 0;
    check("a write past the maximum: EAGAIN", write(fd, &v, 8) == -1 && errno == EAGAIN);
    p.revents = 0;
    check("full: not writable", poll(&p, 1, 0) == 1 && !(p.revents & POLLOUT));
    read(fd, &v, 8);
    v = ~0ull;
    errno = 0;
    check("writing 2^64-1: EINVAL", write(fd, &v, 8) == -1 && errno == EINVAL);
    errno = 0;
    check("a 4-byte read: EINVAL", read(fd, &v, 4) == -1 && errno == EINVAL);
    check("lseek: a no-op that returns 0 (Linux's noop_llseek)", lseek(fd, 5, SEEK_SET) == 0);
    close(fd);

    fd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    check("EFD_SEMAPHORE: each read takes 1", read(fd, &v, 8) == 8 && v == 1 &&
          read(fd, &v, 8) == 8 && v == 1);
    errno = 0;
    check("EFD_SEMAPHORE at 0: EAGAIN", read(fd, &v, 8) == -1 && errno == EAGAIN);
    close(fd);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    eventfd_tests();
    timerfd_tests();
    signalfd_tests();
    printf("fd_events: %s\n", failures ? "FAILED" : "done");
    return failures ? 1 : 0;
}
