/* timerfd and signalfd across threads: a reader blocked in read(2) or
 * epoll_wait is woken by what another thread does.
 *   - a thread blocked reading a timerfd wakes at its expiry;
 *   - a thread blocked reading a signalfd takes a process-directed signal
 *     sent by another thread while every thread blocks it;
 *   - a thread blocked reading a signalfd takes a signal directed at it
 *     (pthread_kill), with SI_TKILL;
 *   - epoll_wait on a signalfd in one thread wakes when another sends;
 *   - a timerfd's settime from another thread wakes a blocked reader.
 * Output is counts and flags only, so native and mote runs compare line by
 * line. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "checks.h"

static int g_fd;
static long long g_result;
static struct signalfd_siginfo g_si;

static void *read_timerfd(void *arg) {
    (void)arg;
    uint64_t n = 0;
    g_result = read(g_fd, &n, sizeof n) == 8 ? (long long)n : -errno;
    return NULL;
}

static void *read_signalfd(void *arg) {
    (void)arg;
    ssize_t r = read(g_fd, &g_si, sizeof g_si);
    g_result = r == sizeof g_si ? (long long)g_si.ssi_signo : -errno;
    return NULL;
}

static void *wait_epoll(void *arg) {
    int ep = *(int *)arg;
    struct epoll_event ev;
    g_result = epoll_wait(ep, &ev, 1, 5000);
    return NULL;
}

static struct itimerspec spec_ms(long ms) {
    struct itimerspec s;
    memset(&s, 0, sizeof s);
    s.it_value.tv_sec = ms / 1000;
    s.it_value.tv_nsec = (ms % 1000) * 1000000L;
    return s;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &block, NULL);  /* inherited by every thread */

    /* A reader blocked on a timerfd armed for 40 ms. */
    pthread_t t;
    g_fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec s = spec_ms(40);
    timerfd_settime(g_fd, 0, &s, NULL);
    pthread_create(&t, NULL, read_timerfd, NULL);
    pthread_join(t, NULL);
    check_value("thread's blocking timerfd read", g_result, 1);

    /* A reader blocked on a disarmed timerfd; another thread arms it. */
    s = spec_ms(0);
    timerfd_settime(g_fd, 0, &s, NULL);
    pthread_create(&t, NULL, read_timerfd, NULL);
    sleep_ms(30);
    s = spec_ms(20);
    timerfd_settime(g_fd, 0, &s, NULL);
    pthread_join(t, NULL);
    check_value("timerfd armed by another thread", g_result, 1);
    close(g_fd);

    /* A reader blocked on a signalfd; the main thread kills the process. */
    g_fd = signalfd(-1, &block, 0);
    pthread_create(&t, NULL, read_signalfd, NULL);
    sleep_ms(30);
    kill(getpid(), SIGUSR2);
    pthread_join(t, NULL);
    check_value("process signal read by a blocked thread", g_result, SIGUSR2);
    check_value("its code SI_USER", g_si.ssi_code, SI_USER);

    /* The same, with the signal directed at the reading thread. */
    pthread_create(&t, NULL, read_signalfd, NULL);
    sleep_ms(30);
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
    check_value("thread-directed signal read by its thread", g_result, SIGUSR1);
    check_value("its code SI_TKILL", g_si.ssi_code, SI_TKILL);

    /* epoll_wait on the signalfd in another thread. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, g_fd, &ev);
    pthread_create(&t, NULL, wait_epoll, &ep);
    sleep_ms(30);
    kill(getpid(), SIGUSR1);
    pthread_join(t, NULL);
    check_value("epoll_wait in another thread woken", g_result, 1);
    struct signalfd_siginfo si;
    check_value("then read", read(g_fd, &si, sizeof si), (long long)sizeof si);
    check_value("then read signo", si.ssi_signo, SIGUSR1);
    close(ep);
    close(g_fd);

    printf("fd_events_threads: %s\n", failures ? "FAILED" : "done");
    return failures ? 1 : 0;
}
