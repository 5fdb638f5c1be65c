/* sendfile: file to a pipe, a unix socket and a TCP connection over
 * loopback, with and without an offset.
 *
 * Without an offset the file position moves by exactly the bytes sent, also
 * when a non-blocking pipe or socket takes only part of the request (the
 * rest is sent by the next call, none lost or repeated); with one, *offset
 * moves and the position stays. Large counts come through whole to a
 * regular file; EAGAIN on a full non-blocking destination, 0 at end of file and
 * for a count of 0, EBADF, EINVAL for a negative offset, ESPIPE for an
 * offset on a pipe. Prints only relations (partial or not, equalities), never
 * the sizes the host's pipes happen to have, so native and mote runs compare
 * line by line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/sendfile.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checks.h"

enum { kSize = 1 << 20 };

static unsigned char pattern(size_t i) { return (unsigned char)(i * 2654435761u >> 13); }

/* Reads everything waiting on fd (non-blocking) and checks it is the file's
 * bytes from `at`; returns how many. */
static long drain_and_check(int fd, long at, int *same) {
    unsigned char buf[65536];
    long n = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) break;
        for (ssize_t i = 0; i < r; ++i)
            if (buf[i] != pattern((size_t)(at + n + i))) *same = 0;
        n += r;
    }
    return n;
}

/* Sends the whole file from position 0 to a non-blocking destination in
 * partial pieces, draining `rd` between them; checks every piece. */
static void in_pieces(const char *what, int file, int wr, int rd) {
    char name[128];
    lseek(file, 0, SEEK_SET);
    long sent = 0, got = 0;
    int same = 1, partial = 0, eagain = 0, pos_ok = 1;
    for (int round = 0; round < 10000 && got < kSize; ++round) {
        ssize_t n = sendfile(wr, file, NULL, kSize);
        if (n < 0) {
            if (errno == EAGAIN) eagain = 1;
            else break;
        } else {
            if (n < kSize - sent && n > 0) partial = 1;
            sent += n;
            if (lseek(file, 0, SEEK_CUR) != sent) pos_ok = 0;
        }
        got += drain_and_check(rd, got, &same);
    }
    snprintf(name, sizeof name, "%s: a full destination takes part of the file", what);
    check(name, partial);
    snprintf(name, sizeof name, "%s: the position moves by the bytes sent", what);
    check(name, pos_ok);
    snprintf(name, sizeof name, "%s: every byte arrives once, in order", what);
    check(name, same && got == kSize && sent == kSize);
    snprintf(name, sizeof name, "%s: at the end of the file: 0", what);
    check(name, sendfile(wr, file, NULL, 4096) == 0);
    (void)eagain;
}

int main(void) {
    char path[] = "/tmp/sendfile-XXXXXX";
    int file = mkstemp(path);
    if (file < 0) fatal("mkstemp");
    unlink(path);
    static unsigned char data[kSize];
    for (size_t i = 0; i < kSize; ++i) data[i] = pattern(i);
    if (write(file, data, kSize) != kSize) fatal("write the file");

    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0) fatal("pipe2");
    in_pieces("pipe", file, p[1], p[0]);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) fatal("socketpair");
    in_pieces("socket", file, sv[0], sv[1]);

    /* TCP over loopback, non-blocking (under mote sendfile reads no more
     * than the send buffer's room). */
    /* Small buffers both ends, so the file never fits in flight at once. */
    int small = 16384;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(l, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) != 0)
        fatal("tcp listen");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0) fatal("tcp connect");
    int s = accept(l, NULL, NULL);
    if (s < 0) fatal("tcp accept");
    fcntl(s, F_SETFL, O_NONBLOCK);
    fcntl(c, F_SETFL, O_NONBLOCK);
    in_pieces("tcp", file, s, c);

    /* A full non-blocking TCP socket: EAGAIN, the position unmoved. */
    {
        static char junk[65536];
        long filled = 0;
        for (int i = 0; i < 100000; ++i) {
            ssize_t w = write(s, junk, sizeof junk);
            if (w < 0) break;
            filled += w;
        }
        lseek(file, 3, SEEK_SET);
        errno = 0;
        check("a full TCP socket: EAGAIN", filled > 0 && sendfile(s, file, NULL, 4096) < 0 &&
              errno == EAGAIN);
        check_value("a full TCP socket: position stays", lseek(file, 0, SEEK_CUR), 3);
        char sink[65536];
        long got = 0;
        for (int i = 0; i < 100000 && got < filled; ++i) {
            ssize_t r = read(c, sink, sizeof sink);
            if (r > 0) got += r;
            else usleep(1000);
        }
        check("a full TCP socket: drained", got == filled);
    }

    /* With an offset: *offset moves, the position does not. */
    lseek(file, 7, SEEK_SET);
    off_t off = 100;
    ssize_t n = sendfile(p[1], file, &off, 5000);
    check_value("offset: sent", n, 5000);
    check_value("offset: moved to", off, 5100);
    check_value("offset: position stays", lseek(file, 0, SEEK_CUR), 7);
    int same = 1;
    check_value("offset: bytes read back", drain_and_check(p[0], 100, &same), 5000);
    check("offset: the bytes from the offset", same);

    /* A large count to a regular file: all of it, in one call. */
    char path2[] = "/tmp/sendfile-out-XXXXXX";
    int out = mkstemp(path2);
    if (out < 0) fatal("mkstemp out");
    unlink(path2);
    lseek(file, 0, SEEK_SET);
    check_value("to a file: sent", sendfile(out, file, NULL, 2 * kSize), kSize);
    check_value("to a file: its size", lseek(out, 0, SEEK_END), kSize);
    static unsigned char back[kSize];
    check_value("to a file: read back", pread(out, back, kSize, 0), kSize);
    check("to a file: the same bytes", memcmp(back, data, kSize) == 0);

    /* Errors. */
    errno = 0;
    check("count 0 sends nothing", sendfile(p[1], file, NULL, 0) == 0);
    errno = 0;
    check("a bad fd: EBADF", sendfile(p[1], 999, NULL, 10) < 0 && errno == EBADF);
    off = -1;
    errno = 0;
    check("a negative offset: EINVAL", sendfile(p[1], file, &off, 10) < 0 && errno == EINVAL);
    errno = 0;
    off = 0;
    check("an offset on a pipe: ESPIPE", sendfile(p[1], p[0], &off, 10) < 0 && errno == ESPIPE);
    /* A full non-blocking pipe: EAGAIN, the position unmoved. */
    while (write(p[1], data, 4096) > 0) {
    }
    lseek(file, 0, SEEK_SET);
    errno = 0;
    check("a full pipe: EAGAIN", sendfile(p[1], file, NULL, 4096) < 0 && errno == EAGAIN);
    check_value("a full pipe: position stays", lseek(file, 0, SEEK_CUR), 0);
    return failures ? 1 : 0;
}
