// /dev: a tmpfs filled at boot with the character devices a Linux program
// expects (null, zero, full, random, urandom, tty, console), the terminal the
// program runs on (/dev/pts/N when a standard stream is one), the standard
// symlinks (stdin, stdout, stderr, fd) and shm/ and pts/ directories.
//
// The drivers are registered by device number (special.h), so a node made
// with mknod(2) anywhere in a tmpfs with the same numbers works the same.
// No ptmx: there are no pseudo-terminals to allocate.
#include "kernel/fs/console.h"
#include "kernel/fs/pseudo.h"
#include "kernel/fs/special.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/chacha20.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"

namespace mote::core {
extern Csprng g_rng;  // kernel/linux/random.cc
}

namespace mote::fs {

namespace {

// drivers/char/mem.c's devices.
enum class Mem : u8 { Null, Zero, Full, Random };

class MemFile final : public File {
 public:
  MemFile(Ref<Inode> node, u32 flags, Mem kind) : File(node, flags), kind_(kind) {}

  Result<usize> pread(void* buf, usize len, u64) override {
    switch (kind_) {
      case Mem::Null: return usize(0);
      case Mem::Zero: case Mem::Full: memset(buf, 0, len); return len;
      case Mem::Random: core::g_rng.fill(static_cast<u8*>(buf), len); return len;
    }
    return usize(0);
  }
  Result<usize> pwrite(const void*, usize len, u64) override {
    // /dev/random and /dev/urandom accept writes (Linux mixes them into the
    // pool without crediting entropy); the core's pool is reseeded never.
    if (kind_ == Mem::Full) return err(ENOSPC);
    return len;
  }
  // null_lseek: the position stays 0. urandom's noop_llseek keeps it too.
  Result<u64> seek(i64, int) override { return pos = 0; }
  Result<u64> readable_bytes() override { return err(ENOTTY); }

 private:
  Mem kind_;
};

template <Mem K>
Result<Ref<File>> open_mem(Ref<Inode> node, u32 flags) {
  auto f = make_ref<MemFile>(static_cast<Ref<Inode>&&>(node), flags, K);
  if (!f) return err(ENOMEM);
  return Ref<File>(f);
}

// A standard stream reopened with the caller's access mode and flags.
Result<Ref<File>> reopen_stream(int k, u32 flags) {
  Ref<File> f = TRY(open_console(k));
  f->flags = flags;
  return f;
}

// /dev/tty: the controlling terminal, the first standard stream that is one.
Result<Ref<File>> open_tty(Ref<Inode>, u32 flags) {
  for (int k = 0; k < 3; ++k)
    if (platform::boot_info().console[k].kind == abi::ConsoleKind::Tty)
      return reopen_stream(k, flags);
  return err(ENXIO);
}

// /dev/console: the system console is mote's stdout stream.
Result<Ref<File>> open_system_console(Ref<Inode>, u32 flags) {
  auto r = reopen_stream(1, flags);
  if (!r.ok()) return err(ENXIO);
  return r;
}

// /dev/pts/N (or /dev/ttyN): the terminal a standard stream is connected to.
Result<Ref<File>> open_terminal(Ref<Inode> node, u32 flags) {
  for (int k = 0; k < 3; ++k) {
    const abi::ConsoleStream& s = platform::boot_info().console[k];
    if (s.kind == abi::ConsoleKind::Tty && s.tty_rdev == node->rdev) return reopen_stream(k, flags);
  }
  return err(ENXIO);
}

struct Device {
  const char* name;
  u32 major, minor, perm;
  DeviceOpen open;
};
constexpr Device kDevices[] = {
    {"null", 1, 3, 0666, open_mem<Mem::Null>},
    {"zero", 1, 5, 0666, open_mem<Mem::Zero>},
    {"full", 1, 7, 0666, open_mem<Mem::Full>},
    {"random", 1, 8, 0666, open_mem<Mem::Random>},
    {"urandom", 1, 9, 0666, open_mem<Mem::Random>},
    {"tty", 5, 0, 0666, open_tty},
    {"console", 5, 1, 0600, open_system_console},
};

constexpr const char* kLinks[][2] = {
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
    {"fd", "/proc/self/fd"},
};

bool g_registered = false;

Result<void> register_drivers() {
  if (g_registered) return ok();
  for (const Device& d : kDevices) TRY(register_chrdev(dev_number(d.major, d.minor), d.open));
  g_registered = true;
  return ok();
}

}  // namespace

// The /dev name of a terminal device number, relative to /dev ("pts/0",
// "tty1", "ttyS0"), or false for other devices.
bool tty_dev_name(u64 rdev, char* buf, usize cap) {
  u32 major = dev_major(rdev), minor = dev_minor(rdev);
  if (major >= 136 && major <= 143) format(buf, cap, "pts/%u", (major - 136) * 256 + minor);
  else if (major == 4 && minor < 64) format(buf, cap, "tty%u", minor);
  else if (major == 4) format(buf, cap, "ttyS%u", minor - 64);
  else if (major == 5 && minor == 0) format(buf, cap, "tty");
  else if (major == 5 && minor == 1) format(buf, cap, "console");
  else return false;
  return true;
}

Result<Ref<Inode>> devfs_create() {
  TRY(register_drivers());
  Ref<Inode> root = TRY(tmpfs_create(0755));
  for (const Device& d : kDevices)
    TRY(root->mknod(d.name, kIfchr | d.perm, dev_number(d.major, d.minor)));
  for (auto& l : kLinks) TRY(root->symlink(l[0], l[1]));
  Ref<Inode> shm = TRY(root->mknod("shm", kIfdir | 01777, 0));
  Ref<Inode> pts = TRY(root->mknod("pts", kIfdir | 0755, 0));
  (void)shm;
  // The terminals the standard streams are on, by their host numbers.
  for (int k = 0; k < 3; ++k) {
    const abi::ConsoleStream& s = platform::boot_info().console[k];
    char name[32];
    if (s.kind != abi::ConsoleKind::Tty || !tty_dev_name(s.tty_rdev, name, sizeof name)) continue;
    StrView n(name);
    if (n == StrView("tty") || n == StrView("console")) continue;
    Inode* dir = root.get();
    if (n.starts_with("pts/")) {
      dir = pts.get();
      n = StrView(name + 4, n.size - 4);
    }
    if (dir->lookup(n).ok()) continue;  // two streams on one terminal
    auto reg = register_chrdev(s.tty_rdev, open_terminal);
    if (!reg.ok() && reg.error() != EBUSY) return Error{reg.error()};
    TRY(dir->mknod(n, kIfchr | 0620, s.tty_rdev));
  }
  return root;
}

}  // namespace mote::fs
