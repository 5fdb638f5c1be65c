// kernel/lib/format.h: format() and TextBuffer.
#include "kernel/lib/format.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <string>

namespace mote {
namespace {

template <typename... A>
std::string fmt(const char* f, A... a) {
  char buf[256];
  memset(buf, 'Z', sizeof buf);
  usize n = format(buf, sizeof buf, f, a...);
  EXPECT_EQ(n, strlen(buf)) << "return value vs NUL position for " << f;
  return std::string(buf);
}

// glibc's snprintf as the reference where the behaviour is meant to agree.
template <typename... A>
std::string libc(const char* f, A... a) {
  char buf[256];
  snprintf(buf, sizeof buf, f, a...);
  return std::string(buf);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"

TEST(Format, Integers) {
  EXPECT_EQ(fmt("%d", 0), "0");
  EXPECT_EQ(fmt("%d", 42), "42");
  EXPECT_EQ(fmt("%d", -42), "-42");
  EXPECT_EQ(fmt("%i", -7), "-7");
  EXPECT_EQ(fmt("%d", INT_MIN), "-2147483648");
  EXPECT_EQ(fmt("%d", INT_MAX), "2147483647");
  EXPECT_EQ(fmt("%u", 4000000000u), "4000000000");
  EXPECT_EQ(fmt("%u", -1), "4294967295");
  EXPECT_EQ(fmt("%ld", LONG_MIN), "-9223372036854775808");
  EXPECT_EQ(fmt("%ld", -5L), "-5");
  EXPECT_EQ(fmt("%lu", ULONG_MAX), "18446744073709551615");
  EXPECT_EQ(fmt("%lld", -1234567890123LL), "-1234567890123");
  EXPECT_EQ(fmt("%llu", 1ULL << 63), "9223372036854775808");
  EXPECT_EQ(fmt("%zu", size_t(123456789012)), "123456789012");
  EXPECT_EQ(fmt("%hd", 70000), libc("%hd", 70000));  // 4464
  EXPECT_EQ(fmt("%hhu", 300), "44");
  EXPECT_EQ(fmt("%hhd", 255), "-1");
  EXPECT_EQ(fmt("%o", 8), "10");
}

TEST(Format, Hex) {
  EXPECT_EQ(fmt("%x", 0), "0");
  EXPECT_EQ(fmt("%x", 255), "ff");
  EXPECT_EQ(fmt("%X", 0xabcdef), "ABCDEF");
  EXPECT_EQ(fmt("%#x", 0), "0");
  EXPECT_EQ(fmt("%#x", 0x1f), "0x1f");
  EXPECT_EQ(fmt("%#X", 0x1f), "0X1F");
  EXPECT_EQ(fmt("%lx", 0xdeadbeefcafeUL), "deadbeefcafe");
  EXPECT_EQ(fmt("%#lx", ~0UL), "0xffffffffffffffff");
  EXPECT_EQ(fmt("%x", 0xffffffffu), "ffffffff");
  EXPECT_EQ(fmt("%#010x", 0x1f), libc("%#010x", 0x1f));  // 0x0000001f
  EXPECT_EQ(fmt("%#10x", 0x1f), "      0x1f");
}

TEST(Format, Pointers) {
  EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x7fff1234)), "0x7fff1234");
  EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0xffffffffffffffffull)), "0xffffffffffffffff");
  EXPECT_EQ(fmt("%p", nullptr), "0x0");  // glibc would print "(nil)"
}

TEST(Format, Strings) {
  EXPECT_EQ(fmt("%s", "hello"), "hello");
  EXPECT_EQ(fmt("[%s]", ""), "[]");
  EXPECT_EQ(fmt("%.3s", "abcdef"), "abc");
  EXPECT_EQ(fmt("%.10s", "abc"), "abc");
  EXPECT_EQ(fmt("%.0s|", "abc"), "|");
  EXPECT_EQ(fmt("%.*s", 2, "abcdef"), "ab");
  EXPECT_EQ(fmt("[%6s]", "ab"), "[    ab]");
  EXPECT_EQ(fmt("[%-6s]", "ab"), "[ab    ]");
  EXPECT_EQ(fmt("[%*s]", 4, "x"), "[   x]");
  EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
  // Precision bounds the read: the source need not be NUL-terminated.
  const char raw[3] = {'x', 'y', 'z'};
  EXPECT_EQ(fmt("%.3s", raw), "xyz");
}

TEST(Format, CharAndPercent) {
  EXPECT_EQ(fmt("%c%c%c", 'a', 'b', 'c'), "abc");
  EXPECT_EQ(fmt("[%3c]", 'x'), "[  x]");
  EXPECT_EQ(fmt("100%%"), "100%");
  EXPECT_EQ(fmt("%d%%", 5), "5%");
  EXPECT_EQ(fmt("a%"), "a");        // trailing '%' is dropped
  EXPECT_EQ(fmt("%q"), "%q");       // unknown conversions are shown as-is
}

TEST(Format, WidthAndFlags) {
  EXPECT_EQ(fmt("[%5d]", 42), "[   42]");
  EXPECT_EQ(fmt("[%-5d]", 42), "[42   ]");
  EXPECT_EQ(fmt("[%05d]", 42), "[00042]");
  EXPECT_EQ(fmt("[%05d]", -42), "[-0042]");
  EXPECT_EQ(fmt("[%5d]", -42), "[  -42]");
  EXPECT_EQ(fmt("[%-05d]", 42), libc("[%-05d]", 42));  // '-' wins over '0'
  EXPECT_EQ(fmt("[%2d]", 12345), "[12345]");           // width is a minimum
  EXPECT_EQ(fmt("[%08lx]", 0xbeefUL), "[0000beef]");
  EXPECT_EQ(fmt("[%*d]", 6, 7), "[     7]");
  EXPECT_EQ(fmt("[%-*d]", 3, 7), "[7  ]");
}

TEST(Format, AgreesWithLibc) {
  const char* fmts[] = {"%d", "%5d", "%-5d", "%05d", "%x", "%#x", "%08x", "%u", "%o", "%X"};
  const int values[] = {0, 1, -1, 9, 10, 255, -255, 65536, INT_MAX, INT_MIN};
  for (const char* f : fmts)
    for (int v : values) EXPECT_EQ(fmt(f, v), libc(f, v)) << f << " with " << v;
}

TEST(Format, TruncatesAtCapacity) {
  char buf[8];
  memset(buf, 'Z', sizeof buf);
  usize n = format(buf, sizeof buf, "%s-%d", "abcdef", 12345);
  EXPECT_EQ(n, 7u);
  EXPECT_STREQ(buf, "abcdef-");

  memset(buf, 'Z', sizeof buf);
  n = format(buf, 1, "hello");
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[1], 'Z');

  memset(buf, 'Z', sizeof buf);
  n = format(buf, 0, "hello");  // nothing at all may be written
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(buf[0], 'Z');

  memset(buf, 'Z', sizeof buf);
  n = format(buf, 4, "%05d", 7);
  EXPECT_EQ(n, 3u);
  EXPECT_STREQ(buf, "000");
  EXPECT_EQ(buf[4], 'Z');
}

#pragma GCC diagnostic pop

TEST(TextBuffer, Appends) {
  char storage[64];
  TextBuffer t(storage, sizeof storage);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_STREQ(t.data(), "");
  t.append("%s(", "write");
  t.append("%d, ", 1);
  t.append_raw("xy", 2);
  t.append(")");
  EXPECT_STREQ(t.data(), "write(1, xy)");
  EXPECT_EQ(t.size(), 12u);
  EXPECT_FALSE(t.truncated());
}

TEST(TextBuffer, TruncatesSilently) {
  char storage[8];
  TextBuffer t(storage, sizeof storage);
  t.append("%s", "0123456789");
  EXPECT_STREQ(t.data(), "0123456");
  EXPECT_EQ(t.size(), 7u);
  EXPECT_TRUE(t.truncated());
  t.append_raw("abc", 3);
  t.append("more");
  EXPECT_STREQ(t.data(), "0123456");
  EXPECT_EQ(t.size(), 7u);

  char s2[8];
  TextBuffer u(s2, sizeof s2);
  u.append_raw("0123456789", 10);
  EXPECT_STREQ(u.data(), "0123456");
  EXPECT_TRUE(u.truncated());
}

std::string escaped(const void* s, usize n, usize limit) {
  char storage[256];
  TextBuffer t(storage, sizeof storage);
  t.append_escaped(static_cast<const u8*>(s), n, limit);
  return std::string(t.data(), t.size());
}

TEST(TextBuffer, AppendEscaped) {
  EXPECT_EQ(escaped("hi\n", 3, 32), "\"hi\\n\"");
  EXPECT_EQ(escaped("a\tb", 3, 32), "\"a\\tb\"");
  EXPECT_EQ(escaped("\r", 1, 32), "\"\\r\"");
  EXPECT_EQ(escaped("say \"x\"", 7, 32), "\"say \\\"x\\\"\"");
  EXPECT_EQ(escaped("a\\b", 3, 32), "\"a\\\\b\"");
  EXPECT_EQ(escaped("", 0, 32), "\"\"");
  const u8 bin[] = {0x00, 0x1b, 0x7f, 0xff, 'z'};
  EXPECT_EQ(escaped(bin, sizeof bin, 32), "\"\\0\\33\\177\\377z\"");
}

TEST(TextBuffer, AppendEscapedLimit) {
  EXPECT_EQ(escaped("abcdef", 6, 4), "\"abcd\"...");
  EXPECT_EQ(escaped("abcd", 4, 4), "\"abcd\"");  // exactly the limit: no "..."
  EXPECT_EQ(escaped("a\nb", 3, 0), "\"\"...");
  // Bytes past the limit are never read: only `limit` bytes need exist.
  const char four[4] = {'w', 'x', 'y', 'z'};
  EXPECT_EQ(escaped(four, 1000, 4), "\"wxyz\"...");
}

// Regression (fixed; kernel/lib/format.cc, TextBuffer::append_escaped): a non-printable byte
// is escaped as the shortest octal ("\1"), even when the next byte is an octal
// digit. Bytes {0x01, '2'} come out as "\12", which reads back (C, strace) as
// the single byte 012 = '\n'. strace, whose format this follows, switches to
// three digits in that case: "\0012".
TEST(TextBuffer, Regression_EscapedOctalBeforeDigitIsUnambiguous) {
  const u8 a[] = {0x01, '2'};
  EXPECT_EQ(escaped(a, sizeof a, 32), "\"\\0012\"");
  const u8 b[] = {0x00, '0', '7'};
  EXPECT_EQ(escaped(b, sizeof b, 32), "\"\\00007\"");
  const u8 c[] = {0x00, '8'};  // 8 is not an octal digit: short form is fine
  EXPECT_EQ(escaped(c, sizeof c, 32), "\"\\08\"");
}

}  // namespace
}  // namespace mote
