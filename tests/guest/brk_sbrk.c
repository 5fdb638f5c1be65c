// brk_sbrk: the program break grows and shrinks. New memory is writable, memory released by
// shrinking comes back zeroed when the break grows again, and impossible requests fail without
// moving the break.
// The kernel's brk is driven through the raw system call (musl's sbrk() refuses any non-zero
// increment); glibc's sbrk() is then exercised on top of it.
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MiB ((uintptr_t)1 << 20)

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static int filled_with(const unsigned char *p, size_t n, unsigned char value) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != value) return 0;
    return 1;
}

// Linux brk returns the new break on success and the unchanged break on failure.
static uintptr_t sys_brk(uintptr_t addr) { return (uintptr_t)syscall(SYS_brk, addr); }

static void raw_brk(void) {
    const uintptr_t page = 4096;
    const uintptr_t initial = sys_brk(0);
    check("brk(0) returns the break", initial != 0 && initial != (uintptr_t)-1);
    const uintptr_t base = (initial + page - 1) & ~(page - 1);
    check("brk to the next page boundary", sys_brk(base) == base);
    unsigned char *const p = (unsigned char *)base;

    // Grow by one page, then 1 MiB, then 16 MiB, writing all of it.
    check("grow 1 page", sys_brk(base + page) == base + page);
    memset(p, 0x11, page);
    check("grow 1 MiB", sys_brk(base + page + MiB) == base + page + MiB);
    memset(p + page, 0x22, MiB);
    const uintptr_t top = base + page + 17 * MiB;
    check("grow 16 MiB", sys_brk(top) == top);
    memset(p + page + MiB, 0x33, 16 * MiB);
    check("grown memory holds what was written",
          filled_with(p, page, 0x11) && filled_with(p + page, MiB, 0x22) &&
              filled_with(p + page + MiB, 16 * MiB, 0x33));

    // Shrink by 16 MiB, then grow again: the released pages come back zeroed.
    check("shrink 16 MiB", sys_brk(base + page + MiB) == base + page + MiB);
    check("memory below the break kept", filled_with(p + page, MiB, 0x22));
    check("grow 1 MiB again", sys_brk(base + page + 2 * MiB) == base + page + 2 * MiB);
    check("re-grown pages are zero", filled_with(p + page + MiB, MiB, 0));

    // Unaligned break: the page holding it stays usable up to its end.
    check("unaligned break", sys_brk(base + page + 100) == base + page + 100);
    check("page below an unaligned break kept", filled_with(p, page, 0x11) && p[page + 99] == 0x22);

    // An impossible request fails and leaves the break where it was.
    const uintptr_t before = sys_brk(0);
    check("brk(+128 TiB) fails, break unchanged", sys_brk(before + ((uintptr_t)1 << 47)) == before);
    check("brk below the start fails, break unchanged", sys_brk(page) == before);

    // Back to where the libc left it.
    check("brk back to the initial break", sys_brk(initial) == initial);
}

static void libc_sbrk(void) {
    check("sbrk(0) matches brk(0)", (uintptr_t)sbrk(0) == sys_brk(0));
#ifdef __GLIBC__
    unsigned char *old = sbrk(0);
    unsigned char *p = sbrk((intptr_t)(4 * MiB));
    check("sbrk(+4 MiB) returns the old break", p == old);
    if (p == (void *)-1) return;
    memset(p, 0x44, 4 * MiB);
    check("sbrk memory holds what was written", filled_with(p, 4 * MiB, 0x44));
    check("sbrk(0) is old + 4 MiB", (unsigned char *)sbrk(0) == old + 4 * MiB);
    errno = 0;
    check("sbrk(128 TiB) fails with ENOMEM",
          sbrk((intptr_t)1 << 47) == (void *)-1 && errno == ENOMEM);
    check("sbrk(-4 MiB) returns the grown break", (unsigned char *)sbrk(-(intptr_t)(4 * MiB)) == old + 4 * MiB);
    check("sbrk(0) is back to old", sbrk(0) == old);
    check("brk(old) == 0", brk(old) == 0);
#else
    errno = 0;
    check("musl sbrk(+4096) refuses with ENOMEM", sbrk(4096) == (void *)-1 && errno == ENOMEM);
#endif
}

int main(void) {
    // A static stdout buffer: printf must not call malloc (which moves the break) mid-test.
    static char out[1 << 14];
    setvbuf(stdout, out, _IOFBF, sizeof out);
    raw_brk();
    libc_sbrk();
    printf(failures ? "brk_sbrk: FAIL\n" : "brk_sbrk: ok\n");
    return failures ? 1 : 0;
}
