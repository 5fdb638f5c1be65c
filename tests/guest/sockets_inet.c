// AF_INET sockets inside one program, over 127.0.0.1: TCP and UDP through
// mote's own stack (kernel/net/) on loopback. Run natively and under mote;
// the output must match (no ports or timings are printed).
//   - TCP: listen/accept/connect, a 4 MiB echo with a checksum, full duplex,
//     shutdown and EOF, getsockname/getpeername, SO_ERROR, TCP_NODELAY, TCP_INFO,
//     nonblocking connect (EINPROGRESS, then writable), accept4 flags,
//     refused connections, EADDRINUSE and SO_REUSEADDR, reset by a close
//     with unread data, EPIPE with MSG_NOSIGNAL and SIGPIPE without,
//     MSG_PEEK, MSG_WAITALL, FIONREAD, SO_RCVTIMEO
//   - UDP: sendto/recvfrom with the source address, MSG_TRUNC, MSG_PEEK,
//     connect as a filter, sendmsg/recvmsg with several buffers, sendmmsg
//   - readiness: poll and epoll (EPOLLIN on a listener, EPOLLRDHUP)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "checks.h"

static struct sockaddr_in loopback(uint16_t port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static uint16_t port_of(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) fatal("getsockname");
    return ntohs(a.sin_port);
}

// A listening TCP socket on 127.0.0.1, an ephemeral port.
static int listener(int backlog) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0)
        fatal("listener");
    return fd;
}

static int connect_to(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) fatal("connect");
    return fd;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 131 + (i >> 9)); }

// --- TCP echo: one connection, 4 MiB each way, client writes while reading ----

#define ECHO_BYTES (4u << 20)

static void *echo_server(void *arg) {
    int lfd = *(int *)arg;
    int c = accept(lfd, NULL, NULL);
    if (c < 0) fatal("accept");
    static unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        if (write_all(c, buf, (size_t)n) != 0) break;
    }
    close(c);
    return NULL;
}

static void *echo_writer(void *arg) {
    int fd = *(int *)arg;
    static unsigned char buf[50000];
    for (size_t off = 0; off < ECHO_BYTES;) {
        size_t n = ECHO_BYTES - off < sizeof buf ? ECHO_BYTES - off : sizeof buf;
        for (size_t i = 0; i < n; i++) buf[i] = pattern(off + i);
        if (write_all(fd, buf, n) != 0) fatal("echo write");
        off += n;
    }
    shutdown(fd, SHUT_WR);
    return NULL;
}

static void test_tcp_echo(void) {
    int lfd = listener(8);
    pthread_t srv, wr;
    pthread_create(&srv, NULL, echo_server, &lfd);
    int fd = connect_to(port_of(lfd));
    pthread_create(&wr, NULL, echo_writer, &fd);
    static unsigned char buf[70000];
    size_t got = 0, bad = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) fatal("echo read");
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(got + (size_t)i)) bad++;
        got += (size_t)n;
    }
    pthread_join(wr, NULL);
    pthread_join(srv, NULL);
    check_value("TCP echo over 127.0.0.1: bytes back", (long)got, ECHO_BYTES);
    check_value("TCP echo: bytes that differ", (long)bad, 0);
    close(fd);
    close(lfd);
}

// --- TCP details ------------------------------------------------------------------

static void test_tcp_names_and_options(void) {
    int lfd = listener(4);
    uint16_t port = port_of(lfd);
    int fd = connect_to(port);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int c = accept(lfd, (struct sockaddr *)&peer, &len);
    check("accept: a connection, its peer address 127.0.0.1", c >= 0 && len == sizeof peer &&
          peer.sin_family == AF_INET && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    struct sockaddr_in a;
    len = sizeof a;
    check("getpeername on the client: the listener's port",
          getpeername(fd, (struct sockaddr *)&a, &len) == 0 && ntohs(a.sin_port) == port);
    check("the accepted socket's peer port is the client's own", peer.sin_port == htons(port_of(fd)));
    int v = -1;
    socklen_t vl = sizeof v;
    check("SO_TYPE is SOCK_STREAM", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM);
    v = 1;
    check("TCP_NODELAY set", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0);
    v = 0;
    vl = sizeof v;
    check("TCP_NODELAY reads back 1", getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 1);
    vl = sizeof v;
    check("SO_ERROR 0 on a healthy connection",
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &vl) == 0 && v == 0);

    // TCP_INFO (struct tcp_info, read by offset: glibc's and the kernel's
    // headers disagree on its length).
    unsigned char ti[256];
    socklen_t tl = sizeof ti;
    uint32_t snd_mss = 0, rcv_mss = 0, cwnd = 0;
    int r = getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &tl);
    memcpy(&snd_mss, ti + 16, 4);
    memcpy(&rcv_mss, ti + 20, 4);
    memcpy(&cwnd, ti + 80, 4);
    check("TCP_INFO: ESTABLISHED, both MSSes, a congestion window",
          r == 0 && tl >= 104 && ti[0] == 1 && snd_mss > 0 && rcv_mss > 0 && cwnd > 0);
    check("TCP_INFO: timestamps and window scaling in use (tcpi_options)", (ti[5] & 5) == 5);
    tl = sizeof ti;
    check("TCP_INFO on the listener: LISTEN",
          getsockopt(lfd, IPPROTO_TCP, TCP_INFO, ti, &tl) == 0 && ti[0] == 10);
    tl = 8;
    check("TCP_INFO into 8 bytes: 8 bytes",
          getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &tl) == 0 && tl == 8 && ti[0] == 1);

    // MSG_PEEK, FIONREAD, MSG_WAITALL.
    write(fd, "hello world", 11);
    char buf[32] = {0};
    struct pollfd p = {c, POLLIN, 0};
    poll(&p, 1, 5000);
    int avail = 0;
    ssize_t n = recv(c, buf, 5, MSG_PEEK);
    check("MSG_PEEK sees the bytes", n == 5 && memcmp(buf, "hello", 5) == 0);
    check("FIONREAD counts them", ioctl(c, FIONREAD, &avail) == 0 && avail == 11);
    n = recv(c, buf, 11, MSG_WAITALL);
    check("recv after a peek returns the same bytes", n == 11 && memcmp(buf, "hello world", 11) == 0);

    // SO_RCVTIMEO: a read with nothing to read times out with EAGAIN.
    struct timeval tv = {0, 50000};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    errno = 0;
    n = read(c, buf, sizeof buf);
    check("SO_RCVTIMEO 50 ms: read fails with EAGAIN", n == -1 && errno == EAGAIN);

    // shutdown(SHUT_WR) on one side: EOF on the other, which can still write.
    shutdown(fd, SHUT_WR);
    n = read(c, buf, sizeof buf);
    check("after the peer's SHUT_WR: read returns 0 (EOF)", n == 0);
    check("the half-closed side still writes", write(c, "back", 4) == 4);
    n = read(fd, buf, sizeof buf);
    check("and the other side reads it", n == 4 && memcmp(buf, "back", 4) == 0);
    close(c);
    n = read(fd, buf, sizeof buf);
    check("after the peer's close: EOF", n == 0);
    close(fd);

    // EADDRINUSE, then SO_REUSEADDR over a listener that is gone.
    int other = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in same = loopback(port);
    errno = 0;
    check("bind to a listening port: EADDRINUSE",
          bind(other, (struct sockaddr *)&same, sizeof same) == -1 && errno == EADDRINUSE);
    close(other);
    close(lfd);
    other = socket(AF_INET, SOCK_STREAM, 0);
    v = 1;
    setsockopt(other, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
    check("with SO_REUSEADDR the port binds again after its connections closed",
          bind(other, (struct sockaddr *)&same, sizeof same) == 0 && listen(other, 1) == 0);
    close(other);
}

static void test_tcp_refused_and_nonblocking(void) {
    // A port nobody listens on: bind one, close it, connect there.
    int tmp = listener(1);
    uint16_t port = port_of(tmp);
    close(tmp);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    errno = 0;
    check("connect to a closed port: ECONNREFUSED",
          connect(fd, (struct sockaddr *)&a, sizeof a) == -1 && errno == ECONNREFUSED);
    close(fd);

    int lfd = listener(4);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a = loopback(port_of(lfd));
    errno = 0;
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    check("nonblocking connect: 0 or EINPROGRESS", rc == 0 || errno == EINPROGRESS);
    struct pollfd p = {fd, POLLOUT, 0};
    check("then poll says writable", poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT));
    int err = -1;
    socklen_t el = sizeof err;
    check("and SO_ERROR is 0", getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0);
    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    check("accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC: flags set", c >= 0 &&
          (fcntl(c, F_GETFL) & O_NONBLOCK) && (fcntl(c, F_GETFD) & FD_CLOEXEC));
    char buf[8];
    errno = 0;
    check("a nonblocking read with nothing there: EAGAIN", read(c, buf, sizeof buf) == -1 && errno == EAGAIN);
    int l2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in any = loopback(0);
    bind(l2, (struct sockaddr *)&any, sizeof any);
    listen(l2, 1);
    errno = 0;
    check("a nonblocking accept with no connection: EAGAIN", accept(l2, NULL, NULL) == -1 && errno == EAGAIN);
    close(l2);

    // Unread data at close: the peer is reset.
    write(fd, "unread", 6);
    p.fd = c;
    p.events = POLLIN;
    poll(&p, 1, 5000);
    close(c);
    p.fd = fd;
    p.events = POLLIN;
    poll(&p, 1, 5000);
    errno = 0;
    rc = (int)read(fd, buf, sizeof buf);
    check("closing with unread data resets the peer: ECONNRESET", rc == -1 && errno == ECONNRESET);
    errno = 0;
    rc = (int)send(fd, "x", 1, MSG_NOSIGNAL);
    check("send on the reset connection with MSG_NOSIGNAL: EPIPE", rc == -1 && errno == EPIPE);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    rc = (int)write(fd, "x", 1);
    check("write (SIGPIPE ignored): EPIPE", rc == -1 && errno == EPIPE);
    signal(SIGPIPE, SIG_DFL);
    close(fd);
    close(lfd);
}

// --- Readiness ----------------------------------------------------------------------

static void test_readiness(void) {
    int lfd = listener(4);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event out[4];
    check("epoll: an idle listener is not ready", epoll_wait(ep, out, 4, 0) == 0);
    int fd = connect_to(port_of(lfd));
    int n = epoll_wait(ep, out, 4, 5000);
    check("epoll: a pending connection makes the listener readable",
          n == 1 && out[0].data.fd == lfd && (out[0].events & EPOLLIN));
    int c = accept(lfd, NULL, NULL);
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    write(fd, "ping", 4);
    n = epoll_wait(ep, out, 4, 5000);
    check("epoll: data makes the connection readable", n == 1 && out[0].data.fd == c &&
          (out[0].events & EPOLLIN) && !(out[0].events & EPOLLRDHUP));
    char buf[8];
    read(c, buf, sizeof buf);
    shutdown(fd, SHUT_WR);
    n = epoll_wait(ep, out, 4, 5000);
    check("epoll: the peer's shutdown shows as EPOLLRDHUP", n == 1 && (out[0].events & EPOLLRDHUP));
    struct pollfd p = {fd, POLLOUT, 0};
    check("poll: a connected socket is writable", poll(&p, 1, 0) == 1 && (p.revents & POLLOUT));
    close(ep);
    close(c);
    close(fd);
    close(lfd);
}

// --- UDP -----------------------------------------------------------------------------

static void test_udp(void) {
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in la = loopback(0), lb = loopback(0);
    bind(a, (struct sockaddr *)&la, sizeof la);
    bind(b, (struct sockaddr *)&lb, sizeof lb);
    struct sockaddr_in to_b = loopback(port_of(b));
    check("UDP sendto 127.0.0.1", sendto(a, "datagram one", 12, 0, (struct sockaddr *)&to_b, sizeof to_b) == 12);
    char buf[64];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    check("recvfrom: the datagram and its source", n == 12 && memcmp(buf, "datagram one", 12) == 0 &&
          fl == sizeof from && from.sin_port == htons(port_of(a)) &&
          from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    sendto(a, "0123456789", 10, 0, (struct sockaddr *)&to_b, sizeof to_b);
    int avail = 0;
    ioctl(b, FIONREAD, &avail);
    check_value("FIONREAD: the next datagram's size", avail, 10);
    n = recv(b, buf, 4, MSG_PEEK);
    check("MSG_PEEK reads the start and leaves it", n == 4 && memcmp(buf, "0123", 4) == 0);
    n = recv(b, buf, 4, MSG_TRUNC);
    check_value("MSG_TRUNC returns the datagram's full length", (long)n, 10);
    errno = 0;
    check("the rest of a truncated datagram is gone: EAGAIN",
          recv(b, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN);

    // sendmsg with three buffers is one datagram; recvmsg scatters it.
    struct iovec iov[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
    struct msghdr m = {.msg_name = &to_b, .msg_namelen = sizeof to_b, .msg_iov = iov, .msg_iovlen = 3};
    check("sendmsg: three buffers, one datagram", sendmsg(a, &m, 0) == 6);
    char x[3], y[3];
    struct iovec rio[2] = {{x, 3}, {y, 3}};
    struct msghdr rm = {.msg_iov = rio, .msg_iovlen = 2};
    n = recvmsg(b, &rm, 0);
    check("recvmsg scatters it", n == 6 && memcmp(x, "abc", 3) == 0 && memcmp(y, "def", 3) == 0 &&
          !(rm.msg_flags & MSG_TRUNC));

    // connect() filters: datagrams from others are dropped.
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in lc = loopback(0);
    bind(c, (struct sockaddr *)&lc, sizeof lc);
    struct sockaddr_in to_a = loopback(port_of(a));
    connect(b, (struct sockaddr *)&to_a, sizeof to_a);
    sendto(c, "from c", 6, 0, (struct sockaddr *)&to_b, sizeof to_b);
    sendto(a, "from a", 6, 0, (struct sockaddr *)&to_b, sizeof to_b);
    n = recv(b, buf, sizeof buf, 0);
    check("a connected UDP socket only hears its peer", n == 6 && memcmp(buf, "from a", 6) == 0);
    check("send() on the connected socket", send(b, "reply", 5, 0) == 5);
    n = recv(a, buf, sizeof buf, 0);
    check("the reply arrives", n == 5 && memcmp(buf, "reply", 5) == 0);

    struct mmsghdr mm[2];
    struct iovec mi[2] = {{"first", 5}, {"second", 6}};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 2; i++) {
        mm[i].msg_hdr.msg_iov = &mi[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    check_value("sendmmsg sends two datagrams", sendmmsg(b, mm, 2, 0), 2);
    n = recv(a, buf, sizeof buf, 0);
    ssize_t n2 = recv(a, buf + 16, sizeof buf - 16, 0);
    check("both arrive in order", n == 5 && n2 == 6 && memcmp(buf, "first", 5) == 0 &&
          memcmp(buf + 16, "second", 6) == 0);

    // A datagram to a closed port: the connected sender hears ECONNREFUSED.
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ld = loopback(0);
    bind(d, (struct sockaddr *)&ld, sizeof ld);
    struct sockaddr_in dead = loopback(port_of(d));
    close(d);
    int e = socket(AF_INET, SOCK_DGRAM, 0);
    connect(e, (struct sockaddr *)&dead, sizeof dead);
    send(e, "anyone?", 7, 0);
    errno = 0;
    n = recv(e, buf, sizeof buf, 0);
    check("UDP to a closed port: the next recv fails with ECONNREFUSED", n == -1 && errno == ECONNREFUSED);
    close(e);
    close(a);
    close(b);
    close(c);
}

// --- Interfaces (netdevice(7)) ----------------------------------------------------

static void test_interfaces(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq reqs[16];
    struct ifconf conf = {.ifc_len = sizeof reqs, .ifc_req = reqs};
    int found_lo = 0;
    if (ioctl(fd, SIOCGIFCONF, &conf) == 0)
        for (int i = 0; i < conf.ifc_len / (int)sizeof(struct ifreq); i++) {
            struct sockaddr_in *a = (struct sockaddr_in *)&reqs[i].ifr_addr;
            if (strcmp(reqs[i].ifr_name, "lo") == 0 && a->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
                found_lo = 1;
        }
    check("SIOCGIFCONF lists lo with 127.0.0.1", found_lo);
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, "lo");
    check("SIOCGIFADDR lo: 127.0.0.1", ioctl(fd, SIOCGIFADDR, &r) == 0 &&
          ((struct sockaddr_in *)&r.ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    check("SIOCGIFFLAGS lo: up, loopback", ioctl(fd, SIOCGIFFLAGS, &r) == 0 &&
          (r.ifr_flags & IFF_UP) && (r.ifr_flags & IFF_LOOPBACK));
    check("SIOCGIFNETMASK lo: 255.0.0.0", ioctl(fd, SIOCGIFNETMASK, &r) == 0 &&
          ((struct sockaddr_in *)&r.ifr_netmask)->sin_addr.s_addr == htonl(0xff000000));
    check("SIOCGIFINDEX lo: 1", ioctl(fd, SIOCGIFINDEX, &r) == 0 && r.ifr_ifindex == 1);
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = 1;
    check("SIOCGIFNAME 1: lo", ioctl(fd, SIOCGIFNAME, &r) == 0 && strcmp(r.ifr_name, "lo") == 0);
    check("if_nametoindex(\"lo\") is 1", if_nametoindex("lo") == 1);
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, "nosuch0");
    errno = 0;
    check("SIOCGIFADDR of a missing interface: ENODEV", ioctl(fd, SIOCGIFADDR, &r) == -1 && errno == ENODEV);
    close(fd);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_tcp_echo();
    test_tcp_names_and_options();
    test_tcp_refused_and_nonblocking();
    test_readiness();
    test_udp();
    test_interfaces();
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all inet socket checks passed\n");
    return 0;
}
