// The 9P2000.L share client (share9p.h).
#include "kernel/fs/share9p.h"

#include "abi/p9.h"
#include "kernel/core/process.h"
#include "kernel/fs/share9p_client.h"
#include "kernel/fs/special.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"

namespace mote::platform {
// Platforms without a share channel (mote's KVM monitor so far).
[[gnu::weak]] u32 share_channel(u32) { return 0; }
[[gnu::weak]] Result<usize> share_rpc(u32, const void*, usize, void*, usize) { return err(ENODEV); }
// Platforms whose channel takes one request at a time (virtio-9p here).
[[gnu::weak]] bool share_pipelined(u32) { return false; }
[[gnu::weak]] Result<void> share_send(u32, const void*, usize) { return err(ENOSYS); }
[[gnu::weak]] Result<usize> share_recv(u32, void*, usize) { return err(ENOSYS); }
}  // namespace mote::platform

namespace mote::fs {

using share9p::Client;

namespace {

constexpr u64 kV9fsMagic = 0x01021997;  // V9FS_MAGIC
constexpr const char* kType = "9p";

// Linux open(2) flags a Tlopen carries.
constexpr u32 kLopenMask = kOAccmode | kOSync | kODsync;

p9::Str str(StrView s) { return p9::Str{s.data, u16(s.size)}; }

bool name_ok(StrView s) { return s.size <= kNameMax && p9::valid_name(str(s)); }

Timespec ts(u64 sec, u64 nsec) { return Timespec{i64(sec), i64(nsec)}; }

// What the server said about names and attributes is trusted for a second,
// as virtiofs's cache=auto and NFS's attribute cache do: a server that
// serves a page from a share would otherwise ask the host for the same
// name and attributes on every request (8 round trips for nginx's open,
// fstat, sendfile, close). Changes the guest makes itself are seen at once;
// changes made on the host, within a second.
constexpr u64 kCacheNs = 1000000000;

bool fresh(u64 at) { return at && platform::monotonic_ns() - at < kCacheNs; }

class ShareNode final : public Inode {
 public:
  ShareNode(FileSystem* f, Client* c, u32 fid, const p9::Attr& a)
      : Inode(f, a.qid.path, a.mode), c_(c), fid_(fid) {
    apply(a);
  }
  ~ShareNode() override {
    mm::kfree(data_);
    for (Entry& e : names_) e.node.reset();
    c_->clunk(fid_);
    c_->clunk(iofid_);
    c_->clunk(wfid_);
  }

  Client* client() const { return c_; }
  u32 fid() const { return fid_; }

  void apply(const p9::Attr& a) {
    mode = a.mode;
    nlink = u32(a.nlink);
    uid = a.uid;
    gid = a.gid;
    rdev = a.rdev;
    size = a.size;
    blocks_ = a.blocks;
    atime = ts(a.atime_sec, a.atime_nsec);
    mtime = ts(a.mtime_sec, a.mtime_nsec);
    ctime = ts(a.ctime_sec, a.ctime_nsec);
    attr_at_ = platform::monotonic_ns();
  }
  Result<void> refresh() {
    apply(TRY(c_->getattr(fid_)));
    return ok();
  }

  // ---- Attributes ----

  Result<void> getattr(Attr* out) override {
    if (!fresh(attr_at_)) TRY(refresh());
    TRY(Inode::getattr(out));
    out->blocks = blocks_;
    return ok();
  }

  Result<void> chmod(u32 perm) override {
    p9::SetAttr a{};
    a.valid = p9::kSetattrMode;
    a.mode = perm & kPermMask;
    return set(a);
  }

  Result<void> chown(u32 u, u32 g) override {
    p9::SetAttr a{};
    if (u != ~0u) a.valid |= p9::kSetattrUid, a.uid = u;
    if (g != ~0u) a.valid |= p9::kSetattrGid, a.gid = g;
    if (!a.valid) return ok();
    return set(a);
  }

  Result<void> set_times(const Timespec* at, const Timespec* mt) override {
    p9::SetAttr a{};
    if (at) {
      a.valid |= p9::kSetattrAtime | p9::kSetattrAtimeSet;
      a.atime_sec = u64(at->sec);
      a.atime_nsec = u64(at->nsec);
    }
    if (mt) {
      a.valid |= p9::kSetattrMtime | p9::kSetattrMtimeSet;
      a.mtime_sec = u64(mt->sec);
      a.mtime_nsec = u64(mt->nsec);
    }
    return set(a);
  }

  Result<FsStat> statfs() override {
    p9::Writer& w = c_->begin(p9::kTstatfs);
    w.u32(fid_);
    p9::Reader r = TRY(c_->call(p9::kRstatfs));
    p9::StatFs s = p9::get_statfs(r);
    if (!r.ok()) return err(EIO);
    FsStat out = TRY(Inode::statfs());
    out.bsize = s.bsize;
    out.blocks = s.blocks;
    out.bfree = s.bfree;
    out.bavail = s.bavail;
    out.files = s.files;
    out.ffree = s.ffree;
    out.namelen = s.namelen;
    return out;
  }

  // ---- Directories ----

  Result<Ref<Inode>> lookup(StrView name) override {
    if (!name_ok(name)) return err(ENOENT);
    for (Entry& e : names_) {
      if (!e.node || !(e.name.view() == name)) continue;
      if (fresh(e.at)) return e.node;
      e.node.reset();
      break;
    }
    u32 nf = TRY(c_->walk(fid_, name));
    Ref<Inode> n = TRY(adopt(nf, name));
    remember(name, n);
    return n;
  }

  // The guest changed what `name` means here: the next lookup asks.
  void forget(StrView name) {
    for (Entry& e : names_)
      if (e.node && e.name.view() == name) e.node.reset();
  }

  Result<Ref<Inode>> mknod(StrView name, u32 m, u64 dev) override {
    TRY(may_write(*this));
    if (!name_ok(name)) return err(EINVAL);
    forget(name);
    switch (m & kIfmt) {
      case kIfreg: {
        // Tlcreate turns a clone of this directory's fid into the new file
        // (open, read-only here); it becomes the new inode's fid.
        u32 nf = TRY(c_->walk(fid_, StrView()));
        p9::Writer& w = c_->begin(p9::kTlcreate);
        w.u32(nf);
        w.str(str(name));
        w.u32(0);  // O_RDONLY
        w.u32(m & kPermMask);
        w.u32(gid);
        auto r = c_->call(p9::kRlcreate);
        if (!r.ok()) {
          c_->clunk(nf);
          return Error{r.error()};
        }
        return adopt(nf, name);
      }
      case kIfdir: {
        p9::Writer& w = c_->begin(p9::kTmkdir);
        w.u32(fid_);
        w.str(str(name));
        w.u32(m & kPermMask);
        w.u32(gid);
        TRY(c_->call(p9::kRmkdir));
        return lookup(name);
      }
      default: {
        p9::Writer& w = c_->begin(p9::kTmknod);
        w.u32(fid_);
        w.str(str(name));
        w.u32(m);
        w.u32(u32(dev >> 8) & 0xfff);
        w.u32(u32(dev & 0xff));
        w.u32(gid);
        TRY(c_->call(p9::kRmknod));
        return lookup(name);
      }
    }
  }

  Result<Ref<Inode>> symlink(StrView name, StrView target) override {
    TRY(may_write(*this));
    if (!name_ok(name)) return err(EINVAL);
    if (target.size > 0xffff) return err(ENAMETOOLONG);
    forget(name);
    p9::Writer& w = c_->begin(p9::kTsymlink);
    w.u32(fid_);
    w.str(str(name));
    w.str(target.data, u32(target.size));
    w.u32(gid);
    TRY(c_->call(p9::kRsymlink));
    return lookup(name);
  }

  Result<void> link(StrView name, Inode& target) override {
    TRY(may_write(*this));
    if (target.fs != fs) return err(EXDEV);
    if (target.is_dir()) return err(EPERM);
    if (!name_ok(name)) return err(EINVAL);
    forget(name);
    static_cast<ShareNode&>(target).attr_at_ = 0;  // its link count changes
    p9::Writer& w = c_->begin(p9::kTlink);
    w.u32(fid_);
    w.u32(static_cast<ShareNode&>(target).fid_);
    w.str(str(name));
    TRY(c_->call(p9::kRlink));
    return ok();
  }

  Result<void> unlink(StrView name) override { return unlinkat(name, 0); }
  Result<void> rmdir(StrView name) override { return unlinkat(name, p9::kAtRemovedir); }

  Result<void> rename(StrView name, Inode& new_dir, StrView new_name, u32 flags) override {
    TRY(may_write(*this));
    if (new_dir.fs != fs) return err(EXDEV);
    if (!new_dir.is_dir()) return err(ENOTDIR);
    if (flags) return err(EINVAL);  // 9P2000.L has no RENAME_NOREPLACE/EXCHANGE (as Linux v9fs)
    if (!name_ok(name) || !name_ok(new_name)) return err(EINVAL);
    forget(name);
    static_cast<ShareNode&>(new_dir).forget(new_name);
    p9::Writer& w = c_->begin(p9::kTrenameat);
    w.u32(fid_);
    w.str(str(name));
    w.u32(static_cast<ShareNode&>(new_dir).fid_);
    w.str(str(new_name));
    TRY(c_->call(p9::kRrenameat));
    return ok();
  }

  Result<void> readdir(u64* cookie, DirSink sink, void* ctx) override {
    if (!is_dir()) return err(ENOTDIR);
    if (iofid_ == p9::kNoFid) iofid_ = TRY(c_->open_clone(fid_, 0200000 /*O_DIRECTORY*/));
    for (;;) {
      p9::Writer& w = c_->begin(p9::kTreaddir);
      w.u32(iofid_);
      w.u64(*cookie);
      w.u32(c_->max_io());
      p9::Reader r = TRY(c_->call(p9::kRreaddir));
      u32 n = r.u32();
      const u8* data = r.take(n);
      if (!r.ok()) return err(EIO);
      if (n == 0) return ok();
      // The entries stay in the reply buffer: the sink copies each out and
      // makes no request.
      p9::Reader d(data, n);
      u64 start = *cookie;
      while (!d.at_end()) {
        p9::Dirent e = p9::get_dirent(d);
        if (!d.ok()) return err(EIO);
        if (!sink(ctx, DirEntry{e.qid.path, e.type, StrView(e.name.data, e.name.size), e.offset}))
          return ok();
        *cookie = e.offset;
      }
      if (*cookie == start) return err(EIO);  // no progress: a broken server
    }
  }

  StrView dir_name() const override { return name_.view(); }

  // ---- Regular files ----

  Result<usize> read(u64 off, void* buf, usize len) override {
    if (is_dir()) return err(EISDIR);
    if (iofid_ == p9::kNoFid) iofid_ = TRY(c_->open_clone(fid_, 0 /*O_RDONLY*/));
    return c_->read(iofid_, off, buf, len);
  }

  // Reads through `fid` (opened for reading). A small file of a read-only
  // share is kept whole for kCacheNs: the guest cannot change it, and the
  // host's changes show within that second, as its names and attributes do.
  Result<usize> read_via(u32 fid, u64 off, void* buf, usize len) {
    if (!fs->read_only || !is_reg()) return c_->read(fid, off, buf, len);
    if (!data_ || !fresh(data_at_)) {
      if (!fresh(attr_at_)) TRY(refresh());
      if (size > kDataMax) return c_->read(fid, off, buf, len);
      TRY(fill(fid));
    }
    if (off >= data_len_) return usize(0);
    usize n = usize(min<u64>(len, data_len_ - off));
    memcpy(buf, data_ + off, n);
    return n;
  }

  Result<usize> write(u64 off, const void* buf, usize len) override {
    if (is_dir()) return err(EISDIR);
    TRY(may_write(*this));
    if (wfid_ == p9::kNoFid) wfid_ = TRY(c_->open_clone(fid_, kOWronly));
    return wrote(off, TRY(c_->write(wfid_, off, buf, len)));
  }

  usize wrote(u64 off, usize n) {
    if (n && off + n > size) size = off + n;
    mtime = ctime = now();
    return n;
  }

  Result<void> truncate(u64 n) override {
    if (is_dir()) return err(EISDIR);
    TRY(may_write(*this));
    p9::SetAttr a{};
    a.valid = p9::kSetattrSize;
    a.size = n;
    TRY(c_->setattr(fid_, a));
    size = n;
    mtime = ctime = now();
    return ok();
  }

  Result<void> fsync() override {
    p9::Writer& w = c_->begin(p9::kTfsync);
    w.u32(fid_);
    w.u32(0);
    TRY(c_->call(p9::kRfsync));
    return ok();
  }

  // ---- Symlinks ----

  Result<usize> readlink(char* buf, usize cap) override {
    p9::Writer& w = c_->begin(p9::kTreadlink);
    w.u32(fid_);
    p9::Reader r = TRY(c_->call(p9::kRreadlink));
    p9::Str t = r.str();
    if (!r.ok()) return err(EIO);
    usize n = min<usize>(cap, t.size);
    memcpy(buf, t.data, n);
    return n;
  }

  // ---- Opening ----

  Result<Ref<File>> open(u32 flags) override;

  Result<void> set_parent(ShareNode* p, StrView name) {
    TRY(name_.set(name));
    parent_ref_ = Ref<Inode>(p);
    parent = p;
    return ok();
  }

 private:
  // An inode for fid `nf` (walked to `name` from here); clunks it on failure.
  Result<Ref<Inode>> adopt(u32 nf, StrView name) {
    auto a = c_->getattr(nf);
    if (!a.ok()) {
      c_->clunk(nf);
      return Error{a.error()};
    }
    auto n = make_ref<ShareNode>(fs, c_, nf, a.value());
    if (!n) {
      c_->clunk(nf);
      return err(ENOMEM);
    }
    if (n->is_dir()) TRY(n->set_parent(this, name));
    return Ref<Inode>(n);
  }

  // The whole file (at most kDataMax bytes) into data_.
  Result<void> fill(u32 fid) {
    mm::kfree(data_);
    data_ = nullptr;
    data_len_ = 0;
    u64 cap = size + 1;  // one more: a file that grew since the getattr is not kept
    u8* d = static_cast<u8*>(mm::kalloc(usize(cap)));
    if (!d) return err(ENOMEM);
    u64 got = 0;
    while (got < cap) {
      auto r = c_->read(fid, got, d + got, usize(cap - got));
      if (!r.ok()) {
        mm::kfree(d);
        return Error{r.error()};
      }
      if (r.value() == 0) break;
      got += r.value();
    }
    if (got > size) {  // grew: read it uncached this time
      mm::kfree(d);
      return err(EAGAIN);
    }
    data_ = d;
    data_len_ = got;
    data_at_ = platform::monotonic_ns();
    return ok();
  }

  // Keeps what lookup found for kCacheNs. Not directories: a directory
  // holds its parent (set_parent), so a parent holding it would keep both
  // alive, and their fids, for good.
  void remember(StrView name, const Ref<Inode>& n) {
    if (n->is_dir()) return;
    Entry* slot = nullptr;
    for (Entry& e : names_)
      if (!e.node || !fresh(e.at)) {
        slot = &e;
        break;
      }
    if (!slot) slot = &names_[next_++ % kNames];
    slot->node.reset();
    if (!slot->name.set(name).ok()) return;
    slot->node = n;
    slot->at = platform::monotonic_ns();
  }

  Result<void> set(const p9::SetAttr& a) {
    TRY(may_write(*this));
    TRY(c_->setattr(fid_, a));
    return refresh();
  }

  Result<void> unlinkat(StrView name, u32 flags) {
    TRY(may_write(*this));
    if (!name_ok(name)) return err(ENOENT);
    forget(name);
    p9::Writer& w = c_->begin(p9::kTunlinkat);
    w.u32(fid_);
    w.str(str(name));
    w.u32(flags);
    TRY(c_->call(p9::kRunlinkat));
    return ok();
  }

  // Names looked up here lately (directories; see remember).
  struct Entry {
    KString name;
    Ref<Inode> node;
    u64 at = 0;
  };
  static constexpr usize kNames = 8;
  static constexpr u64 kDataMax = 256 * 1024;  // read-only shares: files kept whole

  Client* c_;
  u32 fid_;
  Entry names_[kNames];
  usize next_ = 0;
  u64 attr_at_ = 0;         // when the attributes came from the server
  u8* data_ = nullptr;      // read-only shares: the file's bytes (read_via)
  u64 data_len_ = 0;
  u64 data_at_ = 0;
  u32 iofid_ = p9::kNoFid;  // opened for reading (files) or listing (directories)
  u32 wfid_ = p9::kNoFid;   // opened for writing through Inode::write
  u64 blocks_ = 0;
  KString name_;            // directories: the name in the parent (getcwd)
  Ref<Inode> parent_ref_;   // directories: keeps `parent` alive
};

// An open regular file: a fid of its own, opened with the file's access mode.
class ShareFile final : public File {
 public:
  ShareFile(Ref<Inode> n, u32 flags, u32 fid, bool own)
      : File(static_cast<Ref<Inode>&&>(n), flags), fid_(fid), own_(own) {}
  ~ShareFile() override {
    if (own_) node().client()->clunk(fid_);
  }

  Result<usize> pread(void* buf, usize len, u64 off) override {
    auto r = node().read_via(fid_, off, buf, len);
    // A file that grew while it was being kept: read it as it comes.
    if (!r.ok() && r.error() == EAGAIN) return node().client()->read(fid_, off, buf, len);
    return r;
  }

  Result<usize> pwrite(const void* buf, usize len, u64 off) override {
    if (len == 0) return usize(0);
    TRY(may_write(*inode));
    usize n = TRY(node().client()->write(fid_, off, buf, len));
    return node().wrote(off, n);
  }

  Result<usize> write(const void* buf, usize len) override {
    // Appends go after what the host has now.
    if (flags & kOAppend) TRY(node().refresh());
    return File::write(buf, len);
  }

  Result<u64> seek(i64 off, int whence) override {
    if (whence >= 2) TRY(node().refresh());  // SEEK_END, SEEK_DATA, SEEK_HOLE
    return File::seek(off, whence);
  }

  Result<u64> readable_bytes() override {
    TRY(node().refresh());
    return File::readable_bytes();
  }

 private:
  ShareNode& node() { return static_cast<ShareNode&>(*inode); }
  u32 fid_;
  bool own_;  // false: the inode's read fid, shared (ShareNode::open)
};

Result<Ref<File>> ShareNode::open(u32 flags) {
  if (is_dir()) return Inode::open(flags);
  if (is_symlink()) return err(ELOOP);
  if (!is_reg()) return open_special(Ref<Inode>(this), flags);
  // Read-only opens share one fid opened for reading: a 9P read names its
  // offset, so they need no state of their own on the server, and opening
  // and closing the file again costs no round trip.
  if ((flags & kLopenMask) == 0) {
    if (iofid_ == p9::kNoFid) iofid_ = TRY(c_->open_clone(fid_, 0 /*O_RDONLY*/));
    auto f = make_ref<ShareFile>(Ref<Inode>(this), flags, iofid_, false);
    if (!f) return err(ENOMEM);
    return Ref<File>(f);
  }
  u32 nf = TRY(c_->open_clone(fid_, flags & kLopenMask));
  auto f = make_ref<ShareFile>(Ref<Inode>(this), flags, nf, true);
  if (!f) {
    c_->clunk(nf);
    return err(ENOMEM);
  }
  return Ref<File>(f);
}

// One session per transport.
struct Session {
  P9Transport* transport;
  Client* client;
};
Session g_sessions[abi::kMaxShares];

Result<Client*> session(P9Transport& t) {
  for (Session& s : g_sessions)
    if (s.transport == &t) return s.client;
  for (Session& s : g_sessions) {
    if (s.transport) continue;
    void* m = mm::kzalloc(sizeof(Client));
    if (!m) return err(ENOMEM);
    Client* c = new (m) Client(&t);
    auto r = c->start();
    if (!r.ok()) {
      c->~Client();
      mm::kfree(m);
      return Error{r.error()};
    }
    s = Session{&t, c};
    return c;
  }
  return err(ENFILE);
}

// A platform share channel (platform::share_rpc).
struct PlatformTransport final : P9Transport {
  u32 channel = 0;
  bool used = false;
  u64 requests = 0;  // for --verbose (share_report)
  StrView guest_path;
  Result<usize> rpc(const u8* req, usize n, u8* resp, usize cap) override {
    ++requests;
    return platform::share_rpc(channel, req, n, resp, cap);
  }
  bool pipelined() const override { return platform::share_pipelined(channel); }
  Result<void> send(const u8* req, usize n) override {
    ++requests;
    return platform::share_send(channel, req, n);
  }
  Result<usize> recv(u8* resp, usize cap) override { return platform::share_recv(channel, resp, cap); }
};
PlatformTransport g_transports[abi::kMaxShares];

PlatformTransport& transport(u32 channel) {
  for (PlatformTransport& t : g_transports)
    if (t.used && t.channel == channel) return t;
  for (PlatformTransport& t : g_transports)
    if (!t.used) {
      t.used = true;
      t.channel = channel;
      return t;
    }
  return g_transports[0];  // unreachable: at most kMaxShares shares
}

}  // namespace

Result<Ref<Inode>> share9p_attach(P9Transport& t, StrView aname, bool read_only) {
  Client* c = TRY(session(t));
  u32 fid = TRY(c->new_fid());
  p9::Writer& w = c->begin(p9::kTattach);
  w.u32(fid);
  w.u32(p9::kNoFid);  // no authentication
  w.str("root", 4);
  w.str(aname.data, u32(aname.size));
  w.u32(0);  // n_uname: root
  TRY(c->call(p9::kRattach));
  auto a = c->getattr(fid);
  if (!a.ok()) {
    c->clunk(fid);
    return Error{a.error()};
  }
  if ((a.value().mode & kIfmt) != kIfdir) {
    c->clunk(fid);
    return err(ENOTDIR);
  }
  auto* f = static_cast<FileSystem*>(mm::kzalloc(sizeof(FileSystem)));
  if (!f) return err(ENOMEM);
  *f = FileSystem{new_dev(), kType, kV9fsMagic, read_only, 0};
  auto root = make_ref<ShareNode>(f, c, fid, a.value());
  if (!root) return err(ENOMEM);
  return Ref<Inode>(root);
}

void mount_shares(const abi::BootInfo& b) {
  const u8* base = reinterpret_cast<const u8*>(&b);
  for (u32 k = 0; k < b.share_count; ++k) {
    abi::ShareMount m;
    memcpy(&m, base + b.shares_offset + u64(k) * sizeof m, sizeof m);
    StrView path(reinterpret_cast<const char*>(base) + m.guest_path.offset, m.guest_path.length);
    char aname[12];
    usize an = format(aname, sizeof aname, "%u", k);
    const char* what = "attaching";
    int e = 0;
    PlatformTransport& t = transport(platform::share_channel(k));
    t.guest_path = path;
    auto root = share9p_attach(t, StrView(aname, an), m.flags & abi::kShareReadOnly);
    if (!root.ok()) {
      e = root.error();
    } else {
      what = "creating the mount point";
      auto dir = mkdir_p(path);
      if (!dir.ok()) {
        e = dir.error();
      } else if (dir.value()->fs && dir.value()->fs->type == kType) {
        what = "mounting";
        e = EBUSY;  // inodes of a share are made per lookup: nothing can be mounted in one
      } else {
        what = "mounting";
        auto r = mount(*dir.value(), root.value());
        e = r.ok() ? 0 : r.error();
      }
    }
    if (e) {
      const char* n = errno_name(e);
      if (e == ENODEV)
        core::console_printf("mote: -v %.*s: no share channel for it (VM platforms: a virtio-9p "
                             "device with mount tag mote%u)\n", int(path.size), path.data, k);
      else
        core::console_printf("mote: -v %.*s: %s: %s\n", int(path.size), path.data, what,
                             n ? n : "error");
      platform::exit(125);
    }
  }
}

void share_report() {
  for (const PlatformTransport& t : g_transports) {
    if (!t.used) continue;
    u64 sent = 0, used = 0;
    for (const Session& s : g_sessions)
      if (s.transport == &t && s.client) sent = s.client->ahead_sent(), used = s.client->ahead_used();
    core::console_printf("mote: share %.*s: %lu 9P requests, %lu of them reads ahead (%lu used)\n",
                         int(t.guest_path.size), t.guest_path.data, (unsigned long)t.requests,
                         (unsigned long)sent, (unsigned long)used);
  }
}

}  // namespace mote::fs
