#include "kernel/fs/console.h"

#include "kernel/fs/fdtable.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/user.h"

namespace mote::fs {

namespace {

constexpr u32 kTcgets = 0x5401, kTcsets = 0x5402, kTcsetsw = 0x5403, kTcsetsf = 0x5404;
constexpr u32 kTiocgwinsz = 0x5413, kTiocswinsz = 0x5414, kTiocgpgrp = 0x540f;
constexpr u32 kTiocspgrp = 0x5410, kTiocgsid = 0x5429;
constexpr usize kTermiosBytes = 36;  // struct termios (asm-generic/termbits.h)

FileSystem g_consolefs{0x16, "devpts", 0x1cd1, false, 1};

const abi::ConsoleStream& stream_info(int k) { return platform::boot_info().console[k]; }

class ConsoleInode final : public Inode {
 public:
  ConsoleInode(int stream, const abi::ConsoleStream& s)
      : Inode(&g_consolefs, u64(stream) + 1, 0), stream_(stream) {
    i64 boot_s = i64(platform::boot_info().wall_clock_ns / 1000000000ull);
    atime = mtime = ctime = Timespec{boot_s, 0};
    memcpy(termios_, s.termios, kTermiosBytes);
    rows_ = s.ws_row;
    cols_ = s.ws_col;
    switch (s.kind) {
      case abi::ConsoleKind::Tty: mode = kIfchr | 0620; rdev = s.tty_rdev; break;
      case abi::ConsoleKind::Null: mode = kIfchr | 0666; rdev = (1 << 8) | 3; break;
      case abi::ConsoleKind::Pipe: mode = kIfifo | 0600; break;
      case abi::ConsoleKind::Socket: mode = kIfsock | 0777; break;
      default: mode = kIfreg | 0644; break;
    }
    kind_ = s.kind;
  }

  Result<void> getattr(Attr* a) override {
    TRY(Inode::getattr(a));
    a->blocks = 0;
    switch (kind_) {
      case abi::ConsoleKind::Tty: a->dev = 0x16; a->blksize = 1024; break;
      case abi::ConsoleKind::Null: a->dev = 0x5; break;
      case abi::ConsoleKind::Pipe: a->dev = 0xc; break;
      case abi::ConsoleKind::Socket: a->dev = 0x8; break;
      default: a->dev = 0x801; break;
    }
    a->size = 0;
    return ok();
  }

  int stream_;
  abi::ConsoleKind kind_;
  u8 termios_[kTermiosBytes];
  u16 rows_, cols_;
};

class ConsoleFile final : public File {
 public:
  ConsoleFile(Ref<Inode> node, u32 flags) : File(node, flags) {}
  ConsoleInode& con() { return static_cast<ConsoleInode&>(*inode); }

  bool seekable() const override { return false; }
  Result<usize> pread(void* buf, usize len, u64) override {
    if (!readable()) return err(EBADF);
    isize r = platform::console_read(con().stream_, buf, len);
    if (r < 0) return err(int(-r));
    return usize(r);
  }
  Result<usize> pwrite(const void* buf, usize len, u64) override {
    if (!writable()) return err(EBADF);
    isize r = platform::console_write(con().stream_, buf, len);
    if (r < 0) return err(int(-r));
    return usize(r);
  }
  Result<u64> seek(i64, int) override {
    // A regular file on the host side seeks there; not passed through yet.
    return err(ESPIPE);
  }
  Result<i64> ioctl(u32 cmd, u64 arg) override {
    ConsoleInode& c = con();
    if (c.kind_ != abi::ConsoleKind::Tty) return err(ENOTTY);
    switch (cmd) {
      case kTcgets: TRY(linux::copy_to_user(arg, c.termios_, kTermiosBytes)); return i64(0);
      case kTcsets: case kTcsetsw: case kTcsetsf: {
        // With -t the host terminal takes the modes; without, they are
        // recorded only and the host terminal keeps its own (docs/compat.md).
        u8 t[kTermiosBytes];
        TRY(linux::copy_from_user(t, arg, kTermiosBytes));
        auto r = platform::console_set_termios(con().stream_, cmd, t);
        if (!r.ok() && r.error() != ENOTTY) return Error{r.error()};
        memcpy(c.termios_, t, kTermiosBytes);
        return i64(0);
      }
      case kTiocgwinsz: {
        u16 ws[4] = {c.rows_, c.cols_, 0, 0};
        TRY(linux::copy_to_user(arg, ws, sizeof ws));
        return i64(0);
      }
      case kTiocswinsz: {
        u16 ws[4];
        TRY(linux::copy_from_user(ws, arg, sizeof ws));
        c.rows_ = ws[0];
        c.cols_ = ws[1];
        return i64(0);
      }
      case kTiocgpgrp: case kTiocgsid: {
        i32 one = 1;  // the program is pid 1 and leads its session
        TRY(linux::copy_to_user(arg, &one, sizeof one));
        return i64(0);
      }
      case kTiocspgrp: return i64(0);
      default: return err(ENOTTY);
    }
  }
  Result<u64> readable_bytes() override { return err(ENOTTY); }
};

// One inode per stream for the whole run (a reference held forever).
Inode* g_console_inode[3];

}  // namespace

Result<Ref<File>> open_console(int stream) {
  const abi::ConsoleStream& s = stream_info(stream);
  if (s.kind == abi::ConsoleKind::Closed) return err(EBADF);
  if (!g_console_inode[stream]) {
    auto n = make_ref<ConsoleInode>(stream, s);
    if (!n) return err(ENOMEM);
    n->ref_get();
    g_console_inode[stream] = n.get();
  }
  auto f = make_ref<ConsoleFile>(Ref<Inode>(g_console_inode[stream]),
                                 s.open_flags & ~u32(kOCloexec));
  if (!f) return err(ENOMEM);
  return Ref<File>(f);
}

Result<void> install_console_fds() {
  for (int k = 0; k < 3; ++k) {
    auto f = open_console(k);
    if (!f.ok()) continue;  // closed: the fd stays free (EBADF), as natively
    TRY(fds().install_at(k, f.value(), false, 3));
  }
  return ok();
}

}  // namespace mote::fs
