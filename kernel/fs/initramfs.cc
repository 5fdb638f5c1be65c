#include "kernel/fs/initramfs.h"

#include "abi/rootfs_index.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

namespace mote::fs {

namespace {

constexpr usize kHeader = 110;  // "070701" + 13 fields of 8 hex digits

bool hex8(const u8* p, u32* out) {
  u32 v = 0;
  for (int i = 0; i < 8; ++i) {
    u8 c = p[i];
    u32 d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = v << 4 | d;
  }
  *out = v;
  return true;
}

u64 align4(u64 v) { return (v + 3) & ~u64(3); }

// The directory of the previous entry: archives list a directory's entries
// together, so most lookups end here.
char g_last_dir[kPathMax];
usize g_last_dir_len = 0;
Inode* g_last_dir_node = nullptr;  // kept alive by the tree

// Splits "a/b/c" into the directory "a/b" (created as needed) and "c".
Result<Ref<Inode>> parent_of(Inode& root, StrView path, StrView* last) {
  usize cut = path.size;
  while (cut > 0 && path.data[cut - 1] != '/') --cut;
  *last = StrView(path.data + cut, path.size - cut);
  if (cut == 0) return Ref<Inode>(&root);
  StrView dir(path.data, cut - 1);
  if (g_last_dir_node && dir == StrView(g_last_dir, g_last_dir_len))
    return Ref<Inode>(g_last_dir_node);
  Ref<Inode> d = TRY(mkdir_p(dir));
  memcpy(g_last_dir, dir.data, dir.size);
  g_last_dir_len = dir.size;
  g_last_dir_node = d.get();
  return d;
}

// Creates one entry (type from mode) at `path` under root.
Result<void> add_entry(Inode& root, platform::Image which, const platform::ImageBytes& img,
                       StrView path, u32 mode, u32 uid, u32 gid, u64 mtime, u64 data_at,
                       u64 size, u64 rdev, InitramfsStats* st) {
  // "./usr/bin" and "/usr/bin" mean "usr/bin".
  while (path.size && (path.data[0] == '/' || path.starts_with("./"))) {
    usize skip = path.data[0] == '/' ? 1 : 2;
    path = StrView(path.data + skip, path.size - skip);
  }
  if (path.size == 0 || path == StrView(".")) {
    root.mode = (root.mode & kIfmt) | (mode & kPermMask);
    return ok();
  }
  StrView last;
  Ref<Inode> dir = TRY(parent_of(root, path, &last));
  Ref<Inode> node;
  switch (mode & kIfmt) {
    case kIfdir: {
      auto existing = dir->lookup(last);
      node = existing.ok() ? existing.value() : TRY(dir->mknod(last, mode, 0));
      if (!node->is_dir()) return err(EEXIST);
      node->mode = kIfdir | (mode & kPermMask);
      ++st->dirs;
      break;
    }
    case kIfreg:
      (void)dir->unlink(last);  // a later entry replaces an earlier one
      node = TRY(tmpfs_image_file(*dir, last, mode, which, data_at, size));
      ++st->files;
      break;
    case kIflnk: {
      if (size == 0 || size >= kPathMax) return err(EINVAL);
      (void)dir->unlink(last);
      node = TRY(dir->symlink(last, StrView(reinterpret_cast<const char*>(img.data + data_at),
                                            size)));
      ++st->symlinks;
      break;
    }
    case kIfchr: case kIfblk: case kIfifo: case kIfsock:
      (void)dir->unlink(last);
      node = TRY(dir->mknod(last, mode, rdev));
      ++st->others;
      break;
    default:
      return err(EINVAL);
  }
  node->uid = uid;
  node->gid = gid;
  node->mtime = node->ctime = Timespec{i64(mtime), 0};
  return ok();
}

// The index after the archive (abi/rootfs_index.h), when there is a valid
// one: true when it built the tree.
bool unpack_index(Inode& root, platform::Image which, const platform::ImageBytes& img,
                  InitramfsStats* st) {
  if (img.size < sizeof(abi::IndexFooter) + sizeof(abi::IndexHeader)) return false;
  abi::IndexFooter f;
  memcpy(&f, img.data + img.size - sizeof f, sizeof f);
  if (memcmp(f.magic, abi::kIndexMagic, sizeof f.magic) != 0) return false;
  u64 end = img.size - sizeof f;
  if (f.index_offset > end || end - f.index_offset < sizeof(abi::IndexHeader)) return false;
  abi::IndexHeader h;
  memcpy(&h, img.data + f.index_offset, sizeof h);
  if (memcmp(h.magic, abi::kIndexMagic, sizeof h.magic) != 0) return false;
  u64 entries_at = f.index_offset + sizeof h;
  u64 names_at = entries_at + u64(h.count) * sizeof(abi::IndexEntry);
  if (names_at > end || h.names_size > end - names_at) return false;
  const char* names = reinterpret_cast<const char*>(img.data + names_at);
  for (u32 i = 0; i < h.count; ++i) {
    abi::IndexEntry e;
    memcpy(&e, img.data + entries_at + u64(i) * sizeof e, sizeof e);
    if (e.name_offset > h.names_size || e.name_length > h.names_size - e.name_offset ||
        e.name_length == 0 || e.name_length >= kPathMax)
      return false;
    if (e.data_offset > f.index_offset || e.size > f.index_offset - e.data_offset) return false;
    if (!add_entry(root, which, img, StrView(names + e.name_offset, e.name_length), e.mode, 0, 0,
                   e.mtime, e.data_offset, e.size, 0, st)
             .ok())
      return false;
  }
  return true;
}

}  // namespace

Result<InitramfsStats> unpack_initramfs(Inode& root, platform::Image which, u64* bad_offset) {
  platform::ImageBytes img = platform::image(which);
  InitramfsStats st{};
  u64 at = 0;
  freeze_time(true);
  struct Thaw {
    ~Thaw() { freeze_time(false); }
  } thaw;
  *bad_offset = 0;
  g_last_dir_node = nullptr;
  if (unpack_index(root, which, img, &st)) return st;
  g_last_dir_node = nullptr;
  // No index (or a bad one: whatever it created is replaced entry by entry).
  st = InitramfsStats{};
  char name[kPathMax];
  for (;;) {
    *bad_offset = at;
    if (at + kHeader > img.size) return err(EINVAL);
    const u8* h = img.data + at;
    if (memcmp(h, "070701", 6) != 0 && memcmp(h, "070702", 6) != 0) return err(EINVAL);
    u32 f[13];
    for (int i = 0; i < 13; ++i)
      if (!hex8(h + 6 + 8 * i, &f[i])) return err(EINVAL);
    u32 mode = f[1], uid = f[2], gid = f[3], mtime = f[5], filesize = f[6];
    u32 rmaj = f[9], rmin = f[10], namesize = f[11];
    // namesize counts the NULs that page-align the data after the name.
    if (namesize == 0 || namesize > kPathMax + kPageSize) return err(EINVAL);
    u64 name_at = at + kHeader;
    if (name_at + namesize > img.size) return err(EINVAL);
    // The name runs to its first NUL; padding NULs after it (which align
    // file data to pages) are part of namesize.
    usize len = strnlen(reinterpret_cast<const char*>(img.data + name_at), namesize);
    if (len == namesize || len >= kPathMax) return err(EINVAL);  // no NUL, or too long
    memcpy(name, img.data + name_at, len);
    name[len] = 0;
    u64 data_at = align4(name_at + namesize);
    if (data_at > img.size || filesize > img.size - data_at) return err(EINVAL);
    u64 next = align4(data_at + filesize);
    StrView path(name, len);
    if (path == StrView("TRAILER!!!")) break;
    TRY(add_entry(root, which, img, path, mode, uid, gid, mtime, data_at, filesize,
                  (u64(rmaj) << 8) | rmin, &st));
    at = next;
  }
  return st;
}

}  // namespace mote::fs
