// Symbol lookup in a vDSO image: the ELF shared object the host kernel maps
// into every process (AT_SYSINFO_EHDR). The process platform calls the
// host's __vdso_clock_gettime through it, so the core reads the clock
// without a host system call.
//
// Pure logic over bytes already in memory; every offset the image gives is
// checked against `size` before it is read, so a malformed image yields 0,
// never a read outside it. Unit-tested on the host against the real vDSO and
// crafted images.
#pragma once

#include "kernel/lib/types.h"

namespace mote::elf {

// The address of the defined function symbol `name` in the image mapped at
// `image` (`size` bytes readable from there), or 0 when the image is not an
// x86-64 ELF shared object, lacks the symbol, or points outside itself. The
// symbol table is found through PT_DYNAMIC (DT_SYMTAB, DT_STRTAB, DT_STRSZ,
// and DT_HASH or DT_GNU_HASH for the count), as a dynamic linker does; the
// address is the symbol's value relocated by where the first PT_LOAD sits.
u64 vdso_lookup(const u8* image, usize size, const char* name);

}  // namespace mote::elf
