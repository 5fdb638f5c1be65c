// Inode and File defaults, mounts, and path resolution.
#include "kernel/fs/vfs.h"

#include "kernel/fs/tmpfs.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

namespace mote::fs {

namespace {

Namespace* g_ns = nullptr;
u64 g_next_dev = 0x100;

constexpr int kMaxSymlinks = 40;  // Linux's MAXSYMLINKS

}  // namespace

u8 dtype_of(u32 mode) {
  switch (mode & kIfmt) {
    case kIfreg: return kDtReg;
    case kIfdir: return kDtDir;
    case kIflnk: return kDtLnk;
    case kIfchr: return kDtChr;
    case kIfblk: return kDtBlk;
    case kIfifo: return kDtFifo;
    case kIfsock: return kDtSock;
    default: return kDtUnknown;
  }
}

namespace {
Timespec g_frozen{};
bool g_freeze = false;
}  // namespace

Timespec now() {
  if (g_freeze) return g_frozen;
  u64 ns = platform::wall_ns();
  return Timespec{i64(ns / 1000000000ull), i64(ns % 1000000000ull)};
}

void freeze_time(bool on) {
  // Nested freezes (unpacking inside boot's) keep the outer one's time.
  static int depth = 0;
  if (on && depth++ == 0) {
    // The boot's wall-clock time from the boot info: no clock read at all
    // (on the VM platforms the first one may calibrate the TSC, millions of
    // instructions that must not be paid before the program starts).
    u64 ns = platform::boot_info().wall_clock_ns;
    g_frozen = Timespec{i64(ns / 1000000000ull), i64(ns % 1000000000ull)};
    g_freeze = true;
  } else if (!on && depth > 0 && --depth == 0) {
    g_freeze = false;
  }
}

u64 new_dev() { return g_next_dev++; }

// ---- Inode defaults ----------------------------------------------------------

Inode::Inode(FileSystem* f, u64 i, u32 m) : fs(f), ino(i), mode(m) {
  atime = mtime = ctime = now();
  if (fs) ++fs->live_inodes;
}

Inode::~Inode() {
  if (fs && --fs->live_inodes == 0 && fs->on_heap) mm::kfree(fs);
}

Result<void> Inode::getattr(Attr* a) {
  a->dev = fs ? fs->dev : 0;
  a->ino = ino;
  a->mode = mode;
  a->nlink = nlink;
  a->uid = uid;
  a->gid = gid;
  a->rdev = rdev;
  a->size = size;
  a->blocks = page_up(size) / 512;
  a->blksize = 4096;
  a->atime = atime;
  a->mtime = mtime;
  a->ctime = ctime;
  return ok();
}

Result<void> Inode::chmod(u32 perm) {
  if (fs && fs->read_only) return err(EROFS);
  mode = (mode & kIfmt) | (perm & kPermMask);
  ctime = now();
  return ok();
}

Result<void> Inode::chown(u32 u, u32 g) {
  if (fs && fs->read_only) return err(EROFS);
  if (u != ~0u) uid = u;
  if (g != ~0u) gid = g;
  ctime = now();
  return ok();
}

Result<void> Inode::set_times(const Timespec* a, const Timespec* m) {
  if (fs && fs->read_only) return err(EROFS);
  if (a) atime = *a;
  if (m) mtime = *m;
  ctime = now();
  return ok();
}

Result<FsStat> Inode::statfs() {
  FsStat s{};
  s.type = fs ? fs->magic : 0;
  s.bsize = 4096;
  s.namelen = kNameMax;
  s.flags = fs && fs->read_only ? 1 : 0;
  return s;
}

Result<Ref<Inode>> Inode::lookup(StrView) { return err(ENOTDIR); }
Result<Ref<Inode>> Inode::mknod(StrView, u32, u64) { return err(ENOTDIR); }
Result<Ref<Inode>> Inode::symlink(StrView, StrView) { return err(ENOTDIR); }
Result<void> Inode::link(StrView, Inode&) { return err(ENOTDIR); }
Result<void> Inode::unlink(StrView) { return err(ENOTDIR); }
Result<void> Inode::rmdir(StrView) { return err(ENOTDIR); }
Result<void> Inode::rename(StrView, Inode&, StrView, u32) { return err(ENOTDIR); }
Result<void> Inode::readdir(u64*, DirSink, void*) { return err(ENOTDIR); }
Result<usize> Inode::read(u64, void*, usize) { return err(is_dir() ? EISDIR : EINVAL); }
Result<usize> Inode::write(u64, const void*, usize) { return err(is_dir() ? EISDIR : EINVAL); }
Result<void> Inode::truncate(u64) { return err(is_dir() ? EISDIR : EINVAL); }
Result<usize> Inode::readlink(char*, usize) { return err(EINVAL); }

Result<Ref<File>> Inode::open(u32 flags) {
  auto f = make_ref<File>(Ref<Inode>(this), flags);
  if (!f) return err(ENOMEM);
  return f;
}

// ---- File defaults -------------------------------------------------------------

Result<usize> File::read(void* buf, usize len) {
  if (!seekable()) return pread(buf, len, 0);
  usize n = TRY(pread(buf, len, pos));
  pos += n;
  return n;
}

Result<usize> File::write(const void* buf, usize len) {
  if (!seekable()) return pwrite(buf, len, 0);
  if (flags & kOAppend) pos = inode->size;
  usize n = TRY(pwrite(buf, len, pos));
  pos += n;
  return n;
}

Result<usize> File::pread(void* buf, usize len, u64 off) {
  if (!seekable()) return err(ESPIPE);
  if (inode->is_dir()) return err(EISDIR);
  return inode->read(off, buf, len);
}

Result<usize> File::pwrite(const void* buf, usize len, u64 off) {
  if (!seekable()) return err(ESPIPE);
  if (len == 0) return usize(0);
  if (inode->fs && inode->fs->read_only) return err(EROFS);
  return inode->write(off, buf, len);
}

Result<u64> File::seek(i64 off, int whence) {
  if (!seekable()) return err(ESPIPE);
  i64 base;
  switch (whence) {
    case 0: base = 0; break;                 // SEEK_SET
    case 1: base = i64(pos); break;          // SEEK_CUR
    case 2: base = i64(inode->size); break;  // SEEK_END
    case 3:                                  // SEEK_DATA: all data, no holes
      if (off < 0 || u64(off) >= inode->size) return err(ENXIO);
      return pos = u64(off);
    case 4:                                  // SEEK_HOLE: the end
      if (off < 0 || u64(off) >= inode->size) return err(ENXIO);
      return pos = inode->size;
    default: return err(EINVAL);
  }
  i64 to = base + off;
  if ((off > 0 && to < base) || to < 0) return err(EINVAL);
  pos = u64(to);
  return pos;
}

Result<i64> File::ioctl(u32, u64) { return err(ENOTTY); }
u32 File::poll_ready() { return kPollIn | kPollOut | kPollRdnorm | kPollWrnorm; }

Result<u64> File::readable_bytes() {
  if (!inode->is_reg()) return err(ENOTTY);
  return inode->size > pos ? inode->size - pos : 0;
}

// ---- Namespace and mounts --------------------------------------------------------

Namespace& ns() { return *g_ns; }

Result<void> init_namespace() {
  void* m = mm::kzalloc(sizeof(Namespace));
  if (!m) return err(ENOMEM);
  g_ns = new (m) Namespace();
  g_ns->root = TRY(tmpfs_create(0755));
  g_ns->cwd = g_ns->root;
  return ok();
}

Result<void> mount(Inode& on, Ref<Inode> root) {
  if (!on.is_dir() || !root->is_dir()) return err(ENOTDIR);
  if (on.mounted) return err(EBUSY);
  root->mountpoint = &on;
  on.mounted = static_cast<Ref<Inode>&&>(root);
  return ok();
}

Result<void> may_write(Inode& node) {
  if (node.fs && node.fs->read_only && !node.writable_control) return err(EROFS);
  return ok();
}

// ---- Path resolution ---------------------------------------------------------------

namespace {

Inode* crossed(Inode* n) {
  while (n->mounted) n = n->mounted.get();
  return n;
}

Ref<Inode> up(Inode* n) {
  Inode* root = ns().root.get();
  // The root of a mounted filesystem: ".." is taken from its mount point.
  while (n != root && n->mountpoint) n = n->mountpoint;
  if (n == root || !n->parent) return Ref<Inode>(crossed(n));
  return Ref<Inode>(crossed(n->parent));
}

struct Walker {
  int links = 0;

  // Walks `path` from `dir`; stops before the last component when `parent`
  // is set (storing it into *last). Follows a symlink in the last component
  // when `follow`.
  Result<Ref<Inode>> walk(Ref<Inode> dir, StrView path, bool follow, bool parent, StrView* last,
                          bool* slash) {
    if (path.size && path.data[0] == '/') dir = Ref<Inode>(crossed(ns().root.get()));
    usize i = 0;
    for (;;) {
      while (i < path.size && path.data[i] == '/') ++i;
      if (i == path.size) {
        if (parent) *last = StrView();
        return dir;
      }
      usize s = i;
      while (i < path.size && path.data[i] != '/') ++i;
      StrView name(path.data + s, i - s);
      usize j = i;
      while (j < path.size && path.data[j] == '/') ++j;
      bool final = j == path.size;
      if (name.size > kNameMax) return err(ENAMETOOLONG);
      if (!dir->is_dir()) return err(ENOTDIR);
      if (final && parent) {
        *last = name;
        if (slash) *slash = i < path.size;
        return dir;
      }
      if (name == StrView(".")) continue;
      if (name == StrView("..")) {
        dir = up(dir.get());
        continue;
      }
      Ref<Inode> next = TRY(dir->lookup(name));
      next = Ref<Inode>(crossed(next.get()));
      if (next->is_symlink() && (!final || follow || i < path.size)) {
        if (++links > kMaxSymlinks) return err(ELOOP);
        char* target = static_cast<char*>(mm::kalloc(kPathMax));
        if (!target) return err(ENOMEM);
        auto n = next->readlink(target, kPathMax);
        if (!n.ok()) {
          mm::kfree(target);
          return Error{n.error()};
        }
        auto r = walk(dir, StrView(target, n.value()), true, false, nullptr, nullptr);
        mm::kfree(target);
        if (!r.ok()) return r;
        next = r.value();
      }
      dir = next;
      if (final) {
        if (i < path.size && !dir->is_dir()) return err(ENOTDIR);  // "file/"
        return dir;
      }
    }
  }
};

}  // namespace

Result<Ref<Inode>> resolve(Inode* start, StrView path, u32 flags) {
  if (path.size == 0) return err(ENOENT);
  if (path.size >= kPathMax) return err(ENAMETOOLONG);
  Walker w;
  Ref<Inode> n = TRY(w.walk(Ref<Inode>(start ? start : ns().cwd.get()), path, flags & kFollow,
                            false, nullptr, nullptr));
  if ((flags & kDirectory) && !n->is_dir()) return err(ENOTDIR);
  return n;
}

Result<ParentName> resolve_parent(Inode* start, StrView path, char* name_buf) {
  if (path.size == 0) return err(ENOENT);
  if (path.size >= kPathMax) return err(ENAMETOOLONG);
  Walker w;
  StrView last;
  bool slash = false;
  Ref<Inode> dir = TRY(w.walk(Ref<Inode>(start ? start : ns().cwd.get()), path, false, true,
                              &last, &slash));
  if (!dir->is_dir()) return err(ENOTDIR);
  ParentName out{dir, StrView(), slash};
  if (last.size && !(last == StrView(".")) && !(last == StrView(".."))) {
    memcpy(name_buf, last.data, last.size);
    name_buf[last.size] = 0;
    out.name = StrView(name_buf, last.size);
  } else if (last.size) {
    // "." or "..": the caller sees no name (EEXIST/EBUSY/EINVAL by call).
    out.dir = TRY(resolve(dir.get(), last, kFollow));
  }
  return out;
}

Result<Ref<Inode>> mkdir_p(StrView path) {
  Ref<Inode> dir = ns().root;
  usize i = 0;
  while (i < path.size) {
    while (i < path.size && path.data[i] == '/') ++i;
    usize s = i;
    while (i < path.size && path.data[i] != '/') ++i;
    if (s == i) break;
    StrView name(path.data + s, i - s);
    auto next = dir->lookup(name);
    if (next.ok()) {
      Ref<Inode> n = next.value();
      n = Ref<Inode>(crossed(n.get()));
      if (n->is_symlink()) n = TRY(resolve(dir.get(), name, kFollow));
      if (!n->is_dir()) return err(ENOTDIR);
      dir = n;
      continue;
    }
    if (next.error() != ENOENT) return Error{next.error()};
    dir = TRY(dir->mknod(name, kIfdir | 0755, 0));
  }
  return dir;
}

Result<usize> dir_path(Inode* dir, char* buf, usize cap) {
  // Collect names from dir up to the root, then write them in order.
  Inode* root = ns().root.get();
  const usize kMaxDepth = 256;
  StrView names[kMaxDepth];
  usize depth = 0;
  Inode* n = dir;
  for (;;) {
    while (n != root && n->mountpoint) n = n->mountpoint;
    if (n == root || n == crossed(root)) break;
    if (n->nlink == 0) return err(ENOENT);
    if (!n->parent) break;  // detached
    if (depth == kMaxDepth) return err(ENAMETOOLONG);
    names[depth++] = n->dir_name();
    n = n->parent;
  }
  usize len = 0;
  if (depth == 0) {
    if (cap < 2) return err(ERANGE);
    buf[0] = '/';
    buf[1] = 0;
    return usize(1);
  }
  for (usize k = depth; k-- > 0;) {
    if (len + 1 + names[k].size + 1 > cap) return err(ERANGE);
    buf[len++] = '/';
    memcpy(buf + len, names[k].data, names[k].size);
    len += names[k].size;
  }
  buf[len] = 0;
  return len;
}

}  // namespace mote::fs
