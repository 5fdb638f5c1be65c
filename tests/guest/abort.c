// abort: abort() must kill the program with SIGABRT (exit 134) and mote must report it.
#include <stdlib.h>

__attribute__((noinline)) void do_abort(void) {
    abort();
}

int main(void) {
    do_abort();
    return 0;  // not reached
}
