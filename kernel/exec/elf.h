// ELF64 executable parsing (System V gABI, x86-64 psABI). Pure logic over a
// read callback: the monitor uses it to reject bad input with a clear message,
// the kernel uses it to load the program. Unit-tested on the host.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::elf {

// Field values we rely on (ELF gABI "ELF Header", "Program Header").
inline constexpr u16 kEtExec = 2;
inline constexpr u16 kEtDyn = 3;
inline constexpr u16 kEmX86_64 = 62;
inline constexpr u32 kPtLoad = 1;
inline constexpr u32 kPtDynamic = 2;
inline constexpr u32 kPtInterp = 3;
inline constexpr u32 kPtPhdr = 6;
inline constexpr u32 kPtTls = 7;
inline constexpr u32 kPtGnuStack = 0x6474e551;
inline constexpr u32 kPfX = 1, kPfW = 2, kPfR = 4;

struct Ehdr {
  u8 ident[16];
  u16 type, machine;
  u32 version;
  u64 entry, phoff, shoff;
  u32 flags;
  u16 ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
static_assert(sizeof(Ehdr) == 64);

struct Phdr {
  u32 type, flags;
  u64 offset, vaddr, paddr, filesz, memsz, align;
};
static_assert(sizeof(Phdr) == 56);

struct Shdr {
  u32 name, type;
  u64 flags, addr, offset, size;
  u32 link, info;
  u64 addralign, entsize;
};
static_assert(sizeof(Shdr) == 64);

struct Sym {
  u32 name;
  u8 info, other;
  u16 shndx;
  u64 value, size;
};
static_assert(sizeof(Sym) == 24);

enum class Problem {
  None,
  TooSmall,        // shorter than an ELF header
  NotElf,          // bad magic
  Not64Bit,
  NotLittleEndian,
  BadVersion,
  WrongMachine,    // e_machine != x86-64
  NotExecutable,   // ET_REL, ET_CORE, shared library without entry
  BadHeaders,      // phentsize/phnum/offsets inconsistent
  Truncated,       // headers or segments point past the end of the file
  Dynamic,         // unused: dynamic programs are loaded with their interpreter
  NoSegments,
  BadSegment,      // filesz > memsz, misaligned, overlapping or out of range
  TooManySegments,
};

// A one-line description for `mote: PATH: <message>`.
const char* describe(Problem p, u16 machine);
const char* machine_name(u16 machine);

inline constexpr int kMaxPhdrs = 64;

struct Image {
  bool pie;            // ET_DYN: position independent, loaded at a chosen bias
  u64 entry;           // unbiased
  u64 phoff;
  u16 phnum;
  u16 machine;
  u64 lo;              // lowest PT_LOAD vaddr, page-aligned down (unbiased)
  u64 hi;              // highest PT_LOAD end, page-aligned up (unbiased)
  u64 phdr_vaddr;      // where the phdrs are in memory (unbiased), 0 if not mapped
  bool exec_stack;     // PT_GNU_STACK has PF_X (or absent)
  bool dynamic;        // has PT_INTERP: the interpreter named there loads it
  u64 interp_offset, interp_size;  // PT_INTERP location (the path, NUL included)
  Phdr phdrs[kMaxPhdrs];
};

// Reads `len` bytes at `offset` of the file; returns bytes read (short at EOF).
using ReadFn = Result<usize> (*)(void* ctx, u64 offset, void* buf, usize len);

// Parses and validates the headers of an executable of `file_size` bytes.
// On failure returns the problem and, for WrongMachine, sets *machine.
Problem parse(ReadFn read, void* ctx, u64 file_size, Image* out);

// Where a file's separate debug information is (gdb's "Separate Debug
// Files"): the GNU build ID note (NT_GNU_BUILD_ID in an SHT_NOTE section)
// and the file name in its .gnu_debuglink section, each absent when empty.
struct DebugRefs {
  u8 build_id[64];
  u32 build_id_len = 0;
  char link[128] = "";
};
inline constexpr usize kDebugPathMax = 512;
inline constexpr usize kMaxDebugPaths = 4;
// Reads them from the section headers; false when the file has neither.
bool debug_refs(ReadFn read, void* ctx, DebugRefs* out);
// The places the debug file of the file at `path` may be, in gdb's order:
// /usr/lib/debug/.build-id/NN/REST.debug, then DIR/LINK, DIR/.debug/LINK and
// /usr/lib/debug/DIR/LINK. Returns how many it wrote into out.
usize debug_file_paths(const DebugRefs& refs, StrView path, char (*out)[kDebugPathMax]);
// Whether the file found at debug_file_paths' place `index` may be taken: a
// file at the build-ID path must carry that same build ID; a debuglink
// file is taken by its name.
bool debug_file_matches(const DebugRefs& refs, usize index, ReadFn read, void* ctx);

}  // namespace mote::elf
