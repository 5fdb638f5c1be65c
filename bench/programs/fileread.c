/* File read throughput, timed inside the program.
 *
 *   fileread PATH MIB [create]
 *
 * With "create", first writes MIB MiB to PATH (untimed; the file is removed at the
 * end), so the file lives in the file system the program sees at PATH (mote's
 * in-memory /tmp, a host tmpfs natively). Without it PATH must exist (a host share).
 * Then reads PATH from the start in 1 MiB read()s, once untimed (so the host's page
 * cache holds a shared file in every row alike) and REPS=3 times timed, and prints
 * "fileread bytes=B ns=T mib_per_s=X" for the fastest timed pass. Exits 1 on a
 * short file or an I/O error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define REPS 3

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long read_all(const char *path, char *buf)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "fileread: open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "fileread: read %s: %s\n", path, strerror(errno));
            exit(1);
        }
        if (n == 0)
            break;
        total += n;
    }
    close(fd);
    return total;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "create") != 0)) {
        fprintf(stderr, "usage: %s PATH MIB [create]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    long mib = strtol(argv[2], NULL, 10);
    if (mib <= 0) {
        fprintf(stderr, "fileread: bad MIB '%s'\n", argv[2]);
        return 2;
    }
    char *buf = malloc(CHUNK);
    if (!buf) {
        perror("fileread: malloc");
        return 1;
    }
    memset(buf, 0x5a, CHUNK);
    int create = argc == 4;
    if (create) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) {
            fprintf(stderr, "fileread: create %s: %s\n", path, strerror(errno));
            return 1;
        }
        for (long i = 0; i < mib; i++) {
            if (write(fd, buf, CHUNK) != CHUNK) {
                fprintf(stderr, "fileread: write %s: %s\n", path, strerror(errno));
                return 1;
            }
        }
        close(fd);
    }
    long want = mib << 20;
    double best = 0;
    long got = read_all(path, buf); /* untimed: warms the caches */
    for (int r = 0; r < REPS; r++) {
        double t0 = now_ns();
        got = read_all(path, buf);
        double t = now_ns() - t0;
        if (r == 0 || t < best)
            best = t;
    }
    if (create)
        unlink(path);
    if (got != want) {
        fprintf(stderr, "fileread: read %ld bytes of %s, expected %ld\n", got, path, want);
        return 1;
    }
    printf("fileread bytes=%ld ns=%.0f mib_per_s=%.1f\n", got, best,
           (double)mib / (best / 1e9));
    return 0;
}
