// brk, mmap, munmap, mprotect, mremap, madvise. Private file mappings are
// copies (or copy-on-write image pages); shared ones map the file's own pages
// (tmpfs: mm::SharedObject), and shared anonymous memory is an unlinked
// tmpfs file, so a forked child's stores reach its parent.
#include "kernel/core/process.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/special.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/mm/mapped_file.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

// mmap flags (include/uapi/linux/mman.h, asm-generic/mman-common.h).
constexpr u64 kMapShared = 0x01, kMapPrivate = 0x02, kMapSharedValidate = 0x03;
constexpr u64 kMapFixed = 0x10, kMapAnonymous = 0x20;
constexpr u64 kMapFixedNoreplace = 0x100000;
constexpr u64 kMapKnown = 0x03 | kMapFixed | kMapAnonymous | 0x0100 /*GROWSDOWN*/ |
                          0x0800 /*DENYWRITE*/ | 0x1000 /*EXECUTABLE*/ | 0x2000 /*LOCKED*/ |
                          0x4000 /*NORESERVE*/ | 0x8000 /*POPULATE*/ | 0x10000 /*NONBLOCK*/ |
                          0x20000 /*STACK*/ | 0x40000 /*HUGETLB*/ | 0x80000 /*SYNC*/ |
                          kMapFixedNoreplace | (u64(0x3f) << 26) /*huge page size bits*/;
constexpr u64 kProtMask = 7;
constexpr u64 kProtGrows = 0x01000000 | 0x02000000;

i64 ret(Result<void> r) { return r.ok() ? 0 : -r.error(); }
i64 ret(Result<u64> r) { return r.ok() ? i64(r.value()) : -r.error(); }

// MAP_SHARED|MAP_ANONYMOUS: the pages of a new unlinked tmpfs file, which
// the mapping keeps alive.
i64 map_shared_anon(u64 addr, u64 len, u32 prot, mm::Placement how) {
  if (!page_up_ok(len)) return -ENOMEM;
  auto file = fs::tmpfs_anon_file(page_up(len));
  if (!file.ok()) return -file.error();
  mm::SharedObject* obj = file.value()->shared_object();
  return ret(core::g_proc.as.map_shared(addr, len, prot, how, *obj, 0, false));
}

}  // namespace

i64 sys_brk(const SysArgs& a) { return i64(core::g_proc.as.set_brk(a.u(0))); }

i64 sys_mmap(const SysArgs& a) {
  u64 addr = a.u(0), len = a.u(1), prot = a.u(2), flags = a.u(3), off = a.u(5);
  int fd = a.fd(4);
  u64 type = flags & 0x03;
  if (type == 0) return -EINVAL;
  if (type == kMapSharedValidate && (flags & ~kMapKnown)) return -EOPNOTSUPP;
  if (len == 0 || (prot & ~kProtMask)) return -EINVAL;
  if (!page_aligned(off)) return -EINVAL;
  mm::Placement how = mm::Placement::Hint;
  if (flags & kMapFixedNoreplace) how = mm::Placement::FixedNoReplace;
  else if (flags & kMapFixed) how = mm::Placement::Fixed;
  if (!(flags & kMapAnonymous)) {
    Ref<fs::File> f = fs::fds().get(fd);
    if (!f) return -EBADF;
    if (f->flags & fs::kOPath) return -EBADF;
    if (!f->readable()) return -EACCES;
    fs::Inode& node = *f->inode;
    // /dev/zero (mknod'd anywhere): anonymous memory, shared as Linux's.
    if ((node.mode & fs::kIfmt) == fs::kIfchr && node.rdev == fs::dev_number(1, 5)) {
      if (type != kMapPrivate) return map_shared_anon(addr, len, u32(prot), how);
      return ret(core::g_proc.as.map_anon(addr, len, u32(prot), how, mm::VmaKind::Anon));
    }
    if (!node.is_reg()) return -ENODEV;
    if (off + len < off) return -EOVERFLOW;
    if (type != kMapPrivate) {
      if ((prot & 2) && !f->writable()) return -EACCES;
      if (mm::SharedObject* obj = node.shared_object()) {
        mm::MappedFile* name = mm::MappedFile::get(node);
        auto r = core::g_proc.as.map_shared(addr, len, u32(prot), how, *obj, off, !f->writable(),
                                            name);
        if (name) name->name_release();
        return ret(r);
      }
      // Files whose pages cannot be shared (host shares over 9P): writable
      // shared mappings are ENODEV, read-only ones private copies that do
      // not follow later changes to the file (docs/compat.md).
      if (prot & 2) return -ENODEV;
    }
    mm::MappedFile* name = mm::MappedFile::get(node);
    auto r = core::g_proc.as.map_file(addr, len, u32(prot), how, mm::VmaKind::Anon, node, off, name);
    if (name) name->name_release();
    return ret(r);
  }
  if (type == kMapShared || type == kMapSharedValidate)
    return map_shared_anon(addr, len, u32(prot), how);
  return ret(core::g_proc.as.map_anon(addr, len, u32(prot), how, mm::VmaKind::Anon));
}

i64 sys_munmap(const SysArgs& a) { return ret(core::g_proc.as.unmap(a.u(0), a.u(1))); }

i64 sys_mprotect(const SysArgs& a) {
  u64 prot = a.u(2);
  if (prot & ~(kProtMask | kProtGrows)) return -EINVAL;
  if ((prot & kProtGrows) == kProtGrows) return -EINVAL;
  return ret(core::g_proc.as.protect(a.u(0), a.u(1), u32(prot & kProtMask)));
}

i64 sys_mremap(const SysArgs& a) {
  return ret(core::g_proc.as.remap(a.u(0), a.u(1), a.u(2), u32(a.u(3)), a.u(4)));
}

i64 sys_madvise(const SysArgs& a) {
  u64 addr = a.u(0), len = a.u(1);
  int advice = a.c_int(2);
  if (!page_aligned(addr)) return -EINVAL;
  switch (advice) {
    case 4:   // MADV_DONTNEED
    case 8:   // MADV_FREE
    case 9:   // MADV_REMOVE
      return ret(core::g_proc.as.discard(addr, len));
    case 0: case 1: case 2: case 3:        // NORMAL RANDOM SEQUENTIAL WILLNEED
    case 10: case 11: case 12: case 13:    // DONTFORK DOFORK MERGEABLE UNMERGEABLE
    case 14: case 15: case 16: case 17:    // HUGEPAGE NOHUGEPAGE DONTDUMP DODUMP
    case 18: case 19: case 20: case 21:    // WIPEONFORK KEEPONFORK COLD PAGEOUT
    case 22: case 23:                      // POPULATE_READ POPULATE_WRITE
      // Advice only: nothing to do beyond checking the range is mapped.
      if (len && !core::g_proc.as.vmas().fully_mapped(addr, addr + page_up(len))) return -ENOMEM;
      return 0;
    default:
      return -EINVAL;
  }
}

}  // namespace mote::linux
