// printf-style formatting into a caller's buffer: the kernel's only text output
// path (no iostreams, no allocation). Supports %d %i %u %x %X %o %p %s %c %%,
// flags '-', '0' and '#', a width, a precision (also '*'), length l/ll/z/h/hh.
#pragma once

#include <stdarg.h>

#include "kernel/lib/types.h"

namespace mote {

// Writes at most cap-1 characters and a NUL (when cap > 0). Returns the
// number of characters written, excluding the NUL (never more than cap-1).
usize format(char* buf, usize cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
usize vformat(char* buf, usize cap, const char* fmt, va_list ap);
// As vformat; *full receives the length the whole output would have had.
usize vformat_full(char* buf, usize cap, const char* fmt, va_list ap, usize* full);

// An append-only text buffer over fixed storage; silently truncates.
class TextBuffer {
 public:
  TextBuffer(char* storage, usize cap) : buf_(storage), cap_(cap) {
    if (cap_) buf_[0] = 0;
  }
  void append(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void append_raw(const char* s, usize n);
  // Appends bytes as a C string literal with escapes, like strace: "ab\n\0".
  // Shows at most `limit` bytes and "..." after when n > limit.
  void append_escaped(const u8* s, usize n, usize limit);
  const char* data() const { return buf_; }
  usize size() const { return len_; }
  bool truncated() const { return truncated_; }

 private:
  char* buf_;
  usize cap_;
  usize len_ = 0;
  bool truncated_ = false;
};

}  // namespace mote
