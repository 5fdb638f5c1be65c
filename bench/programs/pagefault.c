/* Anonymous page-fault cost, timed inside the program.
 *
 *   pagefault MIB REPS
 *
 * REPS times: mmap MIB MiB of private anonymous memory, write one byte to each
 * 4 KiB page (each write a first-touch fault that allocates and zeroes a page),
 * munmap. Prints "pagefault pages=P ns_per_page=X" for the fastest repetition
 * (mmap and munmap included, divided by the pages). MAP_POPULATE and huge pages
 * are not asked for. Exits 1 if mmap fails. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MIB REPS\n", argv[0]);
        return 2;
    }
    long mib = strtol(argv[1], NULL, 10), reps = strtol(argv[2], NULL, 10);
    if (mib <= 0 || reps <= 0) {
        fprintf(stderr, "pagefault: bad MIB or REPS\n");
        return 2;
    }
    size_t len = (size_t)mib << 20, pages = len / 4096;
    double best = 0;
    for (long r = 0; r < reps; r++) {
        double t0 = now_ns();
        volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            perror("pagefault: mmap");
            return 1;
        }
        for (size_t i = 0; i < len; i += 4096)
            p[i] = 1;
        munmap((void *)p, len);
        double t = now_ns() - t0;
        if (r == 0 || t < best)
            best = t;
    }
    printf("pagefault pages=%zu ns_per_page=%.1f\n", pages, best / (double)pages);
    return 0;
}
