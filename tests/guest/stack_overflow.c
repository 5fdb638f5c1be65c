// stack_overflow: unbounded recursion runs the main thread off its stack. The program must
// die of SIGSEGV (exit 139) as natively, and mote's report must say it was a stack overflow
// and show the recursing function in its backtrace.
#include <stdio.h>

__attribute__((noinline)) int recurse(int n) {
    volatile char frame[256];  // a real frame per call, not a loop
    frame[0] = (char)n;
    return recurse(n + 1) + frame[0];
}

int main(void) {
    printf("%d\n", recurse(0));
    return 0;  // not reached
}
