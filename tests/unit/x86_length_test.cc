// x86::decode against hand-written encodings (each decoded flush against an
// unmapped page, and refused at every truncation), a sweep of every
// two-byte start under common prefixes, and objdump's disassembly of real
// binaries and of random bytes: every instruction the decoder accepts must
// have objdump's length.
#include "kernel/exec/x86_length.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using mote::u8;
using mote::x86::Insn;

std::vector<u8> hex(const std::string& s) {
  std::vector<u8> out;
  std::istringstream in(s);
  std::string tok;
  while (in >> tok) out.push_back(u8(std::stoul(tok, nullptr, 16)));
  return out;
}

std::string to_hex(const u8* p, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", p[i]);
    s += buf;
  }
  return s;
}

// Decodes with the last available byte just before a PROT_NONE page, so a
// read at code[avail] faults instead of passing unnoticed.
class Guarded {
 public:
  Guarded() {
    page_ = size_t(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();
    base_ = static_cast<u8*>(m);
    if (mprotect(base_ + page_, page_, PROT_NONE) != 0) std::abort();
  }
  ~Guarded() { munmap(base_, 2 * page_); }
  bool decode(const u8* bytes, size_t avail, Insn* out) {
    u8* at = base_ + page_ - avail;
    std::memcpy(at, bytes, avail);
    return mote::x86::decode(at, avail, out);
  }
  bool decode(const std::vector<u8>& bytes, size_t avail, Insn* out) {
    return decode(bytes.data(), avail, out);
  }

 private:
  size_t page_;
  u8* base_;
};

Guarded& guarded() {
  static Guarded g;
  return g;
}

bool same(const Insn& a, const Insn& b) {
  return a.length == b.length && a.opcode_off == b.opcode_off && a.modrm_off == b.modrm_off &&
         a.disp_off == b.disp_off && a.disp_len == b.disp_len && a.imm_len == b.imm_len &&
         a.rip_relative == b.rip_relative && a.branch == b.branch &&
         a.ends_flow == b.ends_flow && a.is_nop == b.is_nop;
}

// ---------------------------------------------------------------------------
// Hand-written encodings. The bytes are exactly one instruction.

enum Flag { R = 1, B = 2, E = 4, N = 8 };  // rip_relative branch ends_flow is_nop

struct Case {
  const char* bytes;
  int flags;
};

const Case kCases[] = {
    // No-ops and padding, with the prefixes compilers put in front.
    {"90", N},
    {"66 90", N},
    {"48 90", N},  // xchg %rax,%rax
    {"f3 90", 0},  // pause
    {"41 90", 0},  // xchg %eax,%r8d
    {"0f 1f 00", N},
    {"0f 1f 40 00", N},
    {"0f 1f 44 00 00", N},
    {"66 0f 1f 44 00 00", N},
    {"0f 1f 80 00 00 00 00", N},
    {"0f 1f 84 00 00 00 00 00", N},
    {"66 0f 1f 84 00 00 00 00 00", N},
    {"66 2e 0f 1f 84 00 00 00 00 00", N},
    {"66 66 2e 0f 1f 84 00 00 00 00 00", N},
    {"66 66 66 66 66 66 2e 0f 1f 84 00 00 00 00 00", N},  // 15 bytes, the limit
    {"0f 1f 48 00", 0},                                    // 0f 1f /1 is not the nop
    {"66 87 c0", N},                                       // xchg %ax,%ax
    {"48 87 db", N},                                       // xchg %rbx,%rbx
    {"4d 87 c0", N},                                       // xchg %r8,%r8
    {"87 c0", 0},     // xchg %eax,%eax zero-extends %rax
    {"66 87 c8", 0},  // xchg %cx,%ax
    {"66 41 87 c0", 0},  // xchg %r8w,%ax
    {"f3 0f 1e fa", 0},  // endbr64
    // Prefixes, lock, REX and movabs.
    {"f0 01 03", 0},
    {"f0 48 0f b1 0a", 0},  // lock cmpxchg %rcx,(%rdx)
    {"f0 0f 1f 00", 0},     // lock on a nop: not a nop
    {"b8 01 00 00 00", 0},
    {"66 b8 01 00", 0},
    {"41 b8 01 00 00 00", 0},
    {"48 b8 01 02 03 04 05 06 07 08", 0},
    {"49 bf 01 02 03 04 05 06 07 08", 0},
    {"66 48 b8 01 02 03 04 05 06 07 08", 0},  // REX.W wins over 66
    {"b0 01", 0},
    {"41 b7 01", 0},
    {"a1 01 02 03 04 05 06 07 08", 0},
    {"48 a3 01 02 03 04 05 06 07 08", 0},
    {"66 a1 01 02 03 04 05 06 07 08", 0},
    {"67 a0 01 02 03 04", 0},
    {"64 48 8b 04 25 28 00 00 00", 0},  // mov %fs:0x28,%rax
    {"f3 a4", 0},
    {"f3 48 ab", 0},
    {"26 2e 36 3e 64 65 90", N},
    // ModRM, SIB, displacement.
    {"8b c1", 0},
    {"8b 04 24", 0},
    {"8b 04 25 00 10 00 00", 0},  // SIB base 101 with mod 00: disp32, no base
    {"42 8b 04 2d 00 10 00 00", 0},
    {"41 8b 04 24", 0},  // (%r12): SIB despite REX.B
    {"41 8b 45 00", 0},  // 0(%r13): disp8 despite REX.B
    {"8b 45 00", 0},
    {"8b 44 24 08", 0},
    {"8b 44 8d f8", 0},
    {"8b 85 00 01 00 00", 0},
    {"8b 84 24 00 01 00 00", 0},
    {"8b 84 cd 00 01 00 00", 0},
    {"8b 05 00 01 00 00", R},
    {"41 8b 05 00 01 00 00", R},  // REX.B leaves rip-relative alone
    {"67 8b 05 00 01 00 00", R},  // eip-relative
    {"48 8d 3d 00 01 00 00", R},
    {"48 63 c1", 0},
    {"8f 00", 0},
    {"8f 40 08", 0},
    // Immediates and the 66 prefix.
    {"05 01 02 03 04", 0},
    {"66 05 01 02", 0},
    {"48 05 01 02 03 04", 0},
    {"3d 01 02 03 04", 0},
    {"66 3d 01 02", 0},
    {"66 48 3d 01 02 03 04", 0},
    {"04 01", 0},
    {"66 04 01", 0},
    {"a8 01", 0},
    {"a9 01 02 03 04", 0},
    {"66 a9 01 02", 0},
    {"68 01 02 03 04", 0},
    {"66 68 01 02", 0},
    {"6a 01", 0},
    {"69 c0 01 02 03 04", 0},
    {"66 69 c0 01 02", 0},
    {"6b c0 01", 0},
    {"80 c1 01", 0},
    {"66 80 c1 01", 0},
    {"81 c1 01 02 03 04", 0},
    {"66 81 c1 01 02", 0},
    {"48 81 c1 01 02 03 04", 0},
    {"83 c1 01", 0},
    {"66 83 c1 01", 0},
    {"80 3d 31 33 0e 00 00", R},
    {"81 3d 00 01 00 00 01 02 03 04", R},
    {"66 81 3d 00 01 00 00 01 02", R},
    {"c6 00 01", 0},
    {"66 c6 00 01", 0},
    {"c7 00 01 02 03 04", 0},
    {"66 c7 00 01 02", 0},
    {"48 c7 c0 01 02 03 04", 0},
    {"c7 05 00 01 00 00 01 02 03 04", R},
    {"c7 44 24 08 01 02 03 04", 0},
    {"c7 84 24 00 01 00 00 01 02 03 04", 0},
    {"c7 04 25 00 01 00 00 01 02 03 04", 0},
    {"c0 e0 04", 0},
    {"c1 e0 04", 0},
    {"d1 e0", 0},
    {"d3 e0", 0},
    {"e4 60", 0},
    {"e6 60", 0},
    {"ec", 0},
    {"cd 80", 0},
    {"c8 10 00 01", 0},
    {"c9", 0},
    // f6/f7: only /0 and /1 (test) carry an immediate.
    {"f6 c1 01", 0},
    {"f6 c9 01", 0},
    {"f6 d1", 0},
    {"f6 e1", 0},
    {"f6 05 00 01 00 00 01", R},
    {"f6 15 00 01 00 00", R},
    {"f7 c1 01 02 03 04", 0},
    {"66 f7 c1 01 02", 0},
    {"48 f7 c1 01 02 03 04", 0},
    {"f7 d1", 0},
    {"f7 f1", 0},
    {"f7 1d 00 01 00 00", R},
    {"48 f7 05 00 01 00 00 01 02 03 04", R},
    {"fe c0", 0},
    {"fe 08", 0},
    // Control flow.
    {"c3", E},
    {"f3 c3", E},
    {"c2 08 00", E},
    {"cb", E},
    {"ca 08 00", E},
    {"48 cf", E},
    {"cc", E},
    {"f4", E},
    {"0f 0b", E},
    {"0f b9 c0", E},
    {"e8 00 01 00 00", B},
    {"f2 e8 00 01 00 00", B},
    {"e9 00 01 00 00", B | E},
    {"f2 e9 00 01 00 00", B | E},
    {"eb fe", B | E},
    {"74 00", B},
    {"7f 10", B},
    {"2e 74 00", B},
    {"3e 74 00", B},
    {"0f 84 00 01 00 00", B},
    {"0f 8f 00 01 00 00", B},
    {"e0 fe", B},
    {"e2 fe", B},
    {"e3 00", B},
    {"67 e3 00", B},
    {"c7 f8 00 01 00 00", B},  // xbegin
    {"c6 f8 01", 0},           // xabort
    {"ff d0", 0},
    {"ff 15 00 01 00 00", R},
    {"ff 14 c5 00 01 00 00", 0},
    {"ff e0", E},
    {"3e ff e0", E},  // notrack
    {"41 ff e3", E},
    {"ff 25 00 01 00 00", R | E},
    {"ff 24 c5 00 01 00 00", E},
    {"ff 2c 24", E},  // far jmp through memory
    {"ff 30", 0},
    {"0f 05", 0},
    // The 0f map.
    {"0f a2", 0},
    {"0f 31", 0},
    {"0f af c1", 0},
    {"48 0f be c0", 0},
    {"0f b6 04 25 00 01 00 00", 0},
    {"0f b7 05 00 01 00 00", R},
    {"0f 44 c1", 0},
    {"0f 94 c0", 0},
    {"0f ba e0 05", 0},
    {"0f ba 20 05", 0},
    {"0f ba 25 00 01 00 00 05", R},
    {"0f a3 c1", 0},
    {"0f a4 c1 04", 0},
    {"0f ac c1 04", 0},
    {"0f a5 c1", 0},
    {"0f c8", 0},
    {"49 0f cf", 0},
    {"0f c1 03", 0},
    {"f3 0f b8 c1", 0},
    {"f3 48 0f bc c1", 0},
    {"0f 01 d0", 0},
    {"0f 01 f9", 0},
    {"0f 01 15 00 01 00 00", R},
    {"0f 00 c0", 0},
    {"0f ae e8", 0},
    {"0f ae f0", 0},
    {"0f ae 05 00 01 00 00", R},
    {"f3 48 0f ae c0", 0},
    {"0f c7 f0", 0},
    {"48 0f c7 0f", 0},
    {"0f 18 08", 0},
    {"0f 0d 08", 0},
    {"0f 20 c0", 0},
    {"0f 22 d8", 0},
    {"0f 20 05", 0},  // mov %cr0,%rbp: mod is ignored, no displacement follows
    {"0f 23 84", 0},
    {"0f 78 c1", 0},  // vmread
    {"0f 77", 0},
    // SSE, including the three-byte maps.
    {"0f 28 c1", 0},
    {"66 0f ef c0", 0},
    {"66 0f 6f 05 00 01 00 00", R},
    {"f3 0f 6f 04 24", 0},
    {"f3 44 0f 6f 44 24 10", 0},
    {"f2 0f 10 05 00 01 00 00", R},
    {"66 0f d6 45 00", 0},
    {"66 48 0f 7e c0", 0},
    {"66 0f 70 c1 1b", 0},
    {"66 0f 73 d8 08", 0},
    {"0f c6 c1 1b", 0},
    {"66 0f c5 c1 01", 0},
    {"f2 0f c2 05 00 01 00 00 01", R},
    {"66 0f 38 00 c1", 0},
    {"66 0f 38 00 05 00 01 00 00", R},
    {"66 0f 38 17 04 24", 0},
    {"f2 0f 38 f1 c1", 0},
    {"f2 48 0f 38 f1 c1", 0},
    {"66 0f 38 f6 c1", 0},
    {"0f 38 c9 c1", 0},
    {"66 0f 38 de 44 24 10", 0},
    {"66 0f 3a 0f c1 08", 0},
    {"66 0f 3a 0f 05 00 01 00 00 08", R},
    {"66 0f 3a 63 04 24 0a", 0},
    {"66 0f 3a 44 c1 00", 0},
    {"66 48 0f 3a 16 c0 01", 0},
    // x87.
    {"d9 c9", 0},
    {"d9 ee", 0},
    {"dd 44 24 08", 0},
    {"df 2d 00 01 00 00", R},
    {"db 6c 24 10", 0},
    {"9b", 0},
    {"dd 84 24 00 01 00 00", 0},
    // Misc one-byte.
    {"50", 0},
    {"41 57", 0},
    {"98", 0},
    {"48 99", 0},
    {"9c", 0},
    {"f1", 0},
};

// Bytes the decoder must refuse however much follows them.
const char* const kRejects[] = {
    "06", "07", "0e", "16", "17", "1e", "1f", "27", "2f", "37", "3f", "60", "61",
    "62 f1 7c 48 58 c1",        // EVEX
    "c4 e2 79 18 c0",           // VEX3 vbroadcastss
    "c5 f8 77",                 // VEX2 vzeroupper
    "8f e8 78 c2 c0 00",        // XOP
    "82 c0 01", "9a", "ce", "d4 0a", "d5 0a", "d6", "ea",
    "0f 0f c1 b4",              // 3DNow!
    "0f 0e", "0f 04", "0f 0a", "0f 0c", "0f 24 c0", "0f 36", "0f 39", "0f 7a", "0f a6",
    "0f ff c0",                 // ud0: ModRM or not depends on the vendor
    "0f b8 c1",                 // jmpe, not popcnt
    "0f 00 f0",                 // group 6 /6
    "0f ba c0 05",              // group 8 /0
    "f0 0f 20 c0",              // AMD's lock mov %cr0 for %cr8
    "66 0f 78 c0 01 02",        // extrq imm8, imm8
    "f2 0f 78 c1 01 02",        // insertq imm8, imm8
    "66 0f 38 50 c1",           // not in the 0f 38 table
    "66 0f 3a ff c1 00",        // not in the 0f 3a table
    "c6 c8 01", "c7 c8 01 02 03 04", "fe d0", "ff f8", "ff e8", "ff d8",
    "f0 01 c3",                 // lock with a register destination
    "f0 90",
    "66 e8 00 01 00 00",        // 66 on a relative branch
    "66 e9 00 01 00 00",
    "66 0f 84 00 01 00 00",
    "66 eb 00",
    "66 c7 f8 00 01",
    "48 66 90",                 // REX before a legacy prefix
    "40 48 90",                 // two REX
    "66 66 66 66 66 66 66 2e 0f 1f 84 00 00 00 00 00",  // 16 bytes
    "f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3",
};

int flags_of(const Insn& in) {
  return (in.rip_relative ? R : 0) | (in.branch ? B : 0) | (in.ends_flow ? E : 0) |
         (in.is_nop ? N : 0);
}

TEST(X86LengthHand, LengthsAndFlags) {
  for (const Case& c : kCases) {
    std::vector<u8> bytes = hex(c.bytes);
    SCOPED_TRACE(c.bytes);
    Insn exact, padded;
    ASSERT_TRUE(guarded().decode(bytes, bytes.size(), &exact));
    EXPECT_EQ(exact.length, bytes.size());
    EXPECT_EQ(flags_of(exact), c.flags);
    std::vector<u8> more = bytes;
    more.resize(16, 0xcc);  // what follows must not change the answer
    ASSERT_TRUE(guarded().decode(more, more.size(), &padded));
    EXPECT_TRUE(same(exact, padded));
  }
}

TEST(X86LengthHand, EveryTruncationIsRefused) {
  for (const Case& c : kCases) {
    std::vector<u8> bytes = hex(c.bytes);
    for (size_t n = 0; n < bytes.size(); ++n) {
      Insn in;
      EXPECT_FALSE(guarded().decode(bytes, n, &in)) << c.bytes << " cut to " << n;
    }
  }
  Insn in;
  EXPECT_FALSE(mote::x86::decode(nullptr, 0, &in));
}

TEST(X86LengthHand, Rejects) {
  for (const char* r : kRejects) {
    std::vector<u8> bytes = hex(r);
    for (size_t pad : {bytes.size(), size_t(16)}) {
      std::vector<u8> b = bytes;
      b.resize(std::max(pad, bytes.size()), 0x00);
      Insn in;
      EXPECT_FALSE(guarded().decode(b, b.size(), &in)) << r << " with " << b.size() << " bytes";
    }
  }
}

TEST(X86LengthHand, FailureLeavesOutputAlone) {
  Insn in;
  in.length = 77;
  std::vector<u8> vex = hex("c5 f8 77");
  EXPECT_FALSE(guarded().decode(vex, vex.size(), &in));
  EXPECT_EQ(in.length, 77);
}

// Where the parts sit, for the callers that relocate or patch.
TEST(X86LengthHand, Layout) {
  struct L {
    const char* bytes;
    int opcode_off, modrm_off, disp_off, disp_len, imm_len;
  } const kLayouts[] = {
      {"90", 0, 0, 0, 0, 0},
      {"48 b8 01 02 03 04 05 06 07 08", 1, 0, 0, 0, 8},
      {"67 a0 01 02 03 04", 1, 0, 2, 4, 0},
      {"a1 01 02 03 04 05 06 07 08", 0, 0, 1, 8, 0},
      {"66 2e 0f 1f 84 00 00 00 00 00", 2, 4, 6, 4, 0},
      {"c7 05 00 01 00 00 01 02 03 04", 0, 1, 2, 4, 4},
      {"66 81 3d 00 01 00 00 01 02", 1, 2, 3, 4, 2},
      {"f6 05 00 01 00 00 01", 0, 1, 2, 4, 1},
      {"48 8b 44 24 08", 1, 2, 4, 1, 0},
      {"8b 04 25 00 10 00 00", 0, 1, 3, 4, 0},
      {"66 0f 3a 0f 05 00 01 00 00 08", 1, 4, 5, 4, 1},
      {"0f 84 00 01 00 00", 0, 0, 0, 0, 4},
      {"eb fe", 0, 0, 0, 0, 1},
      {"c8 10 00 01", 0, 0, 0, 0, 3},
      {"c7 f8 00 01 00 00", 0, 1, 0, 0, 4},
  };
  for (const L& l : kLayouts) {
    std::vector<u8> bytes = hex(l.bytes);
    Insn in;
    ASSERT_TRUE(guarded().decode(bytes, bytes.size(), &in)) << l.bytes;
    EXPECT_EQ(in.opcode_off, l.opcode_off) << l.bytes;
    EXPECT_EQ(in.modrm_off, l.modrm_off) << l.bytes;
    EXPECT_EQ(in.disp_off, l.disp_off) << l.bytes;
    EXPECT_EQ(in.disp_len, l.disp_len) << l.bytes;
    EXPECT_EQ(in.imm_len, l.imm_len) << l.bytes;
  }
}

// Every opcode (one-byte, 0f, 0f 38, 0f 3a) under common prefixes, with every
// ModRM and several tails: an accepted instruction decodes the same with
// exactly its own bytes available, is refused with one fewer, and its parts
// fit inside it.
TEST(X86LengthSweep, EveryStartIsSelfConsistent) {
  const char* const kPrefixes[] = {"", "66", "67", "f2", "f3", "f0", "48", "41", "66 48", "2e"};
  const char* const kEscapes[] = {"", "0f", "0f 38", "0f 3a"};
  std::mt19937 rng(12345);
  size_t accepted = 0;
  for (const char* pre : kPrefixes) {
    for (const char* esc : kEscapes) {
      std::vector<u8> head = hex(pre), e = hex(esc);
      head.insert(head.end(), e.begin(), e.end());
      for (int op = 0; op < 256; ++op) {
        for (int modrm = 0; modrm < 256; ++modrm) {
          for (int tail = 0; tail < 3; ++tail) {
            u8 b[15];
            std::copy(head.begin(), head.end(), b);
            b[head.size()] = u8(op);
            b[head.size() + 1] = u8(modrm);
            for (size_t i = head.size() + 2; i < 15; ++i)
              b[i] = tail == 0 ? 0x00 : tail == 1 ? 0x25 : u8(rng());
            Insn in, again;
            if (!guarded().decode(b, 15, &in)) continue;
            ++accepted;
            auto what = [&] { return to_hex(b, 15); };  // evaluated only on failure
            ASSERT_GE(in.length, 1) << what();
            ASSERT_LE(in.length, 15) << what();
            ASSERT_TRUE(guarded().decode(b, in.length, &again)) << what();
            ASSERT_TRUE(same(in, again)) << what();
            ASSERT_FALSE(guarded().decode(b, in.length - 1u, &again)) << what();
            ASSERT_LE(in.disp_off + in.disp_len + in.imm_len, in.length) << what();
            ASSERT_LT(in.opcode_off, in.length) << what();
            ASSERT_TRUE(!in.modrm_off || in.modrm_off > in.opcode_off) << what();
            ASSERT_TRUE(!in.rip_relative || (in.modrm_off && in.disp_len == 4)) << what();
            ASSERT_TRUE(!in.branch || in.imm_len == 1 || in.imm_len == 4) << what();
          }
        }
      }
    }
  }
  EXPECT_GT(accepted, 1000000u);
}

// ---------------------------------------------------------------------------
// Differential test against objdump.

bool have_objdump() { return std::system("objdump --version >/dev/null 2>&1") == 0; }

// Bytes by address: a file's PT_LOAD segments, or a raw buffer at 0.
struct Image {
  std::vector<u8> file;
  struct Seg {
    uint64_t vaddr, offset, filesz;
  };
  std::vector<Seg> segs;

  bool load_elf(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    file.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (file.size() < sizeof(Elf64_Ehdr) || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0)
      return false;
    Elf64_Ehdr eh;
    std::memcpy(&eh, file.data(), sizeof eh);
    for (int i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      size_t at = eh.e_phoff + size_t(i) * eh.e_phentsize;
      if (at + sizeof ph > file.size()) return false;
      std::memcpy(&ph, file.data() + at, sizeof ph);
      if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz <= file.size())
        segs.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz});
    }
    return !segs.empty();
  }
  // The bytes at `addr` and how many follow within the segment.
  const u8* at(uint64_t addr, size_t* avail) const {
    for (const Seg& s : segs) {
      if (addr >= s.vaddr && addr - s.vaddr < s.filesz) {
        *avail = size_t(s.filesz - (addr - s.vaddr));
        return file.data() + s.offset + (addr - s.vaddr);
      }
    }
    return nullptr;
  }
};

struct Tally {
  size_t lines = 0, bad = 0, checked = 0, unknown = 0;
  size_t vex = 0;          // VEX/EVEX/XOP lines: out of scope, not counted below
  size_t fwait_folds = 0;  // 9b + x87 lines, checked as two instructions
  size_t text_total = 0, text_unknown = 0;  // in-scope .text instructions
  size_t mismatches = 0;
  std::vector<std::string> examples;  // the first few mismatches
  std::map<std::string, size_t> unknown_first_byte;
  std::map<std::string, size_t> unknown_mnemonic;

  void mismatch(const std::string& what) {
    if (++mismatches <= 40) examples.push_back(what);
  }
  std::string first_mismatches() const {
    std::string s;
    for (const std::string& e : examples) s += "\n  " + e;
    return s;
  }
  std::string top_unknown() const {
    auto top = [](const std::map<std::string, size_t>& m) {
      std::vector<std::pair<size_t, std::string>> v;
      for (auto& [k, n] : m) v.push_back({n, k});
      std::sort(v.rbegin(), v.rend());
      std::string out;
      for (size_t i = 0; i < v.size() && i < 30; ++i)
        out += " " + v[i].second + "x" + std::to_string(v[i].first);
      return out;
    };
    return "first bytes:" + top(unknown_first_byte) + "; mnemonics:" + top(unknown_mnemonic);
  }
};

// VEX (c4 c5), EVEX (62) and XOP (8f with map >= 8) encodings, after any
// legacy prefixes: outside the decoder's scope, which refuses them.
bool out_of_scope(const std::vector<u8>& b) {
  size_t i = 0;
  while (i < b.size() && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf0 || b[i] == 0xf2 ||
                          b[i] == 0xf3 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e ||
                          b[i] == 0x26 || b[i] == 0x64 || b[i] == 0x65))
    ++i;
  if (i >= b.size()) return false;
  if (b[i] == 0xc4 || b[i] == 0xc5 || b[i] == 0x62) return true;
  return b[i] == 0x8f && i + 1 < b.size() && (b[i + 1] & 0x1f) >= 8;
}

// One objdump line "  addr:\tb1 b2 ... \tmnemonic operands" (objdump -w).
bool parse_line(const std::string& line, uint64_t* addr, std::vector<u8>* bytes,
                std::string* text) {
  size_t i = line.find_first_not_of(' ');
  if (i == std::string::npos) return false;
  size_t colon = line.find(":\t", i);
  if (colon == std::string::npos || colon == i) return false;
  for (size_t k = i; k < colon; ++k)
    if (!std::isxdigit(static_cast<unsigned char>(line[k]))) return false;
  *addr = std::stoull(line.substr(i, colon - i), nullptr, 16);
  size_t start = colon + 2, tab = line.find('\t', start);
  std::string raw = line.substr(start, tab == std::string::npos ? std::string::npos : tab - start);
  *text = tab == std::string::npos ? "" : line.substr(tab + 1);
  bytes->clear();
  std::istringstream in(raw);
  std::string tok;
  while (in >> tok) {
    if (tok.size() != 2 || !std::isxdigit(static_cast<unsigned char>(tok[0])) ||
        !std::isxdigit(static_cast<unsigned char>(tok[1])))
      return false;
    bytes->push_back(u8(std::stoul(tok, nullptr, 16)));
  }
  return !bytes->empty();
}

// Where objdump printed lines: instructions, and (bad).
struct Seen {
  std::vector<uint64_t> good, bad;
};

// Runs `cmd` (an objdump -d -w) and checks every instruction it prints.
Tally compare_with_objdump(const std::string& cmd, const Image& img, Seen* seen = nullptr) {
  Tally t;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    t.mismatch("cannot run " + cmd);
    return t;
  }
  std::string section, line, text;
  std::vector<u8> bytes;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) {
    line = buf;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.rfind("Disassembly of section ", 0) == 0) {
      section = line.substr(23, line.size() - 24);
      continue;
    }
    uint64_t addr;
    if (!parse_line(line, &addr, &bytes, &text)) continue;
    ++t.lines;
    const bool bad = text.find("(bad)") != std::string::npos;
    if (seen) (bad ? seen->bad : seen->good).push_back(addr);
    if (bad) {
      ++t.bad;
      continue;
    }
    const bool in_text = section == ".text";
    size_t avail = 0;
    const u8* code = img.at(addr, &avail);
    if (!code || avail < bytes.size() || std::memcmp(code, bytes.data(), bytes.size()) != 0) {
      t.mismatch(section + ": the file's bytes differ: " + line);
      continue;
    }
    Insn in;
    const bool known = mote::x86::decode(code, avail, &in);
    if (out_of_scope(bytes)) {
      ++t.vex;
      if (known) t.mismatch(section + ": accepted a VEX/EVEX/XOP instruction: " + line);
      continue;
    }
    if (in_text) ++t.text_total;
    if (!known) {
      ++t.unknown;
      if (in_text) ++t.text_unknown;
      ++t.unknown_first_byte[to_hex(bytes.data(), 1)];
      ++t.unknown_mnemonic[text.substr(0, text.find(' '))];
      continue;
    }
    ++t.checked;
    // objdump prints fwait and the x87 instruction after it as one line
    // (9b dd 7d fc "fstsw"); the CPU sees two instructions.
    if (bytes[0] == 0x9b && bytes.size() > 1 && in.length == 1) {
      ++t.fwait_folds;
      if (mote::x86::decode(code + 1, avail - 1, &in) && in.length != bytes.size() - 1)
        t.mismatch(section + ": after fwait, decoded " + std::to_string(in.length) + " bytes: " +
                   line);
      continue;
    }
    if (in.length != bytes.size())
      t.mismatch(section + ": decoded " + std::to_string(in.length) + " bytes, objdump " +
                 std::to_string(bytes.size()) + ": " + line);
  }
  int rc = pclose(p);
  if (rc != 0) t.mismatch("objdump exited with status " + std::to_string(rc));
  return t;
}

void check_binary(const std::string& path, bool require_coverage) {
  if (!have_objdump()) GTEST_SKIP() << "SKIP: objdump is not installed";
  if (access(path.c_str(), R_OK) != 0) GTEST_SKIP() << "SKIP: " << path << " is missing";
  Image img;
  ASSERT_TRUE(img.load_elf(path)) << path << " is not an ELF file with PT_LOAD segments";
  Tally t = compare_with_objdump("objdump -d -w '" + path + "' 2>/dev/null", img);
  std::printf(
      "[ x86len  ] %s: %zu lines, %zu VEX/EVEX/XOP (refused by design), %zu checked, "
      "%zu unknown (.text: %zu of %zu), %zu (bad)\n",
      path.c_str(), t.lines, t.vex, t.checked, t.unknown, t.text_unknown, t.text_total, t.bad);
  EXPECT_EQ(t.mismatches, 0u) << "mismatches in " << path << t.first_mismatches();
  ASSERT_GT(t.text_total, 1000u) << path << ": objdump printed no .text";
  if (require_coverage) {
    EXPECT_LE(t.text_unknown * 100, t.text_total)
        << path << ": " << t.text_unknown << " of " << t.text_total
        << " .text instructions unknown (more than 1%); " << t.top_unknown();
  }
  if (t.unknown) std::printf("[ x86len  ] unknown: %s\n", t.top_unknown().c_str());
}

TEST(X86LengthObjdump, Libc) { check_binary("/lib/x86_64-linux-gnu/libc.so.6", true); }

TEST(X86LengthObjdump, Python) {
  // The distribution's interpreter; `python3` on PATH may be a tiny shim.
  for (const char* p : {"/usr/bin/python3.11", "/usr/bin/python3"})
    if (access(p, R_OK) == 0) return check_binary(p, true);
  GTEST_SKIP() << "SKIP: no /usr/bin/python3.11 or /usr/bin/python3";
}

TEST(X86LengthObjdump, Nginx) { check_binary("/usr/sbin/nginx", true); }

// objdump -D over raw bytes at address 0.
Tally objdump_raw(const Image& img, Seen* seen = nullptr) {
  char path[] = "/tmp/x86_length_testXXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return Tally{.mismatches = 1, .examples = {"mkstemp failed"}};
  bool wrote = write(fd, img.file.data(), img.file.size()) == ssize_t(img.file.size());
  close(fd);
  Tally t = wrote ? compare_with_objdump(
                        std::string("objdump -D -z -w -b binary -m i386:x86-64 ") + path +
                            " 2>/dev/null",
                        img, seen)
                  : Tally{.mismatches = 1, .examples = {"short write"}};
  unlink(path);
  return t;
}

// Every opcode the decoder accepts, in every map, under the prefixes that
// change lengths, with ModRMs for each reg and each addressing shape. They
// are laid end to end, and objdump must print each candidate it reaches with
// the decoder's length. Where objdump calls one (bad) it loses step, so the
// candidates it did not reach go again, each followed by 15 zero bytes and
// a c3 (whatever a stray decode starts in them ends at the c3 or on it).
TEST(X86LengthObjdump, EveryOpcode) {
  if (!have_objdump()) GTEST_SKIP() << "SKIP: objdump is not installed";
  struct Space {
    const char* escape;
    std::vector<const char*> prefixes;
  } const kSpaces[] = {
      {"", {"", "66", "48", "66 48", "67", "f3"}},
      {"0f", {"", "66", "f2", "f3", "48"}},
      {"0f 38", {"", "66", "f2"}},
      {"0f 3a", {"", "66", "48"}},
  };
  // mod/rm shapes: (%rax), SIB with no base, rip, disp8 with SIB, disp32, register.
  const std::pair<int, int> kShapes[] = {{0, 0}, {0, 4}, {0, 5}, {1, 4}, {2, 0}, {3, 1}};
  std::vector<std::string> candidates;
  for (const Space& sp : kSpaces) {
    for (const char* pre : sp.prefixes) {
      std::vector<u8> head = hex(pre), esc = hex(sp.escape);
      head.insert(head.end(), esc.begin(), esc.end());
      for (int op = 0; op < 256; ++op) {
        if (sp.escape[0] == 0 && op == 0x9b) continue;  // fwait: objdump merges it (see above)
        for (int reg = 0; reg < 8; ++reg) {
          for (auto [mod, rm] : kShapes) {
            u8 b[15];
            std::fill(b, b + 15, u8(0x11));
            std::copy(head.begin(), head.end(), b);
            b[head.size()] = u8(op);
            b[head.size() + 1] = u8(mod << 6 | reg << 3 | rm);
            b[head.size() + 2] = 0x25;  // SIB: no base, no index when mod is 00
            Insn in;
            if (!mote::x86::decode(b, 15, &in)) continue;
            std::string c(b, b + in.length);
            if (candidates.empty() || candidates.back() != c) candidates.push_back(c);
          }
        }
      }
    }
  }
  // Pass 1 end to end; pass 2 the rest, separated.
  auto run = [](const std::vector<const std::string*>& cands, bool separate,
                std::vector<uint64_t>* starts, Seen* seen) {
    Image img;
    for (const std::string* c : cands) {
      starts->push_back(img.file.size());
      img.file.insert(img.file.end(), c->begin(), c->end());
      if (separate) {
        img.file.insert(img.file.end(), 15, 0x00);
        img.file.push_back(0xc3);
      }
    }
    img.segs.push_back({0, 0, img.file.size()});
    return objdump_raw(img, seen);
  };
  std::vector<const std::string*> all, again, refused;
  for (const std::string& c : candidates) all.push_back(&c);
  std::vector<uint64_t> starts1, starts2;
  Seen seen1, seen2;
  Tally t1 = run(all, false, &starts1, &seen1);
  EXPECT_EQ(t1.mismatches, 0u) << "mismatches" << t1.first_mismatches();
  size_t checked = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (std::binary_search(seen1.good.begin(), seen1.good.end(), starts1[i])) ++checked;
    else again.push_back(all[i]);
  }
  Tally t2 = run(again, true, &starts2, &seen2);
  EXPECT_EQ(t2.mismatches, 0u) << "mismatches" << t2.first_mismatches();
  std::string lost;
  for (size_t i = 0; i < again.size(); ++i) {
    if (std::binary_search(seen2.good.begin(), seen2.good.end(), starts2[i])) ++checked;
    else if (std::binary_search(seen2.bad.begin(), seen2.bad.end(), starts2[i])) refused.push_back(again[i]);
    else if (lost.size() < 2000)
      lost += "\n  " + to_hex(reinterpret_cast<const u8*>(again[i]->data()), again[i]->size());
  }
  std::printf("[ x86len  ] every opcode: %zu candidates, %zu checked against objdump, "
              "%zu that objdump calls (bad)\n",
              all.size(), checked, refused.size());
  EXPECT_TRUE(lost.empty()) << "objdump printed no line at these candidates:" << lost;
  EXPECT_GT(checked, 20000u);
  // objdump's (bad): encodings the CPU would refuse (#UD) whose length is
  // still set by their shape. Grouped by the bytes before the ModRM.
  std::map<std::string, int> groups;
  for (const std::string* c : refused) {
    Insn in;
    mote::x86::decode(reinterpret_cast<const u8*>(c->data()), c->size(), &in);
    size_t upto = in.modrm_off ? in.modrm_off : in.length;
    ++groups[to_hex(reinterpret_cast<const u8*>(c->data()), upto)];
  }
  std::string list;
  for (auto& [k, n] : groups)
    if (list.size() < 300) list += " [" + k + "]x" + std::to_string(n);
  if (!groups.empty())
    std::printf("[ x86len  ] objdump (bad) but decoded, %zu opcode groups:%s ...\n", groups.size(),
                list.c_str());
}

// Random instruction-shaped bytes: prefixes, REX, escapes and opcodes drawn
// at random, then random bytes. objdump decodes the stream in its own way;
// every line it prints is compared.
TEST(X86LengthObjdump, RandomBytes) {
  if (!have_objdump()) GTEST_SKIP() << "SKIP: objdump is not installed";
  std::mt19937 rng(20240601);
  const u8 kPre[] = {0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65};
  Image img;
  for (int n = 0; n < 60000; ++n) {
    int pre = rng() % 4 == 0 ? int(rng() % 3) + 1 : 0;
    while (pre--) img.file.push_back(kPre[rng() % sizeof kPre]);
    if (rng() % 3 == 0) img.file.push_back(u8(0x40 | (rng() & 15)));
    switch (rng() % 8) {
      case 0: case 1: img.file.push_back(0x0f); break;
      case 2: img.file.push_back(0x0f); img.file.push_back(rng() % 2 ? 0x38 : 0x3a); break;
      default: break;
    }
    for (int k = 0, len = int(rng() % 10) + 1; k < len; ++k) img.file.push_back(u8(rng()));
  }
  img.segs.push_back({0, 0, img.file.size()});
  Tally t = objdump_raw(img);
  std::printf("[ x86len  ] random: %zu lines, %zu VEX/EVEX/XOP, %zu checked, %zu unknown, "
              "%zu fwait folds, %zu (bad)\n",
              t.lines, t.vex, t.checked, t.unknown, t.fwait_folds, t.bad);
  EXPECT_EQ(t.mismatches, 0u) << "mismatches" << t.first_mismatches();
  if (t.unknown) std::printf("[ x86len  ] unknown: %s\n", t.top_unknown().c_str());
  EXPECT_GT(t.checked, 50000u);
}

}  // namespace
