// The file behind a private file mapping, as /proc/self/maps and crash
// reports name it: one record per mapped file, shared by all its mappings
// (VMAs hold it through MapName), gone with the last of them. Its path is
// looked up in the tree only when somebody asks.
#pragma once

#include "kernel/fs/vfs.h"
#include "kernel/mm/vma.h"

namespace mote::mm {

class MappedFile final : public MapName {
 public:
  // The live record of `file`, or a new one; the caller gets one hold and
  // drops it with name_release() once its mappings took theirs. nullptr
  // when out of memory (the mapping is then simply unnamed).
  static MappedFile* get(fs::Inode& file);
  // The record a VMA names (every MapName is a MappedFile).
  static MappedFile& of(MapName& n) { return static_cast<MappedFile&>(n); }

  fs::Inode& inode() const { return *inode_; }
  // Its absolute path, found on first use (empty when it is not in the tree).
  StrView path();

  void name_hold() override { ++holds_; }
  void name_release() override;

 private:
  explicit MappedFile(fs::Inode& f) : inode_(&f) {}
  Ref<fs::Inode> inode_;
  u32 holds_ = 0;
  char* path_ = nullptr;
  usize path_len_ = 0;
  bool path_known_ = false;
  MappedFile* next_ = nullptr;
};

}  // namespace mote::mm
