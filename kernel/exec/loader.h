// Loads an ELF program into the address space from a file of the VFS: static
// (ET_EXEC), static-PIE and PIE (ET_DYN), and dynamic programs with their
// interpreter (PT_INTERP: ld-linux-x86-64.so.2, musl's ld-musl), which then
// loads the libraries itself through mmap.
#pragma once

#include "kernel/exec/elf.h"
#include "kernel/fs/vfs.h"
#include "kernel/mm/address_space.h"

namespace mote::exec {

struct Loaded {
  u64 bias;        // added to every vaddr of the program (0 for ET_EXEC)
  u64 entry;       // where execution starts: the interpreter's entry if any
  u64 prog_entry;  // the program's own entry (AT_ENTRY)
  u64 phdr;        // biased address of the program headers (AT_PHDR)
  u16 phnum;
  u64 end;         // biased end of the program's highest segment (brk starts here)
  u64 interp_base; // AT_BASE: the interpreter's load address, 0 without one
  u64 image_bytes;
};

// What went wrong, for the `mote: ...` line: an ELF problem in the program
// or in its interpreter, or the interpreter missing.
struct LoadProblem {
  elf::Problem problem = elf::Problem::None;
  bool in_interp = false;
  bool interp_missing = false;
  char interp[256] = {};
};

// On failure fills *why (ELF problems) or returns an errno (ENOMEM...).
Result<Loaded> load_program(mm::AddressSpace& as, fs::Inode& file, LoadProblem* why);

// The name of the function containing `pc` in the symbol table of `file`
// loaded at `bias` (nearest preceding symbol), writing the offset from it.
// nullptr if none. Runs on the fault path: no heap.
const char* symbolize(fs::Inode& file, u64 pc, u64 bias, char* name, usize cap, u64* offset);

// The separate debug file of `file` (at `path` in the guest), found as gdb
// finds one (elf::debug_file_paths: by build ID under /usr/lib/debug, by
// .gnu_debuglink beside the file); a null Ref when there is none. The
// packer copies such files into the root filesystem when the host has them.
// A build-ID file must carry the same build ID.
Ref<fs::Inode> separate_debug_file(fs::Inode& file, StrView path);

}  // namespace mote::exec
