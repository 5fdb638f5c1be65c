#include "kernel/mm/mapped_file.h"

#include "kernel/fs/pseudo.h"
#include "kernel/lib/assert.h"
#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"

namespace mote::mm {

namespace {
// The live records (under the kernel lock, as the VMAs that hold them).
MappedFile* g_live = nullptr;
}  // namespace

MappedFile* MappedFile::get(fs::Inode& file) {
  for (MappedFile* m = g_live; m; m = m->next_) {
    if (m->inode_.get() == &file) {
      m->name_hold();
      return m;
    }
  }
  void* mem = kzalloc(sizeof(MappedFile));
  if (!mem) return nullptr;
  auto* m = new (mem) MappedFile(file);
  m->next_ = g_live;
  g_live = m;
  m->name_hold();
  return m;
}

void MappedFile::name_release() {
  MOTE_ASSERT(holds_ > 0);
  if (--holds_) return;
  for (MappedFile** p = &g_live; *p; p = &(*p)->next_) {
    if (*p == this) {
      *p = next_;
      break;
    }
  }
  kfree(path_);
  this->~MappedFile();
  kfree(this);
}

StrView MappedFile::path() {
  if (!path_known_) {
    path_known_ = true;
    constexpr usize kCap = 4096;
    auto* buf = static_cast<char*>(kalloc(kCap));
    if (!buf) return StrView();
    auto n = fs::inode_path(inode_.get(), buf, kCap);
    if (n.ok() && n.value() > 0) {
      path_ = buf;
      path_len_ = n.value();
    } else {
      kfree(buf);
    }
  }
  return StrView(path_, path_len_);
}

}  // namespace mote::mm
