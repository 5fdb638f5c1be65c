// What every socket shares (socket.h): the family registry, read/write as
// recvmsg/sendmsg, ESPIPE for positional I/O, EOPNOTSUPP for the calls a
// family leaves out, the SOL_SOCKET options kept in the base class, the
// anonymous "sockfs" inodes and the wait helper families sleep through.
#include "kernel/fs/socket.h"

#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"

namespace mote::fs {

namespace {

constexpr int kMaxFamily = 46;  // AF_MAX
const SocketFamily* g_families[kMaxFamily];

FileSystem g_sockfs{0, "sockfs", 0x534f434b, false, 1};

// SOL_SOCKET option names (asm-generic/socket.h).
enum : int {
  kSoDebug = 1, kSoReuseaddr = 2, kSoType = 3, kSoError = 4, kSoDontroute = 5,
  kSoBroadcast = 6, kSoSndbuf = 7, kSoRcvbuf = 8, kSoKeepalive = 9, kSoOobinline = 10,
  kSoNoCheck = 11, kSoPriority = 12, kSoLinger = 13, kSoReuseport = 15, kSoPasscred = 16,
  kSoPeercred = 17, kSoRcvlowat = 18, kSoSndlowat = 19, kSoRcvtimeo = 20, kSoSndtimeo = 21,
  kSoTimestamp = 29, kSoAcceptconn = 30, kSoSndbufforce = 32, kSoRcvbufforce = 33,
  kSoMark = 36, kSoProtocol = 38, kSoDomain = 39, kSoRcvtimeoNew = 66, kSoSndtimeoNew = 67,
};

constexpr int kSockMinSndbuf = 4608, kSockMinRcvbuf = 2304;  // Linux's SOCK_MIN_*BUF
constexpr int kBufMax = 212992;                              // net.core.[wr]mem_max
constexpr u64 kNsPerSec = 1000000000ull;

struct Timeval {
  i64 sec, usec;
};

Result<void> put_int(void* val, u32* len, int v) {
  memcpy(val, &v, sizeof v);
  *len = sizeof v;
  return ok();
}

Result<int> get_int(const void* val, u32 len) {
  if (len < sizeof(int)) return err(EINVAL);
  int v;
  memcpy(&v, val, sizeof v);
  return v;
}

Result<u64> timeval_to_ns(const void* val, u32 len) {
  if (len < sizeof(Timeval)) return err(EINVAL);
  Timeval tv;
  memcpy(&tv, val, sizeof tv);
  if (tv.usec < 0 || tv.usec >= 1000000) return err(EDOM);
  if (tv.sec < 0) return u64(0);  // Linux: a negative time is "no timeout"
  if (u64(tv.sec) > ~u64(0) / kNsPerSec / 2) return u64(0);  // too far: none
  return u64(tv.sec) * kNsPerSec + u64(tv.usec) * 1000;
}

Result<void> put_timeval(void* val, u32* len, u64 ns) {
  Timeval tv{i64(ns / kNsPerSec), i64(ns % kNsPerSec / 1000)};
  memcpy(val, &tv, sizeof tv);
  *len = sizeof tv;
  return ok();
}

// setsockopt(SO_SNDBUF/SO_RCVBUF): Linux doubles the value (for its
// bookkeeping overhead), bounded by wmem_max/rmem_max and a minimum.
int buffer_size(int v, int min_size, bool force) {
  if (v < 0) v = 0;
  if (!force && v > kBufMax) v = kBufMax;
  i64 d = i64(v) * 2;
  if (d > 0x7fffffff) d = 0x7fffffff;
  return int(d < min_size ? min_size : d);
}

}  // namespace

void from_iov(const IoVec* iov, usize n, usize skip, u8* dst, usize len) {
  for (usize i = 0; i < n && len; ++i) {
    if (skip >= iov[i].len) {
      skip -= iov[i].len;
      continue;
    }
    usize k = min(iov[i].len - skip, len);
    memcpy(dst, static_cast<const u8*>(iov[i].base) + skip, k);
    dst += k;
    len -= k;
    skip = 0;
  }
}

void to_iov(const IoVec* iov, usize n, usize skip, const u8* src, usize len) {
  for (usize i = 0; i < n && len; ++i) {
    if (skip >= iov[i].len) {
      skip -= iov[i].len;
      continue;
    }
    usize k = min(iov[i].len - skip, len);
    memcpy(static_cast<u8*>(iov[i].base) + skip, src, k);
    src += k;
    len -= k;
    skip = 0;
  }
}

usize iov_total(const IoVec* iov, usize n) {
  usize t = 0;
  for (usize i = 0; i < n; ++i) t += iov[i].len;
  return t;
}

Ref<Inode> new_socket_inode() {
  auto n = make_ref<Inode>(&g_sockfs, g_sockfs.next_ino++, kIfsock | 0777);
  if (n) n->atime = n->mtime = n->ctime = now();
  return Ref<Inode>(n);
}

u64 socket_deadline(u64 timeo_ns) {
  return timeo_ns ? platform::monotonic_ns() + timeo_ns : core::kForever;
}

Result<void> socket_wait(core::WaitQueue& q, u64 deadline_ns) {
  if (deadline_ns != core::kForever && platform::monotonic_ns() >= deadline_ns)
    return err(EAGAIN);
  if (deadline_ns == core::kForever && !core::wake_possible()) return err(EDEADLK);
  switch (core::wait_on(q, deadline_ns, true)) {
    case core::Wake::Woken: return ok();
    case core::Wake::Timeout: return err(EAGAIN);
    case core::Wake::Interrupted:
      return err(deadline_ns == core::kForever ? int(core::kErestartSys) : EINTR);
  }
  return ok();
}

// ---- The registry ----------------------------------------------------------------

void register_socket_family(int family, const SocketFamily* f) {
  if (family >= 0 && family < kMaxFamily) g_families[family] = f;
}

const SocketFamily* socket_family(int family) {
  if (family < 0 || family >= kMaxFamily) return nullptr;
  return g_families[family];
}

// ---- Files -----------------------------------------------------------------------

Result<usize> SocketFile::pread(void*, usize, u64) { return err(ESPIPE); }
Result<usize> SocketFile::pwrite(const void*, usize, u64) { return err(ESPIPE); }
Result<u64> SocketFile::seek(i64, int) { return err(ESPIPE); }

Result<usize> SocketFile::read(void* buf, usize len) {
  IoVec v{buf, len};
  SocketMsg m;
  m.iov = &v;
  m.iovcnt = 1;
  return recvmsg(m, 0);
}

Result<usize> SocketFile::write(const void* buf, usize len) {
  IoVec v{const_cast<void*>(buf), len};
  SocketMsg m;
  m.iov = &v;
  m.iovcnt = 1;
  // write(2) on a SOCK_SEQPACKET socket ends a record, as Linux's sock_write_iter.
  auto r = sendmsg(m, type == kSockSeqpacket ? kMsgEor : 0);
  if (!r.ok() && r.error() == EPIPE && type == kSockStream)
    core::send_signal_to_self(13 /*SIGPIPE*/);
  return r;
}

bool SocketFile::nonblocking(int msg_flags) const {
  return (flags & kONonblock) || (msg_flags & kMsgDontwait);
}

Result<void> SocketFile::bind(const SockAddr&) { return err(EOPNOTSUPP); }
Result<void> SocketFile::listen(int) { return err(EOPNOTSUPP); }
Result<Ref<SocketFile>> SocketFile::accept(SockAddr*) { return err(EOPNOTSUPP); }
Result<void> SocketFile::connect(const SockAddr&) { return err(EOPNOTSUPP); }
Result<usize> SocketFile::sendmsg(SocketMsg&, int) { return err(EOPNOTSUPP); }
Result<usize> SocketFile::recvmsg(SocketMsg&, int) { return err(EOPNOTSUPP); }
Result<void> SocketFile::shutdown(int) { return err(EOPNOTSUPP); }
Result<void> SocketFile::getsockname(SockAddr*) { return err(EOPNOTSUPP); }
Result<void> SocketFile::getpeername(SockAddr*) { return err(EOPNOTSUPP); }

Result<void> SocketFile::setsockopt(int level, int name, const void* val, u32 len) {
  if (level != kSolSocket) return err(ENOPROTOOPT);
  auto flag = [&](bool* field) -> Result<void> {
    int v = TRY(get_int(val, len));
    *field = v != 0;
    return ok();
  };
  switch (name) {
    case kSoReuseaddr: return flag(&opts.reuseaddr);
    case kSoReuseport: return flag(&opts.reuseport);
    case kSoKeepalive: return flag(&opts.keepalive);
    case kSoBroadcast: return flag(&opts.broadcast);
    case kSoOobinline: return flag(&opts.oobinline);
    case kSoDontroute: return flag(&opts.dontroute);
    case kSoPasscred: return flag(&opts.passcred);
    case kSoTimestamp: return flag(&opts.timestamp);
    case kSoDebug:
    case kSoNoCheck: TRY(get_int(val, len)); return ok();  // accepted, no effect
    case kSoSndbuf:
    case kSoSndbufforce: opts.sndbuf = buffer_size(TRY(get_int(val, len)), kSockMinSndbuf,
                                                     name == kSoSndbufforce);
      return ok();
    case kSoRcvbuf:
    case kSoRcvbufforce: opts.rcvbuf = buffer_size(TRY(get_int(val, len)), kSockMinRcvbuf,
                                                     name == kSoRcvbufforce);
      return ok();
    case kSoPriority: opts.priority = TRY(get_int(val, len)); return ok();  // root: any
    case kSoMark: opts.mark = TRY(get_int(val, len)); return ok();
    case kSoRcvlowat: {
      int v = TRY(get_int(val, len));
      opts.rcvlowat = v < 1 ? 1 : v;
      return ok();
    }
    case kSoSndlowat: return err(ENOPROTOOPT);  // as Linux: not changeable
    case kSoLinger: {
      if (len < 8) return err(EINVAL);
      int l[2];
      memcpy(l, val, sizeof l);
      opts.linger_on = l[0] != 0;
      opts.linger_sec = l[1] < 0 ? 0 : l[1];
      return ok();
    }
    case kSoRcvtimeo:
    case kSoRcvtimeoNew: rcvtimeo_ns = TRY(timeval_to_ns(val, len)); return ok();
    case kSoSndtimeo:
    case kSoSndtimeoNew: sndtimeo_ns = TRY(timeval_to_ns(val, len)); return ok();
    case kSoType:
    case kSoProtocol:
    case kSoDomain:
    case kSoAcceptconn:
    case kSoError:
    case kSoPeercred: return err(ENOPROTOOPT);  // read-only
    default: return err(ENOPROTOOPT);
  }
}

Result<void> SocketFile::getsockopt(int level, int name, void* val, u32* len) {
  if (level != kSolSocket) return err(ENOPROTOOPT);
  switch (name) {
    case kSoType: return put_int(val, len, type);
    case kSoDomain: return put_int(val, len, family);
    case kSoProtocol: return put_int(val, len, protocol);
    case kSoAcceptconn: return put_int(val, len, listening);
    case kSoError: return put_int(val, len, 0);
    case kSoReuseaddr: return put_int(val, len, opts.reuseaddr);
    case kSoReuseport: return put_int(val, len, opts.reuseport);
    case kSoKeepalive: return put_int(val, len, opts.keepalive);
    case kSoBroadcast: return put_int(val, len, opts.broadcast);
    case kSoOobinline: return put_int(val, len, opts.oobinline);
    case kSoDontroute: return put_int(val, len, opts.dontroute);
    case kSoPasscred: return put_int(val, len, opts.passcred);
    case kSoTimestamp: return put_int(val, len, opts.timestamp);
    case kSoDebug:
    case kSoNoCheck: return put_int(val, len, 0);
    case kSoSndbuf: return put_int(val, len, opts.sndbuf);
    case kSoRcvbuf: return put_int(val, len, opts.rcvbuf);
    case kSoPriority: return put_int(val, len, opts.priority);
    case kSoMark: return put_int(val, len, opts.mark);
    case kSoRcvlowat: return put_int(val, len, opts.rcvlowat);
    case kSoSndlowat: return put_int(val, len, 1);
    case kSoLinger: {
      int l[2] = {opts.linger_on, opts.linger_sec};
      memcpy(val, l, sizeof l);
      *len = sizeof l;
      return ok();
    }
    case kSoRcvtimeo:
    case kSoRcvtimeoNew: return put_timeval(val, len, rcvtimeo_ns);
    case kSoSndtimeo:
    case kSoSndtimeoNew: return put_timeval(val, len, sndtimeo_ns);
    case kSoPeercred: {
      // Not connected: no credentials (pid 0, uid and gid -1), as Linux.
      i32 cred[3] = {0, -1, -1};
      memcpy(val, cred, sizeof cred);
      *len = sizeof cred;
      return ok();
    }
    default: return err(ENOPROTOOPT);
  }
}

}  // namespace mote::fs
