/* Boot-to-program figure for a VM guest: prints the time-stamp counter as main()
 * sees it, then ends the VM.
 *
 *   tsc_hello
 *
 * Prints "tsc_hello tsc_at_main=T". Under QEMU -icount shift=0 the guest's TSC counts
 * executed guest instructions since reset, so T is the instructions from power-on to
 * main() (firmware, kernel boot, exec and libc start-up), whichever kernel ran it.
 * Run as Linux's /init (argv[0] "/init", pid 1) it then writes 0 to QEMU's isa-debug-exit port (0xf4),
 * which ends QEMU with status 1, as mote's kernel does when a program exits 0:
 * a pid 1 that returned would panic Linux instead. Anywhere else it returns 0. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char **argv)
{
    uint64_t t = rdtsc();
    printf("tsc_hello tsc_at_main=%llu\n", (unsigned long long)t);
    fflush(stdout);
    if (argc > 0 && strcmp(argv[0], "/init") == 0 && getpid() == 1) {
        if (ioperm(0xf4, 4, 1) == 0)
            outl(0, 0xf4);
        perror("tsc_hello: ioperm(0xf4)");
        for (;;)
            pause();
    }
    return 0;
}
