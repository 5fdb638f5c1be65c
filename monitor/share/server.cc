#include "monitor/share/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abi/p9.h"

namespace mote::share {

namespace {

constexpr size_t kMaxFids = 1 << 16;
constexpr uint32_t kMaxWalk = 16;  // MAXWELEM

// Opens `name` (one component, or a path of real directories) beneath
// `dirfd`, never following a symlink anywhere.
int open_beneath(int dirfd, const char* name, uint64_t flags, uint64_t mode = 0) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long r = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
  return r < 0 ? -errno : int(r);
}

std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Opens the object `fd` stands for once more, through its /proc/self/fd magic
// link (the fd's own object, even renamed or unlinked; a symlink itself, not
// its target), with new open flags: O_PATH for a second handle, or for I/O.
int reopen_fd(int fd, uint64_t flags) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC;
  long r = syscall(SYS_openat2, AT_FDCWD, proc_path(fd).c_str(), &how, sizeof how);
  return r < 0 ? -errno : int(r);
}

p9::Qid qid_of(const struct stat& st) {
  uint8_t t = S_ISDIR(st.st_mode) ? p9::kQtDir : S_ISLNK(st.st_mode) ? p9::kQtSymlink : p9::kQtFile;
  return p9::Qid{t, 0, uint64_t(st.st_ino)};
}

int stat_fd(int fd, struct stat* st) {
  return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

std::string to_string(p9::Str s) { return std::string(s.data, s.size); }

std::string join(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

// Open flags a client may ask for; the rest (O_CREAT, O_EXCL, O_APPEND: the
// client positions appends; O_NOATIME, O_DIRECT, O_NONBLOCK...) are dropped.
constexpr uint32_t kOpenMask = O_ACCMODE | O_TRUNC | O_DIRECTORY | O_SYNC | O_DSYNC;

}  // namespace

Server::~Server() {
  reset();
  for (auto& s : shares_) close(s.root);
}

bool Server::add_share(const std::string& host_dir, bool read_only, std::string* error) {
  int fd = open(host_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = host_dir + ": " + strerror(errno);
    return false;
  }
  // The confinement needs openat2 (Linux 5.6) and /proc/self/fd reopening.
  int probe = open_beneath(fd, ".", O_PATH | O_DIRECTORY);
  if (probe < 0) {
    close(fd);
    *error = host_dir + ": cannot confine a share here (openat2: " + strerror(-probe) +
             "; Linux 5.6 or later needed)";
    return false;
  }
  int reopened = reopen_fd(probe, O_RDONLY | O_DIRECTORY);
  close(probe);
  if (reopened < 0) {
    int e = -reopened;
    close(fd);
    *error = host_dir + ": " + strerror(e) + (e == ENOENT ? " (shares need /proc mounted)" : "");
    return false;
  }
  close(reopened);
  shares_.push_back(Share{fd, read_only});
  return true;
}

void Server::reset() {
  for (auto& [n, f] : fids_) {
    if (f.path >= 0) close(f.path);
    if (f.io >= 0) close(f.io);
  }
  fids_.clear();
}

void Server::clunk(uint32_t n) {
  auto it = fids_.find(n);
  if (it == fids_.end()) return;
  if (it->second.path >= 0) close(it->second.path);
  if (it->second.io >= 0) close(it->second.io);
  fids_.erase(it);
}

Server::Fid* Server::fid(uint32_t n) {
  auto it = fids_.find(n);
  return it == fids_.end() ? nullptr : &it->second;
}

// Each handler reads its whole request first (returning EPROTO when it is
// malformed), then acts; it returns 0 with the reply body written, or an
// errno for Rlerror.
struct Handlers {
  using R = p9::Reader;
  using W = p9::Writer;

  static bool ro(Server& s, const Server::Fid& f) { return s.shares_[f.share].read_only; }

  static int version(Server& s, R& r, W& w) {
    uint32_t msize = r.u32();
    p9::Str v = r.str();
    if (!r.ok()) return EPROTO;
    s.reset();
    // A refused msize is not kept: the session stays usable for a new Tversion.
    uint32_t m = msize < p9::kMsize ? msize : p9::kMsize;
    if (m < 4096) return EINVAL;
    s.msize_ = m;
    w.u32(s.msize_);
    bool known = to_string(v) == p9::kVersion;
    w.str(known ? p9::kVersion : "unknown", known ? 8 : 7);
    return 0;
  }

  static int attach(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    r.u32();  // afid: no authentication
    r.str();  // uname
    std::string aname = to_string(r.str());
    r.u32();  // n_uname
    if (!r.ok()) return EPROTO;
    if (s.fid(fid)) return EBADF;
    if (s.fids_.size() >= kMaxFids) return EMFILE;
    size_t k = 0;
    if (!aname.empty()) {
      if (aname.size() > 3 || aname.find_first_not_of("0123456789") != std::string::npos)
        return ENOENT;
      k = size_t(std::stoul(aname));
    }
    if (k >= s.shares_.size()) return ENOENT;
    int fd = reopen_fd(s.shares_[k].root, O_PATH);
    if (fd < 0) return -fd;
    struct stat st;
    if (int e = stat_fd(fd, &st)) {
      close(fd);
      return e;
    }
    s.fids_[fid] = Server::Fid{fd, -1, uint32_t(k), ""};
    w.qid(qid_of(st));
    return 0;
  }

  static int walk(Server& s, R& r, W& w) {
    uint32_t fid = r.u32(), newfid = r.u32();
    uint16_t n = r.u16();
    std::vector<std::string> names;
    for (uint16_t i = 0; i < n && r.ok(); ++i) names.push_back(to_string(r.str()));
    if (!r.ok()) return EPROTO;
    if (n > kMaxWalk) return EINVAL;
    Server::Fid* src = s.fid(fid);
    if (!src) return EBADF;
    if (newfid != fid && s.fid(newfid)) return EBADF;
    if (newfid != fid && s.fids_.size() >= kMaxFids) return EMFILE;
    int root = s.shares_[src->share].root;
    int cur = reopen_fd(src->path, O_PATH);
    if (cur < 0) return -cur;
    std::string rel = src->rel;
    std::vector<p9::Qid> qids;
    int error = 0;
    for (const std::string& name : names) {
      int next;
      std::string next_rel = rel;
      if (name == "..") {
        // The share root is its own parent: nothing above it is reachable.
        size_t cut = rel.rfind('/');
        next_rel = cut == std::string::npos ? "" : rel.substr(0, cut);
        next = open_beneath(root, next_rel.empty() ? "." : next_rel.c_str(), O_PATH | O_DIRECTORY);
      } else if (name == ".") {
        next = reopen_fd(cur, O_PATH);
      } else if (!p9::valid_name(p9::Str{name.data(), uint16_t(name.size())})) {
        next = -ENOENT;
      } else {
        next = open_beneath(cur, name.c_str(), O_PATH);
        next_rel = join(rel, name);
      }
      if (next < 0) {
        error = -next;
        break;
      }
      struct stat st;
      if (int e = stat_fd(next, &st)) {
        close(next);
        error = e;
        break;
      }
      close(cur);
      cur = next;
      rel = next_rel;
      qids.push_back(qid_of(st));
    }
    if (!names.empty() && qids.empty()) {
      close(cur);
      return error;
    }
    w.u16(uint16_t(qids.size()));
    for (const auto& q : qids) w.qid(q);
    if (qids.size() < names.size()) {
      close(cur);  // a partial walk: newfid is not created
      return 0;
    }
    uint32_t share = src->share;
    if (newfid == fid) s.clunk(fid);
    s.fids_[newfid] = Server::Fid{cur, -1, share, rel};
    return 0;
  }

  static int getattr(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    r.u64();  // request_mask: the basic set is always returned
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    struct stat st;
    if (int e = stat_fd(f->path, &st)) return e;
    p9::Attr a{};
    a.valid = p9::kGetattrBasic;
    a.qid = qid_of(st);
    a.mode = st.st_mode;
    a.uid = st.st_uid;
    a.gid = st.st_gid;
    a.nlink = st.st_nlink;
    a.rdev = st.st_rdev;
    a.size = uint64_t(st.st_size);
    a.blksize = uint64_t(st.st_blksize);
    a.blocks = uint64_t(st.st_blocks);
    a.atime_sec = uint64_t(st.st_atim.tv_sec);
    a.atime_nsec = uint64_t(st.st_atim.tv_nsec);
    a.mtime_sec = uint64_t(st.st_mtim.tv_sec);
    a.mtime_nsec = uint64_t(st.st_mtim.tv_nsec);
    a.ctime_sec = uint64_t(st.st_ctim.tv_sec);
    a.ctime_nsec = uint64_t(st.st_ctim.tv_nsec);
    p9::put_attr(w, a);
    return 0;
  }

  static int setattr(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    p9::SetAttr a = p9::get_setattr(r);
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    if (ro(s, *f)) return EROFS;
    struct stat st;
    if (int e = stat_fd(f->path, &st)) return e;
    bool plain = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode);
    const std::string p = proc_path(f->path);
    if (a.valid & (p9::kSetattrUid | p9::kSetattrGid)) {
      uid_t uid = (a.valid & p9::kSetattrUid) ? uid_t(a.uid) : uid_t(-1);
      gid_t gid = (a.valid & p9::kSetattrGid) ? gid_t(a.gid) : gid_t(-1);
      if (fchownat(f->path, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    }
    if (a.valid & p9::kSetattrMode) {
      if (!plain) return EOPNOTSUPP;
      if (fchmodat(AT_FDCWD, p.c_str(), a.mode & 07777, 0) != 0) return errno;
    }
    if (a.valid & p9::kSetattrSize) {
      if (S_ISDIR(st.st_mode)) return EISDIR;
      if (!S_ISREG(st.st_mode)) return EINVAL;
      if (off_t(a.size) < 0) return EINVAL;  // before any permission check, as truncate(2)
      // Without a writable open file: the object opened for writing, as
      // truncate(2) on its path would (the same checks: write permission,
      // EROFS, append-only, ETXTBSY; the same times), never a path call.
      const bool own = f->io < 0 || !f->io_writable;
      int fd = own ? reopen_fd(f->path, O_WRONLY | O_LARGEFILE) : f->io;
      if (fd < 0) return -fd;
      int rc = ftruncate(fd, off_t(a.size)) == 0 ? 0 : errno;
      if (own) close(fd);
      if (rc) return rc;
    }
    if (a.valid & (p9::kSetattrAtime | p9::kSetattrMtime)) {
      if (!plain) return EOPNOTSUPP;
      struct timespec ts[2];
      auto pick = [](bool want, bool set, uint64_t sec, uint64_t nsec) {
        if (!want) return timespec{0, UTIME_OMIT};
        if (!set) return timespec{0, UTIME_NOW};
        return timespec{time_t(sec), long(nsec)};
      };
      ts[0] = pick(a.valid & p9::kSetattrAtime, a.valid & p9::kSetattrAtimeSet, a.atime_sec,
                   a.atime_nsec);
      ts[1] = pick(a.valid & p9::kSetattrMtime, a.valid & p9::kSetattrMtimeSet, a.mtime_sec,
                   a.mtime_nsec);
      if (utimensat(AT_FDCWD, p.c_str(), ts, 0) != 0) return errno;
    }
    (void)w;
    return 0;
  }

  // Opens fid's object for I/O: regular files and directories only.
  static int reopen(Server& s, Server::Fid& f, uint32_t flags, struct stat* st) {
    if (int e = stat_fd(f.path, st)) return e;
    if (S_ISLNK(st->st_mode)) return ELOOP;
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) return ENXIO;
    flags &= kOpenMask;
    if (S_ISDIR(st->st_mode)) {
      if ((flags & O_ACCMODE) != O_RDONLY) return EISDIR;
      flags |= O_DIRECTORY;
    } else if (flags & O_DIRECTORY) {
      return ENOTDIR;
    }
    if (ro(s, f) && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))) return EROFS;
    int fd = reopen_fd(f.path, flags | O_LARGEFILE);
    if (fd < 0) return -fd;
    if (f.io >= 0) close(f.io);
    f.io = fd;
    f.io_writable = (flags & O_ACCMODE) != O_RDONLY;
    return 0;
  }

  static int lopen(Server& s, R& r, W& w) {
    uint32_t fid = r.u32(), flags = r.u32();
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    struct stat st;
    if (int e = reopen(s, *f, flags, &st)) return e;
    w.qid(qid_of(st));
    w.u32(0);  // iounit: msize decides
    return 0;
  }

  static int lcreate(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    p9::Str name = r.str();
    uint32_t flags = r.u32(), mode = r.u32();
    r.u32();  // gid
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    if (ro(s, *f)) return EROFS;
    if (!p9::valid_name(name)) return EINVAL;
    std::string n = to_string(name);
    flags &= kOpenMask & ~uint32_t(O_DIRECTORY);
    int fd = open_beneath(f->path, n.c_str(), flags | O_CREAT | O_EXCL, mode & 07777);
    if (fd < 0) return -fd;
    int path = reopen_fd(fd, O_PATH);
    struct stat st;
    if (path < 0 || fstat(fd, &st) != 0) {
      int e = path < 0 ? -path : errno;
      if (path >= 0) close(path);
      close(fd);
      return e;
    }
    // The fid now stands for the new, open file.
    if (f->io >= 0) close(f->io);
    close(f->path);
    f->path = path;
    f->io = fd;
    f->io_writable = (flags & O_ACCMODE) != O_RDONLY;
    f->rel = join(f->rel, n);
    w.qid(qid_of(st));
    w.u32(0);
    return 0;
  }

  static int read(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    uint64_t off = r.u64();
    uint32_t count = r.u32();
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f || f->io < 0) return EBADF;
    uint32_t room = s.msize_ - p9::kHeader - 4;
    if (count > room) count = room;
    uint8_t* n_at = w.reserve(4);
    uint8_t* data = w.reserve(count);
    if (!n_at || !data) return EIO;
    ssize_t n;
    do n = pread(f->io, data, count, off_t(off));
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    for (int i = 0; i < 4; ++i) n_at[i] = uint8_t(uint32_t(n) >> (8 * i));
    w.rewind(w.size() - (count - uint32_t(n)));
    return 0;
  }

  static int write(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    uint64_t off = r.u64();
    uint32_t count = r.u32();
    const uint8_t* data = r.take(count);
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    if (ro(s, *f)) return EROFS;
    if (f->io < 0) return EBADF;
    ssize_t n;
    do n = pwrite(f->io, data, count, off_t(off));
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    w.u32(uint32_t(n));
    return 0;
  }

  static int readdir(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    uint64_t off = r.u64();
    uint32_t count = r.u32();
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f || f->io < 0) return EBADF;
    uint32_t room = s.msize_ - p9::kHeader - 4;
    if (count > room) count = room;
    if (lseek(f->io, off_t(off), SEEK_SET) < 0) return errno;
    std::vector<char> raw(count < 4096 ? 4096 : count);
    long got = syscall(SYS_getdents64, f->io, raw.data(), raw.size());
    if (got < 0) return errno;
    uint8_t* n_at = w.reserve(4);
    if (!n_at) return EIO;
    uint32_t start = w.size(), used = 0;
    bool any = false;
    for (long pos = 0; pos < got;) {
      struct Raw {
        uint64_t ino;
        int64_t off;
        uint16_t reclen;
        uint8_t type;
        char name[];
      };
      const Raw* d = reinterpret_cast<const Raw*>(raw.data() + pos);
      uint16_t len = uint16_t(strnlen(d->name, 256));
      if (used + p9::dirent_size(len) > count) break;
      uint8_t qt = d->type == DT_DIR ? p9::kQtDir : d->type == DT_LNK ? p9::kQtSymlink : p9::kQtFile;
      p9::put_dirent(w, p9::Dirent{p9::Qid{qt, 0, d->ino}, uint64_t(d->off), d->type,
                                   p9::Str{d->name, len}});
      used += p9::dirent_size(len);
      any = true;
      pos += d->reclen;
    }
    if (got > 0 && !any) return EINVAL;  // count too small for the next entry
    used = w.size() - start;
    for (int i = 0; i < 4; ++i) n_at[i] = uint8_t(used >> (8 * i));
    return 0;
  }

  static int clunk(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    if (!r.ok()) return EPROTO;
    if (!s.fid(fid)) return EBADF;
    s.clunk(fid);
    return 0;
  }

  // The directory fid and checked name of a create-style message.
  static int dir_and_name(Server& s, uint32_t dfid, p9::Str name, Server::Fid** d, std::string* n) {
    *d = s.fid(dfid);
    if (!*d) return EBADF;
    if (ro(s, **d)) return EROFS;
    if (!p9::valid_name(name)) return EINVAL;
    *n = to_string(name);
    return 0;
  }

  static int qid_at(int dirfd, const std::string& name, W& w) {
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
    w.qid(qid_of(st));
    return 0;
  }

  static int mkdir(Server& s, R& r, W& w) {
    uint32_t dfid = r.u32();
    p9::Str name = r.str();
    uint32_t mode = r.u32();
    r.u32();  // gid
    if (!r.ok()) return EPROTO;
    Server::Fid* d;
    std::string n;
    if (int e = dir_and_name(s, dfid, name, &d, &n)) return e;
    if (mkdirat(d->path, n.c_str(), mode & 07777) != 0) return errno;
    return qid_at(d->path, n, w);
  }

  static int symlink(Server& s, R& r, W& w) {
    uint32_t dfid = r.u32();
    p9::Str name = r.str();
    std::string target = to_string(r.str());
    r.u32();  // gid
    if (!r.ok()) return EPROTO;
    Server::Fid* d;
    std::string n;
    if (int e = dir_and_name(s, dfid, name, &d, &n)) return e;
    if (target.empty() || target.find('\0') != std::string::npos) return EINVAL;
    if (symlinkat(target.c_str(), d->path, n.c_str()) != 0) return errno;
    return qid_at(d->path, n, w);
  }

  static int mknod(Server& s, R& r, W& w) {
    uint32_t dfid = r.u32();
    p9::Str name = r.str();
    uint32_t mode = r.u32();
    r.u32();  // major
    r.u32();  // minor
    r.u32();  // gid
    if (!r.ok()) return EPROTO;
    Server::Fid* d;
    std::string n;
    if (int e = dir_and_name(s, dfid, name, &d, &n)) return e;
    // No device nodes on the host: a guest cannot reach host hardware.
    uint32_t type = mode & S_IFMT;
    if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK) return EPERM;
    if (mknodat(d->path, n.c_str(), type | (mode & 07777), 0) != 0) return errno;
    return qid_at(d->path, n, w);
  }

  static int readlink(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    char buf[4096];
    ssize_t n = readlinkat(f->path, "", buf, sizeof buf);
    if (n < 0) return errno == ENOENT ? EINVAL : errno;
    w.str(buf, uint32_t(n));
    return 0;
  }

  static int unlinkat(Server& s, R& r, W& w) {
    uint32_t dfid = r.u32();
    p9::Str name = r.str();
    uint32_t flags = r.u32();
    if (!r.ok()) return EPROTO;
    Server::Fid* d;
    std::string n;
    if (int e = dir_and_name(s, dfid, name, &d, &n)) return e;
    if (::unlinkat(d->path, n.c_str(), (flags & p9::kAtRemovedir) ? AT_REMOVEDIR : 0) != 0)
      return errno;
    return 0;
  }

  static int renameat(Server& s, R& r, W& w) {
    uint32_t ofid = r.u32();
    p9::Str oname = r.str();
    uint32_t nfid = r.u32();
    p9::Str nname = r.str();
    if (!r.ok()) return EPROTO;
    Server::Fid *od, *nd;
    std::string on, nn;
    if (int e = dir_and_name(s, ofid, oname, &od, &on)) return e;
    if (int e = dir_and_name(s, nfid, nname, &nd, &nn)) return e;
    if (od->share != nd->share) return EXDEV;
    if (::renameat(od->path, on.c_str(), nd->path, nn.c_str()) != 0) return errno;
    // Fids beneath the old name keep their fds; their paths (for "..") move.
    std::string from = join(od->rel, on), to = join(nd->rel, nn);
    uint32_t share = od->share;
    for (auto& [k, f] : s.fids_) {
      if (f.share != share) continue;
      if (f.rel == from) f.rel = to;
      else if (f.rel.size() > from.size() && f.rel.compare(0, from.size(), from) == 0 &&
               f.rel[from.size()] == '/')
        f.rel = to + f.rel.substr(from.size());
    }
    return 0;
  }

  static int link(Server& s, R& r, W& w) {
    uint32_t dfid = r.u32(), fid = r.u32();
    p9::Str name = r.str();
    if (!r.ok()) return EPROTO;
    Server::Fid* d;
    std::string n;
    if (int e = dir_and_name(s, dfid, name, &d, &n)) return e;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    if (f->share != d->share) return EXDEV;
    struct stat st;
    if (int e = stat_fd(f->path, &st)) return e;
    if (S_ISDIR(st.st_mode)) return EPERM;
    if (!S_ISREG(st.st_mode)) return EOPNOTSUPP;  // never hand a symlink to the magic link
    if (linkat(AT_FDCWD, proc_path(f->path).c_str(), d->path, n.c_str(), AT_SYMLINK_FOLLOW) != 0)
      return errno;
    return 0;
  }

  static int fsync(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    r.u32();  // datasync
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    if (f->io >= 0) return ::fsync(f->io) == 0 ? 0 : errno;
    struct stat st;
    if (int e = stat_fd(f->path, &st)) return e;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return 0;
    int fd = reopen_fd(f->path, O_RDONLY);
    if (fd < 0) return -fd;
    int rc = ::fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return rc;
  }

  static int statfs(Server& s, R& r, W& w) {
    uint32_t fid = r.u32();
    if (!r.ok()) return EPROTO;
    Server::Fid* f = s.fid(fid);
    if (!f) return EBADF;
    struct statfs st;
    if (fstatfs(f->path, &st) != 0) return errno;
    p9::StatFs o{};
    o.type = uint32_t(st.f_type);
    o.bsize = uint32_t(st.f_bsize);
    o.blocks = st.f_blocks;
    o.bfree = st.f_bfree;
    o.bavail = st.f_bavail;
    o.files = st.f_files;
    o.ffree = st.f_ffree;
    uint64_t fsid;
    memcpy(&fsid, &st.f_fsid, sizeof fsid);
    o.fsid = fsid;
    o.namelen = uint32_t(st.f_namelen);
    p9::put_statfs(w, o);
    return 0;
  }
};

size_t Server::dispatch(const uint8_t* req, size_t n, uint8_t* resp, size_t cap) {
  if (!msize_) msize_ = p9::kMsize;
  p9::Reader r(req, uint32_t(n > p9::kMsize ? p9::kMsize : n));
  p9::Writer w(resp, uint32_t(cap));
  uint8_t type = 0;
  uint16_t tag = p9::kNoTag;
  int e = 0;
  if (n > msize_ || !r.header(&type, &tag)) {
    e = EPROTO;
  } else {
    w.begin(uint8_t(type + 1), tag);
    using H = Handlers;
    switch (type) {
      case p9::kTversion: e = H::version(*this, r, w); break;
      case p9::kTattach: e = H::attach(*this, r, w); break;
      case p9::kTwalk: e = H::walk(*this, r, w); break;
      case p9::kTgetattr: e = H::getattr(*this, r, w); break;
      case p9::kTsetattr: e = H::setattr(*this, r, w); break;
      case p9::kTlopen: e = H::lopen(*this, r, w); break;
      case p9::kTlcreate: e = H::lcreate(*this, r, w); break;
      case p9::kTread: e = H::read(*this, r, w); break;
      case p9::kTwrite: e = H::write(*this, r, w); break;
      case p9::kTreaddir: e = H::readdir(*this, r, w); break;
      case p9::kTclunk: e = H::clunk(*this, r, w); break;
      case p9::kTmkdir: e = H::mkdir(*this, r, w); break;
      case p9::kTsymlink: e = H::symlink(*this, r, w); break;
      case p9::kTmknod: e = H::mknod(*this, r, w); break;
      case p9::kTreadlink: e = H::readlink(*this, r, w); break;
      case p9::kTunlinkat: e = H::unlinkat(*this, r, w); break;
      case p9::kTrenameat: e = H::renameat(*this, r, w); break;
      case p9::kTlink: e = H::link(*this, r, w); break;
      case p9::kTfsync: e = H::fsync(*this, r, w); break;
      case p9::kTstatfs: e = H::statfs(*this, r, w); break;
      case p9::kTflush: e = 0; break;  // requests are served in order: nothing to cancel
      default: e = EOPNOTSUPP; break;
    }
  }
  if (!e && w.ok()) {
    uint32_t len = w.finish();
    if (len) return len;
    e = EIO;
  }
  w.begin(p9::kRlerror, tag);
  w.u32(uint32_t(e ? e : EIO));
  return w.finish();
}

void Server::serve(int fd) {
  std::vector<uint8_t> req(p9::kMsize + 1), resp(p9::kMsize);
  for (;;) {
    ssize_t n = recv(fd, req.data(), req.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    size_t m = dispatch(req.data(), size_t(n), resp.data(), resp.size());
    ssize_t sent;
    do sent = send(fd, resp.data(), m, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent != ssize_t(m)) return;
  }
}

}  // namespace mote::share
