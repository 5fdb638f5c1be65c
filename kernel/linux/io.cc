// read/write/readv/writev, tty ioctls, fstat and close on the console streams
// (fds 0-2), readlink of /proc/self/exe. There is no filesystem yet: any path
// other than /proc/self/exe does not exist (ENOENT), and fds past 2 are EBADF.
#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u64 kMaxRw = 0x7ffff000;  // Linux MAX_RW_COUNT
constexpr int kIovMax = 1024;
constexpr int kAtFdcwd = -100;
constexpr u64 kAtEmptyPath = 0x1000;
constexpr u64 kAtSymlinkNofollow = 0x100;
constexpr u64 kTcgets = 0x5401;
constexpr u64 kTiocgwinsz = 0x5413;

struct Iovec {
  u64 base;
  u64 len;
};

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

bool console_fd(int fd) { return fd >= 0 && fd <= 2 && core::g_proc.console_open[fd]; }

const abi::ConsoleStream& stream(int fd) { return platform::boot_info().console[fd]; }

i64 do_write(int fd, u64 buf, u64 len) {
  if (!console_fd(fd)) return -EBADF;
  if (len > kMaxRw) len = kMaxRw;
  if (!user_readable(buf, len)) return -EFAULT;
  return platform::console_write(fd, reinterpret_cast<const void*>(buf), len);
}

i64 do_read(int fd, u64 buf, u64 len) {
  if (!console_fd(fd)) return -EBADF;
  if (len > kMaxRw) len = kMaxRw;
  if (!user_writable(buf, len)) return -EFAULT;
  return platform::console_read(fd, reinterpret_cast<void*>(buf), len);
}

// Reads and checks an iovec array; returns the count or -errno.
i64 load_iov(u64 addr, i64 count, Iovec* out) {
  if (count < 0 || count > kIovMax) return -EINVAL;
  if (!copy_from_user(out, addr, usize(count) * sizeof(Iovec)).ok()) return -EFAULT;
  u64 total = 0;
  for (i64 i = 0; i < count; ++i) {
    if (i64(out[i].len) < 0) return -EINVAL;
    total += out[i].len;
    if (i64(total) < 0) return -EINVAL;
  }
  return count;
}

// The iovec array is read in batches (the syscall stack is small): the same
// checks as Linux (count, lengths, total) before any transfer.
template <typename Op>
i64 vector_io(int fd, u64 iov_addr, i64 count, Op op) {
  if (!console_fd(fd)) return -EBADF;
  if (count < 0 || count > kIovMax) return -EINVAL;
  constexpr i64 kBatch = 64;
  Iovec iov[kBatch];
  u64 total = 0;
  for (i64 at = 0; at < count; at += kBatch) {
    i64 n = load_iov(iov_addr + u64(at) * sizeof(Iovec), min(kBatch, count - at), iov);
    if (n < 0) return n;
    for (i64 i = 0; i < n; ++i) {
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
      i64 r = op(fd, iov[i].base, iov[i].len);
      if (r < 0) return done ? done : r;
      done += r;
      if (u64(r) < iov[i].len) return done;  // short transfer: stop, as Linux does
    }
  }
  return done;
}

i64 fill_stat(int fd, u64 statbuf) {
  if (!console_fd(fd)) return -EBADF;
  const abi::ConsoleStream& s = stream(fd);
  Stat st{};
  st.ino = u64(fd) + 1;
  st.nlink = 1;
  st.blksize = 4096;
  i64 boot_s = i64(platform::boot_info().wall_clock_ns / 1000000000ull);
  st.atime = st.mtime = st.ctime = boot_s;
  switch (s.kind) {
    case abi::ConsoleKind::Tty:
      st.mode = 0020000 | 0620;  // S_IFCHR
      st.rdev = s.tty_rdev;
      st.blksize = 1024;
      st.dev = 0x16;
      break;
    case abi::ConsoleKind::Null:
      st.mode = 0020000 | 0666;
      st.rdev = (1 << 8) | 3;  // 1:3, /dev/null
      st.dev = 0x5;
      break;
    case abi::ConsoleKind::Pipe: st.mode = 0010000 | 0600; st.dev = 0xc; break;    // S_IFIFO
    case abi::ConsoleKind::Socket: st.mode = 0140000 | 0777; st.dev = 0x8; break;  // S_IFSOCK
    case abi::ConsoleKind::File: st.mode = 0100000 | 0644; break;                   // S_IFREG
    case abi::ConsoleKind::Closed: return -EBADF;
  }
  if (!put_user(statbuf, st).ok()) return -EFAULT;
  return 0;
}

i64 do_readlink(u64 path_addr, u64 buf, u64 size) {
  char path[256];
  auto r = string_from_user(path, path_addr, sizeof path);
  if (!r.ok()) return -r.error();
  if (i64(size) <= 0) return -EINVAL;
  if (StrView(path, r.value()) != StrView("/proc/self/exe")) return -ENOENT;
  StrView exe = core::g_proc.exe_path;
  u64 n = min<u64>(exe.size, size);  // readlink does not NUL-terminate
  if (!copy_to_user(buf, exe.data, n).ok()) return -EFAULT;
  return i64(n);
}

}  // namespace

i64 sys_read(const SysArgs& a) { return do_read(a.fd(0), a.u(1), a.u(2)); }
i64 sys_write(const SysArgs& a) { return do_write(a.fd(0), a.u(1), a.u(2)); }
i64 sys_readv(const SysArgs& a) { return vector_io(a.fd(0), a.u(1), a.i(2), do_read); }
i64 sys_writev(const SysArgs& a) { return vector_io(a.fd(0), a.u(1), a.i(2), do_write); }

i64 sys_ioctl(const SysArgs& a) {
  int fd = a.fd(0);
  if (!console_fd(fd)) return -EBADF;
  const abi::ConsoleStream& s = stream(fd);
  u32 cmd = u32(a.u(1));
  if (s.kind != abi::ConsoleKind::Tty) return -ENOTTY;
  switch (cmd) {
    case kTcgets:
      // struct termios (asm-generic/termbits.h): 4 flags, c_line, c_cc[19].
      return copy_to_user(a.u(2), s.termios, 36).ok() ? 0 : -EFAULT;
    case kTiocgwinsz: {
      u16 ws[4] = {s.ws_row, s.ws_col, 0, 0};
      return copy_to_user(a.u(2), ws, sizeof ws).ok() ? 0 : -EFAULT;
    }
    default:
      // Changing terminal modes is not supported yet (docs/compat.md).
      return -ENOTTY;
  }
}

i64 sys_fstat(const SysArgs& a) { return fill_stat(a.fd(0), a.u(1)); }

i64 sys_newfstatat(const SysArgs& a) {
  char path[256];
  auto r = string_from_user(path, a.u(1), sizeof path);
  if (!r.ok()) return -r.error();
  u64 flags = a.u(3);
  if (flags & ~(kAtEmptyPath | kAtSymlinkNofollow | 0x800 /* AT_NO_AUTOMOUNT */)) return -EINVAL;
  if (r.value() == 0) {
    if (!(flags & kAtEmptyPath)) return -ENOENT;
    return fill_stat(a.fd(0), a.u(2));
  }
  if (path[0] != '/' && a.fd(0) != kAtFdcwd && !console_fd(a.fd(0))) return -EBADF;
  if (path[0] != '/' && console_fd(a.fd(0))) return -ENOTDIR;
  return -ENOENT;  // no filesystem yet
}

i64 sys_readlink(const SysArgs& a) { return do_readlink(a.u(0), a.u(1), a.u(2)); }

i64 sys_readlinkat(const SysArgs& a) {
  int dirfd = a.fd(0);
  if (dirfd != kAtFdcwd && !console_fd(dirfd)) {
    // Only absolute paths ignore dirfd.
    char c;
    if (!copy_from_user(&c, a.u(1), 1).ok()) return -EFAULT;
    if (c != '/') return -EBADF;
  }
  return do_readlink(a.u(1), a.u(2), a.u(3));
}

i64 sys_getcwd(const SysArgs& a) {
  // The working directory is the one the monitor gave (there is no chdir yet).
  const abi::BootInfo& b = platform::boot_info();
  StrView cwd(reinterpret_cast<const char*>(&b) + b.cwd.offset, b.cwd.length);
  if (a.u(1) < cwd.size + 1) return -ERANGE;
  if (!copy_to_user(a.u(0), cwd.data, cwd.size + 1).ok()) return -EFAULT;
  return i64(cwd.size + 1);
}

// fcntl on the console streams: status flags and FD_CLOEXEC. The flags come
// from the host fd at start; F_SETFL records O_APPEND/O_NONBLOCK/O_ASYNC/
// O_DIRECT/O_NOATIME (it does not change the host fd: a non-blocking console
// is not supported yet). Duplicating fds and locks need the fd table of the
// filesystem issue: EINVAL until then.
i64 sys_fcntl(const SysArgs& a) {
  int fd = a.fd(0);
  if (!console_fd(fd)) return -EBADF;
  constexpr u32 kSettable = 02000 | 04000 | 020000 | 040000 | 01000000;  // APPEND NONBLOCK ASYNC DIRECT NOATIME
  switch (a.u(1)) {
    case 1:  // F_GETFD
      return core::g_proc.console_cloexec[fd] ? 1 : 0;
    case 2:  // F_SETFD
      core::g_proc.console_cloexec[fd] = a.u(2) & 1;
      return 0;
    case 3:  // F_GETFL
      return i64(core::g_proc.console_flags[fd]);
    case 4: {  // F_SETFL
      u32& f = core::g_proc.console_flags[fd];
      f = (f & ~kSettable) | (u32(a.u(2)) & kSettable);
      return 0;
    }
    default:
      return -EINVAL;
  }
}

i64 sys_close(const SysArgs& a) {
  int fd = a.fd(0);
  if (!console_fd(fd)) return -EBADF;
  core::g_proc.console_open[fd] = false;
  return 0;
}

}  // namespace mote::linux
