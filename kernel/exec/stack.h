// The System V x86-64 initial process stack (psABI 3.4.1 "Initial Stack and
// Register State"): argc, argv[], NULL, envp[], NULL, auxv[] ending in AT_NULL,
// with the strings and the AT_RANDOM bytes above. Pure logic, unit-tested.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::exec {

// Auxiliary vector types (Linux include/uapi/linux/auxvec.h, asm/auxvec.h).
enum AuxType : u64 {
  AT_NULL = 0,
  AT_PHDR = 3,
  AT_PHENT = 4,
  AT_PHNUM = 5,
  AT_PAGESZ = 6,
  AT_BASE = 7,
  AT_FLAGS = 8,
  AT_ENTRY = 9,
  AT_UID = 11,
  AT_EUID = 12,
  AT_GID = 13,
  AT_EGID = 14,
  AT_PLATFORM = 15,
  AT_HWCAP = 16,
  AT_CLKTCK = 17,
  AT_SECURE = 23,
  AT_RANDOM = 25,
  AT_HWCAP2 = 26,
  AT_EXECFN = 31,
  AT_MINSIGSTKSZ = 51,
};

struct AuxEntry {
  u64 type;
  u64 value;
};

struct StackSpec {
  const StrView* argv;
  usize argc;
  const StrView* envp;
  usize envc;
  StrView execfn;         // AT_EXECFN string
  StrView platform;       // AT_PLATFORM string ("x86_64")
  const u8* random16;     // 16 bytes for AT_RANDOM
  const AuxEntry* aux;    // entries besides AT_RANDOM/AT_EXECFN/AT_PLATFORM/AT_NULL
  usize auxc;
};

// Builds the stack in `mem`, which backs virtual addresses [top - size, top).
// Returns the initial %rsp (16-byte aligned, pointing at argc) or E2BIG when
// it does not fit.
Result<u64> build_initial_stack(u8* mem, usize size, u64 top, const StackSpec& spec);

}  // namespace mote::exec
