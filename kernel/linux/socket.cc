// The socket system calls: socket, socketpair, bind, listen, accept(4),
// connect, send/recv in their to/from, msg and mmsg forms, shutdown,
// get{sock,peer}name and {set,get}sockopt.
//
// This layer owns the program boundary: descriptors (EBADF, ENOTSOCK),
// every program pointer (through user.h: EFAULT), lengths (EINVAL,
// EMSGSIZE, ENOBUFS), SOCK_NONBLOCK/SOCK_CLOEXEC, and SIGPIPE on EPIPE
// unless MSG_NOSIGNAL. Addresses, iovecs, control data and option values are
// copied or checked here and handed to the family (fs::SocketFile, socket.h)
// in kernel memory; families do the rest (AF_INET and AF_INET6, dual-stack
// over IPv4: inet_socket.cc; AF_UNIX; AF_NETLINK's NETLINK_ROUTE:
// netlink.cc). Unknown families (AF_PACKET, ...) fail with EAFNOSUPPORT, so
// programs fall back to what there is.
#include "kernel/core/signals.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/socket.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u32 kSockNonblock = 04000, kSockCloexec = 02000000;
constexpr int kMaxFamily = 46, kSockMax = 11;  // AF_MAX, SOCK_MAX
constexpr u64 kMaxRw = 0x7ffff000;             // MAX_RW_COUNT
constexpr u64 kIovMax = 1024;                  // UIO_MAXIOV
constexpr u64 kMaxControl = 131072;            // net.core.optmem_max
constexpr u32 kMaxOptLen = 256;                // the largest option value we copy
constexpr int kMsgWaitforone = 0x10000;
constexpr int kSigpipe = 13;
constexpr u64 kNs = 1000000000ull;

// struct msghdr and struct mmsghdr (linux/socket.h).
struct MsgHdr {
  u64 name;
  u32 namelen, pad0;
  u64 iov, iovlen;
  u64 control, controllen;
  i32 flags;
  u32 pad1;
};
static_assert(sizeof(MsgHdr) == 56);
struct MMsgHdr {
  MsgHdr hdr;
  u32 len, pad;
};
static_assert(sizeof(MMsgHdr) == 64);

// The socket behind fd (held by *hold), EBADF or ENOTSOCK.
Result<fs::SocketFile*> socket_of(int fd, Ref<fs::File>* hold) {
  Ref<fs::File> f = fs::fds().get(fd);
  if (!f) return err(EBADF);
  if (!f->is_socket()) return err(ENOTSOCK);
  *hold = f;
  return static_cast<fs::SocketFile*>(f.get());
}

// move_addr_to_kernel: a sockaddr of len bytes (0: none).
Result<void> addr_from_user(fs::SockAddr* out, u64 addr, i64 len) {
  if (len < 0 || u64(len) > sizeof out->bytes) return err(EINVAL);
  out->len = u32(len);
  if (len == 0) return ok();
  return copy_from_user(out->bytes, addr, usize(len));
}

// Reads the program's address buffer size at lenp (checked, EINVAL when
// negative), and checks the buffer it describes is writable.
Result<u32> addr_room(u64 addr, u64 lenp) {
  i32 len;
  TRY(get_user(&len, lenp));
  if (len < 0) return err(EINVAL);
  u32 room = min<u32>(u32(len), sizeof(fs::SockAddr::bytes));
  if (room && !user_writable(addr, room)) return err(EFAULT);
  if (!user_writable(lenp, sizeof len)) return err(EFAULT);
  return u32(len);
}

// move_addr_to_user: as much of the address as fits, and its full length.
Result<void> addr_to_user(const fs::SockAddr& a, u64 addr, u64 lenp, u32 room) {
  u32 n = min(room, a.len);
  if (n) TRY(copy_to_user(addr, a.bytes, n));
  return put_user(lenp, i32(a.len));
}

// A program's iovec array, checked and held in kernel memory.
class IovList {
 public:
  IovList() = default;
  IovList(const IovList&) = delete;
  IovList& operator=(const IovList&) = delete;
  ~IovList() {
    if (v_ != small_) mm::kfree(v_);
  }

  // Loads count iovecs at addr; each buffer must be readable (send) or
  // writable (receive). The total is cut to MAX_RW_COUNT, as Linux does.
  Result<void> load(u64 addr, u64 count, bool writable) {
    if (count > kIovMax) return err(EMSGSIZE);
    if (count > kSmall) {
      v_ = static_cast<fs::IoVec*>(mm::kalloc(count * sizeof(fs::IoVec)));
      if (!v_) return err(ENOMEM);
    }
    static_assert(sizeof(fs::IoVec) == 16);
    if (count) TRY(copy_from_user(v_, addr, count * sizeof(fs::IoVec)));
    u64 total = 0;
    for (u64 i = 0; i < count; ++i) {
      u64 base = reinterpret_cast<u64>(v_[i].base), len = v_[i].len;
      if (i64(len) < 0) return err(EINVAL);
      if (len > kMaxRw - total) len = v_[i].len = kMaxRw - total;
      total += len;
      if (len && !(writable ? user_writable(base, len) : user_readable(base, len)))
        return err(EFAULT);
    }
    n_ = count;
    return ok();
  }
  // One buffer (send/recv/sendto/recvfrom).
  Result<void> one(u64 base, u64 len, bool writable) {
    len = min(len, kMaxRw);
    if (len && !(writable ? user_writable(base, len) : user_readable(base, len)))
      return err(EFAULT);
    v_[0] = fs::IoVec{reinterpret_cast<void*>(base), usize(len)};
    n_ = 1;
    return ok();
  }
  const fs::IoVec* data() const { return v_; }
  usize size() const { return n_; }

 private:
  static constexpr u64 kSmall = 8;
  fs::IoVec small_[kSmall];
  fs::IoVec* v_ = small_;
  usize n_ = 0;
};

// Kernel memory for control data, freed on scope exit.
struct KBuf {
  u8* p = nullptr;
  ~KBuf() { mm::kfree(p); }
};

i64 sent(const fs::SocketFile& s, i64 r, int flags) {
  if (r == -EPIPE && s.type == fs::kSockStream && !(flags & fs::kMsgNosignal))
    core::send_signal_to_self(kSigpipe);
  return r;
}

i64 do_sendmsg(fs::SocketFile& s, const MsgHdr& h, int flags) {
  IovList iov;
  if (auto r = iov.load(h.iov, h.iovlen, false); !r.ok()) return -r.error();
  fs::SockAddr addr;
  if (h.name) {
    if (i32(h.namelen) < 0) return -EINVAL;
    u32 len = min<u32>(h.namelen, sizeof addr.bytes);
    if (auto r = addr_from_user(&addr, h.name, len); !r.ok()) return -r.error();
  }
  KBuf control;
  if (h.controllen) {
    if (h.controllen > 0x7fffffff || h.controllen > kMaxControl) return -ENOBUFS;
    control.p = static_cast<u8*>(mm::kalloc(h.controllen));
    if (!control.p) return -ENOMEM;
    if (!copy_from_user(control.p, h.control, h.controllen).ok()) return -EFAULT;
  }
  fs::SocketMsg m;
  m.iov = iov.data();
  m.iovcnt = iov.size();
  m.addr = &addr;
  m.control = control.p;
  m.control_len = h.controllen;
  auto r = s.sendmsg(m, flags);
  return sent(s, r.ok() ? i64(r.value()) : -r.error(), flags);
}

// Receives into the msghdr h (read from hdr_addr) and writes back its
// msg_namelen, msg_controllen and msg_flags.
i64 do_recvmsg(fs::SocketFile& s, u64 hdr_addr, const MsgHdr& h, int flags) {
  IovList iov;
  if (auto r = iov.load(h.iov, h.iovlen, true); !r.ok()) return -r.error();
  if (h.name && i32(h.namelen) < 0) return -EINVAL;
  u32 room = h.name ? min<u32>(h.namelen, sizeof(fs::SockAddr::bytes)) : 0;
  if (room && !user_writable(h.name, room)) return -EFAULT;
  usize cap = usize(min<u64>(h.controllen, kMaxControl));
  if (cap && !user_writable(h.control, cap)) return -EFAULT;
  if (!user_writable(hdr_addr, sizeof(MsgHdr))) return -EFAULT;
  KBuf control;
  if (cap) {
    control.p = static_cast<u8*>(mm::kzalloc(cap));
    if (!control.p) return -ENOMEM;
  }
  fs::SockAddr addr;
  fs::SocketMsg m;
  m.iov = iov.data();
  m.iovcnt = iov.size();
  m.addr = &addr;
  m.want_addr = h.name != 0;
  m.control = control.p;
  m.control_cap = cap;
  auto r = s.recvmsg(m, flags);
  if (!r.ok()) return -r.error();
  MsgHdr out = h;
  if (h.name) {
    u32 n = min(room, addr.len);
    if (n && !copy_to_user(h.name, addr.bytes, n).ok()) return -EFAULT;
    out.namelen = addr.len;
  }
  if (m.control_len && !copy_to_user(h.control, control.p, m.control_len).ok()) return -EFAULT;
  out.controllen = m.control_len;
  out.flags = m.flags_out;
  if (!copy_to_user(hdr_addr, &out, sizeof out).ok()) return -EFAULT;
  return i64(r.value());
}

i64 accept_common(int fd, u64 addr, u64 lenp, u64 flags) {
  if (flags & ~u64(kSockNonblock | kSockCloexec)) return -EINVAL;
  Ref<fs::File> hold;
  auto s = socket_of(fd, &hold);
  if (!s.ok()) return -s.error();
  u32 room = 0;
  if (addr) {
    auto r = addr_room(addr, lenp);
    if (!r.ok()) return -r.error();
    room = r.value();
  }
  fs::SockAddr peer;
  auto c = s.value()->accept(addr ? &peer : nullptr);
  if (!c.ok()) return -c.error();
  Ref<fs::SocketFile> conn = c.value();
  conn->flags = fs::kORdwr | (flags & kSockNonblock ? fs::kONonblock : 0);
  if (addr) {
    if (auto r = addr_to_user(peer, addr, lenp, room); !r.ok()) return -r.error();
  }
  return ret(fs::fds().install(Ref<fs::File>(conn), flags & kSockCloexec, 0, nofile_limit()));
}

// A socket address and the value-result length for get{sock,peer}name.
template <typename Get>
i64 name_common(int fd, u64 addr, u64 lenp, Get get) {
  Ref<fs::File> hold;
  auto s = socket_of(fd, &hold);
  if (!s.ok()) return -s.error();
  auto room = addr_room(addr, lenp);
  if (!room.ok()) return -room.error();
  fs::SockAddr a;
  if (auto r = get(*s.value(), &a); !r.ok()) return -r.error();
  return ret(addr_to_user(a, addr, lenp, room.value()));
}

// bind/connect: a socket and an address the program passes (fd, addr, len).
template <typename Call>
i64 addr_common(const SysArgs& a, Call call) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  fs::SockAddr addr;
  if (auto r = addr_from_user(&addr, a.u(1), i32(a.u(2))); !r.ok()) return -r.error();
  return ret(call(*s.value(), addr));
}

}  // namespace

i64 sys_socket(const SysArgs& a) {
  int domain = int(a.u(0)), type = int(a.u(1)), protocol = int(a.u(2));
  int flags = type & ~fs::kSockTypeMask;
  type &= fs::kSockTypeMask;
  if (flags & ~int(kSockNonblock | kSockCloexec)) return -EINVAL;
  if (domain < 0 || domain >= kMaxFamily) return -EAFNOSUPPORT;
  if (type >= kSockMax) return -EINVAL;
  const fs::SocketFamily* fam = fs::socket_family(domain);
  if (!fam) return -EAFNOSUPPORT;
  auto s = fam->create(type, protocol, fs::kORdwr | (flags & kSockNonblock ? fs::kONonblock : 0));
  if (!s.ok()) return -s.error();
  return ret(fs::fds().install(Ref<fs::File>(s.value()), flags & kSockCloexec, 0, nofile_limit()));
}

i64 sys_socketpair(const SysArgs& a) {
  int domain = int(a.u(0)), type = int(a.u(1)), protocol = int(a.u(2));
  int flags = type & ~fs::kSockTypeMask;
  type &= fs::kSockTypeMask;
  if (flags & ~int(kSockNonblock | kSockCloexec)) return -EINVAL;
  if (domain < 0 || domain >= kMaxFamily) return -EAFNOSUPPORT;
  if (type >= kSockMax) return -EINVAL;
  const fs::SocketFamily* fam = fs::socket_family(domain);
  if (!fam) return -EAFNOSUPPORT;
  if (!fam->pair) {
    // Linux creates the first socket (its type and protocol checks) first.
    auto s = fam->create(type, protocol, fs::kORdwr);
    return s.ok() ? -EOPNOTSUPP : -s.error();
  }
  if (!user_writable(a.u(3), 2 * sizeof(i32))) return -EFAULT;
  Ref<fs::SocketFile> s0, s1;
  u32 ff = fs::kORdwr | (flags & kSockNonblock ? fs::kONonblock : 0);
  if (auto r = fam->pair(type, protocol, ff, &s0, &s1); !r.ok()) return -r.error();
  bool cloexec = flags & kSockCloexec;
  auto fd0 = fs::fds().install(Ref<fs::File>(s0), cloexec, 0, nofile_limit());
  if (!fd0.ok()) return -fd0.error();
  auto fd1 = fs::fds().install(Ref<fs::File>(s1), cloexec, 0, nofile_limit());
  if (!fd1.ok()) {
    (void)fs::fds().close(fd0.value());
    return -fd1.error();
  }
  i32 sv[2] = {fd0.value(), fd1.value()};
  if (!copy_to_user(a.u(3), sv, sizeof sv).ok()) {
    (void)fs::fds().close(sv[0]);
    (void)fs::fds().close(sv[1]);
    return -EFAULT;
  }
  return 0;
}

i64 sys_bind(const SysArgs& a) {
  return addr_common(a, [](fs::SocketFile& s, const fs::SockAddr& o) { return s.bind(o); });
}

i64 sys_listen(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  u32 backlog = u32(a.u(1));
  if (backlog > 4096) backlog = 4096;  // net.core.somaxconn (a negative backlog too)
  return ret(s.value()->listen(int(backlog)));
}

i64 sys_accept(const SysArgs& a) { return accept_common(a.fd(0), a.u(1), a.u(2), 0); }
i64 sys_accept4(const SysArgs& a) { return accept_common(a.fd(0), a.u(1), a.u(2), a.u(3)); }

i64 sys_connect(const SysArgs& a) {
  return addr_common(a, [](fs::SocketFile& s, const fs::SockAddr& o) { return s.connect(o); });
}

i64 sys_sendto(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  int flags = int(a.u(3));
  IovList iov;
  if (auto r = iov.one(a.u(1), a.u(2), false); !r.ok()) return -r.error();
  fs::SockAddr addr;
  if (a.u(4)) {
    if (auto r = addr_from_user(&addr, a.u(4), i32(a.u(5))); !r.ok()) return -r.error();
  }
  fs::SocketMsg m;
  m.iov = iov.data();
  m.iovcnt = 1;
  m.addr = &addr;
  auto r = s.value()->sendmsg(m, flags);
  return sent(*s.value(), r.ok() ? i64(r.value()) : -r.error(), flags);
}

i64 sys_recvfrom(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  IovList iov;
  if (auto r = iov.one(a.u(1), a.u(2), true); !r.ok()) return -r.error();
  u64 addr = a.u(4), lenp = a.u(5);
  u32 room = 0;
  if (addr) {
    auto r = addr_room(addr, lenp);
    if (!r.ok()) return -r.error();
    room = r.value();
  }
  fs::SockAddr from;
  fs::SocketMsg m;
  m.iov = iov.data();
  m.iovcnt = 1;
  m.addr = &from;
  m.want_addr = addr != 0;
  auto r = s.value()->recvmsg(m, int(a.u(3)));
  if (!r.ok()) return -r.error();
  if (addr) {
    if (auto w = addr_to_user(from, addr, lenp, room); !w.ok()) return -w.error();
  }
  return i64(r.value());
}

i64 sys_sendmsg(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  MsgHdr h;
  if (!get_user(&h, a.u(1)).ok()) return -EFAULT;
  return do_sendmsg(*s.value(), h, int(a.u(2)));
}

i64 sys_recvmsg(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  MsgHdr h;
  if (!get_user(&h, a.u(1)).ok()) return -EFAULT;
  return do_recvmsg(*s.value(), a.u(1), h, int(a.u(2)));
}

i64 sys_sendmmsg(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  u64 vec = a.u(1), vlen = min<u64>(u32(a.u(2)), kIovMax);
  int flags = int(a.u(3));
  u64 done = 0;
  for (; done < vlen; ++done) {
    u64 at = vec + done * sizeof(MMsgHdr);
    MMsgHdr mh;
    i64 r = get_user(&mh, at).ok() ? do_sendmsg(*s.value(), mh.hdr, flags) : -EFAULT;
    if (r >= 0 && !put_user(at + sizeof(MsgHdr), u32(r)).ok()) r = -EFAULT;
    if (r < 0) return done ? i64(done) : r;
  }
  return i64(done);
}

i64 sys_recvmmsg(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  u64 vec = a.u(1), vlen = min<u64>(u32(a.u(2)), kIovMax), tsp = a.u(4);
  int flags = int(a.u(3));
  u64 deadline = 0;
  if (tsp) {
    i64 ts[2];
    if (!copy_from_user(ts, tsp, sizeof ts).ok()) return -EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= i64(kNs)) return -EINVAL;
    deadline = platform::monotonic_ns() + u64(ts[0]) * kNs + u64(ts[1]);
  }
  u64 done = 0;
  i64 error = 0;
  for (; done < vlen; ++done) {
    u64 at = vec + done * sizeof(MMsgHdr);
    MMsgHdr mh;
    i64 r = get_user(&mh, at).ok() ? do_recvmsg(*s.value(), at, mh.hdr, flags & ~kMsgWaitforone)
                                   : -EFAULT;
    if (r >= 0 && !put_user(at + sizeof(MsgHdr), u32(r)).ok()) r = -EFAULT;
    if (r < 0) {
      error = r;
      break;
    }
    if (flags & kMsgWaitforone) flags |= fs::kMsgDontwait;
    // As Linux, the timeout is looked at only after each message.
    if (tsp && platform::monotonic_ns() >= deadline) {
      ++done;
      break;
    }
  }
  if (tsp) {
    u64 now = platform::monotonic_ns(), left = now < deadline ? deadline - now : 0;
    i64 ts[2] = {i64(left / kNs), i64(left % kNs)};
    if (!copy_to_user(tsp, ts, sizeof ts).ok()) return -EFAULT;
  }
  if (done) return i64(done);
  return error;
}

i64 sys_shutdown(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  int how = int(a.u(1));
  if (how < fs::kShutRd || how > fs::kShutRdwr) return -EINVAL;
  return ret(s.value()->shutdown(how));
}

i64 sys_getsockname(const SysArgs& a) {
  return name_common(a.fd(0), a.u(1), a.u(2),
                     [](fs::SocketFile& s, fs::SockAddr* o) { return s.getsockname(o); });
}

i64 sys_getpeername(const SysArgs& a) {
  return name_common(a.fd(0), a.u(1), a.u(2),
                     [](fs::SocketFile& s, fs::SockAddr* o) { return s.getpeername(o); });
}

i64 sys_setsockopt(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  i32 len = i32(a.u(4));
  if (len < 0) return -EINVAL;
  alignas(8) u8 val[kMaxOptLen];
  u32 n = min<u32>(u32(len), kMaxOptLen);
  if (n && !copy_from_user(val, a.u(3), n).ok()) return -EFAULT;
  return ret(s.value()->setsockopt(int(a.u(1)), int(a.u(2)), val, n));
}

i64 sys_getsockopt(const SysArgs& a) {
  Ref<fs::File> hold;
  auto s = socket_of(a.fd(0), &hold);
  if (!s.ok()) return -s.error();
  i32 len;
  if (!get_user(&len, a.u(4)).ok()) return -EFAULT;
  if (len < 0) return -EINVAL;
  alignas(8) u8 val[kMaxOptLen] = {};
  u32 n = kMaxOptLen;
  if (auto r = s.value()->getsockopt(int(a.u(1)), int(a.u(2)), val, &n); !r.ok())
    return -r.error();
  u32 out = min<u32>(u32(len), n);
  if (out && !copy_to_user(a.u(3), val, out).ok()) return -EFAULT;
  return ret(put_user(a.u(4), i32(out)));
}

}  // namespace mote::linux
