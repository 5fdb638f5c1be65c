// The program's address space: VMAs, the platform mappings behind them, the
// brk heap, and the memory limit (--mem).
//
// Memory accounting follows Linux's strict overcommit mode (vm.overcommit_memory
// = 2): every private writable mapping is charged in full when it is created or
// made writable, and uncharged when unmapped; MAP_NORESERVE does not escape the
// charge. So the program's memory use is bounded by --mem and it gets ENOMEM at
// mmap/brk/mprotect time, as Linux would, instead of being killed later.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/mm/vma.h"

namespace mote::fs {
class Inode;
}

namespace mote::mm {

enum class Placement {
  Hint,            // addr is a hint (or 0): use it when free, else search
  Fixed,           // exactly addr, replacing what is there (MAP_FIXED)
  FixedNoReplace,  // exactly addr, EEXIST if anything is there
};

class AddressSpace {
 public:
  // Takes the layout and reserved ranges from the platform.
  Result<void> init(u64 limit_bytes);

  Result<u64> map_anon(u64 addr, u64 len, u32 prot, Placement how, VmaKind kind);
  // A private mapping of `file` from page-aligned offset `off` (mmap of a
  // file, ELF segments): copy-on-write from a boot image where the file's
  // bytes are page-aligned there, a private copy elsewhere. Bytes past the
  // file's end read as zero. `name`: what /proc/self/maps and crash reports
  // call the mapping (the VMAs take their own holds).
  Result<u64> map_file(u64 addr, u64 len, u32 prot, Placement how, VmaKind kind,
                       fs::Inode& file, u64 off, MapName* name = nullptr);
  // A shared mapping (MAP_SHARED) of `obj`'s pages from page-aligned byte
  // offset `off`: every mapping of the object, the core's reads and writes
  // of it and a forked child's stores all see the same memory. Not charged
  // here: the object's pages are (as tmpfs pages). `no_write`: the file was
  // opened read-only, so mprotect may never add PROT_WRITE (EACCES).
  Result<u64> map_shared(u64 addr, u64 len, u32 prot, Placement how, SharedObject& obj, u64 off,
                         bool no_write, MapName* name = nullptr);
  Result<void> unmap(u64 addr, u64 len);
  Result<void> protect(u64 addr, u64 len, u32 prot);
  // mremap(): flags are MREMAP_MAYMOVE (1) and MREMAP_FIXED (2).
  Result<u64> remap(u64 old_addr, u64 old_len, u64 new_len, u32 flags, u64 new_addr);
  // MADV_DONTNEED: contents of [addr, addr+len) read as zero afterwards.
  Result<void> discard(u64 addr, u64 len);

  void set_brk_start(u64 start) { brk_start_ = brk_ = start; }
  u64 brk() const { return brk_; }
  // brk(2): returns the new break, or the old one when it cannot move.
  u64 set_brk(u64 want);

  // The main-thread stack: [top - size, top) below the mmap ceiling, with an
  // unmapped guard page under it. Returns the top.
  Result<u64> map_stack(u64 size);

  // Memory the platform keeps for itself inside the program's reach (e.g.
  // syscall stubs that must sit within +-2 GiB of the code calling them):
  // `len` bytes mapped with `prot` in the highest free gap inside [lo, hi),
  // recorded as Reserved so the program can neither get nor unmap it.
  Result<u64> map_reserved(u64 len, u32 prot, u64 lo, u64 hi);

  // fork (kernel/core/fork.cc): a copy of every program mapping and its
  // contents, and the brk, to put back when the child ends. restore()
  // consumes the copy. Zero-copy file pages come back as private copies.
  // Shared mappings keep no copy: they are mapped again over their object,
  // with whatever the child stored in it (as a forked child's stores to
  // MAP_SHARED memory reach its parent on Linux).
  struct Saved;
  Result<Saved*> save();
  Result<void> restore(Saved* s);
  void drop(Saved* s);
  // execve: removes every program mapping (not Reserved ones) and the brk.
  Result<void> clear();

  // True when [addr, addr+len) lies inside program VMAs that allow `prot`.
  bool user_ok(u64 addr, u64 len, u32 prot) const;

  u64 limit() const { return limit_; }
  u64 charged() const { return charged_; }
  // How many commits the limit refused (each an ENOMEM the program saw).
  u64 refused() const { return refused_; }
  const VmaSet& vmas() const { return vmas_; }
  u64 mmap_top() const { return top_; }

  // Memory used outside mappings (tmpfs pages) counts against the limit too.
  Result<void> charge(u64 bytes);
  void uncharge(u64 bytes);

 private:
  Result<u64> place(u64 addr, u64 len, Placement how);
  // Mapping commitments (charge/uncharge are for memory outside mappings).
  Result<void> commit(u64 bytes);
  void uncommit(u64 bytes) { charged_ -= bytes; }
  Result<void> fill_from(u64 addr, u64 len, u32 prot, fs::Inode& file, u64 off);
  // Maps obj's pages from `off` at [addr, addr+len) (platform only).
  Result<void> map_object(u64 addr, u64 len, u32 prot, SharedObject& obj, u64 off);
  Result<u64> remap_shared(const Vma& attrs, u64 old_addr, u64 old_len, u64 new_len, u32 flags,
                           u64 new_addr);
  bool in_user_range(u64 addr, u64 len) const;
  Result<void> unmap_pieces(u64 start, u64 end);

  VmaSet vmas_;
  u64 limit_ = 0;
  u64 charged_ = 0;
  u64 outside_ = 0;  // the part of charged_ that is tmpfs pages
  u64 refused_ = 0;
  u64 min_ = 0;
  u64 max_ = 0;
  u64 top_ = 0;
  u64 brk_start_ = 0;
  u64 brk_ = 0;
};

}  // namespace mote::mm
