// The kernel's symbol table (generated at build time by gen_ksyms.py): names
// for addresses in exception reports.
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

// The function containing `addr`, and the offset into it; nullptr if none.
const char* ksym(u64 addr, u64* offset);

// Prints the frame-pointer chain starting at `rbp` (the kernel is built with
// frame pointers), one symbolized line per frame.
void print_backtrace(u64 rip, u64 rbp);

}  // namespace mote::kvm
