// x86-64 instruction length decoder (x86_length.h). Opcode maps from the
// Intel SDM vol 2, appendix A ("Opcode Map"); ModRM and SIB from 2.1.5;
// 64-bit mode specifics (REX, RIP-relative addressing, invalid opcodes)
// from 2.2.1. Each map is one table of what follows an opcode byte; the few
// opcodes whose shape depends on ModRM.reg or the prefixes are settled in
// shape_of_group().
#include "kernel/exec/x86_length.h"

namespace mote::x86 {

namespace {

constexpr usize kMaxLength = 15;  // SDM vol 2, 2.3.11

// What follows an opcode byte.
enum : u8 {
  kModrm = 1 << 0,
  kImm8 = 1 << 1,
  kImm16 = 1 << 2,
  kImmZ = 1 << 3,  // "Iz": imm16 under a 66 prefix (without REX.W), else imm32
  kRel8 = 1 << 4,
  kRelZ = 1 << 5,  // rel32 ("Jz"); rel16 under 66 on some CPUs, so 66 is refused
  kGroup = 1 << 6,  // see shape_of_group()
  kBad = 1 << 7,   // invalid in 64-bit mode, or not known here
};

struct Map {
  u8 at[256];
};

constexpr void set(Map& m, int lo, int hi, u8 v) {
  for (int i = lo; i <= hi; ++i) m.at[i] = v;
}

// One-byte map (SDM table A-2). Prefixes, REX and 0f never reach it.
constexpr Map one_byte_map() {
  Map m{};
  // 00-3f: the ALU block, eight rows of Eb,Gb  Ev,Gv  Gb,Eb  Gv,Ev  AL,Ib  rAX,Iz
  // then two opcodes that are invalid (push/pop seg, daa...) or prefixes.
  for (int op = 0; op < 0x40; ++op) {
    const int col = op & 7;
    m.at[op] = col < 4 ? kModrm : col == 4 ? kImm8 : col == 5 ? kImmZ : kBad;
  }
  set(m, 0x60, 0x62, kBad);  // pusha popa; 62 is EVEX
  m.at[0x63] = kModrm;       // movsxd
  m.at[0x68] = kImmZ;
  m.at[0x69] = kModrm | kImmZ;
  m.at[0x6a] = kImm8;
  m.at[0x6b] = kModrm | kImm8;
  set(m, 0x70, 0x7f, kRel8);  // jcc
  m.at[0x80] = kModrm | kImm8;
  m.at[0x81] = kModrm | kImmZ;
  m.at[0x82] = kBad;
  m.at[0x83] = kModrm | kImm8;
  set(m, 0x84, 0x8e, kModrm);
  m.at[0x8f] = kModrm | kGroup;  // pop Ev; XOP when reg != 0
  m.at[0x9a] = kBad;             // far call ptr16:32
  set(m, 0xa0, 0xa3, kGroup);    // mov with moffs
  m.at[0xa8] = kImm8;
  m.at[0xa9] = kImmZ;
  set(m, 0xb0, 0xb7, kImm8);
  set(m, 0xb8, 0xbf, kGroup);  // mov r, imm16/32/64
  m.at[0xc0] = m.at[0xc1] = kModrm | kImm8;
  m.at[0xc2] = m.at[0xca] = kImm16;  // ret/retf imm16
  m.at[0xc4] = m.at[0xc5] = kBad;    // VEX
  m.at[0xc6] = kModrm | kImm8 | kGroup;
  m.at[0xc7] = kModrm | kGroup;
  m.at[0xc8] = kImm16 | kImm8;  // enter
  m.at[0xcd] = kImm8;
  m.at[0xce] = kBad;  // into
  set(m, 0xd0, 0xd3, kModrm);
  set(m, 0xd4, 0xd6, kBad);  // aam aad salc
  set(m, 0xd8, 0xdf, kModrm);  // x87
  set(m, 0xe0, 0xe3, kRel8);   // loopne loope loop jrcxz
  set(m, 0xe4, 0xe7, kImm8);   // in/out imm8
  m.at[0xe8] = m.at[0xe9] = kRelZ;
  m.at[0xea] = kBad;
  m.at[0xeb] = kRel8;
  m.at[0xf6] = m.at[0xf7] = kModrm | kGroup;
  m.at[0xfe] = m.at[0xff] = kModrm | kGroup;
  return m;
}

// Two-byte map, 0f xx (SDM table A-3): nearly everything takes a ModRM.
constexpr Map two_byte_map() {
  Map m{};
  set(m, 0x00, 0xff, kModrm);
  m.at[0x00] = kModrm | kGroup;  // group 6
  set(m, 0x05, 0x09, 0);         // syscall clts sysret invd wbinvd
  m.at[0x0b] = 0;                // ud2
  set(m, 0x30, 0x35, 0);                // wrmsr rdtsc rdmsr rdpmc sysenter sysexit
  m.at[0x37] = 0;                       // getsec
  set(m, 0x70, 0x73, kModrm | kImm8);   // pshuf*, shift groups 12-14
  m.at[0x77] = 0;                       // emms
  m.at[0x78] = kModrm | kGroup;         // vmread; extrq/insertq with imm8,imm8
  set(m, 0x80, 0x8f, kRelZ);            // jcc rel32
  set(m, 0xa0, 0xa2, 0);                // push fs, pop fs, cpuid
  set(m, 0xa8, 0xaa, 0);                // push gs, pop gs, rsm
  m.at[0xa4] = m.at[0xac] = kModrm | kImm8;  // shld/shrd imm8
  m.at[0xb8] = kModrm | kGroup;              // popcnt (f3); jmpe otherwise
  m.at[0xba] = kModrm | kImm8 | kGroup;      // group 8: bt* imm8
  m.at[0xc2] = kModrm | kImm8;               // cmpps
  set(m, 0xc4, 0xc6, kModrm | kImm8);        // pinsrw pextrw shufps
  set(m, 0xc8, 0xcf, 0);                     // bswap
  const u8 bad[] = {0x04, 0x0a, 0x0c, 0x0e, 0x0f, 0x24, 0x25, 0x26, 0x27, 0x36, 0x38,
                    0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x7a, 0x7b, 0xa6, 0xa7,
                    0xff};  // 0e 0f: 3DNow!; ff: ud0, whose ModRM vendors disagree on
  for (u8 op : bad) m.at[op] = kBad;
  return m;
}

// Three-byte maps (SDM tables ): the SSSE3/SSE4/AES/SHA/CRC32/
// MOVBE/ADX entries without VEX. 0f 38 xx takes a ModRM, 0f 3a xx a ModRM
// and an imm8.
template <usize N>
constexpr Map three_byte_map(const u8 (&known)[N][2], u8 shape) {
  Map m{};
  set(m, 0x00, 0xff, kBad);
  for (const auto& r : known) set(m, r[0], r[1], shape);
  return m;
}
constexpr u8 k0f38Known[][2] = {{0x00, 0x0b}, {0x10, 0x10}, {0x14, 0x15}, {0x17, 0x17},
                                {0x1c, 0x1e}, {0x20, 0x25}, {0x28, 0x2b}, {0x30, 0x35},
                                {0x37, 0x41}, {0x80, 0x82}, {0xc8, 0xcd}, {0xcf, 0xcf},
                                {0xdb, 0xdf}, {0xf0, 0xf1}, {0xf5, 0xf6}, {0xf8, 0xf9}};
constexpr u8 k0f3aKnown[][2] = {{0x08, 0x0f}, {0x14, 0x17}, {0x20, 0x22}, {0x40, 0x42},
                                {0x44, 0x44}, {0x60, 0x63}, {0xcc, 0xcc}, {0xce, 0xcf},
                                {0xdf, 0xdf}};

constexpr Map kOneByte = one_byte_map();
constexpr Map kTwoByte = two_byte_map();
constexpr Map k0f38 = three_byte_map(k0f38Known, kModrm);
constexpr Map k0f3a = three_byte_map(k0f3aKnown, kModrm | kImm8);

enum class Space : u8 { kOne, kTwo, k0f38, k0f3a };

// The prefixes that matter to a length.
struct Prefixes {
  bool opsize = false;    // 66
  bool addrsize = false;  // 67
  bool lock = false;      // f0
  bool repne = false;     // f2
  bool rep = false;       // f3
  u8 rex = 0;             // 40-4f, 0 when absent
  bool w() const { return rex & 8; }
};

// Bounded reads: nothing at or past `n` is touched.
struct Cursor {
  const u8* p;
  usize n;
  usize i = 0;
  bool next(u8* b) {
    if (i >= n) return false;
    *b = p[i++];
    return true;
  }
  bool skip(usize k) {
    if (k > n - i) return false;
    i += k;
    return true;
  }
};

// The opcodes marked kGroup: whether they are valid with this ModRM and
// these prefixes, and what extra operand bytes they take. `modrm` is 0 for
// opcodes without one.
bool shape_of_group(Space s, u8 op, u8 modrm, const Prefixes& p, u8* imm, u8* moffs,
                    bool* branch) {
  const u8 mod = modrm >> 6, reg = (modrm >> 3) & 7;
  const u8 iz = p.opsize && !p.w() ? 2 : 4;
  if (s == Space::kTwo) {
    switch (op) {
      case 0x00: return reg < 6;                // sldt str lldt ltr verr verw
      case 0x78: return !p.opsize && !p.repne;  // vmread, not SSE4a extrq/insertq
      case 0xb8: return p.rep && !p.repne;      // popcnt
      case 0xba: return reg >= 4;               // bt bts btr btc
      default: return false;
    }
  }
  switch (op) {
    case 0x8f: return reg == 0;  // otherwise XOP
    case 0xa0: case 0xa1: case 0xa2: case 0xa3:
      *moffs = p.addrsize ? 4 : 8;
      return true;
    case 0xc6: return reg == 0 || modrm == 0xf8;  // mov Eb,Ib; xabort Ib
    case 0xc7:
      if (reg == 0) {
        *imm = iz;
        return true;
      }
      if (modrm != 0xf8) return false;
      *imm = 4;  // xbegin rel32
      *branch = true;
      return !p.opsize;
    case 0xf6: case 0xf7:  // test Ib/Iz for /0 and /1; not neg mul imul div idiv
      if (reg < 2) *imm = op == 0xf6 ? 1 : iz;
      return true;
    case 0xfe: return reg < 2;  // inc dec Eb
    case 0xff: return reg != 7 && !((reg == 3 || reg == 5) && mod == 3);  // far: memory only
    default:
      if (op >= 0xb8 && op <= 0xbf) {
        *imm = p.w() ? 8 : p.opsize ? 2 : 4;
        return true;
      }
      return false;
  }
}

bool is_legacy_prefix(u8 b, Prefixes* p) {
  switch (b) {
    case 0x66: p->opsize = true; return true;
    case 0x67: p->addrsize = true; return true;
    case 0xf0: p->lock = true; return true;
    case 0xf2: p->repne = true; return true;
    case 0xf3: p->rep = true; return true;
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: return true;
    default: return false;
  }
}

}  // namespace

bool decode(const u8* code, usize avail, Insn* out) {
  Cursor c{code, min(avail, kMaxLength)};
  Prefixes p;
  u8 b;
  for (;;) {
    if (!c.next(&b)) return false;
    if ((b & 0xf0) == 0x40) {
      if (p.rex) return false;  // a REX before another REX is ignored by the CPU
      p.rex = b;
      continue;
    }
    if (!is_legacy_prefix(b, &p)) break;
    if (p.rex) return false;  // likewise a REX before a legacy prefix
  }

  Insn in;
  in.opcode_off = u8(c.i - 1);
  Space space = Space::kOne;
  u8 op = b, shape = kOneByte.at[b];
  if (b == 0x0f) {
    if (!c.next(&op)) return false;
    space = Space::kTwo;
    shape = kTwoByte.at[op];
    if (op == 0x38 || op == 0x3a) {
      space = op == 0x38 ? Space::k0f38 : Space::k0f3a;
      if (!c.next(&op)) return false;
      shape = (space == Space::k0f38 ? k0f38 : k0f3a).at[op];
    }
  }
  if (shape & kBad) return false;
  // fwait (9b) is an instruction of its own, but disassemblers treat it as a
  // prefix of the x87 instruction after it; refuse the ambiguous prefixed form.
  if (space == Space::kOne && op == 0x9b && in.opcode_off != 0) return false;

  // ModRM, SIB and displacement (SDM 2.1.5, 2.2.1.6). REX.B does not alter
  // the special cases: r12 still needs a SIB, r13 with mod 00 is still disp32.
  u8 modrm = 0, mod = 3;
  if (shape & kModrm) {
    in.modrm_off = u8(c.i);
    if (!c.next(&modrm)) return false;
    // mov to/from control and debug registers ignore mod: always registers.
    const bool mov_cr = space == Space::kTwo && op >= 0x20 && op <= 0x23;
    mod = mov_cr ? 3 : modrm >> 6;
    const u8 rm = modrm & 7;
    if (mod != 3) {
      u8 disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
      u8 sib;
      if (rm == 4) {
        if (!c.next(&sib)) return false;
        if (mod == 0 && (sib & 7) == 5) disp = 4;  // no base: disp32
      } else if (mod == 0 && rm == 5) {
        disp = 4;
        in.rip_relative = true;
      }
      in.disp_off = u8(c.i);
      in.disp_len = disp;
      if (!c.skip(disp)) return false;
    }
  }
  // lock needs a memory destination; anything else is #UD.
  if (p.lock && mod == 3) return false;

  u8 imm = 0, moffs = 0;
  if (shape & kImm8) imm += 1;
  if (shape & kImm16) imm += 2;
  if (shape & kImmZ) imm += p.opsize && !p.w() ? 2 : 4;
  if (shape & (kRel8 | kRelZ)) {
    if (p.opsize) return false;  // 16-bit branch offsets or IP truncation on some CPUs
    imm = shape & kRel8 ? 1 : 4;
    in.branch = true;
  }
  if ((shape & kGroup) && !shape_of_group(space, op, modrm, p, &imm, &moffs, &in.branch))
    return false;
  if (moffs) {
    in.disp_off = u8(c.i);
    in.disp_len = moffs;
    if (!c.skip(moffs)) return false;
  }
  if (!c.skip(imm)) return false;
  in.imm_len = imm;
  in.length = u8(c.i);

  const u8 reg = (modrm >> 3) & 7;
  if (space == Space::kOne) {
    in.ends_flow = op == 0xc2 || op == 0xc3 || op == 0xca || op == 0xcb || op == 0xcf ||
                   op == 0xcc || op == 0xf4 || op == 0xe9 || op == 0xeb ||
                   (op == 0xff && (reg == 4 || reg == 5));
    // 90 is xchg eax,r8d under REX.B, pause under f3. xchg of a 32-bit
    // register with itself zero-extends it, so only 16/64-bit forms are nops.
    const bool same_reg =
        mod == 3 && (reg | (p.rex & 4) << 1) == ((modrm & 7) | (p.rex & 1) << 3);
    in.is_nop = (op == 0x90 && !(p.rex & 1) && !p.rep && !p.repne) ||
                (op == 0x87 && same_reg && (p.opsize || p.w()));
  } else if (space == Space::kTwo) {
    in.ends_flow = op == 0x0b || op == 0xb9;  // ud2, ud1
    in.is_nop = op == 0x1f && reg == 0 && !p.lock;
  }
  *out = in;
  return true;
}

}  // namespace mote::x86
