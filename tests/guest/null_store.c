// null_store: a store through a NULL pointer must kill the program with SIGSEGV (exit 139),
// and mote must report the fault address 0x0 and the faulting function, do_null_store.
#include <stddef.h>

// The pointer is volatile so the compiler cannot see it is NULL (and so cannot replace the
// store by a trap instruction).
int *volatile null_pointer = NULL;

__attribute__((noinline)) void do_null_store(int value) {
    *null_pointer = value;
}

int main(void) {
    do_null_store(42);
    return 0;  // not reached
}
