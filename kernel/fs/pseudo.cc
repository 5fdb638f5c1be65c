// Building blocks of procfs and sysfs: text snapshots, fixed directories,
// generated files and computed symlinks.
#include "kernel/fs/pseudo.h"

#include <stdarg.h>

#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"

namespace mote::fs {

// ---- Text --------------------------------------------------------------------------

Text::~Text() { mm::kfree(buf_); }

bool Text::grow(usize need) {
  if (failed_) return false;
  if (len_ + need + 1 <= cap_) return true;
  usize cap = cap_ ? cap_ : 1024;
  while (cap < len_ + need + 1) cap *= 2;
  char* b = static_cast<char*>(mm::kalloc(cap));
  if (!b) {
    failed_ = true;
    return false;
  }
  if (len_) memcpy(b, buf_, len_);
  mm::kfree(buf_);
  buf_ = b;
  cap_ = cap;
  return true;
}

void Text::append(const char* fmt, ...) {
  if (!grow(64)) return;
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  usize full = 0;
  usize n = vformat_full(buf_ + len_, cap_ - len_, fmt, ap, &full);
  va_end(ap);
  if (n < full) {  // truncated: make room and format again
    if (grow(full)) n = vformat_full(buf_ + len_, cap_ - len_, fmt, again, &full);
    else n = 0;
  }
  va_end(again);
  len_ += n;
}

void Text::raw(const void* bytes, usize n) {
  if (!n || !grow(n)) return;
  memcpy(buf_ + len_, bytes, n);
  len_ += n;
}

void Text::pad_to(usize col) {
  usize line = len_;
  while (line > 0 && buf_[line - 1] != '\n') --line;
  while (len_ - line < col) put(' ');
}

char* Text::release() {
  char* b = buf_;
  buf_ = nullptr;
  len_ = cap_ = 0;
  return b;
}

usize copy_out(char* buf, usize cap, StrView s) {
  usize n = min(cap, s.size);
  memcpy(buf, s.data, n);
  return n;
}

// ---- Snapshot files ---------------------------------------------------------------

namespace {

class TextFile final : public File {
 public:
  TextFile(Ref<Inode> node, u32 flags, char* data, usize len)
      : File(node, flags), data_(data), len_(len) {}
  ~TextFile() override { mm::kfree(data_); }

  Result<usize> pread(void* buf, usize len, u64 off) override {
    if (off >= len_) return usize(0);
    usize n = usize(min<u64>(len, len_ - off));
    memcpy(buf, data_ + off, n);
    return n;
  }
  Result<usize> pwrite(const void*, usize, u64) override { return err(EACCES); }
  Result<u64> readable_bytes() override { return err(ENOTTY); }

 private:
  char* data_;
  usize len_;
};

// A read-only file whose text `gen` writes at each open.
class GenFile final : public Inode {
 public:
  GenFile(FileSystem* fs, u64 ino, u32 mode, TextGen gen) : Inode(fs, ino, mode), gen_(gen) {}

  Result<Ref<File>> open(u32 flags) override {
    if ((flags & kOAccmode) != 0) return err(EACCES);
    Text t;
    gen_(t);
    return open_text(Ref<Inode>(this), flags, t);
  }
  // Direct reads (a mapping of the file) see fresh text.
  Result<usize> read(u64 off, void* buf, usize len) override {
    Text t;
    gen_(t);
    if (t.failed()) return err(ENOMEM);
    if (off >= t.size()) return usize(0);
    usize n = usize(min<u64>(len, t.size() - off));
    memcpy(buf, t.data() + off, n);
    return n;
  }

 private:
  TextGen gen_;
};

class PseudoLink final : public Inode {
 public:
  PseudoLink(FileSystem* fs, u64 ino, LinkGen gen)
      : Inode(fs, ino, kIflnk | 0777), gen_(gen) {}
  Result<void> set_target(StrView t) {
    TRY(target_.set(t));
    size = t.size;
    return ok();
  }
  Result<usize> readlink(char* buf, usize cap) override {
    if (gen_) return gen_(buf, cap);
    return copy_out(buf, cap, target_.view());
  }

 private:
  LinkGen gen_;
  KString target_;
};

}  // namespace

Result<Ref<File>> open_text(Ref<Inode> node, u32 flags, Text& text) {
  if (text.failed()) return err(ENOMEM);
  usize len = text.size();
  char* data = text.release();
  auto f = make_ref<TextFile>(static_cast<Ref<Inode>&&>(node), flags, data, len);
  if (!f) {
    mm::kfree(data);
    return err(ENOMEM);
  }
  return Ref<File>(f);
}

Result<FileSystem*> pseudo_fs(const char* type, u64 magic) {
  auto* f = static_cast<FileSystem*>(mm::kzalloc(sizeof(FileSystem)));
  if (!f) return err(ENOMEM);
  *f = FileSystem{new_dev(), type, magic, true, 1};
  return f;
}

// ---- Directories --------------------------------------------------------------------

u64 parent_ino(const Inode& dir) {
  if (dir.parent) return dir.parent->ino;
  if (dir.mountpoint && dir.mountpoint->parent) return dir.mountpoint->parent->ino;
  return dir.ino;
}

PseudoDir::PseudoDir(FileSystem* f, u32 perm, Inode* p)
    : Inode(f, f->next_ino++, kIfdir | (perm & kPermMask)) {
  parent = p;
  nlink = 2;
  i64 boot_s = i64(platform::boot_info().wall_clock_ns / 1000000000ull);
  atime = mtime = ctime = Timespec{boot_s, 0};
}

Result<Ref<Inode>> PseudoDir::lookup(StrView name) {
  // Entries made up front answer without filling the rest (fill_later).
  for (Entry& e : entries_)
    if (e.name.view() == name) return e.node;
  if (!fill_) return err(ENOENT);
  TRY(ensure());
  for (Entry& e : entries_)
    if (e.name.view() == name) return e.node;
  return err(ENOENT);
}

Result<void> PseudoDir::readdir(u64* cookie, DirSink sink, void* ctx) {
  TRY(ensure());
  if (*cookie == 0) {
    if (!sink(ctx, DirEntry{ino, kDtDir, ".", 1})) return ok();
    *cookie = 1;
  }
  if (*cookie == 1) {
    if (!sink(ctx, DirEntry{parent_ino(*this), kDtDir, "..", 2})) return ok();
    *cookie = 2;
  }
  for (usize i = usize(*cookie - 2); i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (!sink(ctx, DirEntry{e.node->ino, dtype_of(e.node->mode), e.name.view(), i + 3}))
      return ok();
    *cookie = i + 3;
  }
  return ok();
}

Result<void> PseudoDir::add(StrView name, Ref<Inode> node) {
  Entry e;
  TRY(e.name.set(name));
  node->atime = node->mtime = node->ctime = atime;
  e.node = static_cast<Ref<Inode>&&>(node);
  TRY(entries_.push(static_cast<Entry&&>(e)));
  return ok();
}

Result<Ref<PseudoDir>> PseudoDir::add_dir(StrView name, u32 perm) {
  auto d = make_ref<PseudoDir>(fs, perm, this);
  if (!d) return err(ENOMEM);
  TRY(d->name_.set(name));
  TRY(add(name, Ref<Inode>(d)));
  ++nlink;
  return d;
}

Result<void> PseudoDir::add_file(StrView name, TextGen gen, u32 perm) {
  auto f = make_ref<GenFile>(fs, fs->next_ino++, kIfreg | (perm & kPermMask), gen);
  if (!f) return err(ENOMEM);
  return add(name, Ref<Inode>(f));
}

Result<void> PseudoDir::add_link(StrView name, StrView target) {
  auto l = make_ref<PseudoLink>(fs, fs->next_ino++, nullptr);
  if (!l) return err(ENOMEM);
  TRY(l->set_target(target));
  return add(name, Ref<Inode>(l));
}

Result<void> PseudoDir::add_link(StrView name, LinkGen gen) {
  auto l = make_ref<PseudoLink>(fs, fs->next_ino++, gen);
  if (!l) return err(ENOMEM);
  return add(name, Ref<Inode>(l));
}

}  // namespace mote::fs
