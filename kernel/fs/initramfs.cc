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

// ---- Lazy unpacking from the index ------------------------------------------
//
// With a valid, sorted index the tree is made one directory at a time, when
// a directory is first used: python's image has ~1,500 entries, a run looks
// at a few dozen directories. Entries are sorted by path (bytewise), so the
// descendants of "a/b" are exactly the entries in [lower("a/b/"), lower("a/b0")).

struct Lazy {
  platform::Image which;
  platform::ImageBytes img;
  const u8* entries;
  const char* names;
  u32 count;
};
Lazy g_lazy;

abi::IndexEntry lazy_entry(u32 i) {
  abi::IndexEntry e;
  memcpy(&e, g_lazy.entries + u64(i) * sizeof e, sizeof e);
  return e;
}

StrView lazy_name(u32 i) {
  abi::IndexEntry e = lazy_entry(i);
  return StrView(g_lazy.names + e.name_offset, e.name_length);
}

int compare(StrView a, StrView b) {
  usize n = min(a.size, b.size);
  int c = n ? memcmp(a.data, b.data, n) : 0;
  if (c) return c;
  return a.size < b.size ? -1 : a.size > b.size ? 1 : 0;
}

// The first entry in [lo, hi) whose name is >= key.
u32 lower_bound(u32 lo, u32 hi, StrView key) {
  while (lo < hi) {
    u32 mid = lo + (hi - lo) / 2;
    if (compare(lazy_name(mid), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

constexpr u64 kMaxLazy = (1u << 24) - 1;
u64 lazy_cookie(u32 lo, u32 hi, usize plen) { return u64(lo) | u64(hi) << 24 | u64(plen) << 48; }

// The range of the descendants of directory `path` within [lo, hi).
void subtree(StrView path, u32 lo, u32 hi, u32* out_lo, u32* out_hi) {
  char key[kPathMax + 1];
  memcpy(key, path.data, path.size);
  key[path.size] = '/';
  *out_lo = lower_bound(lo, hi, StrView(key, path.size + 1));
  key[path.size] = '0';  // the byte after '/'
  *out_hi = lower_bound(*out_lo, hi, StrView(key, path.size + 1));
}

Result<void> load_dir(Inode& dir, u64 cookie);

Result<void> make_lazy_dir(Inode& parent, StrView name, u32 mode, StrView full, u32 lo, u32 hi,
                           u32* skip_to) {
  Ref<Inode> d;
  auto existing = parent.lookup(name);
  if (existing.ok()) {
    d = existing.value();
    if (!d->is_dir()) return err(EEXIST);
  } else {
    d = TRY(parent.mknod(name, kIfdir | (mode & kPermMask), 0));
  }
  u32 sub_lo, sub_hi;
  subtree(full, lo, hi, &sub_lo, &sub_hi);
  if (sub_hi > sub_lo) tmpfs_set_loader(*d, load_dir, lazy_cookie(sub_lo, sub_hi, full.size));
  *skip_to = sub_hi;
  return ok();
}

Result<void> load_dir(Inode& dir, u64 cookie) {
  u32 lo = u32(cookie & kMaxLazy), hi = u32((cookie >> 24) & kMaxLazy);
  usize plen = usize(cookie >> 48);
  usize skip = plen ? plen + 1 : 0;  // "dir/" before a child's name
  u32 i = lo;
  while (i < hi) {
    abi::IndexEntry e = lazy_entry(i);
    StrView full = lazy_name(i);
    StrView rest(full.data + skip, full.size - skip);
    usize slash = 0;
    while (slash < rest.size && rest.data[slash] != '/') ++slash;
    if (slash < rest.size) {
      // A descendant whose directory has no entry of its own.
      u32 next = i + 1;
      TRY(make_lazy_dir(dir, StrView(rest.data, slash), 0755, StrView(full.data, skip + slash), i,
                        hi, &next));
      i = max(next, i + 1);
      continue;
    }
    Ref<Inode> node;
    switch (e.mode & kIfmt) {
      case kIfdir: {
        u32 next;
        TRY(make_lazy_dir(dir, rest, e.mode, full, i + 1, hi, &next));
        node = TRY(dir.lookup(rest));
        break;
      }
      case kIfreg:
        node = TRY(tmpfs_image_file(dir, rest, e.mode, g_lazy.which, e.data_offset, e.size));
        break;
      case kIflnk:
        node = TRY(dir.symlink(rest, StrView(reinterpret_cast<const char*>(g_lazy.img.data +
                                                                          e.data_offset),
                                             e.size)));
        break;
      default:
        node = TRY(dir.mknod(rest, e.mode, 0));
        break;
    }
    node->mtime = node->ctime = Timespec{i64(e.mtime), 0};
    ++i;
  }
  return ok();
}

// A name a lazily built tree can hold: no leading or doubled '/', no "." or
// ".." components, shorter than PATH_MAX.
bool clean_path(StrView p) {
  if (p.size == 0 || p.size >= kPathMax || p.data[0] == '/' || p.data[p.size - 1] == '/')
    return false;
  usize s = 0;
  for (usize i = 0; i <= p.size; ++i) {
    if (i < p.size && p.data[i] != '/') continue;
    StrView c(p.data + s, i - s);
    if (c.size == 0 || c.size > kNameMax || c == StrView(".") || c == StrView("..")) return false;
    s = i + 1;
  }
  return true;
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
  // Lazily, when every entry checks out and the names are sorted and clean.
  bool lazy_ok = h.count <= kMaxLazy;
  for (u32 i = 0; i < h.count && lazy_ok; ++i) {
    abi::IndexEntry e;
    memcpy(&e, img.data + entries_at + u64(i) * sizeof e, sizeof e);
    if (e.name_offset > h.names_size || e.name_length > h.names_size - e.name_offset ||
        e.data_offset > f.index_offset || e.size > f.index_offset - e.data_offset)
      return false;
    StrView name(names + e.name_offset, e.name_length);
    if (!clean_path(name)) lazy_ok = false;
    if ((e.mode & kIfmt) == kIflnk && (e.size == 0 || e.size >= kPathMax)) lazy_ok = false;
    if (i > 0) {
      abi::IndexEntry p;
      memcpy(&p, img.data + entries_at + u64(i - 1) * sizeof p, sizeof p);
      if (compare(StrView(names + p.name_offset, p.name_length), name) >= 0) lazy_ok = false;
    }
  }
  if (lazy_ok) {
    g_lazy = Lazy{which, img, img.data + entries_at, names, h.count};
    // Entries below a file or symlink ("bin" -> usr/bin, then "bin/sh") go
    // through the link: only the eager path resolves them.
    for (u32 i = 0; i < h.count && lazy_ok; ++i) {
      if ((lazy_entry(i).mode & kIfmt) == kIfdir) continue;
      u32 lo, hi;
      subtree(lazy_name(i), i + 1, h.count, &lo, &hi);
      if (hi > lo) lazy_ok = false;
    }
  }
  if (lazy_ok) {
    tmpfs_set_loader(root, load_dir, lazy_cookie(0, h.count, 0));
    st->files = h.count;  // entries, made as they are needed
    return true;
  }
  // Eagerly, in index order. An entry below a symlink whose target comes
  // later ("bin" -> usr/bin, "bin/sh" before "usr/...") is retried after the
  // others, until a pass makes no progress.
  Vec<u32> retry, again;
  for (u32 i = 0; i < h.count; ++i) {
    abi::IndexEntry e;
    memcpy(&e, img.data + entries_at + u64(i) * sizeof e, sizeof e);
    if (e.name_offset > h.names_size || e.name_length > h.names_size - e.name_offset ||
        e.name_length == 0 || e.name_length >= kPathMax)
      return false;
    if (e.data_offset > f.index_offset || e.size > f.index_offset - e.data_offset) return false;
    auto r = add_entry(root, which, img, StrView(names + e.name_offset, e.name_length), e.mode, 0,
                       0, e.mtime, e.data_offset, e.size, 0, st);
    if (!r.ok() && (r.error() != ENOENT || !retry.push(i).ok())) return false;
  }
  while (!retry.empty()) {
    again.clear();
    for (u32 i : retry) {
      abi::IndexEntry e;
      memcpy(&e, img.data + entries_at + u64(i) * sizeof e, sizeof e);
      auto r = add_entry(root, which, img, StrView(names + e.name_offset, e.name_length), e.mode,
                         0, 0, e.mtime, e.data_offset, e.size, 0, st);
      if (!r.ok() && (r.error() != ENOENT || !again.push(i).ok())) return false;
    }
    if (again.size() == retry.size()) return false;  // no progress: a dangling link
    retry.clear();
    for (u32 i : again) (void)retry.push(i);
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
