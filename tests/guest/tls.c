// tls: thread-local storage of the main thread. Initialized variables live in .tdata, zeroed
// ones in .tbss; both must read their initial values through %fs (set by the libc with
// arch_prctl(ARCH_SET_FS)) and be writable. Addresses are checked, never printed.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

__thread int tdata_int = 42;
_Thread_local long tdata_long = -1234567890123L;
__thread char tdata_str[16] = "thread-local";
__thread double tdata_double = 2.5;
__thread int tbss_int;
__thread uint64_t tbss_array[64];
__thread _Alignas(64) unsigned char tdata_aligned[64] = {1, 2, 3};
__thread _Alignas(128) unsigned char tbss_aligned[256];
static __thread int static_tls = 7;

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

// Not inlined so the accesses really go through the TLS model the compiler picks for a
// separate function.
__attribute__((noinline)) static int bump(void) { return ++static_tls; }

int main(void) {
    printf("tdata_int=%d\n", tdata_int);
    printf("tdata_long=%ld\n", tdata_long);
    printf("tdata_str=%s\n", tdata_str);
    printf("tdata_double=%g\n", tdata_double);
    printf("tdata_aligned[0..3]=%d %d %d %d\n", tdata_aligned[0], tdata_aligned[1],
           tdata_aligned[2], tdata_aligned[3]);
    printf("static_tls=%d\n", static_tls);

    uint64_t bss_sum = (uint64_t)tbss_int;
    for (int i = 0; i < 64; i++) bss_sum |= tbss_array[i];
    for (int i = 0; i < 256; i++) bss_sum |= tbss_aligned[i];
    check("tbss starts zeroed", bss_sum == 0);
    check("64-byte aligned tdata", ((uintptr_t)tdata_aligned & 63) == 0);
    check("128-byte aligned tbss", ((uintptr_t)tbss_aligned & 127) == 0);

    // The thread pointer (%fs:0) points to itself on x86-64 (TLS variant II).
    uintptr_t tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    check("%fs:0 is the thread pointer", tp != 0 && (uintptr_t)&tdata_int < tp);

    tdata_int += 58;
    tdata_long = -tdata_long;
    strcpy(tdata_str, "modified");
    tdata_double *= 4;
    tbss_int = 99;
    for (int i = 0; i < 64; i++) tbss_array[i] = (uint64_t)i * i;
    memset(tbss_aligned, 0xAB, sizeof tbss_aligned);
    bump();
    bump();

    uint64_t sum = 0;
    for (int i = 0; i < 64; i++) sum += tbss_array[i];
    printf("after: tdata_int=%d tdata_long=%ld tdata_str=%s tdata_double=%g\n", tdata_int,
           tdata_long, tdata_str, tdata_double);
    printf("after: tbss_int=%d tbss_array sum=%llu tbss_aligned[255]=%#x static_tls=%d\n",
           tbss_int, (unsigned long long)sum, tbss_aligned[255], static_tls);
    check("tdata neighbours untouched", tdata_aligned[0] == 1 && tdata_aligned[3] == 0);
    printf(failures ? "tls: FAIL\n" : "tls: ok\n");
    return failures ? 1 : 0;
}
