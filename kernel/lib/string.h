// Freestanding memory and string routines. In the kernel build these are the
// definitions the compiler's own memcpy/memset calls resolve to; hosted builds
// (unit tests) use libc's.
#pragma once

#include "kernel/lib/types.h"

extern "C" {
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
}

namespace mote {
inline usize strnlen(const char* s, usize max) {
  usize n = 0;
  while (n < max && s[n]) ++n;
  return n;
}
}  // namespace mote
