// malloc_big: exercises both of malloc's sources of memory.
//  - many small blocks come from the brk heap;
//  - 64 MiB blocks come from mmap (above the mmap threshold);
//  - realloc growth moves data between the two (and through mremap in glibc).
// Every block is filled with a pattern derived from its index (big ones in stripes, see
// touched()), verified, and folded into a checksum; only counts and checksums are printed,
// never addresses.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024u * 1024u)

static int failures;

static void fail(const char *what, size_t index) {
    printf("FAIL %s (index %zu)\n", what, index);
    failures++;
}

static uint32_t lcg_state = 12345;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 8;
}

static unsigned char small_byte(size_t block, size_t offset) {
    return (unsigned char)(block * 31u + offset * 7u + 1u);
}

// Small blocks: allocate, fill, free every other one, reallocate those, verify all.
static void small_blocks(void) {
    enum { COUNT = 5000 };
    static unsigned char *blocks[COUNT];
    static size_t sizes[COUNT];
    uint64_t checksum = 0;

    for (size_t i = 0; i < COUNT; i++) {
        sizes[i] = 1 + lcg() % 2048;
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) { fail("small malloc", i); return; }
        if ((uintptr_t)blocks[i] % 16 != 0) fail("small alignment", i);
        for (size_t j = 0; j < sizes[i]; j++) blocks[i][j] = small_byte(i, j);
    }
    for (size_t i = 1; i < COUNT; i += 2) free(blocks[i]);
    for (size_t i = 1; i < COUNT; i += 2) {
        sizes[i] = 1 + lcg() % 4096;
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) { fail("small re-malloc", i); return; }
        for (size_t j = 0; j < sizes[i]; j++) blocks[i][j] = small_byte(i, j);
    }
    for (size_t i = 0; i < COUNT; i++) {
        for (size_t j = 0; j < sizes[i]; j++) {
            if (blocks[i][j] != small_byte(i, j)) { fail("small pattern", i); break; }
            checksum = checksum * 131 + blocks[i][j];
        }
        free(blocks[i]);
    }
    printf("small: %d blocks, checksum %016llx\n", COUNT, (unsigned long long)checksum);
}

// Big regions are written densely in their first MiB and then in one 64-byte stripe every
// 64 KiB: that reaches every part of the mapping while keeping the number of page faults (each
// costs microseconds, natively and in a guest) small enough for a fast test.
static int touched(size_t byte_offset) {
    return byte_offset < MiB || byte_offset % (64 * 1024) < 64;
}

// The first touched offset >= i, and the one after i.
static size_t first_touched(size_t i) {
    return touched(i) ? i : (i / (64 * 1024) + 1) * (64 * 1024);
}
static size_t next_touched(size_t i) { return first_touched(i + 1); }

// The same over 8-byte words (stripes are 64-byte aligned, so a word is touched as a whole).
static size_t next_touched_word(size_t w) { return next_touched(w * 8 + 7) / 8; }

static uint64_t word_pattern(uint64_t seed, size_t i) {
    return (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
}

static void fill_words(uint64_t *p, size_t count, uint64_t seed) {
    for (size_t i = 0; i < count; i = next_touched_word(i)) p[i] = word_pattern(seed, i);
}

static uint64_t verify_words(const uint64_t *p, size_t count, uint64_t seed, const char *what) {
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i = next_touched_word(i)) {
        if (p[i] != word_pattern(seed, i)) { fail(what, i); return 0; }
        sum += p[i] ^ (sum >> 7);
    }
    return sum;
}

// Two 64 MiB blocks alive at once, each written and verified after the other is written; the
// last word of each is written too.
static void big_blocks(void) {
    const size_t bytes = 64 * MiB, words = bytes / sizeof(uint64_t);
    uint64_t *a = malloc(bytes);
    if (!a) { fail("big malloc a", 0); return; }
    fill_words(a, words, 0xA);
    a[words - 1] = 0xAAAA;
    uint64_t *b = malloc(bytes);
    if (!b) { fail("big malloc b", 0); free(a); return; }
    fill_words(b, words, 0xB);
    b[words - 1] = 0xBBBB;
    uint64_t sum_a = verify_words(a, words, 0xA, "big pattern a");
    uint64_t sum_b = verify_words(b, words, 0xB, "big pattern b");
    if (a[words - 1] != 0xAAAA || b[words - 1] != 0xBBBB) fail("big last word", words - 1);
    free(a);
    free(b);
    printf("big: 2 x 64 MiB, checksums %016llx %016llx\n",
           (unsigned long long)sum_a, (unsigned long long)sum_b);

    unsigned char *z = calloc(32, MiB);
    if (!z) { fail("calloc", 0); return; }
    size_t nonzero = 0;
    for (size_t i = 0; i < 32 * MiB; i = next_touched(i)) nonzero += z[i] != 0;
    free(z);
    printf("calloc: 32 MiB, %zu nonzero bytes\n", nonzero);
}

static unsigned char realloc_byte(size_t i) { return (unsigned char)(i * 13 + 5); }

// realloc from 1 KiB up to 64 MiB, doubling; the old contents must survive every move.
static void realloc_growth(void) {
    size_t size = 1024;
    unsigned char *p = malloc(size);
    if (!p) { fail("realloc initial", 0); return; }
    for (size_t i = 0; i < size; i++) p[i] = realloc_byte(i);
    int steps = 0;
    while (size < 64 * MiB) {
        size_t grown = size * 2;
        unsigned char *q = realloc(p, grown);
        if (!q) { fail("realloc grow", size); free(p); return; }
        p = q;
        for (size_t i = 0; i < size; i = next_touched(i)) {
            if (p[i] != realloc_byte(i)) { fail("realloc kept data", i); break; }
        }
        for (size_t i = first_touched(size); i < grown; i = next_touched(i)) p[i] = realloc_byte(i);
        size = grown;
        steps++;
    }
    uint64_t checksum = 0;
    for (size_t i = 0; i < size; i = next_touched(i)) checksum = checksum * 31 + p[i];
    p = realloc(p, 100);  // shrink back below the mmap threshold
    if (!p) { fail("realloc shrink", 0); return; }
    for (size_t i = 0; i < 100; i++) {
        if (p[i] != realloc_byte(i)) { fail("realloc shrink kept data", i); break; }
    }
    free(p);
    printf("realloc: %d doublings to %zu bytes, checksum %016llx\n", steps, size,
           (unsigned long long)checksum);
}

int main(void) {
    small_blocks();
    big_blocks();
    realloc_growth();
    printf(failures ? "malloc_big: FAIL\n" : "malloc_big: ok\n");
    return failures ? 1 : 0;
}
