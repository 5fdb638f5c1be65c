// Data transfer and descriptor calls on open files: read/write and their
// vector and positional forms, lseek, ioctl, close, dup, fcntl, pipes,
// sendfile/copy_file_range, truncation and sync, getdents64, flock.
#include "kernel/core/process.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/pipe.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"

namespace mote::linux {

namespace {

constexpr u64 kMaxRw = 0x7ffff000;  // Linux MAX_RW_COUNT
constexpr int kIovMax = 1024;
constexpr u32 kFionread = 0x541b, kFioclex = 0x5451, kFionclex = 0x5450, kFionbio = 0x5421;
constexpr u32 kFioasync = 0x5452;

struct Iovec {
  u64 base;
  u64 len;
};

i64 do_read(fs::File& f, u64 buf, u64 len, i64 off) {
  if (!f.readable()) return -EBADF;
  if (f.inode->is_dir() && !(f.flags & fs::kOPath)) return -EISDIR;
  if (len > kMaxRw) len = kMaxRw;
  if (!user_writable(buf, len)) return -EFAULT;
  auto r = off < 0 ? f.read(reinterpret_cast<void*>(buf), len)
                   : f.pread(reinterpret_cast<void*>(buf), len, u64(off));
  return r.ok() ? i64(r.value()) : -r.error();
}

i64 do_write(fs::File& f, u64 buf, u64 len, i64 off) {
  if (!f.writable()) return -EBADF;
  if (len > kMaxRw) len = kMaxRw;
  if (!user_readable(buf, len)) return -EFAULT;
  auto r = off < 0 ? f.write(reinterpret_cast<const void*>(buf), len)
                   : f.pwrite(reinterpret_cast<const void*>(buf), len, u64(off));
  return r.ok() ? i64(r.value()) : -r.error();
}

// Reads and checks a batch of an iovec array; returns the count or -errno.
i64 load_iov(u64 addr, i64 count, Iovec* out) {
  if (!copy_from_user(out, addr, usize(count) * sizeof(Iovec)).ok()) return -EFAULT;
  return count;
}

// The iovec array is read in batches (the syscall stack is small): the same
// checks as Linux (count, lengths, total) before any transfer. off < 0 means
// the file position.
template <typename Op>
i64 vector_io(int fd, u64 iov_addr, i64 count, i64 off, Op op) {
  Ref<fs::File> f = fs::fds().get(fd);
  if (!f) return -EBADF;
  if (count < 0 || count > kIovMax) return -EINVAL;
  constexpr i64 kBatch = 64;
  Iovec iov[kBatch];
  u64 total = 0;
  for (i64 at = 0; at < count; at += kBatch) {
    i64 n = load_iov(iov_addr + u64(at) * sizeof(Iovec), min(kBatch, count - at), iov);
    if (n < 0) return n;
    for (i64 i = 0; i < n; ++i) {
      if (i64(iov[i].len) < 0) return -EINVAL;
      total += iov[i].len;
      if (i64(total) < 0) return -EINVAL;
    }
  }
  i64 done = 0;
  for (i64 at = 0; at < count; at += kBatch) {
    i64 n = load_iov(iov_addr + u64(at) * sizeof(Iovec), min(kBatch, count - at), iov);
    if (n < 0) return done ? done : n;
    for (i64 i = 0; i < n; ++i) {
      if (iov[i].len == 0) continue;
      i64 r = op(*f, iov[i].base, iov[i].len, off < 0 ? off : off + done);
      if (r < 0) return done ? done : r;
      done += r;
      if (u64(r) < iov[i].len) return done;  // short transfer: stop, as Linux does
    }
  }
  if (done == 0 && count > 0 && total == 0) {
    // Zero-length vectors still check the descriptor's mode.
    i64 r = op(*f, 0, 0, off);
    if (r < 0) return r;
  }
  return done;
}

i64 dup_to(int fd, int min_fd, bool cloexec) {
  Ref<fs::File> f = fs::fds().get(fd);
  if (!f) return -EBADF;
  return ret(fs::fds().install(f, cloexec, min_fd, nofile_limit()));
}

// getdents64 record: ino, off, reclen, type, name, NUL, padded to 8.
struct DentsCtx {
  u64 buf;
  u64 cap;
  u64 used;
  bool fault;
};

bool put_dirent(void* p, const fs::DirEntry& e) {
  auto* c = static_cast<DentsCtx*>(p);
  u64 reclen = (19 + e.name.size + 1 + 7) & ~u64(7);
  if (c->used + reclen > c->cap) return false;
  u8 rec[19 + fs::kNameMax + 1 + 8] = {};
  u64 off = e.next_cookie;
  memcpy(rec, &e.ino, 8);
  memcpy(rec + 8, &off, 8);
  u16 rl = u16(reclen);
  memcpy(rec + 16, &rl, 2);
  rec[18] = e.type;
  memcpy(rec + 19, e.name.data, e.name.size);
  if (!copy_to_user(c->buf + c->used, rec, reclen).ok()) {
    c->fault = true;
    return false;
  }
  c->used += reclen;
  return true;
}

}  // namespace

u64 nofile_limit() { return core::g_proc.rlimits[7].cur; }

Result<Ref<fs::File>> file_of(int fd) {
  Ref<fs::File> f = fs::fds().get(fd);
  if (!f) return err(EBADF);
  return f;
}

i64 sys_read(const SysArgs& a) {
  Ref<fs::File> f = fs::fds().get(a.fd(0));
  return f ? do_read(*f, a.u(1), a.u(2), -1) : -EBADF;
}

i64 sys_write(const SysArgs& a) {
  Ref<fs::File> f = fs::fds().get(a.fd(0));
  return f ? do_write(*f, a.u(1), a.u(2), -1) : -EBADF;
}

i64 sys_pread64(const SysArgs& a) {
  Ref<fs::File> f = fs::fds().get(a.fd(0));
  if (!f) return -EBADF;
  if (a.i(3) < 0) return -EINVAL;
  if (!f->seekable()) return -ESPIPE;
  return do_read(*f, a.u(1), a.u(2), a.i(3));
}

i64 sys_pwrite64(const SysArgs& a) {
  Ref<fs::File> f = fs::fds().get(a.fd(0));
  if (!f) return -EBADF;
  if (a.i(3) < 0) return -EINVAL;
  if (!f->seekable()) return -ESPIPE;
  return do_write(*f, a.u(1), a.u(2), a.i(3));
}

i64 sys_readv(const SysArgs& a) { return vector_io(a.fd(0), a.u(1), a.i(2), -1, do_read); }
i64 sys_writev(const SysArgs& a) { return vector_io(a.fd(0), a.u(1), a.i(2), -1, do_write); }

i64 sys_preadv(const SysArgs& a) {
  if (a.i(3) < 0) return -EINVAL;
  Ref<fs::File> f = fs::fds().get(a.fd(0));
  if (f && !f->seekable()) return -ESPIPE;
  return vector_io(a.fd(0), a.u(1), a.i(2), a.i(3), do_read);
}

i64 sys_pwritev(const SysArgs& a) {
  if (a.i(3) < 0) return -EINVAL;
  Ref<fs::File> f = fs::fds().get(a.fd(0));
  if (f && !f->seekable()) return -ESPIPE;
  return vector_io(a.fd(0), a.u(1), a.i(2), a.i(3), do_write);
}

i64 sys_lseek(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  if (f.value()->flags & fs::kOPath) return -EBADF;
  if (f.value()->inode->is_dir()) {
    // Directories seek by cookie: only rewinding and SEEK_SET to a cookie.
    if (u32(a.u(2)) != 0 || a.i(1) < 0) return -EINVAL;  // unsigned int whence
    f.value()->pos = u64(a.i(1));
    return a.i(1);
  }
  auto r = f.value()->seek(a.i(1), int(a.i(2)));
  return r.ok() ? i64(r.value()) : -r.error();
}

i64 sys_ioctl(const SysArgs& a) {
  int fd = a.fd(0);
  auto fr = file_of(fd);
  if (!fr.ok()) return -fr.error();
  fs::File& f = *fr.value();
  if (f.flags & fs::kOPath) return -EBADF;
  u32 cmd = u32(a.u(1));
  switch (cmd) {
    case kFioclex: fs::fds().set_cloexec(fd, true); return 0;
    case kFionclex: fs::fds().set_cloexec(fd, false); return 0;
    case kFionbio: {
      i32 on;
      if (!get_user(&on, a.u(2)).ok()) return -EFAULT;
      if (on) f.flags |= fs::kONonblock;
      else f.flags &= ~fs::kONonblock;
      return 0;
    }
    case kFioasync: return 0;
    case kFionread: {
      auto n = f.readable_bytes();
      if (!n.ok()) {
        auto r = f.ioctl(cmd, a.u(2));
        return r.ok() ? r.value() : -r.error();
      }
      i32 v = i32(min<u64>(n.value(), 0x7fffffff));
      return put_user(a.u(2), v).ok() ? 0 : -EFAULT;
    }
    default: {
      // Interface ioctls (0x89xx) on any socket: the network's, not the file's.
      auto r = f.is_socket() && (cmd & 0xff00) == 0x8900 ? netdevice_ioctl(cmd, a.u(2))
                                                         : f.ioctl(cmd, a.u(2));
      return r.ok() ? r.value() : -r.error();
    }
  }
}

i64 sys_close(const SysArgs& a) { return ret(fs::fds().close(a.fd(0))); }

i64 sys_close_range(const SysArgs& a) {
  u64 first = u32(a.u(0)), last = u32(a.u(1)), flags = a.u(2);
  constexpr u64 kCloexec = 1u << 2, kUnshare = 1u << 1;
  if (flags & ~(kCloexec | kUnshare)) return -EINVAL;
  if (first > last) return -EINVAL;
  u64 end = min<u64>(last + 1, u64(fs::fds().end()));
  for (u64 fd = first; fd < end; ++fd) {
    if (!fs::fds().get(int(fd))) continue;
    if (flags & kCloexec) fs::fds().set_cloexec(int(fd), true);
    else (void)fs::fds().close(int(fd));
  }
  return 0;
}

i64 sys_dup(const SysArgs& a) { return dup_to(a.fd(0), 0, false); }

i64 sys_dup2(const SysArgs& a) {
  int from = a.fd(0), to = a.fd(1);
  Ref<fs::File> f = fs::fds().get(from);
  if (!f) return -EBADF;
  if (from == to) return to;
  return ret(fs::fds().install_at(to, f, false, nofile_limit()));
}

i64 sys_dup3(const SysArgs& a) {
  int from = a.fd(0), to = a.fd(1);
  u64 flags = u32(a.u(2));  // int flags
  if (flags & ~u64(fs::kOCloexec)) return -EINVAL;
  if (from == to) return -EINVAL;
  Ref<fs::File> f = fs::fds().get(from);
  if (!f) return -EBADF;
  return ret(fs::fds().install_at(to, f, flags & fs::kOCloexec, nofile_limit()));
}

i64 sys_fcntl(const SysArgs& a) {
  int fd = a.fd(0);
  auto fr = file_of(fd);
  if (!fr.ok()) return -fr.error();
  fs::File& f = *fr.value();
  constexpr u32 kSettable = fs::kOAppend | fs::kONonblock | fs::kOAsync | fs::kODirect |
                            fs::kONoatime;
  const u32 cmd = u32(a.u(1));  // unsigned int cmd
  switch (cmd) {
    case 0:       // F_DUPFD
    case 1030: {  // F_DUPFD_CLOEXEC
      i64 min_fd = a.i(2);
      if (min_fd < 0 || u64(min_fd) >= nofile_limit()) return -EINVAL;
      return dup_to(fd, int(min_fd), cmd == 1030);
    }
    case 1:  // F_GETFD
      return fs::fds().cloexec(fd) ? 1 : 0;
    case 2:  // F_SETFD
      fs::fds().set_cloexec(fd, a.u(2) & 1);
      return 0;
    case 3:  // F_GETFL
      return i64(f.flags | fs::kOLargefile);
    case 4:  // F_SETFL
      if (f.flags & fs::kOPath) return -EBADF;
      f.flags = (f.flags & ~kSettable) | (u32(a.u(2)) & kSettable);
      return 0;
    case 5:     // F_GETLK: nobody else holds locks in a unikernel
    case 36:    // F_OFD_GETLK
    {
      struct Flock {
        i16 type, whence;
        i64 start, len;
        i32 pid;
      } lk;
      if (!get_user(&lk, a.u(2)).ok()) return -EFAULT;
      if (lk.type != 0 && lk.type != 1 && lk.type != 2) return -EINVAL;
      lk.type = 2;  // F_UNLCK
      return put_user(a.u(2), lk).ok() ? 0 : -EFAULT;
    }
    case 6: case 7:     // F_SETLK, F_SETLKW: one process, locks always granted
    case 37: case 38: {  // F_OFD_SETLK(W)
      i16 type;
      if (!get_user(&type, a.u(2)).ok()) return -EFAULT;
      if (type == 0 && !f.readable()) return -EBADF;
      if (type == 1 && !f.writable()) return -EBADF;
      if (type != 0 && type != 1 && type != 2) return -EINVAL;
      return 0;
    }
    case 8: case 9:         // F_SETOWN, F_GETOWN
    case 10: case 11:       // F_SETSIG, F_GETSIG
      return 0;
    case 1024: case 1025:   // F_SETLEASE, F_GETLEASE
      return cmd == 1025 ? 2 /*F_UNLCK*/ : 0;
    case 1031:  // F_SETPIPE_SZ
    case 1032:  // F_GETPIPE_SZ
      if ((f.inode->mode & fs::kIfmt) != fs::kIfifo) return -EBADF;
      return 65536;
    case 1033: return 0;                          // F_ADD_SEALS: not enforced
    case 1034: return 0;                          // F_GET_SEALS
    default:
      return -EINVAL;
  }
}

i64 sys_flock(const SysArgs& a) {
  if (!fs::fds().get(a.fd(0))) return -EBADF;
  u64 op = u32(a.u(1)) & ~u64(4 /*LOCK_NB*/);  // unsigned int cmd
  if (op != 1 && op != 2 && op != 8) return -EINVAL;  // LOCK_SH LOCK_EX LOCK_UN
  return 0;  // one process: always granted
}

i64 sys_pipe2(const SysArgs& a) {
  u64 flags = u32(a.u(1));  // int flags
  if (flags & ~u64(fs::kOCloexec | fs::kONonblock | fs::kODirect)) return -EINVAL;
  Ref<fs::File> r, w;
  auto made = fs::make_pipe(u32(flags), &r, &w);
  if (!made.ok()) return -made.error();
  bool cloexec = flags & fs::kOCloexec;
  auto rfd = fs::fds().install(r, cloexec, 0, nofile_limit());
  if (!rfd.ok()) return -rfd.error();
  auto wfd = fs::fds().install(w, cloexec, 0, nofile_limit());
  if (!wfd.ok()) {
    (void)fs::fds().close(rfd.value());
    return -wfd.error();
  }
  i32 pair[2] = {rfd.value(), wfd.value()};
  if (!copy_to_user(a.u(0), pair, sizeof pair).ok()) {
    (void)fs::fds().close(rfd.value());
    (void)fs::fds().close(wfd.value());
    return -EFAULT;
  }
  return 0;
}

i64 sys_pipe(const SysArgs& a) {
  SysArgs b = a;
  b.a[1] = 0;
  return sys_pipe2(b);
}

i64 sys_fsync(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  return ret(f.value()->inode->fsync());
}
i64 sys_fdatasync(const SysArgs& a) { return sys_fsync(a); }
i64 sys_sync(const SysArgs&) { return 0; }
i64 sys_syncfs(const SysArgs& a) { return fs::fds().get(a.fd(0)) ? 0 : -EBADF; }

i64 sys_ftruncate(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  if (a.i(1) < 0) return -EINVAL;
  fs::File& file = *f.value();
  if (!file.writable()) return -EINVAL;
  if (!file.inode->is_reg()) return -EINVAL;
  if (file.flags & fs::kOAppend) return -EPERM;
  return ret(file.inode->truncate(a.u(1)));
}

i64 sys_fallocate(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  fs::File& file = *f.value();
  i64 mode = a.c_int(1), off = a.i(2), len = a.i(3);
  if (off < 0 || len <= 0) return -EINVAL;
  if (!file.writable()) return -EBADF;
  if (!file.inode->is_reg()) return file.inode->is_dir() ? -EISDIR : -ENODEV;
  if (mode & ~1) return -EOPNOTSUPP;  // only FALLOC_FL_KEEP_SIZE
  u64 end = u64(off) + u64(len);
  if ((mode & 1) || end <= file.inode->size) return 0;
  return ret(file.inode->truncate(end));
}

// Copies between two files through a kernel buffer, at the files' positions
// or at *in_off (when given).
i64 copy_between(fs::File& in, u64 in_off_addr, fs::File& out, u64 out_off_addr, u64 count) {
  if (!in.readable() || !out.writable()) return -EBADF;
  if (out.flags & fs::kOAppend) return -EINVAL;
  i64 in_off = -1, out_off = -1;
  if (in_off_addr) {
    if (!get_user(&in_off, in_off_addr).ok()) return -EFAULT;
    if (in_off < 0) return -EINVAL;
  }
  if (out_off_addr) {
    if (!get_user(&out_off, out_off_addr).ok()) return -EFAULT;
    if (out_off < 0) return -EINVAL;
  }
  count = min<u64>(count, kMaxRw);
  if (count == 0) return 0;
  // Chunks of 128 KiB, a share's largest read (abi/p9.h kMaxIo and a
  // little): each chunk from a -v share is one round trip to its server,
  // so nginx sending a large file went at 16 KiB a trip.
  const usize chunk = usize(min<u64>(count, 128 * 1024));
  u8* buf = static_cast<u8*>(mm::kalloc(chunk));
  if (!buf) return -ENOMEM;
  u64 done = 0;
  i64 error = 0;
  while (done < count) {
    // No more than the destination takes now (a socket's free send buffer):
    // a chunk it cannot take is read for nothing, from a share a round trip
    // each time. Full: a non-blocking one has nothing to read for (nginx
    // called again for each; half its reads from a share were such probes);
    // a blocking one waits in its write for a whole chunk.
    usize room = out.write_room();
    if (room == 0 && (out.flags & fs::kONonblock)) {
      error = -EAGAIN;
      break;
    }
    usize want = usize(min<u64>(min<u64>(chunk, count - done), room ? room : chunk));
    auto r = in_off >= 0 ? in.pread(buf, want, u64(in_off) + done) : in.read(buf, want);
    if (!r.ok()) { error = -r.error(); break; }
    if (r.value() == 0) break;
    usize got = r.value(), put = 0;
    while (put < got) {
      auto w = out_off >= 0 ? out.pwrite(buf + put, got - put, u64(out_off) + done + put)
                            : out.write(buf + put, got - put);
      if (!w.ok()) { error = -w.error(); break; }
      if (w.value() == 0) break;
      put += w.value();
    }
    done += put;
    if (put < got) {
      // The destination took less (full, or an error): what it did not take
      // is unread again, so the next call sends it (Linux sends from the
      // file position what it sends, no more).
      if (in_off < 0 && in.seekable()) in.pos -= got - put;
      break;
    }
    if (error) break;
    if (got < want) break;
  }
  mm::kfree(buf);
  if (in_off_addr && done) (void)put_user(in_off_addr, in_off + i64(done));
  if (out_off_addr && done) (void)put_user(out_off_addr, out_off + i64(done));
  return done ? i64(done) : error;
}

i64 sys_sendfile(const SysArgs& a) {
  Ref<fs::File> out = fs::fds().get(a.fd(0)), in = fs::fds().get(a.fd(1));
  if (!out || !in) return -EBADF;
  if (!in->seekable() && a.u(2)) return -ESPIPE;
  return copy_between(*in, a.u(2), *out, 0, a.u(3));
}

i64 sys_copy_file_range(const SysArgs& a) {
  Ref<fs::File> in = fs::fds().get(a.fd(0)), out = fs::fds().get(a.fd(2));
  if (!out || !in) return -EBADF;
  if (a.u(5) != 0) return -EINVAL;
  if (!in->inode->is_reg() || !out->inode->is_reg())
    return in->inode->is_dir() || out->inode->is_dir() ? -EISDIR : -EINVAL;
  return copy_between(*in, a.u(1), *out, a.u(3), a.u(4));
}

i64 sys_getdents64(const SysArgs& a) {
  auto f = file_of(a.fd(0));
  if (!f.ok()) return -f.error();
  fs::File& file = *f.value();
  if (file.flags & fs::kOPath) return -EBADF;
  if (!file.inode->is_dir()) return -ENOTDIR;
  u64 cap = a.u(2);
  if (!user_writable(a.u(1), cap)) return -EFAULT;
  DentsCtx c{a.u(1), cap, 0, false};
  auto r = file.inode->readdir(&file.pos, put_dirent, &c);
  if (!r.ok()) return -r.error();
  if (c.fault) return -EFAULT;
  if (c.used == 0 && cap > 0) {
    // Nothing fit: the next entry is larger than the buffer (or the end).
    u64 probe = file.pos;
    struct Probe {
      static bool one(void* p, const fs::DirEntry&) {
        *static_cast<bool*>(p) = true;
        return false;
      }
    };
    bool more = false;
    (void)file.inode->readdir(&probe, Probe::one, &more);
    if (more) return -EINVAL;
  }
  return i64(c.used);
}

}  // namespace mote::linux
