// The virtual filesystem: inodes, open files, path resolution and mounts.
//
// An Inode is a file, directory, symlink or special node of some filesystem
// (tmpfs, devfs, procfs, a host share). Its virtual methods are the
// operations a filesystem may implement; the defaults fail the way Linux does
// for an object that does not support them (ENOTDIR, EISDIR, EINVAL...). A
// File is one open file description (position, status flags); fds refer to
// Files (fdtable.h). Paths resolve from the process's root and working
// directory with Linux's rules: ".", "..", symlinks (40 at most, ELOOP),
// mount points, trailing slashes.
//
// Lifetimes: inodes and files are reference-counted (lib/ref.h). A directory
// keeps its entries alive; a child directory points back at its parent
// without a reference (a linked child never outlives its parent's entry).
#pragma once

#include "kernel/lib/ref.h"
#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/lib/vec.h"
#include "kernel/platform/platform.h"

namespace mote::mm {
class SharedObject;
}

namespace mote::fs {

// File types and permission bits (include/uapi/linux/stat.h).
inline constexpr u32 kIfmt = 0170000, kIfsock = 0140000, kIflnk = 0120000, kIfreg = 0100000,
                     kIfblk = 0060000, kIfdir = 0040000, kIfchr = 0020000, kIfifo = 0010000;
inline constexpr u32 kPermMask = 07777;

// open(2) flags (include/uapi/asm-generic/fcntl.h).
inline constexpr u32 kOWronly = 01, kORdwr = 02, kOAccmode = 03, kOCreat = 0100,
                     kOExcl = 0200, kONoctty = 0400, kOTrunc = 01000, kOAppend = 02000,
                     kONonblock = 04000, kODsync = 010000, kOAsync = 020000,
                     kODirect = 040000, kOLargefile = 0100000, kODirectory = 0200000,
                     kONofollow = 0400000, kONoatime = 01000000, kOCloexec = 02000000,
                     kOSync = 04010000, kOPath = 010000000, kOTmpfile = 020000000;

// d_type values of getdents64.
inline constexpr u8 kDtUnknown = 0, kDtFifo = 1, kDtChr = 2, kDtDir = 4, kDtBlk = 6,
                    kDtReg = 8, kDtLnk = 10, kDtSock = 12;
u8 dtype_of(u32 mode);

inline constexpr usize kNameMax = 255;
inline constexpr usize kPathMax = 4096;

struct Timespec {
  i64 sec = 0;
  i64 nsec = 0;
};
Timespec now();
// While building trees of nodes (boot, unpacking thousands of files, a lazy
// /proc), every new node is stamped with the boot's time: no clock read per
// node (a host call on the process platform, a TSC calibration on a VM's
// first read).
void freeze_time(bool on);

// What stat(2) reports.
struct Attr {
  u64 dev, ino;
  u32 mode, nlink, uid, gid;
  u64 rdev;
  u64 size;
  u64 blocks;  // 512-byte units
  u32 blksize;
  Timespec atime, mtime, ctime;
};

// statfs(2).
struct FsStat {
  u64 type;       // f_type magic
  u64 bsize;
  u64 blocks, bfree, bavail;
  u64 files, ffree;
  u64 namelen;
  u64 flags;      // ST_RDONLY 1, ST_NOSUID 2, ST_NODEV 4, ST_NOEXEC 8
};

struct FileSystem {
  u64 dev;           // st_dev of its inodes
  const char* type;  // "tmpfs", "proc"... (/proc/mounts)
  u64 magic;         // statfs f_type
  bool read_only;
  u64 next_ino;      // for filesystems that number their inodes
  // A filesystem allocated on the kernel heap goes with its last inode.
  bool on_heap = false;
  u64 live_inodes = 0;
};
// A fresh device number for a new filesystem instance.
u64 new_dev();

struct DirEntry {
  u64 ino;
  u8 type;  // kDt*
  StrView name;
  u64 next_cookie;  // the cookie that continues after this entry (d_off)
};
// Called for each entry; returns false when it cannot take this entry (the
// caller's buffer is full): the entry is not consumed.
using DirSink = bool (*)(void* ctx, const DirEntry& e);

class File;

class Inode : public RefCounted {
 public:
  Inode(FileSystem* fs, u64 ino, u32 mode);
  ~Inode() override;

  bool is_dir() const { return (mode & kIfmt) == kIfdir; }
  bool is_reg() const { return (mode & kIfmt) == kIfreg; }
  bool is_symlink() const { return (mode & kIfmt) == kIflnk; }

  // ---- Attributes ----
  virtual Result<void> getattr(Attr* out);
  virtual Result<void> chmod(u32 perm);
  virtual Result<void> chown(u32 uid, u32 gid);
  // nullptr leaves a time alone.
  virtual Result<void> set_times(const Timespec* atime, const Timespec* mtime);
  virtual Result<FsStat> statfs();

  // ---- Directories ----
  virtual Result<Ref<Inode>> lookup(StrView name);
  // Creates a regular file, directory, fifo, socket or device node (type
  // from mode); EEXIST when the name exists.
  virtual Result<Ref<Inode>> mknod(StrView name, u32 mode, u64 rdev);
  virtual Result<Ref<Inode>> symlink(StrView name, StrView target);
  virtual Result<void> link(StrView name, Inode& target);
  virtual Result<void> unlink(StrView name);  // not a directory
  virtual Result<void> rmdir(StrView name);   // an empty directory
  // rename(2) within one filesystem; flags are RENAME_NOREPLACE (1) and
  // RENAME_EXCHANGE (2).
  virtual Result<void> rename(StrView name, Inode& new_dir, StrView new_name, u32 flags);
  // Entries from *cookie on ("." and ".." included); advances *cookie past
  // each consumed entry. Cookies are stable across unrelated changes.
  virtual Result<void> readdir(u64* cookie, DirSink sink, void* ctx);
  // This directory's name in its parent (for getcwd); "" for a root.
  virtual StrView dir_name() const { return StrView(); }

  // ---- Regular files ----
  virtual Result<usize> read(u64 off, void* buf, usize len);
  virtual Result<usize> write(u64 off, const void* buf, usize len);
  virtual Result<void> truncate(u64 size);
  virtual Result<void> fsync() { return ok(); }
  // Zero-copy mapping: when the bytes at page-aligned file offset `off` sit
  // page-aligned in a boot image, true with where, and how many bytes from
  // there are the image's (a multiple of the page size, up to the last whole
  // page before the file's end).
  virtual bool image_run(u64 off, platform::Image* which, u64* image_off, u64* run) {
    return false;
  }

  // The object MAP_SHARED maps (its pages are the file's own), or nullptr
  // when the filesystem cannot share its pages (mmap: ENODEV for writable
  // shared mappings, a private copy for read-only ones).
  virtual mm::SharedObject* shared_object() { return nullptr; }

  // ---- Symlinks ----
  virtual Result<usize> readlink(char* buf, usize cap);

  // ---- Opening ----
  // The open file description for open(2) with these flags. The default is
  // a seekable file over read/write (or a directory stream).
  virtual Result<Ref<File>> open(u32 flags);

  FileSystem* fs;
  u64 ino;
  u32 mode;
  u32 nlink = 1;
  u32 uid = 0, gid = 0;
  // A control file of a read-only pseudo filesystem that takes writes
  // (/proc/<pid>/task/<tid>/comm): opening it for writing is allowed.
  bool writable_control = false;
  u64 rdev = 0;
  u64 size = 0;
  Timespec atime, mtime, ctime;
  // Directories: the parent (no reference; nullptr for a filesystem root)
  // and what is mounted here.
  Inode* parent = nullptr;
  Ref<Inode> mounted;
  // A mounted filesystem's root: the directory it is mounted on.
  Inode* mountpoint = nullptr;
};

// poll(2) event bits.
inline constexpr u32 kPollIn = 0x1, kPollPri = 0x2, kPollOut = 0x4, kPollErr = 0x8,
                     kPollHup = 0x10, kPollNval = 0x20, kPollRdnorm = 0x40,
                     kPollWrnorm = 0x100;

class File : public RefCounted {
 public:
  File(Ref<Inode> node, u32 flags) : inode(static_cast<Ref<Inode>&&>(node)), flags(flags) {}

  bool readable() const { return (flags & kOAccmode) != kOWronly && !(flags & kOPath); }
  bool writable() const { return (flags & kOAccmode) != 0 && !(flags & kOPath); }

  // Sequential transfer at the file position (buffers are program memory the
  // caller checked). Defaults: pread/pwrite at pos, then advance.
  virtual Result<usize> read(void* buf, usize len);
  virtual Result<usize> write(const void* buf, usize len);
  // Positional transfer; ESPIPE for pipes, sockets, terminals.
  virtual Result<usize> pread(void* buf, usize len, u64 off);
  virtual Result<usize> pwrite(const void* buf, usize len, u64 off);
  virtual Result<u64> seek(i64 off, int whence);
  virtual Result<i64> ioctl(u32 cmd, u64 arg);
  // Readiness for poll/select (kPoll* bits), without waiting.
  virtual u32 poll_ready();
  // Bytes readable now (FIONREAD), or an error when not meaningful.
  virtual Result<u64> readable_bytes();
  // A hint: how many bytes a write could take now without waiting (a TCP
  // socket's free send buffer); ~0 when unknown or unlimited. sendfile reads
  // no more than that from its source.
  virtual usize write_room() { return ~usize(0); }
  virtual bool seekable() const { return true; }
  virtual bool is_epoll() const { return false; }
  // A fs::SocketFile (socket.h): the socket calls may cast to it.
  virtual bool is_socket() const { return false; }

  Ref<Inode> inode;
  u32 flags;    // access mode and status flags (O_CLOEXEC lives in the fd)
  u64 pos = 0;
};

// ---- The process's view: root, working directory, umask --------------------

struct Namespace {
  Ref<Inode> root;
  Ref<Inode> cwd;
  u32 umask = 022;
};
Namespace& ns();
// Creates the root tmpfs and the namespace; called once at boot.
Result<void> init_namespace();

// Mounts `root` (a filesystem's root directory) on directory `on`.
Result<void> mount(Inode& on, Ref<Inode> root);

// ---- Path resolution ---------------------------------------------------------

enum LookupFlags : u32 {
  kFollow = 1,      // follow a symlink in the last component
  kDirectory = 2,   // the last component must be a directory
};

// Resolves `path` from `start` (a directory; absolute paths start at the root).
Result<Ref<Inode>> resolve(Inode* start, StrView path, u32 flags);

// The parent directory of `path`'s last component and that component's name
// (inside `name_buf`, kNameMax+1 bytes). "/" and paths ending in "." or ".."
// have no last name: EEXIST-style callers see *name empty. *trailing_slash
// says whether the path ended in '/'.
struct ParentName {
  Ref<Inode> dir;
  StrView name;
  bool trailing_slash;
};
Result<ParentName> resolve_parent(Inode* start, StrView path, char* name_buf);

// Creates every missing directory of an absolute path (mode 0755); used at
// boot. Returns the last one.
Result<Ref<Inode>> mkdir_p(StrView path);

// The absolute path of directory `dir` into buf (NUL-terminated); ENOENT when
// it has been removed.
Result<usize> dir_path(Inode* dir, char* buf, usize cap);

// Permission check helper: the program runs as root (uid 0), so only the
// execute bit of regular files and read-only filesystems restrict it.
Result<void> may_write(Inode& node);

}  // namespace mote::fs
