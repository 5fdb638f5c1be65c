// 9P2000.L: the file protocol between the kernel's share client
// (kernel/fs/share9p.cc) and the monitor's share server
// (monitor/share/server.cc). The same dialect QEMU's virtio-9p and the Linux
// v9fs client speak, so the client can later run over virtio-9p on the VM
// platforms unchanged.
//
// References: the 9P2000.L protocol description (diod's protocol.md, Linux
// include/net/9p/9p.h for the message numbers), and intro(5) of Plan 9 for
// the framing. Every message is
//     size[4] type[1] tag[2] body...
// little-endian; strings are len[2] bytes (no NUL); a qid is
//     type[1] version[4] path[8].
// Errors come back as Rlerror ecode[4], a Linux errno.
//
// Freestanding (no libc): encoders and decoders below are used by the
// kernel, the monitor and the host unit tests alike.
#pragma once

#include <stdint.h>

namespace mote::p9 {

inline constexpr const char* kVersion = "9P2000.L";
inline constexpr uint32_t kMsize = 128 * 1024;  // largest message either side sends
inline constexpr uint32_t kHeader = 7;          // size[4] type[1] tag[2]
// Tread/Twrite/Treaddir payload that always fits one message of kMsize.
inline constexpr uint32_t kIoHeader = 4 + 1 + 2 + 4 + 8 + 4;  // Twrite: ... fid offset count
inline constexpr uint32_t kMaxIo = kMsize - kIoHeader;
inline constexpr uint32_t kNoFid = 0xffffffffu;
inline constexpr uint16_t kNoTag = 0xffff;

// Message numbers (include/net/9p/9p.h); every R is its T plus one.
enum Type : uint8_t {
  kTlerror = 6, kRlerror = 7,
  kTstatfs = 8, kRstatfs = 9,
  kTlopen = 12, kRlopen = 13,
  kTlcreate = 14, kRlcreate = 15,
  kTsymlink = 16, kRsymlink = 17,
  kTmknod = 18, kRmknod = 19,
  kTrename = 20, kRrename = 21,
  kTreadlink = 22, kRreadlink = 23,
  kTgetattr = 24, kRgetattr = 25,
  kTsetattr = 26, kRsetattr = 27,
  kTxattrwalk = 30, kRxattrwalk = 31,
  kTxattrcreate = 32, kRxattrcreate = 33,
  kTreaddir = 40, kRreaddir = 41,
  kTfsync = 50, kRfsync = 51,
  kTlock = 52, kRlock = 53,
  kTgetlock = 54, kRgetlock = 55,
  kTlink = 70, kRlink = 71,
  kTmkdir = 72, kRmkdir = 73,
  kTrenameat = 74, kRrenameat = 75,
  kTunlinkat = 76, kRunlinkat = 77,
  kTversion = 100, kRversion = 101,
  kTauth = 102, kRauth = 103,
  kTattach = 104, kRattach = 105,
  kTflush = 108, kRflush = 109,
  kTwalk = 110, kRwalk = 111,
  kTread = 116, kRread = 117,
  kTwrite = 118, kRwrite = 119,
  kTclunk = 120, kRclunk = 121,
  kTremove = 122, kRremove = 123,
};

// Qid types.
inline constexpr uint8_t kQtDir = 0x80, kQtSymlink = 0x02, kQtFile = 0x00;

struct Qid {
  uint8_t type;
  uint32_t version;
  uint64_t path;
};
inline constexpr uint32_t kQidSize = 13;

// Tgetattr request_mask / Rgetattr valid bits.
inline constexpr uint64_t kGetattrMode = 0x1, kGetattrNlink = 0x2, kGetattrUid = 0x4,
                          kGetattrGid = 0x8, kGetattrRdev = 0x10, kGetattrAtime = 0x20,
                          kGetattrMtime = 0x40, kGetattrCtime = 0x80, kGetattrIno = 0x100,
                          kGetattrSize = 0x200, kGetattrBlocks = 0x400,
                          kGetattrBasic = 0x7ff, kGetattrAll = 0x3fff;

// Tsetattr valid bits.
inline constexpr uint32_t kSetattrMode = 0x1, kSetattrUid = 0x2, kSetattrGid = 0x4,
                          kSetattrSize = 0x8, kSetattrAtime = 0x10, kSetattrMtime = 0x20,
                          kSetattrCtime = 0x40, kSetattrAtimeSet = 0x80,
                          kSetattrMtimeSet = 0x100;

// Tunlinkat flags: AT_REMOVEDIR.
inline constexpr uint32_t kAtRemovedir = 0x200;

// Tlopen/Tlcreate flags are Linux's x86-64 open(2) flags (9P2000.L "dotl"
// flags have the same values on x86-64).

// Rgetattr body.
struct Attr {
  uint64_t valid;
  Qid qid;
  uint32_t mode, uid, gid;
  uint64_t nlink, rdev, size, blksize, blocks;
  uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
  uint64_t btime_sec, btime_nsec, gen, data_version;
};

// Tsetattr body (after fid).
struct SetAttr {
  uint32_t valid;
  uint32_t mode, uid, gid;
  uint64_t size;
  uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

// Rstatfs body.
struct StatFs {
  uint32_t type, bsize;
  uint64_t blocks, bfree, bavail, files, ffree, fsid;
  uint32_t namelen;
};

struct Str {
  const char* data;
  uint16_t size;
};

inline uint16_t str_len(const char* s) {
  uint32_t n = 0;
  while (s[n] && n < 0xffff) ++n;
  return uint16_t(n);
}

// Builds one message in a caller's buffer. Overflow is sticky: check ok()
// (or the length finish() returns, 0 on overflow) once at the end.
class Writer {
 public:
  Writer(uint8_t* buf, uint32_t cap) : b_(buf), cap_(cap) {}

  void begin(uint8_t type, uint16_t tag) {
    n_ = 0;
    bad_ = false;
    u32(0);
    u8(type);
    u16(tag);
  }
  void u8(uint8_t v) { put(&v, 1); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void str(const char* s, uint32_t n) {
    if (n > 0xffff) {
      bad_ = true;
      return;
    }
    u16(uint16_t(n));
    put(s, n);
  }
  void str(Str s) { str(s.data, s.size); }
  void qid(const Qid& q) {
    u8(q.type);
    u32(q.version);
    u64(q.path);
  }
  void bytes(const void* p, uint32_t n) { put(p, n); }
  // Room for n bytes the caller fills in place (read replies); nullptr on overflow.
  uint8_t* reserve(uint32_t n) {
    if (bad_ || n > cap_ - n_) {
      bad_ = true;
      return nullptr;
    }
    uint8_t* p = b_ + n_;
    n_ += n;
    return p;
  }
  // Patches the size field; the message length, or 0 when it overflowed.
  uint32_t finish() {
    if (bad_ || n_ < kHeader) return 0;
    for (int i = 0; i < 4; ++i) b_[i] = uint8_t(n_ >> (8 * i));
    return n_;
  }
  bool ok() const { return !bad_; }
  uint32_t size() const { return n_; }
  uint8_t* data() { return b_; }
  // Rewinds to an earlier size (drops what followed).
  void rewind(uint32_t n) {
    if (n <= n_) n_ = n;
  }

 private:
  void le(uint64_t v, int n) {
    uint8_t t[8];
    for (int i = 0; i < n; ++i) t[i] = uint8_t(v >> (8 * i));
    put(t, uint32_t(n));
  }
  void put(const void* p, uint32_t n) {
    if (bad_ || n > cap_ - n_) {
      bad_ = true;
      return;
    }
    const uint8_t* s = static_cast<const uint8_t*>(p);
    for (uint32_t i = 0; i < n; ++i) b_[n_ + i] = s[i];
    n_ += n;
  }

  uint8_t* b_;
  uint32_t cap_;
  uint32_t n_ = 0;
  bool bad_ = false;
};

// Decodes one message. Reading past the end is sticky and yields zeros:
// check ok() once after reading every field.
class Reader {
 public:
  Reader() : b_(nullptr), n_(0) {}
  Reader(const uint8_t* buf, uint32_t n) : b_(buf), n_(n) {}

  // Reads and checks the header: the size field must equal the message length.
  bool header(uint8_t* type, uint16_t* tag) {
    uint32_t size = u32();
    *type = u8();
    *tag = u16();
    if (size != n_) bad_ = true;
    return ok();
  }
  uint8_t u8() { return uint8_t(le(1)); }
  uint16_t u16() { return uint16_t(le(2)); }
  uint32_t u32() { return uint32_t(le(4)); }
  uint64_t u64() { return le(8); }
  Str str() {
    uint16_t n = u16();
    const uint8_t* p = take(n);
    if (!p) return Str{"", 0};
    return Str{reinterpret_cast<const char*>(p), n};
  }
  Qid qid() {
    Qid q;
    q.type = u8();
    q.version = u32();
    q.path = u64();
    return q;
  }
  // n bytes in place, or nullptr past the end.
  const uint8_t* take(uint32_t n) {
    if (bad_ || n > n_ - pos_) {
      bad_ = true;
      return nullptr;
    }
    const uint8_t* p = b_ + pos_;
    pos_ += n;
    return p;
  }
  bool ok() const { return !bad_; }
  bool at_end() const { return pos_ == n_; }
  uint32_t remaining() const { return n_ - pos_; }

 private:
  uint64_t le(int n) {
    const uint8_t* p = take(uint32_t(n));
    if (!p) return 0;
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
  }

  const uint8_t* b_;
  uint32_t n_;
  uint32_t pos_ = 0;
  bool bad_ = false;
};

inline void put_attr(Writer& w, const Attr& a) {
  w.u64(a.valid);
  w.qid(a.qid);
  w.u32(a.mode);
  w.u32(a.uid);
  w.u32(a.gid);
  w.u64(a.nlink);
  w.u64(a.rdev);
  w.u64(a.size);
  w.u64(a.blksize);
  w.u64(a.blocks);
  w.u64(a.atime_sec);
  w.u64(a.atime_nsec);
  w.u64(a.mtime_sec);
  w.u64(a.mtime_nsec);
  w.u64(a.ctime_sec);
  w.u64(a.ctime_nsec);
  w.u64(a.btime_sec);
  w.u64(a.btime_nsec);
  w.u64(a.gen);
  w.u64(a.data_version);
}

inline Attr get_attr(Reader& r) {
  Attr a;
  a.valid = r.u64();
  a.qid = r.qid();
  a.mode = r.u32();
  a.uid = r.u32();
  a.gid = r.u32();
  a.nlink = r.u64();
  a.rdev = r.u64();
  a.size = r.u64();
  a.blksize = r.u64();
  a.blocks = r.u64();
  a.atime_sec = r.u64();
  a.atime_nsec = r.u64();
  a.mtime_sec = r.u64();
  a.mtime_nsec = r.u64();
  a.ctime_sec = r.u64();
  a.ctime_nsec = r.u64();
  a.btime_sec = r.u64();
  a.btime_nsec = r.u64();
  a.gen = r.u64();
  a.data_version = r.u64();
  return a;
}

inline void put_setattr(Writer& w, const SetAttr& s) {
  w.u32(s.valid);
  w.u32(s.mode);
  w.u32(s.uid);
  w.u32(s.gid);
  w.u64(s.size);
  w.u64(s.atime_sec);
  w.u64(s.atime_nsec);
  w.u64(s.mtime_sec);
  w.u64(s.mtime_nsec);
}

inline SetAttr get_setattr(Reader& r) {
  SetAttr s;
  s.valid = r.u32();
  s.mode = r.u32();
  s.uid = r.u32();
  s.gid = r.u32();
  s.size = r.u64();
  s.atime_sec = r.u64();
  s.atime_nsec = r.u64();
  s.mtime_sec = r.u64();
  s.mtime_nsec = r.u64();
  return s;
}

inline void put_statfs(Writer& w, const StatFs& s) {
  w.u32(s.type);
  w.u32(s.bsize);
  w.u64(s.blocks);
  w.u64(s.bfree);
  w.u64(s.bavail);
  w.u64(s.files);
  w.u64(s.ffree);
  w.u64(s.fsid);
  w.u32(s.namelen);
}

inline StatFs get_statfs(Reader& r) {
  StatFs s;
  s.type = r.u32();
  s.bsize = r.u32();
  s.blocks = r.u64();
  s.bfree = r.u64();
  s.bavail = r.u64();
  s.files = r.u64();
  s.ffree = r.u64();
  s.fsid = r.u64();
  s.namelen = r.u32();
  return s;
}

// One Rreaddir entry: qid[13] offset[8] type[1] name[s].
struct Dirent {
  Qid qid;
  uint64_t offset;  // the cookie that continues after this entry
  uint8_t type;     // d_type
  Str name;
};
inline uint32_t dirent_size(uint32_t name_len) { return kQidSize + 8 + 1 + 2 + name_len; }
inline void put_dirent(Writer& w, const Dirent& d) {
  w.qid(d.qid);
  w.u64(d.offset);
  w.u8(d.type);
  w.str(d.name);
}
inline Dirent get_dirent(Reader& r) {
  Dirent d;
  d.qid = r.qid();
  d.offset = r.u64();
  d.type = r.u8();
  d.name = r.str();
  return d;
}

// A name a directory operation may carry: one path component, never "",
// ".", "..", and no '/' or NUL. Both sides check it.
inline bool valid_name(Str s) {
  if (s.size == 0 || s.size > 255) return false;
  if (s.size == 1 && s.data[0] == '.') return false;
  if (s.size == 2 && s.data[0] == '.' && s.data[1] == '.') return false;
  for (uint16_t i = 0; i < s.size; ++i)
    if (s.data[i] == '/' || s.data[i] == 0) return false;
  return true;
}

}  // namespace mote::p9
