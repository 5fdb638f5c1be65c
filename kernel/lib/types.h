// Basic freestanding types for the kernel core. Compiles hosted too (unit tests).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace mote {

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using i8 = int8_t;
using i16 = int16_t;
using i32 = int32_t;
using i64 = int64_t;
using usize = size_t;
using isize = ptrdiff_t;

inline constexpr u64 kPageSize = 4096;

constexpr u64 page_down(u64 v) { return v & ~(kPageSize - 1); }
// Returns 0 on overflow; callers that care check align_up_ok first.
constexpr u64 page_up(u64 v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }
constexpr bool page_up_ok(u64 v) { return v <= ~u64(0) - (kPageSize - 1); }
constexpr bool page_aligned(u64 v) { return (v & (kPageSize - 1)) == 0; }

template <typename T>
constexpr T min(T a, T b) { return a < b ? a : b; }
template <typename T>
constexpr T max(T a, T b) { return a < b ? b : a; }

// A read-only view of bytes or characters; no ownership.
struct StrView {
  const char* data = nullptr;
  usize size = 0;
  constexpr StrView() = default;
  constexpr StrView(const char* d, usize n) : data(d), size(n) {}
  constexpr StrView(const char* z) : data(z), size(0) {  // NOLINT: implicit from literals
    while (z && z[size]) ++size;
  }
  constexpr bool operator==(StrView o) const {
    if (size != o.size) return false;
    for (usize i = 0; i < size; ++i)
      if (data[i] != o.data[i]) return false;
    return true;
  }
  constexpr bool starts_with(StrView p) const {
    return size >= p.size && StrView(data, p.size) == p;
  }
};

}  // namespace mote
