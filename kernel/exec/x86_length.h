// The length of one x86-64 instruction, and the few facts about it that code
// which copies or patches instructions needs: where its displacement and
// immediate sit, whether it addresses memory relative to RIP, and how it
// affects control flow.
//
// Pure logic over bytes already in memory, 64-bit mode only. Legacy
// prefixes, REX, the one-byte map, the 0f map and the common SSE entries of
// the 0f 38 / 0f 3a maps (Intel SDM vol 2, 2.1 and appendix A). Anything the
// decoder is not certain of is refused rather than guessed: VEX/EVEX/XOP,
// 3DNow!, opcodes invalid in 64-bit mode, encodings whose length differs
// between vendors. Unit-tested on the host against objdump over real code.
#pragma once

#include "kernel/lib/types.h"

namespace mote::x86 {

// An instruction's layout: byte offsets from its first byte.
struct Insn {
  u8 length = 0;      // total bytes, prefixes included (1..15)
  u8 opcode_off = 0;  // first opcode byte, after legacy prefixes and REX
  u8 modrm_off = 0;   // the ModRM byte, or 0 when there is none
  u8 disp_off = 0;    // the displacement (or a0-a3's moffs) ...
  u8 disp_len = 0;    // ... and its size: 0, 1, 4 or 8
  u8 imm_len = 0;     // immediate or branch offset bytes; they end the instruction
  bool rip_relative = false;  // a memory operand is disp32(%rip) (disp_off, 4 bytes)
  // A relative jmp, call, jcc, loop, jrcxz or xbegin: its signed offset is
  // the last imm_len bytes, counted from the end of the instruction.
  bool branch = false;
  bool ends_flow = false;  // never falls through: ret, iret, any jmp, ud2, ud1, int3, hlt
  bool is_nop = false;     // a padding no-op: 90 and 66 90, 0f 1f /0, xchg of a 16/64-bit register with itself
};

// Decodes the instruction at code[0..avail). False when those bytes do not
// begin an instruction this decoder knows with certainty, when the
// instruction would be longer than 15 bytes (which also bounds the
// prefixes), or when it runs past avail. Never reads code[avail] or beyond;
// *out is written only on success.
//
// Accepted is not the same as valid: an opcode used without its mandatory
// prefix (0f 7c without 66), or in a register form where only memory is
// allowed (lea %ecx,%eax), raises #UD, and is given the length its shape
// implies. A 66 prefix on a relative branch, a REX not directly before the
// opcode, lock without a memory operand, and a prefixed fwait are refused.
bool decode(const u8* code, usize avail, Insn* out);

}  // namespace mote::x86
