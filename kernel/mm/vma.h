// The set of virtual memory areas of the one address space: a sorted array of
// non-overlapping [start, end) ranges with their protection and kind. Pure
// bookkeeping (no platform calls), unit-tested on the host. AddressSpace puts
// it together with the platform and the memory limit.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::mm {

// What a shared mapping (VmaKind::Shared) maps: the pages of a tmpfs file,
// or of the unlinked one behind MAP_SHARED|MAP_ANONYMOUS memory. Every VMA
// piece that maps it holds it once: VmaSet keeps that true across splits,
// merges and removals, so the object (and its pages) outlive every mapping.
class SharedObject {
 public:
  virtual void map_hold() = 0;
  virtual void map_release() = 0;
  // The platform tokens (platform::SharedPage) of the object's pages
  // [first, first + n), made shared pages first where they are not yet.
  virtual Result<void> shared_pages(u64 first, usize n, u64* tokens) = 0;

 protected:
  ~SharedObject() = default;
};

// The file a mapping shows in /proc/self/maps and symbolizes from (private
// file mappings and the program's images): held once per VMA piece, as a
// SharedObject, and kept across splits, merges, removals and moves.
class MapName {
 public:
  virtual void name_hold() = 0;
  virtual void name_release() = 0;

 protected:
  ~MapName() = default;
};

enum class VmaKind : u16 {
  Anon,      // mmap'd anonymous memory
  Image,     // the program's ELF segments
  Stack,     // the main thread's stack
  Heap,      // brk area
  Reserved,  // platform/core/host memory: never given to or removed by the program
  Shared,    // MAP_SHARED: pages of `object` from byte offset `offset`
};

struct Vma {
  u64 start;
  u64 end;
  u32 prot;     // platform::Prot bits
  VmaKind kind;
  u16 charged;  // 1 when counted against the memory limit
  SharedObject* object = nullptr;  // Shared only (one hold per VMA piece)
  u64 offset = 0;                  // the object's or the named file's byte offset at `start`
  bool no_write = false;           // Shared: the file was opened read-only
  MapName* name = nullptr;         // the file mapped (one hold per VMA piece), or none
  u64 bytes() const { return end - start; }
  // One more or one fewer VMA piece referring to object and name.
  void hold() const;
  void release() const;
};

class VmaSet {
 public:
  VmaSet() = default;
  VmaSet(const VmaSet&) = delete;
  VmaSet& operator=(const VmaSet&) = delete;
  // No destructor: kernel globals must not need one (there is no exit-time
  // teardown). clear() releases the storage.
  void clear();

  usize size() const { return n_; }
  const Vma& operator[](usize i) const { return v_[i]; }
  Vma& operator[](usize i) { return v_[i]; }

  // Index of the first VMA that ends above `addr` (size() if none).
  usize lower(u64 addr) const;
  // The VMA containing addr, or nullptr.
  const Vma* find(u64 addr) const;
  // True when no VMA intersects [start, end).
  bool is_free(u64 start, u64 end) const;
  // True when some VMA of kind Reserved intersects [start, end).
  bool touches_reserved(u64 start, u64 end) const;
  // True when [start, end) is covered without holes by VMAs.
  bool fully_mapped(u64 start, u64 end) const;
  // The highest `len`-byte free gap inside [lo, hi), or 0 when none.
  u64 find_gap_topdown(u64 len, u64 lo, u64 hi) const;
  // Adds a VMA; its range must be free (EEXIST otherwise), ENOMEM on no memory.
  // On success the set owns one hold of v.object (the caller took it).
  Result<void> insert(const Vma& v);
  // Makes `addr` a boundary between VMAs when it falls strictly inside one.
  Result<void> split_at(u64 addr);
  // Removes every VMA part inside [start, end). Call split_at(start) and
  // split_at(end) first (remove does it too, and can fail only there).
  Result<void> remove(u64 start, u64 end);
  // Merges neighbours that touch and have identical attributes.
  void coalesce();

 private:
  Result<void> reserve(usize want);
  Vma* v_ = nullptr;
  usize n_ = 0;
  usize cap_ = 0;
};

}  // namespace mote::mm
