// Kernel-only: the hosted build links libc's versions instead, and
// tests/unit/string_test.cc checks these under other names.
// General-purpose registers only (the kernel is built -mgeneral-regs-only):
// `rep movsq`/`rep stosq` are fast on every CPU with ERMS.
#include "kernel/lib/string.h"

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  // Up to 32 bytes (headers, timespecs, most socket addresses) in
  // registers: a `rep` start costs more than such a copy. Every byte is
  // loaded before any is stored, so memmove may use this for any overlap.
  if (n <= 32) {
    if (n >= 16) {
      unsigned long a, b, y, z;
      __builtin_memcpy(&a, s, 8);
      __builtin_memcpy(&b, s + 8, 8);
      __builtin_memcpy(&y, s + n - 16, 8);
      __builtin_memcpy(&z, s + n - 8, 8);
      __builtin_memcpy(d, &a, 8);
      __builtin_memcpy(d + 8, &b, 8);
      __builtin_memcpy(d + n - 16, &y, 8);
      __builtin_memcpy(d + n - 8, &z, 8);
    } else if (n >= 8) {
      unsigned long a, z;
      __builtin_memcpy(&a, s, 8);
      __builtin_memcpy(&z, s + n - 8, 8);
      __builtin_memcpy(d, &a, 8);
      __builtin_memcpy(d + n - 8, &z, 8);
    } else if (n >= 4) {
      unsigned a, z;
      __builtin_memcpy(&a, s, 4);
      __builtin_memcpy(&z, s + n - 4, 4);
      __builtin_memcpy(d, &a, 4);
      __builtin_memcpy(d + n - 4, &z, 4);
    } else if (n) {
      unsigned char a = s[0], m = s[n / 2], z = s[n - 1];
      d[0] = a;
      d[n / 2] = m;
      d[n - 1] = z;
    }
    return dst;
  }
  // Eight bytes a step (as fast with ERMS, and an eighth of the steps where
  // each step costs: emulators, QEMU's -icount), then the last eight bytes
  // in one overlapping move instead of a second `rep`. The tail is loaded
  // first, so a forward overlap (memmove's d < s) still copies right.
  unsigned long tail;
  __builtin_memcpy(&tail, s + n - 8, 8);
  size_t q = n >> 3;
  asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
  __builtin_memcpy(static_cast<unsigned char*>(dst) + n - 8, &tail, 8);
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst above src: copy backwards.
  d += n - 1;
  s += n - 1;
  asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  unsigned long v = 0x0101010101010101ul * (unsigned char)c;
  // As memcpy: short fills in registers, longer ones eight bytes a step
  // and the last eight bytes in one overlapping store.
  if (n < 8) {
    if (n >= 4) {
      unsigned w = unsigned(v);
      __builtin_memcpy(d, &w, 4);
      __builtin_memcpy(d + n - 4, &w, 4);
    } else if (n) {
      d[0] = d[n / 2] = d[n - 1] = (unsigned char)c;
    }
    return dst;
  }
  __builtin_memcpy(d + n - 8, &v, 8);
  if (n <= 32) {
    __builtin_memcpy(d, &v, 8);
    if (n > 16) {
      __builtin_memcpy(d + 8, &v, 8);
      __builtin_memcpy(d + n - 16, &v, 8);
    }
    return dst;
  }
  size_t q = n >> 3;
  asm volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

}  // extern "C"
