// AF_UNIX sockets, part 1: socketpair round trips for every type, message
// boundaries, MSG_PEEK/MSG_TRUNC/MSG_WAITALL/MSG_DONTWAIT, names (paths,
// abstract names, autobind), listen/accept/connect with a thread and with
// fork, getsockname/getpeername lengths, options (SO_TYPE, SO_DOMAIN,
// SO_PROTOCOL, SO_ACCEPTCONN, SO_PEERCRED, SO_SNDBUF, SO_RCVTIMEO), fstat
// and /proc/self/fd, and the errno of bad arguments. Run natively and under
// mote; the output must match (no pids, paths or timings are printed).
// Part 2 (readiness, SCM_RIGHTS, shutdown, SIGPIPE, mmsg): sockets_unix_io.c.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"

static char dir[64];
// An address nothing is mapped at (volatile: the compiler cannot see it).
static void *volatile bad_ptr = (void *)8;

// A path name under this run's directory; *len is its sockaddr length.
static struct sockaddr_un path_addr(const char *leaf, socklen_t *len) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, leaf);
    *len = offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1;
    return a;
}

// An abstract name unique to this process.
static struct sockaddr_un abstract_addr(const char *tag, socklen_t *len) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "mote-%d-%s", (int)getpid(), tag);
    *len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    return a;
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_pairs(void) {
    int sv[2];
    char buf[64];
    // Stream: two writes, read as one byte stream.
    check("stream socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    check("stream write", write(sv[0], "hello", 5) == 5 && write(sv[0], "world", 5) == 5);
    int avail = -1;
    check_value("stream FIONREAD", ioctl(sv[1], FIONREAD, &avail) == 0 ? avail : -1, 10);
    check_value("stream peek", recv(sv[1], buf, 3, MSG_PEEK), 3);
    ssize_t n = read(sv[1], buf, sizeof buf);
    buf[n > 0 ? n : 0] = 0;
    printf("stream read %zd %s\n", n, buf);
    check("stream other way", write(sv[1], "back", 4) == 4 && read(sv[0], buf, 4) == 4 &&
                                  memcmp(buf, "back", 4) == 0);
    check_errno("stream recv MSG_DONTWAIT empty", recv(sv[0], buf, 4, MSG_DONTWAIT), EAGAIN);
    close(sv[0]);
    check_value("stream read after peer close", read(sv[1], buf, 4), 0);
    close(sv[1]);

    // Datagrams and records keep their boundaries.
    int types[] = {SOCK_DGRAM, SOCK_SEQPACKET};
    const char *names[] = {"dgram", "seqpacket"};
    for (int t = 0; t < 2; ++t) {
        char what[80];
        snprintf(what, sizeof what, "%s socketpair", names[t]);
        check(what, socketpair(AF_UNIX, types[t], 0, sv) == 0);
        send(sv[0], "a", 1, 0);
        send(sv[0], "bb", 2, 0);
        send(sv[0], "ccc", 3, 0);
        send(sv[0], "", 0, 0);
        ioctl(sv[1], FIONREAD, &avail);
        printf("%s FIONREAD %d\n", names[t], t == 0 ? avail : avail > 0);
        for (int i = 0; i < 4; ++i) printf("%s msg %d: %zd\n", names[t], i, recv(sv[1], buf, sizeof buf, 0));
        // MSG_PEEK leaves the message; MSG_TRUNC reports its real length.
        send(sv[0], "0123456789", 10, 0);
        printf("%s peek %zd\n", names[t], recv(sv[1], buf, 4, MSG_PEEK));
        printf("%s MSG_TRUNC %zd\n", names[t], recv(sv[1], buf, 4, MSG_TRUNC));
        send(sv[0], "0123456789", 10, 0);
        struct iovec iov = {buf, 4};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t got = recvmsg(sv[1], &mh, 0);
        printf("%s short recvmsg %zd flags MSG_TRUNC=%d\n", names[t], got, !!(mh.msg_flags & MSG_TRUNC));
        check_errno("record recv empty nonblocking", recv(sv[1], buf, 4, MSG_DONTWAIT), EAGAIN);
        close(sv[0]);
        close(sv[1]);
    }

    // SOCK_NONBLOCK and SOCK_CLOEXEC.
    check("socketpair SOCK_NONBLOCK|SOCK_CLOEXEC",
          socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    check("O_NONBLOCK set", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
    check("FD_CLOEXEC set", (fcntl(sv[1], F_GETFD) & FD_CLOEXEC) != 0);
    check_errno("nonblocking read empty", read(sv[0], buf, 4), EAGAIN);
    int off = 0;
    check("FIONBIO off", ioctl(sv[0], FIONBIO, &off) == 0 && !(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    // SO_RCVTIMEO: a blocking read ends with EAGAIN after the timeout.
    struct timeval tv = {0, 200000}, got_tv;
    socklen_t tl = sizeof got_tv;
    check("SO_RCVTIMEO set", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    check("SO_RCVTIMEO get", getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &got_tv, &tl) == 0 &&
                                 tl == sizeof got_tv && got_tv.tv_sec == 0 && got_tv.tv_usec == 200000);
    double t0 = now_s();
    check_errno("read with SO_RCVTIMEO", read(sv[0], buf, 4), EAGAIN);
    check("SO_RCVTIMEO waited", now_s() - t0 >= 0.18);
    tv.tv_usec = 1000000;
    check_errno("SO_RCVTIMEO bad usec", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM);

    // What a socket looks like as a file.
    struct stat st;
    check("fstat S_ISSOCK", fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode));
    char link[64], target[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", sv[0]);
    ssize_t ln = readlink(link, target, sizeof target - 1);
    target[ln > 0 ? ln : 0] = 0;
    check("/proc/self/fd shows socket:[ino]", strncmp(target, "socket:[", 8) == 0);
    check_errno("lseek ESPIPE", lseek(sv[0], 0, SEEK_SET), ESPIPE);
    check_errno("pread ESPIPE", pread(sv[0], buf, 1, 0), ESPIPE);

    // Options.
    int v = -1;
    socklen_t vl = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &vl);
    printf("SO_TYPE %d len %d\n", v, (int)vl);
    getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &vl);
    printf("SO_DOMAIN %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &vl);
    printf("SO_PROTOCOL %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
    printf("SO_ACCEPTCONN %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &vl);
    printf("SO_ERROR %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &vl);
    printf("SO_SNDBUF default %d\n", v);
    v = 1000;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &vl);
    printf("SO_SNDBUF after 1000: %d\n", v);
    v = 100000;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &vl);
    printf("SO_SNDBUF after 100000: %d\n", v);
    v = 1;
    check("SO_REUSEADDR", setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof v) == 0);
    short small = 0;
    vl = sizeof small;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &small, &vl);
    printf("SO_TYPE into 2 bytes: len %d\n", (int)vl);
    struct ucred cred;
    socklen_t cl = sizeof cred;
    check("SO_PEERCRED socketpair",
          getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cl == sizeof cred &&
              cred.pid == getpid() && cred.uid == getuid() && cred.gid == getgid());
    check_errno("unknown option", getsockopt(sv[0], SOL_SOCKET, 9999, &v, &vl), ENOPROTOOPT);
    close(sv[0]);
    close(sv[1]);
}

struct client_arg {
    struct sockaddr_un addr;
    socklen_t len;
    char reply[16];
};

static void *client_thread(void *p) {
    struct client_arg *c = p;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&c->addr, c->len) != 0) fatal("thread connect");
    write(fd, "ping", 4);
    ssize_t n = read(fd, c->reply, sizeof c->reply - 1);
    c->reply[n > 0 ? n : 0] = 0;
    close(fd);
    return NULL;
}

static void test_paths(void) {
    char buf[64];
    socklen_t len, nl;
    struct sockaddr_un a = path_addr("server", &len), got;
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    check("bind path", bind(srv, (struct sockaddr *)&a, len) == 0);
    struct stat st;
    check("path is S_IFSOCK", stat(a.sun_path, &st) == 0 && S_ISSOCK(st.st_mode));
    nl = sizeof got;
    getsockname(srv, (struct sockaddr *)&got, &nl);
    check("getsockname path length", nl == len && strcmp(got.sun_path, a.sun_path) == 0);
    check_errno("bind again, same path", bind(srv, (struct sockaddr *)&a, len), EADDRINUSE);
    socklen_t l2;
    struct sockaddr_un a2 = path_addr("second", &l2);
    check_errno("bind again, new path", bind(srv, (struct sockaddr *)&a2, l2), EINVAL);
    check_errno("no node left for the refused bind", access(a2.sun_path, F_OK), ENOENT);
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    check_errno("bind existing path", bind(other, (struct sockaddr *)&a, len), EADDRINUSE);
    check_errno("connect before listen", connect(other, (struct sockaddr *)&a, len), ECONNREFUSED);
    socklen_t ml;
    struct sockaddr_un missing = path_addr("missing", &ml);
    check_errno("connect missing path", connect(other, (struct sockaddr *)&missing, ml), ENOENT);
    socklen_t fl;
    struct sockaddr_un file = path_addr("file", &fl);
    close(open(file.sun_path, O_CREAT | O_WRONLY, 0600));
    check_errno("connect regular file", connect(other, (struct sockaddr *)&file, fl), ECONNREFUSED);
    check_errno("open socket path", open(a.sun_path, O_RDWR), ENXIO);
    check_errno("accept before listen", accept(srv, NULL, NULL), EINVAL);
    check("listen", listen(srv, 4) == 0);
    int v = 0;
    socklen_t vl = sizeof v;
    getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
    printf("listener SO_ACCEPTCONN %d\n", v);
    check_errno("recv on listener", recv(srv, buf, 1, MSG_DONTWAIT), EINVAL);
    check_errno("getpeername on listener", getpeername(srv, (struct sockaddr *)&got, &nl), ENOTCONN);
    fcntl(srv, F_SETFL, O_NONBLOCK);
    check_errno("nonblocking accept, nobody", accept(srv, NULL, NULL), EAGAIN);
    fcntl(srv, F_SETFL, 0);

    // A thread connects; the server answers.
    struct client_arg c = {.addr = a, .len = len};
    pthread_t th;
    pthread_create(&th, NULL, client_thread, &c);
    nl = sizeof got;
    memset(&got, 0x55, sizeof got);
    int conn = accept(srv, (struct sockaddr *)&got, &nl);
    check("accept", conn >= 0);
    printf("accepted peer address length %d family %d\n", (int)nl, got.sun_family);
    ssize_t n = read(conn, buf, sizeof buf);
    printf("server read %zd %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    write(conn, "pong", 4);
    pthread_join(th, NULL);
    printf("client got %s\n", c.reply);
    int again = socket(AF_UNIX, SOCK_STREAM, 0);
    check("connect", connect(again, (struct sockaddr *)&a, len) == 0);
    check_errno("connect again", connect(again, (struct sockaddr *)&a, len), EISCONN);
    close(again);
    close(accept(srv, NULL, NULL));
    nl = sizeof got;
    getsockname(conn, (struct sockaddr *)&got, &nl);
    check("accepted socket is named after the listener", nl == len && strcmp(got.sun_path, a.sun_path) == 0);
    close(conn);

    // A forked child connects and writes; the parent accepts afterwards.
    pid_t pid = fork();
    if (pid == 0) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, len) != 0) _exit(2);
        struct sockaddr_un peer;
        socklen_t pl = sizeof peer;
        getpeername(fd, (struct sockaddr *)&peer, &pl);
        if (pl != len || strcmp(peer.sun_path, a.sun_path) != 0) _exit(3);
        write(fd, "from child", 10);
        _exit(0);
    }
    conn = accept(srv, NULL, NULL);
    n = read(conn, buf, sizeof buf);
    printf("from the forked child: %.*s\n", (int)(n > 0 ? n : 0), buf);
    struct ucred cred;
    socklen_t cl = sizeof cred;
    getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
    check("SO_PEERCRED is the child", cred.pid == pid && cred.uid == getuid());
    int status;
    waitpid(pid, &status, 0);
    check_value("child status", WEXITSTATUS(status), 0);
    check_value("read after child exit", read(conn, buf, sizeof buf), 0);
    close(conn);

    // The backlog: listen(0) takes one connection, then EAGAIN.
    int l0 = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t l0len;
    struct sockaddr_un l0a = path_addr("backlog", &l0len);
    bind(l0, (struct sockaddr *)&l0a, l0len);
    listen(l0, 0);
    int k1 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int k2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    check("first connect to listen(0)", connect(k1, (struct sockaddr *)&l0a, l0len) == 0);
    check_errno("second connect, backlog full", connect(k2, (struct sockaddr *)&l0a, l0len), EAGAIN);
    write(k1, "unread", 6);
    // Closing the listener resets the connection it never accepted.
    close(l0);
    check_errno("read after listener closed", read(k1, buf, sizeof buf), ECONNRESET);
    check_value("then EOF", read(k1, buf, sizeof buf), 0);
    close(k1);
    close(k2);

    // Unlinked: nobody is found any more.
    unlink(a.sun_path);
    int late = socket(AF_UNIX, SOCK_STREAM, 0);
    check_errno("connect after unlink", connect(late, (struct sockaddr *)&a, len), ENOENT);
    close(late);
    close(other);
    close(srv);
    unlink(file.sun_path);
    unlink(l0a.sun_path);
}

static void test_abstract_and_dgram(void) {
    char buf[64];
    socklen_t len, nl;
    struct sockaddr_un a = abstract_addr("dgram", &len), got;
    int srv = socket(AF_UNIX, SOCK_DGRAM, 0);
    check("bind abstract", bind(srv, (struct sockaddr *)&a, len) == 0);
    nl = sizeof got;
    getsockname(srv, (struct sockaddr *)&got, &nl);
    check("abstract getsockname", nl == len && got.sun_path[0] == 0 &&
                                      memcmp(got.sun_path, a.sun_path, len - 2) == 0);
    int dup = socket(AF_UNIX, SOCK_DGRAM, 0);
    check_errno("abstract name in use", bind(dup, (struct sockaddr *)&a, len), EADDRINUSE);

    // An unnamed sender: the receiver sees no address.
    int c = socket(AF_UNIX, SOCK_DGRAM, 0);
    check_value("sendto", sendto(c, "one", 3, 0, (struct sockaddr *)&a, len), 3);
    nl = sizeof got;
    ssize_t n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&got, &nl);
    printf("recvfrom %zd from unnamed: addrlen %d\n", n, (int)nl);
    check_errno("send unconnected, no address", send(c, "x", 1, 0), ENOTCONN);
    // Autobind: bind with just the family gives an abstract name.
    struct sockaddr_un fam = {.sun_family = AF_UNIX};
    check("autobind", bind(c, (struct sockaddr *)&fam, sizeof(sa_family_t)) == 0);
    struct sockaddr_un mine;
    socklen_t ml = sizeof mine;
    getsockname(c, (struct sockaddr *)&mine, &ml);
    printf("autobind name length %d abstract %d\n", (int)ml, mine.sun_path[0] == 0);
    sendto(c, "two", 3, 0, (struct sockaddr *)&a, len);
    nl = sizeof got;
    n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&got, &nl);
    check("recvfrom names the autobound sender", n == 3 && nl == ml && memcmp(&got, &mine, ml) == 0);
    // Reply to that address.
    check_value("reply", sendto(srv, "back", 4, 0, (struct sockaddr *)&got, nl), 4);
    check_value("client gets reply", recv(c, buf, sizeof buf, 0), 4);
    // connect() fixes the destination.
    check("dgram connect", connect(c, (struct sockaddr *)&a, len) == 0);
    check_value("send connected", send(c, "three", 5, 0), 5);
    check_value("recv", recv(srv, buf, sizeof buf, 0), 5);
    nl = sizeof got;
    check("dgram getpeername", getpeername(c, (struct sockaddr *)&got, &nl) == 0 && nl == len);
    // The server connected to someone else refuses others.
    int third = socket(AF_UNIX, SOCK_DGRAM, 0);
    socklen_t tl;
    struct sockaddr_un ta = abstract_addr("third", &tl);
    bind(third, (struct sockaddr *)&ta, tl);
    check("server connects to third", connect(srv, (struct sockaddr *)&ta, tl) == 0);
    check_errno("sender not the server's peer", send(c, "x", 1, 0), EPERM);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    check("disconnect with AF_UNSPEC", connect(srv, &unspec, sizeof unspec) == 0);
    check_value("accepted again", send(c, "x", 1, 0), 1);
    check_errno("dgram listen", listen(srv, 1), EOPNOTSUPP);
    check_errno("dgram accept", accept(srv, NULL, NULL), EOPNOTSUPP);
    // Abstract names are per type; a path names one socket of one type.
    check_errno("stream connect to a dgram abstract name",
                connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, len), ECONNREFUSED);
    int same = socket(AF_UNIX, SOCK_STREAM, 0);
    check("stream socket takes the dgram's abstract name", bind(same, (struct sockaddr *)&a, len) == 0);
    close(same);
    socklen_t pl;
    struct sockaddr_un pa = path_addr("dgram", &pl);
    int pd = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(pd, (struct sockaddr *)&pa, pl);
    check_errno("stream connect to a dgram path",
                connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&pa, pl), EPROTOTYPE);
    close(pd);
    unlink(pa.sun_path);
    check_errno("abstract nobody", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&ta, tl - 1), ECONNREFUSED);
    close(third);
    close(srv);
    // Its peer gone, a connected sender is refused once, then unconnected.
    check_errno("peer closed: refused", send(c, "x", 1, 0), ECONNREFUSED);
    check_errno("then not connected", send(c, "x", 1, 0), ENOTCONN);
    close(c);
    close(dup);

    // Streams over an abstract name, with SO_PASSCRED autobinding the client.
    socklen_t sl;
    struct sockaddr_un sa = abstract_addr("stream", &sl);
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    bind(l, (struct sockaddr *)&sa, sl);
    listen(l, 8);
    int k = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    int one = 1;
    setsockopt(k, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    check("seqpacket connect", connect(k, (struct sockaddr *)&sa, sl) == 0);
    ml = sizeof mine;
    getsockname(k, (struct sockaddr *)&mine, &ml);
    printf("SO_PASSCRED autobind on connect: length %d\n", (int)ml);
    int conn = accept4(l, (struct sockaddr *)&got, &nl, SOCK_CLOEXEC);
    check("accept4 SOCK_CLOEXEC", conn >= 0 && (fcntl(conn, F_GETFD) & FD_CLOEXEC));
    nl = sizeof got;
    getpeername(conn, (struct sockaddr *)&got, &nl);
    check("accepted peer is the autobound client", nl == ml && memcmp(&got, &mine, ml) == 0);
    send(k, "rec1", 4, 0);
    send(k, "record2", 7, 0);
    printf("seqpacket records %zd %zd\n", recv(conn, buf, sizeof buf, 0), recv(conn, buf, sizeof buf, 0));
    close(k);
    check_value("seqpacket EOF", recv(conn, buf, sizeof buf, 0), 0);
    close(conn);
    close(l);
}

static void test_errors(void) {
    int sv[2], p[2];
    char buf[8];
    struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "x"};
    check_errno("socket bad family", socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT);
    check_errno("socket AF_MAX", socket(46, SOCK_STREAM, 0), EAFNOSUPPORT);
    check_errno("socket bad type", socket(AF_UNIX, 7, 0), ESOCKTNOSUPPORT);
    check_errno("socket type >= SOCK_MAX", socket(AF_UNIX, 11, 0), EINVAL);
    check_errno("socket bad flag", socket(AF_UNIX, SOCK_STREAM | 0x100, 0), EINVAL);
    check_errno("socket bad protocol", socket(AF_UNIX, SOCK_STREAM, 5), EPROTONOSUPPORT);
    int raw = socket(AF_UNIX, SOCK_RAW, 0);
    int v = 0;
    socklen_t vl = sizeof v;
    getsockopt(raw, SOL_SOCKET, SO_TYPE, &v, &vl);
    printf("SOCK_RAW unix socket has type %d\n", v);
    close(raw);
    check_errno("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
    check_errno("socketpair bad pointer", socketpair(AF_UNIX, SOCK_STREAM, 0, (int *)bad_ptr), EFAULT);
    pipe(p);
    check_errno("bind on a pipe", bind(p[0], (struct sockaddr *)&a, sizeof a), ENOTSOCK);
    check_errno("send on a pipe", send(p[1], "x", 1, 0), ENOTSOCK);
    check_errno("getsockopt on a pipe", getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &vl), ENOTSOCK);
    check_errno("shutdown on a pipe", shutdown(p[0], SHUT_RD), ENOTSOCK);
    check_errno("bind bad fd", bind(999, (struct sockaddr *)&a, sizeof a), EBADF);
    check_errno("recv bad fd", recv(-1, buf, 1, 0), EBADF);
    close(p[0]);
    close(p[1]);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    check_errno("bind bad address", bind(s, (struct sockaddr *)bad_ptr, sizeof a), EFAULT);
    check_errno("bind length -1", bind(s, (struct sockaddr *)&a, (socklen_t)-1), EINVAL);
    check_errno("bind length 200", bind(s, (struct sockaddr *)&a, 200), EINVAL);
    check_errno("bind length 1", bind(s, (struct sockaddr *)&a, 1), EINVAL);
    struct sockaddr_un wrong = a;
    wrong.sun_family = AF_INET;
    check_errno("bind wrong family", bind(s, (struct sockaddr *)&wrong, sizeof wrong), EINVAL);
    check_errno("listen unbound", listen(s, 1), EINVAL);
    check_errno("read unconnected stream", read(s, buf, 1), EINVAL);
    check_errno("write unconnected stream", send(s, buf, 1, MSG_NOSIGNAL), ENOTCONN);
    check_errno("getpeername unconnected", getpeername(s, (struct sockaddr *)&a, &vl), ENOTCONN);
    check_errno("sendto on a connected stream", sendto(sv[0], "x", 1, 0, (struct sockaddr *)&a, sizeof a), EISCONN);
    check_errno("send bad buffer", send(sv[0], (void *)bad_ptr, 4, 0), EFAULT);
    write(sv[0], "abc", 3);
    check_errno("recv bad buffer", recv(sv[1], (void *)bad_ptr, 4, MSG_DONTWAIT), EFAULT);
    check_errno("recvfrom bad addrlen", recvfrom(sv[1], buf, 1, 0, (struct sockaddr *)&a, (socklen_t *)bad_ptr), EFAULT);
    socklen_t neg = (socklen_t)-1;
    check_errno("recvfrom negative addrlen", recvfrom(sv[1], buf, 1, 0, (struct sockaddr *)&a, &neg), EINVAL);
    check_errno("getsockname bad length pointer", getsockname(s, (struct sockaddr *)&a, (socklen_t *)bad_ptr), EFAULT);
    check_errno("setsockopt negative length", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, (socklen_t)-1), EINVAL);
    check_errno("setsockopt short int", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL);
    check_errno("setsockopt bad pointer", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (void *)bad_ptr, 4), EFAULT);
    vl = (socklen_t)-1;
    check_errno("getsockopt negative length", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl), EINVAL);
    check_errno("shutdown bad how", shutdown(sv[0], 5), EINVAL);
    check_errno("accept4 bad flags", accept4(s, NULL, NULL, 0x1), EINVAL);
    struct msghdr mh = {0};
    // Raw calls: musl's sendmsg copies the msghdr itself first.
    check_errno("sendmsg bad msghdr", syscall(SYS_sendmsg, sv[0], bad_ptr, 0), EFAULT);
    mh.msg_iovlen = 2000;
    check_errno("sendmsg too many iovecs", syscall(SYS_sendmsg, sv[0], &mh, 0), EMSGSIZE);
    close(s);
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* A fresh directory for the socket files, whatever an earlier run that
     * died half-way left behind in the host's /tmp (natively), and removed
     * with whatever is still in it. */
    snprintf(dir, sizeof dir, "/tmp/mote-sockets-XXXXXX");
    if (!mkdtemp(dir)) fatal("mkdtemp");
    test_pairs();
    test_paths();
    test_abstract_and_dgram();
    test_errors();
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[sizeof dir + 260];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
    printf("failures %d\n", failures);
    return failures ? 1 : 0;
}
