// AF_UNIX sockets, part 2: readiness for poll and epoll through a
// connection's life (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLRDHUP, a listener's
// EPOLLIN), a full send buffer (EAGAIN, no POLLOUT, writable again once
// drained) and a blocked writer a thread drains, MSG_WAITALL, SCM_RIGHTS (a pipe's end
// passed and used, several fds, MSG_CMSG_CLOEXEC, MSG_CTRUNC, EBADF),
// shutdown both ways, EPIPE with SIGPIPE and with MSG_NOSIGNAL, and
// sendmmsg/recvmmsg. Run natively and under mote; the output must match.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "checks.h"

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

static void check_errno(const char *what, long rc, int want) {
    int ok = rc == -1 && errno == want;
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) {
        fprintf(stderr, "FAIL: %s: rc %ld errno %d (%s), expected %d\n", what, rc, errno,
                strerror(errno), want);
        failures++;
    }
}

// poll() readiness among IN/OUT/HUP/RDHUP/ERR, printed by name.
static void show_poll(const char *what, int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    printf("%s:%s%s%s%s%s\n", what, p.revents & POLLIN ? " IN" : "", p.revents & POLLOUT ? " OUT" : "",
           p.revents & POLLHUP ? " HUP" : "", p.revents & POLLRDHUP ? " RDHUP" : "",
           p.revents & POLLERR ? " ERR" : "");
}

static void show_epoll(const char *what, int ep, int fd) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    struct epoll_event out;
    int n = epoll_wait(ep, &out, 1, 0);
    unsigned e = n > 0 ? out.events : 0;
    printf("%s: epoll%s%s%s%s\n", what, e & EPOLLIN ? " IN" : "", e & EPOLLOUT ? " OUT" : "",
           e & EPOLLHUP ? " HUP" : "", e & EPOLLRDHUP ? " RDHUP" : "");
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

static void test_readiness(void) {
    int sv[2], ep = epoll_create1(0);
    char buf[4096];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    show_poll("fresh pair", sv[0]);
    write(sv[0], "x", 1);
    show_poll("peer wrote", sv[1]);
    show_epoll("peer wrote", ep, sv[1]);
    read(sv[1], buf, 1);
    shutdown(sv[0], SHUT_WR);
    show_poll("peer shut down writing", sv[1]);
    show_epoll("peer shut down writing", ep, sv[1]);
    show_poll("after own SHUT_WR", sv[0]);
    close(sv[0]);
    show_poll("peer closed", sv[1]);
    show_epoll("peer closed", ep, sv[1]);
    close(sv[1]);

    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    show_poll("unconnected stream", u);
    close(u);
    u = socket(AF_UNIX, SOCK_DGRAM, 0);
    show_poll("unconnected dgram", u);
    close(u);

    // A listener is readable once a connection waits.
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "mote-io-%d", (int)getpid());
    socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&a, len);
    listen(l, 4);
    show_poll("idle listener", l);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, len);
    show_poll("listener with a connection", l);
    show_epoll("listener with a connection", ep, l);
    close(c);
    close(l);

    // A full buffer: EAGAIN, no POLLOUT; drained, writable again.
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    memset(buf, 'z', sizeof buf);
    long total = 0;
    ssize_t w;
    while ((w = write(sv[0], buf, sizeof buf)) > 0) total += w;
    check("full stream buffer gives EAGAIN", w == -1 && errno == EAGAIN);
    check("it took more than 64 KiB", total > 65536);
    show_poll("full buffer", sv[0]);
    long drained = 0;
    ssize_t r;
    while ((r = read(sv[1], buf, sizeof buf)) > 0) drained += r;
    check("drained all", drained == total);
    show_poll("drained", sv[0]);
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv);
    int msgs = 0;
    while (send(sv[0], buf, 100, 0) == 100) msgs++;
    check("full dgram buffer gives EAGAIN", errno == EAGAIN && msgs > 10);
    show_poll("full dgram", sv[0]);
    while (recv(sv[1], buf, sizeof buf, 0) > 0) {}
    show_poll("drained dgram", sv[0]);
    close(sv[0]);
    close(sv[1]);
    close(ep);
}

struct drain {
    int fd;
    long bytes;
    unsigned sum;
};

static void *drainer(void *p) {
    struct drain *d = p;
    unsigned char buf[8192];
    ssize_t r;
    while ((r = read(d->fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; ++i) d->sum = d->sum * 31 + buf[i];
        d->bytes += r;
    }
    return NULL;
}

static void test_blocking_writer(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct drain d = {sv[1], 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, drainer, &d);
    static unsigned char big[1 << 20];
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof big; ++i) {
        big[i] = (unsigned char)(i * 7 + i / 251);
        sum = sum * 31 + big[i];
    }
    // One write of 1 MiB blocks until the reader has made room, and
    // completes whole.
    check_value("blocking 1 MiB write", write(sv[0], big, sizeof big), (long long)sizeof big);
    close(sv[0]);
    pthread_join(th, NULL);
    check_value("reader got", d.bytes, (long long)sizeof big);
    check("checksum", d.sum == sum);
    close(sv[1]);
}

static void *slow_writer(void *p) {
    int fd = *(int *)p;
    write(fd, "abc", 3);
    sleep_ms(50);
    write(fd, "defgh", 5);
    sleep_ms(50);
    write(fd, "ij", 2);
    close(fd);
    return NULL;
}

// MSG_WAITALL waits for the whole length, across writes; EOF ends it short.
static void test_waitall(void) {
    int sv[2];
    char buf[16];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_t th;
    pthread_create(&th, NULL, slow_writer, &sv[0]);
    check_value("MSG_WAITALL across writes", recv(sv[1], buf, 8, MSG_WAITALL), 8);
    printf("got %.8s\n", buf);
    check_value("MSG_WAITALL cut short by EOF", recv(sv[1], buf, 8, MSG_WAITALL), 2);
    pthread_join(th, NULL);
    close(sv[1]);
}

// Sends fds over sock with one SCM_RIGHTS message carrying "F".
static ssize_t send_fds(int sock, const int *fds, int n) {
    char cbuf[CMSG_SPACE(sizeof(int) * 8)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {"F", 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    return sendmsg(sock, &mh, 0);
}

// Receives one message; returns how many fds came (into fds) and *flags.
static int recv_fds(int sock, int *fds, size_t ctl, int flags, int *mflags) {
    char cbuf[256];
    char data[8];
    struct iovec iov = {data, sizeof data};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = ctl};
    if (recvmsg(sock, &mh, flags) < 0) return -1;
    *mflags = mh.msg_flags;
    int n = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + n, CMSG_DATA(cm), k * sizeof(int));
            n += k;
        }
    }
    return n;
}

static void test_scm_rights(void) {
    int types[] = {SOCK_STREAM, SOCK_DGRAM};
    for (int t = 0; t < 2; ++t) {
        int sv[2], p[2], got[8], mflags = 0;
        char buf[16];
        socketpair(AF_UNIX, types[t], 0, sv);
        pipe(p);
        check_value("send a pipe's read end", send_fds(sv[0], &p[0], 1), 1);
        close(p[0]);  // in flight, the pipe stays open
        write(p[1], "through", 7);
        int n = recv_fds(sv[1], got, sizeof got + CMSG_SPACE(sizeof(int)) * 2, 0, &mflags);
        check_value("fds received", n, 1);
        check("no MSG_CTRUNC", !(mflags & MSG_CTRUNC));
        ssize_t r = read(got[0], buf, sizeof buf);
        printf("read through the passed fd: %.*s\n", (int)(r > 0 ? r : 0), buf);
        check("received fd is not close-on-exec", !(fcntl(got[0], F_GETFD) & FD_CLOEXEC));
        int reader = got[0];

        // MSG_CMSG_CLOEXEC, and three fds at once.
        int three[3] = {p[1], p[1], sv[0]};
        send_fds(sv[0], three, 3);
        n = recv_fds(sv[1], got, 200, MSG_CMSG_CLOEXEC, &mflags);
        check_value("three fds", n, 3);
        check("MSG_CMSG_CLOEXEC", n == 3 && (fcntl(got[0], F_GETFD) & FD_CLOEXEC));
        check("distinct fds", n == 3 && got[0] != got[1] && got[1] != got[2]);
        check_value("write through a passed write end", write(got[1], "ok", 2), 2);
        check_value("and read through the other", read(reader, buf, sizeof buf), 2);
        for (int i = 0; i < n; ++i) close(got[i]);
        close(reader);

        // A control buffer too small for any fd: MSG_CTRUNC, none installed.
        send_fds(sv[0], &p[1], 1);
        int before = dup(0);
        close(before);
        n = recv_fds(sv[1], got, CMSG_LEN(0), 0, &mflags);
        check("short control: MSG_CTRUNC and no fd", n == 0 && (mflags & MSG_CTRUNC));
        int after = dup(0);
        check("no fd leaked into the table", after == before);
        close(after);

        int bad = 999;
        check_errno("SCM_RIGHTS with a bad fd", send_fds(sv[0], &bad, 1), EBADF);
        close(p[1]);
        close(sv[0]);
        close(sv[1]);
    }
}

static void test_shutdown_and_epipe(void) {
    int sv[2];
    char buf[16];
    struct sigaction sa = {.sa_handler = on_sigpipe};
    sigaction(SIGPIPE, &sa, NULL);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "last", 4);
    shutdown(sv[0], SHUT_WR);
    check_value("data before EOF", read(sv[1], buf, sizeof buf), 4);
    check_value("EOF after SHUT_WR", read(sv[1], buf, sizeof buf), 0);
    sigpipes = 0;
    check_errno("write after own SHUT_WR", write(sv[0], "x", 1), EPIPE);
    check_value("SIGPIPE", sigpipes, 1);
    check_errno("MSG_NOSIGNAL", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
    check_value("no SIGPIPE with MSG_NOSIGNAL", sigpipes, 1);
    check_value("other direction still open", write(sv[1], "back", 4), 4);
    check_value("read it", read(sv[0], buf, sizeof buf), 4);
    shutdown(sv[0], SHUT_RD);
    check_value("own SHUT_RD reads EOF", read(sv[0], buf, sizeof buf), 0);
    check_errno("peer writes into SHUT_RD", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    sigpipes = 0;
    check_errno("write to a closed peer", write(sv[0], "x", 1), EPIPE);
    check_value("SIGPIPE once", sigpipes, 1);
    close(sv[0]);

    // SOCK_SEQPACKET and SOCK_DGRAM: EPIPE without SIGPIPE, as Linux.
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    close(sv[1]);
    sigpipes = 0;
    check_errno("seqpacket to a closed peer", send(sv[0], "x", 1, 0), EPIPE);
    check_value("seqpacket: no SIGPIPE", sigpipes, 0);
    close(sv[0]);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    shutdown(sv[1], SHUT_RD);
    check_errno("dgram to SHUT_RD", send(sv[0], "x", 1, 0), EPIPE);
    check_value("dgram: no SIGPIPE", sigpipes, 0);
    close(sv[0]);
    close(sv[1]);
    signal(SIGPIPE, SIG_DFL);
}

static void test_mmsg(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    char a[] = "one", b[] = "three", c[] = "fifteen";
    struct iovec iv[3] = {{a, 3}, {b, 5}, {c, 7}};
    struct mmsghdr out[3];
    memset(out, 0, sizeof out);
    for (int i = 0; i < 3; ++i) {
        out[i].msg_hdr.msg_iov = &iv[i];
        out[i].msg_hdr.msg_iovlen = 1;
    }
    check_value("sendmmsg", sendmmsg(sv[0], out, 3, 0), 3);
    printf("sent lengths %u %u %u\n", out[0].msg_len, out[1].msg_len, out[2].msg_len);
    char bufs[4][16];
    struct iovec rv[4];
    struct mmsghdr in[4];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 4; ++i) {
        rv[i].iov_base = bufs[i];
        rv[i].iov_len = sizeof bufs[i];
        in[i].msg_hdr.msg_iov = &rv[i];
        in[i].msg_hdr.msg_iovlen = 1;
    }
    check_value("recvmmsg MSG_DONTWAIT", recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL), 3);
    printf("received %u %.*s %u %.*s %u %.*s\n", in[0].msg_len, (int)in[0].msg_len, bufs[0],
           in[1].msg_len, (int)in[1].msg_len, bufs[1], in[2].msg_len, (int)in[2].msg_len, bufs[2]);
    check_errno("recvmmsg nothing", recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL), EAGAIN);
    send(sv[0], "w", 1, 0);
    check_value("recvmmsg MSG_WAITFORONE", recvmmsg(sv[1], in, 4, MSG_WAITFORONE, NULL), 1);
    // Gather on send, scatter on receive, across the record.
    struct iovec g[2] = {{"ab", 2}, {"cdef", 4}};
    struct msghdr mh = {.msg_iov = g, .msg_iovlen = 2};
    check_value("sendmsg gather", sendmsg(sv[0], &mh, 0), 6);
    char x[3], y[8];
    struct iovec s[2] = {{x, 3}, {y, 8}};
    struct msghdr rh = {.msg_iov = s, .msg_iovlen = 2};
    check_value("recvmsg scatter", recvmsg(sv[1], &rh, 0), 6);
    printf("scatter %.3s|%.3s\n", x, y);
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_readiness();
    test_blocking_writer();
    test_waitall();
    test_scm_rights();
    test_shutdown_and_epipe();
    test_mmsg();
    printf("failures %d\n", failures);
    return failures ? 1 : 0;
}
