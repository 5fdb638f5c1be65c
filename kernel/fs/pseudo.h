// Pseudo filesystems: /dev (devfs.cc), /proc (procfs.cc, procfs_pid.cc) and
// /sys (sysfs.cc), and the pieces procfs and sysfs are built from
// (pseudo.cc): directories with a fixed list of entries, read-only files
// whose text is generated when they are opened (so one open file reads one
// consistent snapshot, as Linux's seq_file does), and symlinks whose target
// is computed when read.
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

// The filesystems mount_standard() (mounts.cc) mounts; each returns its root.
Result<Ref<Inode>> devfs_create();
Result<Ref<Inode>> procfs_create();
Result<Ref<Inode>> sysfs_create();

// Growable text on the kernel heap. Running out of memory is remembered
// (failed()) rather than reported per call, so generators stay simple.
class Text {
 public:
  Text() = default;
  Text(const Text&) = delete;
  Text& operator=(const Text&) = delete;
  ~Text();

  void append(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void raw(const void* bytes, usize n);
  void put(char c) { raw(&c, 1); }
  void put(StrView s) { raw(s.data, s.size); }
  // Spaces up to column `col` of the current line (Linux's seq_pad).
  void pad_to(usize col);

  bool failed() const { return failed_; }
  const char* data() const { return buf_; }
  usize size() const { return len_; }
  // Hands the buffer to the caller (free with mm::kfree); the Text is empty.
  char* release();

 private:
  bool grow(usize need);
  char* buf_ = nullptr;
  usize len_ = 0;
  usize cap_ = 0;
  bool failed_ = false;
};

// Writes a file's contents.
using TextGen = void (*)(Text& out);
// Writes a symlink's target into buf (at most cap bytes); returns its length.
using LinkGen = Result<usize> (*)(char* buf, usize cap);

// A read-only filesystem instance for a pseudo filesystem.
Result<FileSystem*> pseudo_fs(const char* type, u64 magic);

// An open file over a snapshot of text taken at open time.
Result<Ref<File>> open_text(Ref<Inode> node, u32 flags, Text& text);

// A directory whose entries are added when the filesystem is built.
class PseudoDir : public Inode {
 public:
  PseudoDir(FileSystem* fs, u32 perm, Inode* parent);

  Result<Ref<Inode>> lookup(StrView name) override;
  Result<void> readdir(u64* cookie, DirSink sink, void* ctx) override;
  StrView dir_name() const override { return name_.view(); }

  Result<void> add(StrView name, Ref<Inode> node);
  Result<Ref<PseudoDir>> add_dir(StrView name, u32 perm = 0555);
  Result<void> add_file(StrView name, TextGen gen, u32 perm = 0444);
  Result<void> add_link(StrView name, StrView target);
  Result<void> add_link(StrView name, LinkGen gen);
  // Entries made on first use by fill(*this): a run that only reads
  // /proc/self/exe (glibc's start-up) does not build /proc/sys.
  void fill_later(Result<void> (*fill)(PseudoDir& dir)) { fill_ = fill; }

 private:
  Result<void> ensure() {
    if (!fill_) return ok();
    auto f = fill_;
    fill_ = nullptr;
    freeze_time(true);
    auto r = f(*this);
    freeze_time(false);
    return r;
  }
  Result<void> (*fill_)(PseudoDir& dir) = nullptr;
  struct Entry {
    KString name;
    Ref<Inode> node;
  };
  Vec<Entry> entries_;
  KString name_;
};

// The ".." inode number of a directory for readdir.
u64 parent_ino(const Inode& dir);

// Helpers for generators.
// A string into buf (truncated to cap); returns the length.
usize copy_out(char* buf, usize cap, StrView s);
// Linux's major/minor of an encoded device number (new_decode_dev).
inline u32 dev_major(u64 dev) { return u32((dev & 0xfff00) >> 8); }
inline u32 dev_minor(u64 dev) { return u32((dev & 0xff) | ((dev >> 12) & 0xfff00)); }

// The name of a terminal's device number relative to /dev ("pts/0",
// "tty1", "ttyS0"); false for a device that is not a terminal (devfs.cc).
bool tty_dev_name(u64 rdev, char* buf, usize cap);

// Fills /proc/<pid> (procfs_pid.cc): its exe, cwd and root links (made up
// front: glibc reads /proc/self/exe at every start), then the rest.
Result<void> procfs_fill_pid_links(PseudoDir& dir);
Result<void> procfs_fill_pid(PseudoDir& dir);

// The path /proc/self/fd/N shows for an open file: its absolute path when
// the file can be found in the tree, "pipe:[ino]", "socket:[ino]",
// the terminal's /dev path, or "anon_inode:[ino]" (procfs_pid.cc).
Result<usize> file_link_text(File& f, char* buf, usize cap);
// The absolute path of a file in the tree (the program's own: the path it
// was started by), ENOENT when it is in none (procfs_pid.cc).
Result<usize> inode_path(Inode* n, char* buf, usize cap);

}  // namespace mote::fs
