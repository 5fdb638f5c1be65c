// getrandom: the kernel hands out real randomness: two buffers differ, neither is all zero,
// and GRND_NONBLOCK is accepted.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static int all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int main(void) {
    unsigned char a[32], b[32], c[32];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(c, 0, sizeof c);
    check("getrandom(32) returns 32", getrandom(a, sizeof a, 0) == (ssize_t)sizeof a);
    check("second getrandom(32) returns 32", getrandom(b, sizeof b, 0) == (ssize_t)sizeof b);
    check("buffers are not all zero", !all_zero(a, sizeof a) && !all_zero(b, sizeof b));
    check("two buffers differ", memcmp(a, b, sizeof a) != 0);
    check("GRND_NONBLOCK returns 32", getrandom(c, sizeof c, GRND_NONBLOCK) == (ssize_t)sizeof c);
    check("GRND_NONBLOCK buffer differs", !all_zero(c, sizeof c) && memcmp(a, c, sizeof a) != 0);

    unsigned char big[4096];
    memset(big, 0, sizeof big);
    check("getrandom(4096) returns 4096", getrandom(big, sizeof big, 0) == (ssize_t)sizeof big);
    size_t ones = 0;
    for (size_t i = 0; i < sizeof big; i++) ones += (size_t)__builtin_popcount(big[i]);
    // 32768 fair bits: the count of ones is within +-1000 of 16384 with overwhelming probability.
    check("bits look balanced", ones > 15384 && ones < 17384);

    check("zero-length request returns 0", getrandom(a, 0, 0) == 0);
    errno = 0;
    check("unknown flag -> EINVAL", getrandom(a, sizeof a, 0x4000) == -1 && errno == EINVAL);
    printf(failures ? "getrandom: FAIL\n" : "getrandom: ok\n");
    return failures ? 1 : 0;
}
