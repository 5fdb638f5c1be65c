// The kernel's symbol table (generated at build time by gen_ksyms.py): names
// for addresses in exception reports.
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

// A function's name, printed as scope then name ("mote::net::Tcp::" "output"),
// and an address's offset into it.
struct Ksym {
  const char* scope;
  const char* name;
  u64 offset;
};

// The function containing `addr`; false if none.
bool ksym(u64 addr, Ksym* out);

// Prints the frame-pointer chain starting at `rbp` (the kernel is built with
// frame pointers), one symbolized line per frame.
void print_backtrace(u64 rip, u64 rbp);

}  // namespace mote::kvm
