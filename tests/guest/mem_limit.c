// Allocates 1 MiB blocks until malloc fails, writes every page of each, and
// prints how many MiB it got. Under `mote run --mem N` the total must stay
// below N: the unikernel's memory is bounded and the program sees ENOMEM
// (malloc returning NULL), not a crash.
//
// With --big-bss the program carries a 4 MiB .bss, so it cannot even be
// loaded into a 1 MiB unikernel.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char big_bss[4 << 20];  // external linkage: the compiler must keep all of it

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--big-bss") == 0) {
    for (size_t i = 0; i < sizeof big_bss; i += 4096) big_bss[i] = 1;
    size_t sum = 0;
    for (size_t i = 0; i < sizeof big_bss; i += 4096) sum += (unsigned char)big_bss[i];
    printf("big bss loaded: %zu pages\n", sum);
    return 0;
  }
  size_t mib = 0;
  for (;;) {
    char* p = malloc(1 << 20);
    if (!p) break;
    for (size_t off = 0; off < (1 << 20); off += 4096) p[off] = (char)off;
    ++mib;
    if (mib > 65536) break;  // natively: stop at 64 GiB rather than exhaust the host
  }
  printf("allocated %zu MiB\n", mib);
  return 0;
}
