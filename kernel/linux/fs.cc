// Path-based system calls: open, stat, access, directories, links, renames,
// attributes, the working directory and umask. Paths resolve in the VFS
// (kernel/fs/vfs.h) from the root, the working directory or a directory fd.
#include "kernel/core/process.h"
#include "kernel/fs/fdtable.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"

namespace mote::linux {

namespace {

constexpr int kAtFdcwd = -100;
constexpr u64 kAtSymlinkNofollow = 0x100, kAtRemovedir = 0x200, kAtSymlinkFollow = 0x400;
constexpr u64 kAtNoAutomount = 0x800, kAtEmptyPath = 0x1000, kAtEaccess = 0x200;
constexpr u64 kAtStatxSyncMask = 0x6000;

// struct stat for x86-64 (arch/x86/include/uapi/asm/stat.h).
struct Stat {
  u64 dev, ino, nlink;
  u32 mode, uid, gid;
  i32 pad0;
  u64 rdev;
  i64 size, blksize, blocks;
  i64 atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
  i64 unused[3];
};
static_assert(sizeof(Stat) == 144);

// struct statx (include/uapi/linux/stat.h).
struct StatxTs {
  i64 sec;
  u32 nsec;
  i32 reserved;
};
struct Statx {
  u32 mask, blksize;
  u64 attributes;
  u32 nlink, uid, gid;
  u16 mode, spare0;
  u64 ino, size, blocks, attributes_mask;
  StatxTs atime, btime, ctime, mtime;
  u32 rdev_major, rdev_minor, dev_major, dev_minor;
  u64 mnt_id;
  u32 dio_mem_align, dio_offset_align;
  u64 spare[12];
};
static_assert(sizeof(Statx) == 256);

// struct statfs (asm-generic/statfs.h, 64-bit).
struct Statfs {
  i64 type, bsize;
  u64 blocks, bfree, bavail, files, ffree;
  i32 fsid[2];
  i64 namelen, frsize, flags;
  i64 spare[4];
};
static_assert(sizeof(Statfs) == 120);

// A path copied from program memory.
struct Path {
  char buf[fs::kPathMax];
  StrView view;
};

Result<void> path_from_user(Path* p, u64 addr) {
  if (!addr) return err(EFAULT);
  usize n = TRY(string_from_user(p->buf, addr, sizeof p->buf));
  p->view = StrView(p->buf, n);
  return ok();
}

// Paths need up to 4 KiB each: kept off the small syscall stack.
Path* path_buffer(int k) {
  static Path bufs[2];
  return &bufs[k];
}

// The directory relative paths start from: the cwd or an fd's directory.
Result<Ref<fs::Inode>> start_of(int dirfd, StrView path) {
  if (path.size && path.data[0] == '/') return fs::ns().root;
  if (dirfd == kAtFdcwd) return fs::ns().cwd;
  Ref<fs::File> f = fs::fds().get(dirfd);
  if (!f) return err(EBADF);
  if (!f->inode->is_dir() && path.size) return err(ENOTDIR);
  return f->inode;
}

// The directory an *at call creates or removes in, and the last name of
// the path (into name_buf, kNameMax + 1 bytes).
Result<fs::ParentName> parent_at(int dirfd, const Path& p, char* name_buf) {
  Ref<fs::Inode> start = TRY(start_of(dirfd, p.view));
  return fs::resolve_parent(start.get(), p.view, name_buf);
}

// Resolves (dirfd, path) for the *at calls, with AT_EMPTY_PATH and
// AT_SYMLINK_NOFOLLOW handling.
Result<Ref<fs::Inode>> lookup_at(int dirfd, u64 path_addr, u64 flags, bool follow_default) {
  Path* p = path_buffer(0);
  TRY(path_from_user(p, path_addr));
  if (p->view.size == 0) {
    if (!(flags & kAtEmptyPath)) return err(ENOENT);
    if (dirfd == kAtFdcwd) return fs::ns().cwd;
    Ref<fs::File> f = fs::fds().get(dirfd);
    if (!f) return err(EBADF);
    return f->inode;
  }
  Ref<fs::Inode> start = TRY(start_of(dirfd, p->view));
  bool follow = follow_default ? !(flags & kAtSymlinkNofollow) : (flags & kAtSymlinkFollow);
  return fs::resolve(start.get(), p->view, follow ? u32(fs::kFollow) : 0u);
}

void fill_stat(const fs::Attr& at, Stat* st) {
  *st = Stat{};
  st->dev = at.dev;
  st->ino = at.ino;
  st->nlink = at.nlink;
  st->mode = at.mode;
  st->uid = at.uid;
  st->gid = at.gid;
  st->rdev = at.rdev;
  st->size = i64(at.size);
  st->blksize = at.blksize;
  st->blocks = i64(at.blocks);
  st->atime = at.atime.sec, st->atime_ns = at.atime.nsec;
  st->mtime = at.mtime.sec, st->mtime_ns = at.mtime.nsec;
  st->ctime = at.ctime.sec, st->ctime_ns = at.ctime.nsec;
}

i64 stat_to_user(fs::Inode& node, u64 addr) {
  fs::Attr at{};
  auto r = node.getattr(&at);
  if (!r.ok()) return -r.error();
  Stat st;
  fill_stat(at, &st);
  return put_user(addr, st).ok() ? 0 : -EFAULT;
}

i64 do_openat(int dirfd, u64 path_addr, u64 flags, u64 mode) {
  Path* p = path_buffer(0);
  auto pr = path_from_user(p, path_addr);
  if (!pr.ok()) return -pr.error();
  if (p->view.size == 0) return -ENOENT;
  u32 fl = u32(flags);
  if ((fl & fs::kOTmpfile) && !(fl & fs::kODirectory)) return -EINVAL;
  auto startr = start_of(dirfd, p->view);
  if (!startr.ok()) return -startr.error();
  Ref<fs::Inode> start = startr.value();
  u32 acc = fl & fs::kOAccmode;
  if (fl & fs::kOPath) fl &= fs::kOPath | fs::kODirectory | fs::kONofollow | fs::kOCloexec;
  bool want_write = acc == fs::kOWronly || acc == fs::kORdwr || (fl & fs::kOTrunc);
  Ref<fs::Inode> node;
  bool created = false;

  if (fl & fs::kOTmpfile) {
    // O_TMPFILE: an unnamed regular file in the given directory.
    if (acc == 0) return -EINVAL;
    auto dir = fs::resolve(start.get(), p->view, fs::kFollow | fs::kDirectory);
    if (!dir.ok()) return -dir.error();
    static u64 seq = 0;
    char name[32];
    usize n = 0;
    const char* pre = ".mote-tmpfile-";
    while (pre[n]) name[n] = pre[n], ++n;
    for (u64 v = ++seq; v; v /= 10) name[n++] = char('0' + v % 10);
    auto made = dir.value()->mknod(StrView(name, n), fs::kIfreg | (u32(mode) & ~fs::ns().umask & 07777), 0);
    if (!made.ok()) return -made.error();
    node = made.value();
    (void)dir.value()->unlink(StrView(name, n));
    fl &= ~(fs::kODirectory | fs::kOTmpfile);
    created = true;
  } else if (fl & fs::kOCreat) {
    char name[fs::kNameMax + 1];
    auto pn = fs::resolve_parent(start.get(), p->view, name);
    if (!pn.ok()) return -pn.error();
    fs::ParentName where = pn.value();
    if (where.name.size == 0 || where.trailing_slash) return -EISDIR;
    auto found = where.dir->lookup(where.name);
    if (found.ok()) {
      if (fl & fs::kOExcl) return -EEXIST;
      node = found.value();
      while (node->mounted) node = node->mounted;
      if (node->is_symlink()) {
        if (fl & fs::kONofollow) return -ELOOP;
        auto r = fs::resolve(start.get(), p->view, fs::kFollow);
        if (r.ok()) {
          node = r.value();
        } else if (r.error() == ENOENT) {
          // A dangling symlink: O_CREAT creates its target (not with O_EXCL).
          return -ENOENT;
        } else {
          return -r.error();
        }
      }
    } else if (found.error() == ENOENT) {
      auto w = fs::may_write(*where.dir);
      if (!w.ok()) return -w.error();
      auto made = where.dir->mknod(where.name, fs::kIfreg | (u32(mode) & ~fs::ns().umask & 07777), 0);
      if (!made.ok()) return -made.error();
      node = made.value();
      created = true;
    } else {
      return -found.error();
    }
  } else {
    u32 lf = (fl & fs::kONofollow) ? 0u : u32(fs::kFollow);
    auto r = fs::resolve(start.get(), p->view, lf);
    if (!r.ok()) return -r.error();
    node = r.value();
    if (node->is_symlink() && !(fl & fs::kOPath)) return -ELOOP;
  }

  if ((fl & fs::kODirectory) && !node->is_dir()) return -ENOTDIR;
  if (node->is_dir() && !(fl & fs::kOPath) && (acc != 0 || (fl & fs::kOCreat))) return -EISDIR;
  if (want_write && !created && !(fl & fs::kOPath)) {
    auto w = fs::may_write(*node);
    if (!w.ok()) return -w.error();
  }
  if ((fl & fs::kOTrunc) && node->is_reg() && acc != 0 && !created && !(fl & fs::kOPath)) {
    auto t = node->truncate(0);
    if (!t.ok()) return -t.error();
  }
  Ref<fs::File> file;
  if (fl & fs::kOPath) {
    file = make_ref<fs::File>(node, fl & ~fs::kOCloexec);
    if (!file) return -ENOMEM;
  } else {
    auto o = node->open(fl & ~(fs::kOCreat | fs::kOExcl | fs::kONoctty | fs::kOTrunc | fs::kOCloexec));
    if (!o.ok()) return -o.error();
    file = o.value();
  }
  return ret(fs::fds().install(file, fl & fs::kOCloexec, 0, nofile_limit()));
}

i64 do_mkdirat(int dirfd, u64 path_addr, u64 mode) {
  Path* p = path_buffer(0);
  auto pr = path_from_user(p, path_addr);
  if (!pr.ok()) return -pr.error();
  char name[fs::kNameMax + 1];
  auto pn = parent_at(dirfd, *p, name);
  if (!pn.ok()) return -pn.error();
  if (pn.value().name.size == 0) return -EEXIST;
  auto w = fs::may_write(*pn.value().dir);
  if (!w.ok()) return -w.error();
  auto r = pn.value().dir->mknod(pn.value().name,
                                 fs::kIfdir | (u32(mode) & ~fs::ns().umask & 07777), 0);
  return r.ok() ? 0 : -r.error();
}

i64 do_mknodat(int dirfd, u64 path_addr, u64 mode, u64 dev) {
  u32 type = u32(mode) & fs::kIfmt;
  if (type == 0) type = fs::kIfreg;
  if (type == fs::kIfdir) return -EPERM;
  if (type != fs::kIfreg && type != fs::kIfifo && type != fs::kIfchr && type != fs::kIfsock &&
      type != fs::kIfblk)
    return -EINVAL;
  Path* p = path_buffer(0);
  auto pr = path_from_user(p, path_addr);
  if (!pr.ok()) return -pr.error();
  char name[fs::kNameMax + 1];
  auto pn = parent_at(dirfd, *p, name);
  if (!pn.ok()) return -pn.error();
  if (pn.value().name.size == 0) return -EEXIST;
  // dev_t: glibc's makedev layout; the small numbers used here fit major<<8|minor.
  u64 rdev = ((dev >> 8) & 0xfff) << 8 | (dev & 0xff);
  auto r = pn.value().dir->mknod(pn.value().name,
                                 type | (u32(mode) & ~fs::ns().umask & 07777), rdev);
  return r.ok() ? 0 : -r.error();
}

i64 do_unlinkat(int dirfd, u64 path_addr, u64 flags) {
  if (flags & ~kAtRemovedir) return -EINVAL;
  Path* p = path_buffer(0);
  auto pr = path_from_user(p, path_addr);
  if (!pr.ok()) return -pr.error();
  char name[fs::kNameMax + 1];
  auto pn = parent_at(dirfd, *p, name);
  if (!pn.ok()) return -pn.error();
  fs::ParentName where = pn.value();
  if (flags & kAtRemovedir) {
    if (where.name.size == 0) {
      // rmdir(".") is EINVAL, rmdir("..") ENOTEMPTY, rmdir("/") EBUSY.
      usize n = p->view.size;
      while (n > 1 && p->view.data[n - 1] == '/') --n;
      if (n >= 2 && p->view.data[n - 1] == '.' && p->view.data[n - 2] == '.') return -ENOTEMPTY;
      if (n >= 1 && p->view.data[n - 1] == '.') return -EINVAL;
      return -EBUSY;
    }
    auto w = fs::may_write(*where.dir);
    if (!w.ok()) return -w.error();
    return ret(where.dir->rmdir(where.name));
  }
  if (where.name.size == 0) return -EISDIR;
  auto w = fs::may_write(*where.dir);
  if (!w.ok()) return -w.error();
  if (where.trailing_slash) {
    auto n = where.dir->lookup(where.name);
    if (n.ok() && !n.value()->is_dir()) return -ENOTDIR;
  }
  return ret(where.dir->unlink(where.name));
}

i64 do_renameat(int olddirfd, u64 oldpath, int newdirfd, u64 newpath, u64 flags) {
  if (flags & ~u64(1 | 2)) return -EINVAL;  // RENAME_WHITEOUT: no overlay filesystems here
  if ((flags & 1) && (flags & 2)) return -EINVAL;
  Path* a = path_buffer(0);
  Path* b = path_buffer(1);
  auto r = path_from_user(a, oldpath);
  if (r.ok()) r = path_from_user(b, newpath);
  if (!r.ok()) return -r.error();
  char na[fs::kNameMax + 1], nb[fs::kNameMax + 1];
  auto pa = parent_at(olddirfd, *a, na);
  if (!pa.ok()) return -pa.error();
  auto pb = parent_at(newdirfd, *b, nb);
  if (!pb.ok()) return -pb.error();
  if (pa.value().name.size == 0 || pb.value().name.size == 0) return -EBUSY;
  if (pa.value().dir->fs != pb.value().dir->fs) return -EXDEV;
  auto w = fs::may_write(*pa.value().dir);
  if (!w.ok()) return -w.error();
  return ret(pa.value().dir->rename(pa.value().name, *pb.value().dir, pb.value().name, u32(flags)));
}

i64 do_linkat(int olddirfd, u64 oldpath, int newdirfd, u64 newpath, u64 flags) {
  if (flags & ~(kAtSymlinkFollow | kAtEmptyPath)) return -EINVAL;
  auto src = lookup_at(olddirfd, oldpath, flags, false);
  if (!src.ok()) return -src.error();
  Path* b = path_buffer(1);
  auto r = path_from_user(b, newpath);
  if (!r.ok()) return -r.error();
  char nb[fs::kNameMax + 1];
  auto pb = parent_at(newdirfd, *b, nb);
  if (!pb.ok()) return -pb.error();
  if (pb.value().name.size == 0) return -EEXIST;
  if (src.value()->is_dir()) return -EPERM;
  if (src.value()->fs != pb.value().dir->fs) return -EXDEV;
  return ret(pb.value().dir->link(pb.value().name, *src.value()));
}

i64 do_symlinkat(u64 target_addr, int newdirfd, u64 linkpath) {
  Path* t = path_buffer(1);
  auto r = path_from_user(t, target_addr);
  if (!r.ok()) return -r.error();
  if (t->view.size == 0) return -ENOENT;
  Path* p = path_buffer(0);
  r = path_from_user(p, linkpath);
  if (!r.ok()) return -r.error();
  char name[fs::kNameMax + 1];
  auto pn = parent_at(newdirfd, *p, name);
  if (!pn.ok()) return -pn.error();
  if (pn.value().name.size == 0) return -EEXIST;
  auto w = fs::may_write(*pn.value().dir);
  if (!w.ok()) return -w.error();
  auto made = pn.value().dir->symlink(pn.value().name, t->view);
  return made.ok() ? 0 : -made.error();
}

i64 do_readlinkat(int dirfd, u64 path_addr, u64 buf, u64 size) {
  if (i64(size) <= 0) return -EINVAL;
  auto n = lookup_at(dirfd, path_addr, kAtSymlinkNofollow | kAtEmptyPath, true);
  if (!n.ok()) return -n.error();
  if (!n.value()->is_symlink()) return -EINVAL;
  char* target = path_buffer(1)->buf;
  auto r = n.value()->readlink(target, fs::kPathMax);
  if (!r.ok()) return -r.error();
  u64 len = min<u64>(r.value(), size);  // readlink does not NUL-terminate
  if (!copy_to_user(buf, target, len).ok()) return -EFAULT;
  return i64(len);
}

i64 do_faccessat(int dirfd, u64 path_addr, u64 mode, u64 flags) {
  if (mode & ~u64(7)) return -EINVAL;
  if (flags & ~(kAtSymlinkNofollow | kAtEaccess | kAtEmptyPath)) return -EINVAL;
  auto n = lookup_at(dirfd, path_addr, flags, true);
  if (!n.ok()) return -n.error();
  fs::Inode& node = *n.value();
  // The program runs as root: reading and writing are allowed except on a
  // read-only filesystem; executing needs an execute bit (directories pass).
  if ((mode & 2) && node.fs && node.fs->read_only && !node.is_symlink()) return -EROFS;
  if ((mode & 1) && !node.is_dir() && !(node.mode & 0111)) return -EACCES;
  return 0;
}

i64 do_fchmodat(int dirfd, u64 path_addr, u64 mode, u64 flags) {
  auto n = lookup_at(dirfd, path_addr, flags, true);
  if (!n.ok()) return -n.error();
  if (n.value()->is_symlink()) return -EOPNOTSUPP;
  return ret(n.value()->chmod(u32(mode)));
}

i64 do_fchownat(int dirfd, u64 path_addr, u64 uid, u64 gid, u64 flags) {
  if (flags & ~(kAtSymlinkNofollow | kAtEmptyPath)) return -EINVAL;
  auto n = lookup_at(dirfd, path_addr, flags, true);
  if (!n.ok()) return -n.error();
  return ret(n.value()->chown(u32(uid), u32(gid)));
}

i64 do_statfs(fs::Inode& node, u64 buf) {
  auto s = node.statfs();
  if (!s.ok()) return -s.error();
  const fs::FsStat& v = s.value();
  Statfs out{};
  out.type = i64(v.type);
  out.bsize = i64(v.bsize);
  out.blocks = v.blocks;
  out.bfree = v.bfree;
  out.bavail = v.bavail;
  out.files = v.files;
  out.ffree = v.ffree;
  out.fsid[0] = i32(node.fs ? node.fs->dev : 0);
  out.namelen = i64(v.namelen);
  out.frsize = i64(v.bsize);
  out.flags = i64(v.flags) | 0x20 /*ST_RELATIME*/;
  return put_user(buf, out).ok() ? 0 : -EFAULT;
}

}  // namespace

i64 sys_open(const SysArgs& a) { return do_openat(kAtFdcwd, a.u(0), a.u(1), a.u(2)); }
i64 sys_openat(const SysArgs& a) { return do_openat(a.fd(0), a.u(1), a.u(2), a.u(3)); }
i64 sys_creat(const SysArgs& a) {
  return do_openat(kAtFdcwd, a.u(0), fs::kOCreat | fs::kOWronly | fs::kOTrunc, a.u(1));
}

i64 sys_stat(const SysArgs& a) {
  auto n = lookup_at(kAtFdcwd, a.u(0), 0, true);
  return n.ok() ? stat_to_user(*n.value(), a.u(1)) : -n.error();
}

i64 sys_lstat(const SysArgs& a) {
  auto n = lookup_at(kAtFdcwd, a.u(0), kAtSymlinkNofollow, true);
  return n.ok() ? stat_to_user(*n.value(), a.u(1)) : -n.error();
}

i64 sys_fstat(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  return f.ok() ? stat_to_user(*f.value()->inode, a.u(1)) : -f.error();
}

i64 sys_newfstatat(const SysArgs& a) {
  u64 flags = u32(a.u(3));  // int flags
  if (flags & ~(kAtEmptyPath | kAtSymlinkNofollow | kAtNoAutomount)) return -EINVAL;
  auto n = lookup_at(a.fd(0), a.u(1), flags, true);
  return n.ok() ? stat_to_user(*n.value(), a.u(2)) : -n.error();
}

i64 sys_statx(const SysArgs& a) {
  u64 flags = u32(a.u(2)), mask = u32(a.u(3));  // int flags, unsigned int mask
  if (flags & ~(kAtEmptyPath | kAtSymlinkNofollow | kAtNoAutomount | kAtStatxSyncMask))
    return -EINVAL;
  if ((flags & kAtStatxSyncMask) == kAtStatxSyncMask) return -EINVAL;
  if (mask & 0x80000000u) return -EINVAL;  // STATX__RESERVED
  auto n = lookup_at(a.fd(0), a.u(1), flags, true);
  if (!n.ok()) return -n.error();
  fs::Attr at{};
  auto r = n.value()->getattr(&at);
  if (!r.ok()) return -r.error();
  Statx sx{};
  sx.mask = 0x7ff;  // STATX_BASIC_STATS
  sx.blksize = at.blksize;
  sx.nlink = at.nlink;
  sx.uid = at.uid;
  sx.gid = at.gid;
  sx.mode = u16(at.mode);
  sx.ino = at.ino;
  sx.size = at.size;
  sx.blocks = at.blocks;
  sx.atime = StatxTs{at.atime.sec, u32(at.atime.nsec), 0};
  sx.mtime = StatxTs{at.mtime.sec, u32(at.mtime.nsec), 0};
  sx.ctime = StatxTs{at.ctime.sec, u32(at.ctime.nsec), 0};
  sx.rdev_major = u32(at.rdev >> 8) & 0xfff;
  sx.rdev_minor = u32(at.rdev & 0xff);
  sx.dev_major = u32(at.dev >> 8) & 0xfff;
  sx.dev_minor = u32(at.dev & 0xff);
  sx.mnt_id = at.dev;
  return put_user(a.u(4), sx).ok() ? 0 : -EFAULT;
}

i64 sys_statfs(const SysArgs& a) {
  auto n = lookup_at(kAtFdcwd, a.u(0), 0, true);
  return n.ok() ? do_statfs(*n.value(), a.u(1)) : -n.error();
}

i64 sys_fstatfs(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  return f.ok() ? do_statfs(*f.value()->inode, a.u(1)) : -f.error();
}

i64 sys_access(const SysArgs& a) { return do_faccessat(kAtFdcwd, a.u(0), a.u(1), 0); }
i64 sys_faccessat(const SysArgs& a) { return do_faccessat(a.fd(0), a.u(1), a.u(2), 0); }
i64 sys_faccessat2(const SysArgs& a) { return do_faccessat(a.fd(0), a.u(1), a.u(2), a.u(3)); }

i64 sys_readlink(const SysArgs& a) { return do_readlinkat(kAtFdcwd, a.u(0), a.u(1), a.u(2)); }
i64 sys_readlinkat(const SysArgs& a) { return do_readlinkat(a.fd(0), a.u(1), a.u(2), a.u(3)); }

i64 sys_getcwd(const SysArgs& a) {
  char* buf = path_buffer(0)->buf;
  auto n = fs::dir_path(fs::ns().cwd.get(), buf, fs::kPathMax);
  if (!n.ok()) return -n.error();
  if (a.u(1) < n.value() + 1) return -ERANGE;
  if (!copy_to_user(a.u(0), buf, n.value() + 1).ok()) return -EFAULT;
  return i64(n.value() + 1);
}

i64 sys_chdir(const SysArgs& a) {
  auto n = lookup_at(kAtFdcwd, a.u(0), 0, true);
  if (!n.ok()) return -n.error();
  if (!n.value()->is_dir()) return -ENOTDIR;
  fs::ns().cwd = n.value();
  return 0;
}

i64 sys_fchdir(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  if (!f.value()->inode->is_dir()) return -ENOTDIR;
  fs::ns().cwd = f.value()->inode;
  return 0;
}

i64 sys_mkdir(const SysArgs& a) { return do_mkdirat(kAtFdcwd, a.u(0), a.u(1)); }
i64 sys_mkdirat(const SysArgs& a) { return do_mkdirat(a.fd(0), a.u(1), a.u(2)); }
i64 sys_mknod(const SysArgs& a) { return do_mknodat(kAtFdcwd, a.u(0), a.u(1), a.u(2)); }
i64 sys_mknodat(const SysArgs& a) { return do_mknodat(a.fd(0), a.u(1), a.u(2), a.u(3)); }
i64 sys_rmdir(const SysArgs& a) { return do_unlinkat(kAtFdcwd, a.u(0), kAtRemovedir); }
i64 sys_unlink(const SysArgs& a) { return do_unlinkat(kAtFdcwd, a.u(0), 0); }
i64 sys_unlinkat(const SysArgs& a) { return do_unlinkat(a.fd(0), a.u(1), a.u(2)); }
i64 sys_rename(const SysArgs& a) { return do_renameat(kAtFdcwd, a.u(0), kAtFdcwd, a.u(1), 0); }
i64 sys_renameat(const SysArgs& a) { return do_renameat(a.fd(0), a.u(1), a.fd(2), a.u(3), 0); }
i64 sys_renameat2(const SysArgs& a) {
  return do_renameat(a.fd(0), a.u(1), a.fd(2), a.u(3), a.u(4));
}
i64 sys_link(const SysArgs& a) { return do_linkat(kAtFdcwd, a.u(0), kAtFdcwd, a.u(1), 0); }
i64 sys_linkat(const SysArgs& a) { return do_linkat(a.fd(0), a.u(1), a.fd(2), a.u(3), a.u(4)); }
i64 sys_symlink(const SysArgs& a) { return do_symlinkat(a.u(0), kAtFdcwd, a.u(1)); }
i64 sys_symlinkat(const SysArgs& a) { return do_symlinkat(a.u(0), a.fd(1), a.u(2)); }

i64 sys_truncate(const SysArgs& a) {
  if (a.i(1) < 0) return -EINVAL;
  auto n = lookup_at(kAtFdcwd, a.u(0), 0, true);
  if (!n.ok()) return -n.error();
  if (n.value()->is_dir()) return -EISDIR;
  if (!n.value()->is_reg()) return -EINVAL;
  auto w = fs::may_write(*n.value());
  if (!w.ok()) return -w.error();
  return ret(n.value()->truncate(a.u(1)));
}

i64 sys_chmod(const SysArgs& a) { return do_fchmodat(kAtFdcwd, a.u(0), a.u(1), 0); }
i64 sys_fchmodat(const SysArgs& a) { return do_fchmodat(a.fd(0), a.u(1), a.u(2), 0); }
i64 sys_fchmod(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  if (f.value()->flags & fs::kOPath) return -EBADF;
  return ret(f.value()->inode->chmod(u32(a.u(1))));
}

i64 sys_chown(const SysArgs& a) { return do_fchownat(kAtFdcwd, a.u(0), a.u(1), a.u(2), 0); }
i64 sys_lchown(const SysArgs& a) {
  return do_fchownat(kAtFdcwd, a.u(0), a.u(1), a.u(2), kAtSymlinkNofollow);
}
i64 sys_fchownat(const SysArgs& a) {
  return do_fchownat(a.fd(0), a.u(1), a.u(2), a.u(3), a.u(4));
}
i64 sys_fchown(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  if (f.value()->flags & fs::kOPath) return -EBADF;
  return ret(f.value()->inode->chown(u32(a.u(1)), u32(a.u(2))));
}

i64 sys_utimensat(const SysArgs& a) {
  constexpr i64 kUtimeNow = (1l << 30) - 1, kUtimeOmit = (1l << 30) - 2;
  u64 flags = u32(a.u(3));  // int flags
  if (flags & ~(kAtSymlinkNofollow | kAtEmptyPath)) return -EINVAL;
  Ref<fs::Inode> node;
  if (a.u(1) == 0) {  // futimens: the fd itself
    auto f = file_of(a.fd(0));
    if (!f.ok()) return a.fd(0) == kAtFdcwd ? -EFAULT : -f.error();
    node = f.value()->inode;
  } else {
    auto n = lookup_at(a.fd(0), a.u(1), flags, true);
    if (!n.ok()) return -n.error();
    node = n.value();
  }
  fs::Timespec t[2];
  bool set[2] = {true, true};
  if (a.u(2)) {
    i64 raw[4];
    if (!copy_from_user(raw, a.u(2), sizeof raw).ok()) return -EFAULT;
    for (int k = 0; k < 2; ++k) {
      i64 s = raw[2 * k], ns = raw[2 * k + 1];
      if (ns == kUtimeOmit) {
        set[k] = false;
      } else if (ns == kUtimeNow) {
        t[k] = fs::now();
      } else {
        if (ns < 0 || ns > 999999999) return -EINVAL;
        t[k] = fs::Timespec{s, ns};
      }
    }
  } else {
    t[0] = t[1] = fs::now();
  }
  if (!set[0] && !set[1]) return 0;
  return ret(node->set_times(set[0] ? &t[0] : nullptr, set[1] ? &t[1] : nullptr));
}

i64 sys_umask(const SysArgs& a) {
  u32 old = fs::ns().umask;
  fs::ns().umask = u32(a.u(0)) & 0777;
  return old;
}

}  // namespace mote::linux
