// mremap_grow: an anonymous mapping grown with MREMAP_MAYMOVE several times (contents must
// follow it, new pages must read as zero), then shrunk (always in place on Linux).
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 4096 + 3); }

static int check_pattern(const unsigned char *p, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (p[i] != pattern(i)) return 0;
    return 1;
}

static int check_zero(const unsigned char *p, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (p[i] != 0) return 0;
    return 1;
}

static void report(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

int main(void) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = page;
    unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap: FAIL errno %d\n", errno);
        return 1;
    }
    for (size_t i = 0; i < size; i++) p[i] = pattern(i);

    // Grow 1 page -> 2 -> 4 ... -> 4096 pages (16 MiB).
    int grows = 0, all_kept = 1, all_zero = 1;
    while (size < 4096 * page) {
        size_t grown = size * 2;
        // A neighbour mapping makes in-place growth impossible for at least some steps.
        void *blocker = mmap(p + size, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                             -1, 0);
        unsigned char *q = mremap(p, size, grown, MREMAP_MAYMOVE);
        if (blocker != MAP_FAILED) munmap(blocker, page);
        if (q == MAP_FAILED) {
            printf("mremap grow to %zu pages: FAIL errno %d\n", grown / page, errno);
            return 1;
        }
        p = q;
        all_kept &= check_pattern(p, 0, size);
        all_zero &= check_zero(p, size, grown);
        for (size_t i = size; i < grown; i++) p[i] = pattern(i);
        size = grown;
        grows++;
    }
    printf("grew %d times to %zu pages\n", grows, size / page);
    report("contents kept across every grow", all_kept);
    report("new pages zero-filled", all_zero);
    report("final contents", check_pattern(p, 0, size));

    // Shrink to 3 pages: Linux shrinks in place and keeps the head.
    size_t small = 3 * page;
    unsigned char *s = mremap(p, size, small, 0);
    report("shrink succeeded", s != MAP_FAILED);
    if (s == MAP_FAILED) return 1;
    report("shrink stayed in place", s == p);
    report("contents kept after shrink", check_pattern(s, 0, small));

    // The tail that was cut off is gone: a mapping can be placed there again with NOREPLACE.
    void *tail = mmap(s + small, page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    report("released tail can be mapped again", tail == (void *)(s + small));
    if (tail != MAP_FAILED) munmap(tail, page);

    // Growing without MREMAP_MAYMOVE into free space works in place.
    unsigned char *g = mremap(s, small, 4 * page, 0);
    report("in-place grow into free space", g == s);
    if (g != MAP_FAILED) {
        report("in-place grow kept contents", check_pattern(g, 0, small));
        report("in-place grow zero-filled", check_zero(g, small, 4 * page));
        small = 4 * page;
    }

    // Invalid requests fail with EINVAL.
    errno = 0;
    void *bad = mremap(s + 1, page, 2 * page, MREMAP_MAYMOVE);
    report("unaligned address -> EINVAL", bad == MAP_FAILED && errno == EINVAL);
    errno = 0;
    bad = mremap(s, small, 0, MREMAP_MAYMOVE);
    report("zero new size -> EINVAL", bad == MAP_FAILED && errno == EINVAL);

    report("munmap", munmap(s, small) == 0);
    printf(failures ? "mremap_grow: FAIL\n" : "mremap_grow: ok\n");
    return failures ? 1 : 0;
}
