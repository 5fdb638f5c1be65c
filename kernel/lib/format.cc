#include "kernel/lib/format.h"

namespace mote {
namespace {

struct Out {
  char* buf;
  usize cap;
  usize len;
  usize total = 0;  // what the output would be without truncation
  void put(char c) {
    ++total;
    if (cap && len + 1 < cap) buf[len++] = c;
  }
};

void put_padded(Out& o, const char* s, usize n, int width, bool left, char pad) {
  int fill = width > int(n) ? width - int(n) : 0;
  if (!left)
    for (int i = 0; i < fill; ++i) o.put(pad);
  for (usize i = 0; i < n; ++i) o.put(s[i]);
  if (left)
    for (int i = 0; i < fill; ++i) o.put(' ');
}

void put_number(Out& o, u64 v, bool negative, unsigned base, bool upper, int width, bool left,
                bool zero, const char* prefix) {
  char tmp[32];
  int n = 0;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v);
  usize plen = 0;
  char pre[4];
  if (negative) pre[plen++] = '-';
  for (const char* p = prefix; p && *p; ++p) pre[plen++] = *p;
  int total = n + int(plen);
  int fill = width > total ? width - total : 0;
  if (!left && !zero)
    for (int i = 0; i < fill; ++i) o.put(' ');
  for (usize i = 0; i < plen; ++i) o.put(pre[i]);
  if (!left && zero)
    for (int i = 0; i < fill; ++i) o.put('0');
  while (n) o.put(tmp[--n]);
  if (left)
    for (int i = 0; i < fill; ++i) o.put(' ');
}

}  // namespace

usize vformat_full(char* buf, usize cap, const char* fmt, va_list ap, usize* full) {
  Out o{buf, cap, 0};
  for (const char* p = fmt; *p; ++p) {
    if (*p != '%') {
      o.put(*p);
      continue;
    }
    ++p;
    bool left = false, zero = false, alt = false;
    for (;; ++p) {
      if (*p == '-') left = true;
      else if (*p == '0') zero = true;
      else if (*p == '#') alt = true;
      else break;
    }
    int width = 0;
    if (*p == '*') {
      width = va_arg(ap, int);
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    }
    int precision = -1;
    if (*p == '.') {
      ++p;
      precision = 0;
      if (*p == '*') {
        precision = va_arg(ap, int);
        ++p;
      } else {
        while (*p >= '0' && *p <= '9') precision = precision * 10 + (*p++ - '0');
      }
    }
    int lng = 0;  // 0 int, 1 long, 2 long long, -1 short, -2 char; 'z' counts as long
    for (;; ++p) {
      if (*p == 'l') ++lng;
      else if (*p == 'z') lng = 1;
      else if (*p == 'h') --lng;
      else break;
    }
    auto get_signed = [&]() -> i64 {
      if (lng >= 2) return va_arg(ap, long long);
      if (lng == 1) return va_arg(ap, long);
      int v = va_arg(ap, int);
      if (lng == -1) return short(v);
      if (lng <= -2) return (signed char)(v);
      return v;
    };
    auto get_unsigned = [&]() -> u64 {
      if (lng >= 2) return va_arg(ap, unsigned long long);
      if (lng == 1) return va_arg(ap, unsigned long);
      unsigned v = va_arg(ap, unsigned);
      if (lng == -1) return u16(v);
      if (lng <= -2) return u8(v);
      return v;
    };
    switch (*p) {
      case 'd':
      case 'i': {
        i64 v = get_signed();
        u64 mag = v < 0 ? u64(0) - u64(v) : u64(v);
        put_number(o, mag, v < 0, 10, false, width, left, zero, nullptr);
        break;
      }
      case 'u': put_number(o, get_unsigned(), false, 10, false, width, left, zero, nullptr); break;
      case 'x':
      case 'X': {
        u64 v = get_unsigned();
        put_number(o, v, false, 16, *p == 'X', width, left, zero,
                   alt && v ? (*p == 'X' ? "0X" : "0x") : nullptr);
        break;
      }
      case 'o': put_number(o, get_unsigned(), false, 8, false, width, left, zero, nullptr); break;
      case 'p':
        put_number(o, u64(va_arg(ap, void*)), false, 16, false, width, left, zero, "0x");
        break;
      case 'c': {
        char c = char(va_arg(ap, int));
        put_padded(o, &c, 1, width, left, ' ');
        break;
      }
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        usize n = 0;
        while ((precision < 0 || n < usize(precision)) && s[n]) ++n;
        put_padded(o, s, n, width, left, ' ');
        break;
      }
      case '%': o.put('%'); break;
      case 0: --p; break;  // trailing '%'
      default:
        o.put('%');
        o.put(*p);
        break;
    }
  }
  if (cap) buf[o.len] = 0;
  if (full) *full = o.total;
  return o.len;
}

usize vformat(char* buf, usize cap, const char* fmt, va_list ap) {
  return vformat_full(buf, cap, fmt, ap, nullptr);
}

usize format(char* buf, usize cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  usize n = vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

void TextBuffer::append(const char* fmt, ...) {
  if (len_ + 1 >= cap_) {
    truncated_ = true;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  usize full = 0;
  usize n = vformat_full(buf_ + len_, cap_ - len_, fmt, ap, &full);
  va_end(ap);
  if (n < full) truncated_ = true;
  len_ += n;
}

void TextBuffer::append_raw(const char* s, usize n) {
  for (usize i = 0; i < n; ++i) {
    if (len_ + 1 >= cap_) {
      truncated_ = true;
      break;
    }
    buf_[len_++] = s[i];
  }
  if (cap_) buf_[len_] = 0;
}

void TextBuffer::append_escaped(const u8* s, usize n, usize limit) {
  append_raw("\"", 1);
  usize shown = n < limit ? n : limit;
  for (usize i = 0; i < shown; ++i) {
    u8 c = s[i];
    switch (c) {
      case '\n': append_raw("\\n", 2); break;
      case '\t': append_raw("\\t", 2); break;
      case '\r': append_raw("\\r", 2); break;
      case '"': append_raw("\\\"", 2); break;
      case '\\': append_raw("\\\\", 2); break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          char ch = char(c);
          append_raw(&ch, 1);
        } else if (i + 1 < shown && s[i + 1] >= '0' && s[i + 1] <= '7') {
          append("\\%03o", c);  // a digit follows: the short form would swallow it
        } else {
          append("\\%o", c);
        }
    }
  }
  append_raw("\"", 1);
  if (n > limit) append_raw("...", 3);
}

}  // namespace mote
