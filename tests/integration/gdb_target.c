/* The program tests/integration/gdb.py debugs through `mote run --gdb`:
 * a local variable to print, a call for `next` to step over, a helper
 * thread, and an exit status from argv[1]. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int square(int x) { return x * x; }

static void* helper(void* arg) {
  int* slot = arg;
  *slot = square(*slot); /* line of the thread breakpoint */
  return NULL;
}

int main(int argc, char** argv) {
  int answer = square(6) + 6;
  printf("answer %d\n", answer);
  fflush(stdout);
  if (argc > 2) {
    int value = 9;
    pthread_t t;
    pthread_create(&t, NULL, helper, &value);
    pthread_join(t, NULL);
    printf("helper %d\n", value);
  }
  return argc > 1 ? atoi(argv[1]) : 0;
}
