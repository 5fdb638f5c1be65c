// Loads the program image (platform::read_program / map_program) into the
// address space: static (ET_EXEC) and static-PIE (ET_DYN without PT_INTERP).
#pragma once

#include "kernel/exec/elf.h"
#include "kernel/mm/address_space.h"

namespace mote::exec {

struct Loaded {
  u64 bias;       // added to every vaddr (0 for ET_EXEC)
  u64 entry;      // biased
  u64 phdr;       // biased address of the program headers (AT_PHDR)
  u16 phnum;
  u64 end;        // biased end of the highest segment (brk starts here)
  u64 image_bytes;
};

// On failure sets *problem (ELF problems) or returns an errno (ENOMEM...).
Result<Loaded> load_program(mm::AddressSpace& as, elf::Problem* problem);

// The name of the function containing `pc` in the program's symbol table
// (nearest preceding symbol), writing the offset from it. nullptr if none.
const char* symbolize(u64 pc, u64 bias, char* name, usize cap, u64* offset);

}  // namespace mote::exec
