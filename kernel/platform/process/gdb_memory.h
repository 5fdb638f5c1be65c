// Program memory as the gdb stub (gdb.cc) reads and writes it, and its
// software breakpoints: int3 bytes written into the program's text.
#pragma once

#include "kernel/lib/types.h"

namespace mote::process::gdb::memory {

// Reads program memory as the program would see it without the stub's
// int3s; false when [addr, addr+n) is not all readable program memory.
bool peek(u64 addr, u8* out, usize n);
// Writes program memory (read-only text too; at most 8 KiB); bytes under
// a breakpoint update its saved copy. False outside the program's mappings.
bool poke(u64 addr, const u8* src, usize n);
bool insert_breakpoint(u64 addr);
bool remove_breakpoint(u64 addr);
bool is_breakpoint(u64 addr);
void remove_all_breakpoints();

}  // namespace mote::process::gdb::memory
