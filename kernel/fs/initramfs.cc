#include "kernel/fs/initramfs.h"

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

// Splits "a/b/c" into the directory "a/b" (created as needed) and "c".
Result<Ref<Inode>> parent_of(Inode& root, StrView path, StrView* last) {
  usize cut = path.size;
  while (cut > 0 && path.data[cut - 1] != '/') --cut;
  *last = StrView(path.data + cut, path.size - cut);
  if (cut == 0) return Ref<Inode>(&root);
  return mkdir_p(StrView(path.data, cut - 1));
}

}  // namespace

Result<InitramfsStats> unpack_initramfs(Inode& root, platform::Image which, u64* bad_offset) {
  platform::ImageBytes img = platform::image(which);
  InitramfsStats st{};
  u64 at = 0;
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
    // "./usr/bin" and "/usr/bin" mean "usr/bin".
    while (path.size && (path.data[0] == '/' || path.starts_with("./"))) {
      usize skip = path.data[0] == '/' ? 1 : 2;
      path = StrView(path.data + skip, path.size - skip);
    }
    if (path.size == 0 || path == StrView(".")) {
      root.mode = (root.mode & kIfmt) | (mode & kPermMask);
      at = next;
      continue;
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
        ++st.dirs;
        break;
      }
      case kIfreg:
        (void)dir->unlink(last);  // a later entry replaces an earlier one
        node = TRY(tmpfs_image_file(*dir, last, mode, which, data_at, filesize));
        ++st.files;
        break;
      case kIflnk: {
        if (filesize == 0 || filesize >= kPathMax) return err(EINVAL);
        (void)dir->unlink(last);
        node = TRY(dir->symlink(last, StrView(reinterpret_cast<const char*>(img.data + data_at),
                                              filesize)));
        ++st.symlinks;
        break;
      }
      case kIfchr: case kIfblk: case kIfifo: case kIfsock:
        (void)dir->unlink(last);
        node = TRY(dir->mknod(last, mode, (u64(rmaj) << 8) | rmin));
        ++st.others;
        break;
      default:
        return err(EINVAL);
    }
    node->uid = uid;
    node->gid = gid;
    node->mtime = node->ctime = Timespec{i64(mtime), 0};
    at = next;
  }
  return st;
}

}  // namespace mote::fs
