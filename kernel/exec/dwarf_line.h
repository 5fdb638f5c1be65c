// Source lines for crash reports: the DWARF line-number program of an ELF
// file (its .debug_line, versions 2 to 5; DWARF 5 names through
// .debug_line_str), read through the same callback as the ELF parser. Pure
// logic without the heap (it runs on the fault path), unit-tested on the host
// against addr2line.
#pragma once

#include "kernel/exec/elf.h"

namespace mote::dwarf {

// The source file and line of `addr` (a file address: the value a symbol
// has, before any load bias). The file is its name as the line table
// records it, truncated to cap. False when the file has no line table or
// no row covers addr.
bool find_line(elf::ReadFn read, void* ctx, u64 addr, char* file, usize cap, u32* line);

}  // namespace mote::dwarf
