#include "kernel/fs/tmpfs.h"

#include "kernel/fs/special.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/mm/vma.h"

namespace mote::fs {

namespace {

constexpr u64 kTmpfsMagic = 0x01021994;  // TMPFS_MAGIC

MemoryCharge g_charge{};
u64 g_bytes = 0;

Result<void> charge_page() {
  if (g_charge.charge) {
    auto r = g_charge.charge(kPageSize);
    if (!r.ok()) return err(ENOSPC);
  }
  g_bytes += kPageSize;
  return ok();
}

void uncharge_page() {
  if (g_charge.uncharge) g_charge.uncharge(kPageSize);
  g_bytes -= kPageSize;
}

u32 name_hash(StrView s) {
  u32 h = 2166136261u;  // FNV-1a
  for (usize i = 0; i < s.size; ++i) h = (h ^ u8(s.data[i])) * 16777619u;
  return h;
}

// A file's pages are heap pages (mm::page_alloc) until it is mapped
// MAP_SHARED; then the mapped ones become platform shared pages
// (platform::shared_page_alloc), which the core reads and writes at the same
// place in blocks_ while the program maps them: read/write and every shared
// mapping see the same bytes. A page stays shared until it is freed.
class TmpFile final : public Inode, public mm::SharedObject {
 public:
  using Inode::Inode;
  ~TmpFile() override {
    for (u64 p = 0; p < blocks_.size(); ++p)
      if (blocks_[p]) free_block(p);
  }

  // Initial contents from constant core data (read in place until written).
  void set_const(const u8* data, u64 n) {
    src_ = data;
    image_size_ = n;
    size = n;
  }

  void set_image(platform::Image which, u64 off, u64 n) {
    image_ = which;
    image_off_ = off;
    image_size_ = n;
    src_ = platform::image(which).data + off;
    mappable_ = true;
    size = n;
  }

  Result<usize> read(u64 off, void* buf, usize len) override {
    if (off >= size) return usize(0);
    len = usize(min<u64>(len, size - off));
    u8* out = static_cast<u8*>(buf);
    usize done = 0;
    while (done < len) {
      u64 at = off + done;
      u64 page = at / kPageSize, in = at % kPageSize;
      usize n = usize(min<u64>(len - done, kPageSize - in));
      u8* b = page < blocks_.size() ? blocks_[page] : nullptr;
      if (b) {
        memcpy(out + done, b + in, n);
      } else {
        // From the image where it covers, zero past it.
        usize from_img = at < image_size_ ? usize(min<u64>(n, image_size_ - at)) : 0;
        if (from_img) memcpy(out + done, src_ + at, from_img);
        if (from_img < n) memset(out + done + from_img, 0, n - from_img);
      }
      done += n;
    }
    // No atime update (noatime): a clock read per read() costs a host call,
    // and on a VM the first one calibrates the TSC.
    return len;
  }

  Result<usize> write(u64 off, const void* buf, usize len) override {
    if (off + len < off) return err(EFBIG);
    if (off > size) zero_beyond(size, off);
    const u8* in = static_cast<const u8*>(buf);
    usize done = 0;
    while (done < len) {
      u64 at = off + done;
      u64 page = at / kPageSize, o = at % kPageSize;
      usize n = usize(min<u64>(len - done, kPageSize - o));
      auto b = block(page);
      if (!b.ok()) {
        if (done) break;
        return Error{b.error()};
      }
      memcpy(b.value() + o, in + done, n);
      done += n;
      if (at + n > size) size = at + n;
    }
    mtime = ctime = now();
    return done;
  }

  Result<void> truncate(u64 n) override {
    if (n > size) zero_beyond(size, n);
    if (n < size) {
      u64 keep = page_up(n) / kPageSize;
      // Pages a shared mapping still maps stay (zeroed: the mapping reads
      // zeros past the end, where Linux would raise SIGBUS); others go.
      u64 kept = keep;
      for (u64 p = keep; p < blocks_.size(); ++p) {
        if (!blocks_[p]) continue;
        if (maps_ && is_shared(p)) {
          memset(blocks_[p], 0, kPageSize);
          kept = p + 1;
        } else {
          free_block(p);
        }
      }
      if (blocks_.size() > kept) blocks_.truncate(usize(kept));
      if (shared_.size() > kept) shared_.truncate(usize(kept));
      if (n % kPageSize && n / kPageSize < blocks_.size() && blocks_[n / kPageSize])
        memset(blocks_[n / kPageSize] + n % kPageSize, 0, kPageSize - n % kPageSize);
      if (image_size_ > n) image_size_ = n;
    }
    size = n;
    mtime = ctime = now();
    return ok();
  }

  bool image_run(u64 off, platform::Image* which, u64* image_off, u64* run) override {
    if (!mappable_ || !image_size_ || !page_aligned(image_off_) || !page_aligned(off)) return false;
    u64 end = page_down(min(image_size_, size));
    u64 at = off;
    while (at < end && !(at / kPageSize < blocks_.size() && blocks_[at / kPageSize]))
      at += kPageSize;
    if (at == off) return false;
    *which = image_;
    *image_off = image_off_ + off;
    *run = at - off;
    return true;
  }

  Result<void> getattr(Attr* a) override {
    TRY(Inode::getattr(a));
    a->blocks = page_up(size) / 512;
    return ok();
  }

  mm::SharedObject* shared_object() override { return this; }

  // Each mapping piece holds a reference: the file outlives its fds and
  // its names while mapped.
  void map_hold() override {
    ref_get();
    ++maps_;
  }
  void map_release() override {
    --maps_;
    Ref<Inode> last(this);  // drops the file when this was its last reference
    ref_put();
  }

  Result<void> shared_pages(u64 first, usize n, u64* tokens) override {
    for (usize i = 0; i < n; ++i) {
      u64 page = first + i;
      if (page >= (u64(1) << 32)) return err(EFBIG);
      while (blocks_.size() <= page) TRY(blocks_.push(nullptr));
      while (shared_.size() <= page) TRY(shared_.push(0));
      if (!shared_[page]) TRY(make_shared(page));
      tokens[i] = shared_[page] & ~u64(1);
    }
    return ok();
  }

 private:
  bool is_shared(u64 page) const { return page < shared_.size() && shared_[page]; }

  void free_block(u64 page) {
    if (is_shared(page)) {
      platform::shared_page_free(shared_[page] & ~u64(1));
      shared_[page] = 0;
    } else {
      mm::page_free(blocks_[page]);
    }
    blocks_[page] = nullptr;
    uncharge_page();
  }

  // Page `page` becomes a shared page holding the bytes the file has there.
  Result<void> make_shared(u64 page) {
    u8* old = blocks_[page];
    if (!old) TRY(charge_page());  // a heap block is charged already
    auto sp = platform::shared_page_alloc();
    if (!sp.ok()) {
      if (!old) uncharge_page();
      return err(ENOMEM);
    }
    u8* b = reinterpret_cast<u8*>(sp.value().addr);  // zeroed
    u64 at = page * kPageSize;
    if (old) {
      memcpy(b, old, kPageSize);
      mm::page_free(old);
    } else if (at < image_size_) {
      memcpy(b, src_ + at, usize(min<u64>(kPageSize, image_size_ - at)));
    }
    blocks_[page] = b;
    shared_[page] = sp.value().token | 1;  // tokens are page-aligned: bit 0 marks "shared"
    return ok();
  }

  // The file grows from `from` to `to`: bytes a shared mapping stored past
  // the old end must not show (Linux zeroes them too).
  void zero_beyond(u64 from, u64 to) {
    if (shared_.empty()) return;  // only a mapping stores past the end
    for (u64 at = from; at < to;) {
      u64 page = at / kPageSize, in = at % kPageSize;
      if (page >= blocks_.size()) break;
      u64 n = min<u64>(to - at, kPageSize - in);
      if (blocks_[page]) memset(blocks_[page] + in, 0, usize(n));
      at += n;
    }
  }

  // The heap block of page `page`, created (from the image or zeros) on first
  // write.
  Result<u8*> block(u64 page) {
    if (page >= (u64(1) << 32)) return err(EFBIG);
    while (blocks_.size() <= page) TRY(blocks_.push(nullptr));
    if (blocks_[page]) return blocks_[page];
    TRY(charge_page());
    u8* b = static_cast<u8*>(mm::page_alloc());
    if (!b) {
      uncharge_page();
      return err(ENOSPC);
    }
    u64 at = page * kPageSize;
    usize from_img = at < image_size_ ? usize(min<u64>(kPageSize, image_size_ - at)) : 0;
    if (from_img) memcpy(b, src_ + at, from_img);
    memset(b + from_img, 0, kPageSize - from_img);
    blocks_[page] = b;
    return b;
  }

  Vec<u8*> blocks_;
  Vec<u64> shared_;  // per page: its shared page's token | 1, or 0 (a heap block)
  u64 maps_ = 0;     // mapping pieces holding the file (map_hold)
  platform::Image image_ = platform::Image::Program;
  u64 image_off_ = 0;
  u64 image_size_ = 0;  // file bytes [0, image_size_) not in blocks_ are src_'s
  const u8* src_ = nullptr;  // the file's initial bytes: a boot image's, or constant data
  bool mappable_ = false;    // src_ is in a boot image (zero-copy mapping)
};

class TmpSymlink final : public Inode {
 public:
  using Inode::Inode;
  Result<void> set_target(StrView t) {
    TRY(target_.set(t));
    size = t.size;
    return ok();
  }
  Result<usize> readlink(char* buf, usize cap) override {
    usize n = min(cap, target_.size());
    memcpy(buf, target_.c_str(), n);
    return n;
  }

 private:
  KString target_;
};

// FIFOs, sockets and device nodes: no data of their own.
class TmpNode final : public Inode {
 public:
  using Inode::Inode;
  Result<Ref<File>> open(u32 flags) override { return open_special(Ref<Inode>(this), flags); }
};

class TmpDir final : public Inode {
 public:
  using Inode::Inode;

  struct Entry {
    KString name;
    u32 hash;
    u64 seq;
    Ref<Inode> node;
  };

  StrView dir_name() const override { return name_.view(); }
  Result<void> set_name(StrView n) { return name_.set(n); }

  Result<Ref<Inode>> lookup(StrView name) override {
    TRY(ensure());
    Entry* e = find(name);
    if (!e) return err(ENOENT);
    return e->node;
  }

  Result<Ref<Inode>> mknod(StrView name, u32 m, u64 dev) override {
    TRY(ensure());
    if (find(name)) return err(EEXIST);
    Ref<Inode> node;
    switch (m & kIfmt) {
      case kIfdir: {
        auto d = make_ref<TmpDir>(fs, fs->next_ino++, m);
        if (!d) return err(ENOMEM);
        TRY(d->set_name(name));
        d->parent = this;
        d->nlink = 2;
        node = d;
        break;
      }
      case kIfreg: node = make_ref<TmpFile>(fs, fs->next_ino++, m); break;
      case kIfchr: case kIfblk: case kIfifo: case kIfsock:
        node = make_ref<TmpNode>(fs, fs->next_ino++, m);
        if (node) node->rdev = dev;
        break;
      default: return err(EINVAL);
    }
    if (!node) return err(ENOMEM);
    TRY(add(name, node));
    if (node->is_dir()) ++nlink;
    return node;
  }

  Result<Ref<Inode>> symlink(StrView name, StrView target) override {
    TRY(ensure());
    if (find(name)) return err(EEXIST);
    auto l = make_ref<TmpSymlink>(fs, fs->next_ino++, kIflnk | 0777);
    if (!l) return err(ENOMEM);
    TRY(l->set_target(target));
    Ref<Inode> node = l;
    TRY(add(name, node));
    return node;
  }

  Result<void> link(StrView name, Inode& target) override {
    if (target.fs != fs) return err(EXDEV);
    if (target.is_dir()) return err(EPERM);
    TRY(ensure());
    if (find(name)) return err(EEXIST);
    TRY(add(name, Ref<Inode>(&target)));
    ++target.nlink;
    target.ctime = now();
    return ok();
  }

  Result<void> unlink(StrView name) override {
    TRY(ensure());
    Entry* e = find(name);
    if (!e) return err(ENOENT);
    if (e->node->is_dir()) return err(EISDIR);
    e->node->nlink--;
    e->node->ctime = now();
    erase(e);
    return ok();
  }

  Result<void> rmdir(StrView name) override {
    TRY(ensure());
    Entry* e = find(name);
    if (!e) return err(ENOENT);
    Inode* d = e->node.get();
    if (!d->is_dir()) return err(ENOTDIR);
    if (d->mounted) return err(EBUSY);
    TRY(static_cast<TmpDir*>(d)->ensure());
    if (!static_cast<TmpDir*>(d)->entries_.empty()) return err(ENOTEMPTY);
    d->nlink = 0;
    --nlink;
    erase(e);
    return ok();
  }

  Result<void> rename(StrView name, Inode& new_dir_in, StrView new_name, u32 flags) override {
    if (new_dir_in.fs != fs) return err(EXDEV);
    if (!new_dir_in.is_dir()) return err(ENOTDIR);
    auto& to_dir = static_cast<TmpDir&>(new_dir_in);
    TRY(ensure());
    TRY(to_dir.ensure());
    Entry* src = find(name);
    if (!src) return err(ENOENT);
    Ref<Inode> node = src->node;
    if (node->is_dir()) {
      // A directory cannot move below itself.
      for (Inode* p = &to_dir; p; p = p->parent)
        if (p == node.get()) return err(EINVAL);
    }
    Entry* dst = to_dir.find(new_name);
    if (dst && dst->node == node) return ok();  // same file: nothing to do
    if (flags & 2) {  // RENAME_EXCHANGE
      if (!dst) return err(ENOENT);
      Ref<Inode> other = dst->node;
      dst->node = node;
      src->node = other;
      fix_moved(node.get(), &to_dir, new_name);
      fix_moved(other.get(), this, name);
      if (node->is_dir() != other->is_dir() && this != &to_dir) {
        if (node->is_dir()) --nlink, ++to_dir.nlink;
        else ++nlink, --to_dir.nlink;
      }
      return ok();
    }
    if (dst) {
      if (flags & 1) return err(EEXIST);  // RENAME_NOREPLACE
      Inode* old = dst->node.get();
      if (node->is_dir() && !old->is_dir()) return err(ENOTDIR);
      if (!node->is_dir() && old->is_dir()) return err(EISDIR);
      if (old->is_dir()) {
        if (old->mounted) return err(EBUSY);
        TRY(static_cast<TmpDir*>(old)->ensure());
        if (!static_cast<TmpDir*>(old)->entries_.empty()) return err(ENOTEMPTY);
        old->nlink = 0;
        --to_dir.nlink;
      } else {
        old->nlink--;
      }
      old->ctime = now();
      to_dir.erase(dst);  // may move this directory's entries: src is stale now
    }
    TRY(to_dir.add(new_name, node));
    erase(find_node(name, node.get()));
    if (node->is_dir() && this != &to_dir) {
      --nlink;
      ++to_dir.nlink;
    }
    fix_moved(node.get(), &to_dir, new_name);
    return ok();
  }

  Result<void> readdir(u64* cookie, DirSink sink, void* ctx) override {
    TRY(ensure());
    if (*cookie == 0) {
      if (!sink(ctx, DirEntry{ino, kDtDir, ".", 1})) return ok();
      *cookie = 1;
    }
    if (*cookie == 1) {
      u64 pino = parent ? parent->ino : ino;
      if (mountpoint && mountpoint->parent) pino = mountpoint->parent->ino;
      if (!sink(ctx, DirEntry{pino, kDtDir, "..", 2})) return ok();
      *cookie = 2;
    }
    for (Entry& e : entries_) {
      if (e.seq + 2 < *cookie) continue;
      if (!sink(ctx, DirEntry{e.node->ino, dtype_of(e.node->mode), e.name.view(), e.seq + 3}))
        return ok();
      *cookie = e.seq + 3;
    }
    return ok();
  }

  Result<FsStat> statfs() override {
    FsStat s = TRY(Inode::statfs());
    s.blocks = (64ull << 30) / 4096;
    s.bfree = s.bavail = s.blocks - g_bytes / 4096;
    s.files = 1 << 20;
    s.ffree = s.files - min<u64>(fs->next_ino, s.files);
    return s;
  }

  void set_loader(DirLoader l, u64 cookie) {
    loader_ = l;
    loader_cookie_ = cookie;
  }

  Result<void> ensure() {
    if (!loader_) return ok();
    DirLoader l = loader_;
    loader_ = nullptr;
    return l(*this, loader_cookie_);
  }

  Result<void> add(StrView name, Ref<Inode> node) {
    Entry e;
    TRY(e.name.set(name));
    e.hash = name_hash(name);
    e.seq = next_seq_++;
    e.node = static_cast<Ref<Inode>&&>(node);
    TRY(entries_.push(static_cast<Entry&&>(e)));
    mtime = ctime = now();
    return ok();
  }

 private:
  Entry* find(StrView name) {
    u32 h = name_hash(name);
    for (Entry& e : entries_)
      if (e.hash == h && e.name.view() == name) return &e;
    return nullptr;
  }
  Entry* find_node(StrView name, Inode* node) {
    u32 h = name_hash(name);
    for (Entry& e : entries_)
      if (e.hash == h && e.node.get() == node && e.name.view() == name) return &e;
    return nullptr;
  }
  void erase(Entry* e) {
    entries_.erase(usize(e - entries_.begin()));
    mtime = ctime = now();
  }
  static void fix_moved(Inode* node, TmpDir* dir, StrView name) {
    node->ctime = now();
    if (!node->is_dir()) return;
    node->parent = dir;
    (void)static_cast<TmpDir*>(node)->set_name(name);
  }

  Vec<Entry> entries_;
  u64 next_seq_ = 0;
  KString name_;
  // Entries not made yet (tmpfs_set_loader): the loader runs on first use.
  DirLoader loader_ = nullptr;
  u64 loader_cookie_ = 0;
};

}  // namespace

Result<Ref<Inode>> tmpfs_create(u32 perm) {
  auto* f = static_cast<FileSystem*>(mm::kzalloc(sizeof(FileSystem)));
  if (!f) return err(ENOMEM);
  *f = FileSystem{new_dev(), "tmpfs", kTmpfsMagic, false, 2, true, 0};
  auto root = make_ref<TmpDir>(f, 1, kIfdir | (perm & kPermMask));
  if (!root) return err(ENOMEM);
  root->nlink = 2;
  return Ref<Inode>(root);
}

Result<Ref<Inode>> tmpfs_const_file(Inode& dir, StrView name, u32 mode, const void* data,
                                    u64 size) {
  Ref<Inode> node = TRY(dir.mknod(name, kIfreg | (mode & kPermMask), 0));
  static_cast<TmpFile*>(node.get())->set_const(static_cast<const u8*>(data), size);
  return node;
}

Result<Ref<Inode>> tmpfs_image_file(Inode& dir, StrView name, u32 mode, platform::Image which,
                                    u64 offset, u64 size) {
  Ref<Inode> node = TRY(dir.mknod(name, kIfreg | (mode & kPermMask), 0));
  static_cast<TmpFile*>(node.get())->set_image(which, offset, size);
  return node;
}

Result<Ref<Inode>> tmpfs_anon_file(u64 size) {
  // Like Linux's internal shm mount: one filesystem for all such files.
  static FileSystem shm{0, "tmpfs", kTmpfsMagic, false, 1, false, 0};
  if (!shm.dev) shm.dev = new_dev();
  auto f = make_ref<TmpFile>(&shm, shm.next_ino++, kIfreg | 0600);
  if (!f) return err(ENOMEM);
  f->nlink = 0;
  f->size = size;
  return Ref<Inode>(f);
}

u64 tmpfs_bytes() { return g_bytes; }

void tmpfs_set_loader(Inode& dir, DirLoader load, u64 cookie) {
  static_cast<TmpDir&>(dir).set_loader(load, cookie);
}

void tmpfs_set_charge(MemoryCharge c) { g_charge = c; }

}  // namespace mote::fs
