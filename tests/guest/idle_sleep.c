// idle_sleep: sleeps 3 s in one nanosleep, then prints "slept". Run by
// tests/integration/idle_cpu.py, which checks that a sleeping guest costs (almost) no CPU time.
#include <errno.h>
#include <stdio.h>
#include <time.h>

int main(void) {
    struct timespec ts = {3, 0};
    while (nanosleep(&ts, &ts) != 0) {
        if (errno != EINTR) {
            perror("nanosleep");
            return 1;
        }
    }
    printf("slept\n");
    return 0;
}
