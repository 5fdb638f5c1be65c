// AF_INET sockets: SOCK_STREAM over the stack's TCP, SOCK_DGRAM over its
// UDP (kernel/net/), as fs::SocketFile (kernel/fs/socket.h).
//
// The transport objects never block; this file does the waiting. Each
// socket has one wait queue, woken (with every poller) by the transport's
// wakeup hook whenever its readiness may have changed. Blocking calls loop:
// try, and on EAGAIN sleep on the queue until woken, SO_RCVTIMEO /
// SO_SNDTIMEO, or a signal. After anything that may have queued datagrams
// for a local address or changed the stack's timers, inet_kick() delivers
// and re-arms.
//
// AF_INET6 sockets are dual-stack sockets over the same IPv4 stack (there
// is no IPv6 on the wire): :: is INADDR_ANY, ::ffff:a.b.c.d is a.b.c.d, and
// ::1 is kLoopback6, an IPv4 loopback address of its own, so that, as on
// Linux, a socket bound to ::1 is reached from ::1 and not from 127.0.0.1,
// while one bound to :: takes IPv4 clients as ::ffff:a.b.c.d. Any other
// IPv6 address is unreachable (bind: EADDRNOTAVAIL; connect, sendto:
// ENETUNREACH). An IPV6_V6ONLY socket bound to :: listens on ::1 alone
// (leaving IPv4's port to an IPv4 socket, as redis and nginx expect).
//
// Differences from Linux (docs/compat.md): SO_LINGER with a positive time
// does not make close() wait (the connection still finishes in the
// background); ping sockets (SOCK_DGRAM, IPPROTO_ICMP) and raw sockets are
// not supported; TCP_INFO answers what the stack tracks (tcp_info above).
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/fs/socket.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/inet.h"
#include "kernel/mm/heap.h"
#include "kernel/net/stack.h"
#include "kernel/net/tcp.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr int kIpprotoTcp = 6, kIpprotoUdp = 17;
// Option names (asm-generic/socket.h, linux/tcp.h, linux/in.h).
constexpr int kSoReuseaddr = 2, kSoError = 4, kSoBroadcast = 6, kSoSndbuf = 7, kSoRcvbuf = 8,
              kSoKeepalive = 9, kSoLinger = 13, kSoReuseport = 15, kSoSndbufforce = 32,
              kSoRcvbufforce = 33;
constexpr int kTcpNodelay = 1, kTcpMaxseg = 2, kTcpKeepidle = 4, kTcpKeepintvl = 5,
              kTcpKeepcnt = 6, kTcpDeferAccept = 9, kTcpInfo = 11, kTcpQuickack = 12;
constexpr int kIpTos = 1;
constexpr u32 kPollRdhup = 0x2000;
constexpr usize kMaxDatagram = 65507;

constexpr int kSolIpv6 = 41, kIpv6V6only = 26;
constexpr u32 kLoopback6 = 0x7f060001;  // 127.6.0.1: what ::1 is in the IPv4 stack
constexpr u32 kSockaddrIn6Len = 28;

// A sockaddr of the socket's family as an IPv4 endpoint. `unmapped`: the
// error for an IPv6 address with no IPv4 meaning.
Result<net::Endpoint> parse_addr(const fs::SockAddr& a, int family, int unmapped) {
  net::Endpoint e;
  if (family == fs::kAfInet) {
    if (a.len < 16) return err(EINVAL);
    if (a.family() != fs::kAfInet) return err(EAFNOSUPPORT);
    e.port = net::load_be16(a.bytes + 2);
    e.addr = net::Ipv4(net::load_be32(a.bytes + 4));
    return e;
  }
  if (a.len < 24) return err(EINVAL);  // SIN6_LEN_RFC2133: without sin6_scope_id
  if (a.family() != fs::kAfInet6) return err(EAFNOSUPPORT);
  e.port = net::load_be16(a.bytes + 2);
  const u8* ip = a.bytes + 8;
  bool zero10 = true;
  for (int i = 0; i < 10; ++i) zero10 &= ip[i] == 0;
  u32 low = net::load_be32(ip + 12);
  if (zero10 && ip[10] == 0xff && ip[11] == 0xff) {
    e.addr = net::Ipv4(low);  // ::ffff:a.b.c.d
  } else if (zero10 && ip[10] == 0 && ip[11] == 0 && (low == 0 || low == 1)) {
    e.addr = net::Ipv4(low ? kLoopback6 : 0);  // :: or ::1
  } else {
    return err(unmapped);
  }
  return e;
}

void put_addr(fs::SockAddr* out, net::Endpoint e, int family) {
  if (!out) return;
  if (family == fs::kAfInet) {
    memset(out->bytes, 0, 16);
    out->bytes[0] = u8(fs::kAfInet);
    net::store_be16(out->bytes + 2, e.port);
    net::store_be32(out->bytes + 4, e.addr.v);
    out->len = 16;
    return;
  }
  memset(out->bytes, 0, kSockaddrIn6Len);
  out->bytes[0] = u8(fs::kAfInet6);
  net::store_be16(out->bytes + 2, e.port);
  u8* ip = out->bytes + 8;
  if (e.addr.v == kLoopback6) {
    ip[15] = 1;  // ::1
  } else if (e.addr.v) {
    ip[10] = ip[11] = 0xff;  // ::ffff:a.b.c.d
    net::store_be32(ip + 12, e.addr.v);
  }
  out->len = kSockaddrIn6Len;
}

Result<int> int_value(const void* val, u32 len) {
  if (len < 4) return err(EINVAL);
  int v;
  memcpy(&v, val, 4);
  return v;
}

Result<void> put_int(void* val, u32* len, int v) {
  if (*len < 4) return err(EINVAL);
  memcpy(val, &v, 4);
  *len = 4;
  return ok();
}

class InetSocket final : public fs::SocketFile {
 public:
  InetSocket(Ref<fs::Inode> node, u32 flags, int family, int type, int protocol)
      : SocketFile(static_cast<Ref<fs::Inode>&&>(node), flags, family, type, protocol) {}
  ~InetSocket() override;

  void attach_tcp(net::TcpSocket* t);
  void attach_udp(net::UdpSocket* u);

  u32 poll_ready() override;
  usize write_room() override { return tcp_ ? tcp_->send_room() : ~usize(0); }
  Result<u64> readable_bytes() override;

  Result<void> bind(const fs::SockAddr& addr) override;
  Result<void> listen(int backlog) override;
  Result<Ref<fs::SocketFile>> accept(fs::SockAddr* peer) override;
  Result<void> connect(const fs::SockAddr& addr) override;
  Result<usize> sendmsg(fs::SocketMsg& msg, int flags) override;
  Result<usize> recvmsg(fs::SocketMsg& msg, int flags) override;
  Result<void> shutdown(int how) override;
  Result<void> getsockname(fs::SockAddr* out) override;
  Result<void> getpeername(fs::SockAddr* out) override;
  Result<void> setsockopt(int level, int name, const void* val, u32 len) override;
  Result<void> getsockopt(int level, int name, void* val, u32* len) override;

 private:
  static void tcp_woken(void* ctx, net::TcpSocket*, u32) {
    core::wake_all(static_cast<InetSocket*>(ctx)->q_);
    core::notify_poll();
  }
  static void udp_woken(void* ctx) {
    core::wake_all(static_cast<InetSocket*>(ctx)->q_);
    core::notify_poll();
  }
  // Sleeps until the socket may have changed (fs::socket_wait).
  Result<void> wait(u64 deadline) { return fs::socket_wait(q_, deadline); }
  Result<usize> tcp_send(fs::SocketMsg& msg, int flags);
  Result<usize> tcp_recv(fs::SocketMsg& msg, int flags);
  Result<usize> udp_send(fs::SocketMsg& msg, int flags);
  Result<usize> udp_recv(fs::SocketMsg& msg, int flags);
  Result<void> tcp_option(int level, int name, int v);
  Result<void> tcp_info(void* val, u32* len);

  core::WaitQueue q_;
  net::TcpSocket* tcp_ = nullptr;
  net::UdpSocket* udp_ = nullptr;
  bool connecting_ = false;  // a connect that returned EINPROGRESS
  bool rd_shut_ = false, wr_shut_ = false;  // UDP shutdown
  int linger_ = -1;          // SO_LINGER as set (-1: off)
  int v6only_ = 0;           // IPV6_V6ONLY as set
  bool any6_ = false;        // bound to :: while IPv6-only: shown as ::, listens on ::1
  u32 sndbuf_ = 212992;      // UDP's SO_SNDBUF as read back (not enforced)
};

InetSocket::~InetSocket() {
  if (tcp_) {
    tcp_->set_wakeup(nullptr, nullptr);
    tcp_->close(inet_now());  // finishes in the background
  }
  if (udp_) {
    udp_->set_wakeup(nullptr, nullptr);
    udp_->close();
  }
  inet_kick();
}

void InetSocket::attach_tcp(net::TcpSocket* t) {
  tcp_ = t;
  t->set_wakeup(tcp_woken, this);
}

void InetSocket::attach_udp(net::UdpSocket* u) {
  udp_ = u;
  u->set_wakeup(udp_woken, this);
}

u32 InetSocket::poll_ready() {
  u32 r = 0;
  if (tcp_) {
    u32 ev = tcp_->poll();
    if (ev & net::kPollIn) r |= fs::kPollIn | fs::kPollRdnorm;
    if (ev & net::kPollOut) r |= fs::kPollOut | fs::kPollWrnorm;
    if (ev & net::kPollErr) r |= fs::kPollErr;
    if (ev & net::kPollHup) r |= fs::kPollHup;
    if (ev & net::kPollRdHup) r |= kPollRdhup;
  } else if (udp_) {
    if (udp_->readable()) r |= fs::kPollIn | fs::kPollRdnorm;
    if (udp_->readable() && rd_shut_) r |= kPollRdhup;
    r |= fs::kPollOut | fs::kPollWrnorm;
  }
  return r;
}

Result<u64> InetSocket::readable_bytes() {
  if (tcp_) return u64(tcp_->readable_bytes());
  // UDP: the size of the next datagram (Linux's FIONREAD).
  net::UdpRecvInfo info;
  auto r = udp_->recvfrom(nullptr, 0, &info, true);
  return r.ok() ? u64(info.full_len) : u64(0);
}

Result<void> InetSocket::bind(const fs::SockAddr& addr) {
  net::Endpoint e = TRY(parse_addr(addr, family, EADDRNOTAVAIL));
  if (family == fs::kAfInet6 && v6only_ && !e.addr.v) {
    // An IPv6-only socket on :: takes IPv6 clients alone, and the only
    // IPv6 address there is is ::1; it leaves IPv4's port free (redis
    // and nginx bind 0.0.0.0 and IPv6-only :: on the same port).
    e.addr = net::Ipv4(kLoopback6);
    any6_ = true;
  }
  if (tcp_) return tcp_->bind(e);
  return udp_->bind(e);
}

Result<void> InetSocket::listen(int backlog) {
  if (!tcp_) return err(EOPNOTSUPP);
  // Linux admits backlog + 1 connections; negative means the maximum.
  u32 b = backlog < 0 || backlog >= 4096 ? 4096 : u32(backlog) + 1;
  TRY(tcp_->listen(b));
  listening = true;
  inet_kick();
  return ok();
}

Result<Ref<fs::SocketFile>> InetSocket::accept(fs::SockAddr* peer) {
  if (!tcp_) return err(EOPNOTSUPP);
  if (!listening) return err(EINVAL);
  u64 deadline = fs::socket_deadline(rcvtimeo_ns);
  for (;;) {
    auto r = tcp_->accept();
    if (r.ok()) {
      net::TcpSocket* child = r.value();
      auto node = fs::new_socket_inode();
      auto f = node ? make_ref<InetSocket>(Ref<fs::Inode>(node), 2 /*O_RDWR*/, family, type,
                                           protocol)
                    : Ref<InetSocket>();
      if (!f) {
        child->abort(inet_now());
        child->close(inet_now());
        inet_kick();
        return err(ENOMEM);
      }
      f->attach_tcp(child);
      auto p = child->peer();
      if (peer && p.ok()) put_addr(peer, p.value(), family);
      inet_kick();
      return Ref<fs::SocketFile>(f);
    }
    if (r.error() != EAGAIN) return Error{r.error()};
    if (nonblocking()) return err(EAGAIN);
    TRY(wait(deadline));
  }
}

Result<void> InetSocket::connect(const fs::SockAddr& addr) {
  if (udp_) {
    if (addr.len >= 2 && addr.family() == 0) {  // AF_UNSPEC: disconnect
      TRY(udp_->connect(net::Endpoint{}));
      return ok();
    }
    net::Endpoint e = TRY(parse_addr(addr, family, ENETUNREACH));
    return udp_->connect(e);
  }
  net::Endpoint e = TRY(parse_addr(addr, family, ENETUNREACH));
  if (!connecting_) {
    auto r = tcp_->connect(e, inet_now());
    inet_kick();
    if (!r.ok()) return r;
    connecting_ = true;
    if (nonblocking()) return err(EINPROGRESS);
  } else if (tcp_->state() == net::TcpState::SynSent) {
    if (nonblocking()) return err(EALREADY);
  }
  u64 deadline = fs::socket_deadline(sndtimeo_ns);
  for (;;) {
    net::TcpState s = tcp_->state();
    if (s != net::TcpState::SynSent && s != net::TcpState::SynReceived) {
      connecting_ = false;
      int e2 = tcp_->take_error();
      if (e2) return err(e2);
      return s == net::TcpState::Closed ? err(ECONNREFUSED) : ok();
    }
    auto w = wait(deadline);
    if (!w.ok()) return w.error() == EAGAIN ? err(EINPROGRESS) : w;
  }
}

Result<usize> InetSocket::sendmsg(fs::SocketMsg& msg, int flags) {
  return tcp_ ? tcp_send(msg, flags) : udp_send(msg, flags);
}

Result<usize> InetSocket::recvmsg(fs::SocketMsg& msg, int flags) {
  return tcp_ ? tcp_recv(msg, flags) : udp_recv(msg, flags);
}

Result<usize> InetSocket::tcp_send(fs::SocketMsg& msg, int flags) {
  usize sent = 0;
  u64 deadline = fs::socket_deadline(sndtimeo_ns);
  for (usize i = 0; i < msg.iovcnt; ++i) {
    const u8* p = static_cast<const u8*>(msg.iov[i].base);
    usize left = msg.iov[i].len;
    while (left) {
      auto r = tcp_->send(p, left, inet_now());
      if (r.ok()) {
        sent += r.value(), p += r.value(), left -= r.value();
        inet_kick();
        continue;
      }
      inet_kick();
      if (r.error() == EPIPE) return sent ? Result<usize>(sent) : err(EPIPE);  // SIGPIPE: the caller's
      if (r.error() != EAGAIN) return sent ? Result<usize>(sent) : Error{r.error()};
      if (nonblocking(flags)) return sent ? Result<usize>(sent) : err(EAGAIN);
      auto w = wait(deadline);
      if (!w.ok()) return sent ? Result<usize>(sent) : Error{w.error()};
    }
  }
  return sent;
}

// One pass over what TCP has buffered: copies into the buffers from byte
// `from` on. The bytes copied; 0 at end of stream; EAGAIN when nothing is
// buffered; a pending error (ECONNRESET) once.
Result<usize> tcp_pass(net::TcpSocket* t, fs::SocketMsg& msg, usize from, bool peek) {
  u64 now = inet_now();
  if (peek && msg.iovcnt > 1) {
    // MSG_PEEK always reads from the start: peek it whole, then scatter.
    usize want = min(fs::iov_total(msg.iov, msg.iovcnt), t->readable_bytes());
    if (!want) {
      u8 probe;
      return t->recv(&probe, 1, now, true);  // EAGAIN, 0 (EOF) or the error
    }
    u8* tmp = static_cast<u8*>(mm::kalloc(want));
    if (!tmp) return err(ENOMEM);
    auto r = t->recv(tmp, want, now, true);
    if (r.ok()) fs::to_iov(msg.iov, msg.iovcnt, 0, tmp, r.value());
    mm::kfree(tmp);
    return r;
  }
  usize copied = 0, skip = from;
  for (usize i = 0; i < msg.iovcnt; ++i) {
    if (skip >= msg.iov[i].len) {
      skip -= msg.iov[i].len;
      continue;
    }
    usize room = msg.iov[i].len - skip;
    auto r = t->recv(static_cast<u8*>(msg.iov[i].base) + skip, room, now, peek);
    skip = 0;
    if (!r.ok()) return copied ? Result<usize>(copied) : r;
    copied += r.value();
    if (r.value() < room || peek) break;  // drained (or EOF), or a peek's one buffer
  }
  return copied;
}

Result<usize> InetSocket::tcp_recv(fs::SocketMsg& msg, int flags) {
  if (msg.addr) msg.addr->len = 0;  // TCP names no source
  usize total = fs::iov_total(msg.iov, msg.iovcnt);
  bool peek = flags & fs::kMsgPeek;
  bool waitall = (flags & fs::kMsgWaitall) && !peek;
  u64 deadline = fs::socket_deadline(rcvtimeo_ns);
  usize got = 0;
  for (;;) {
    auto r = tcp_pass(tcp_, msg, got, peek);
    if (!peek) inet_kick();  // reading may open the window: an update may be due
    if (r.ok()) {
      if (r.value() == 0) return got;  // end of stream (or nothing asked for)
      got += r.value();
      if (got == total || !waitall) return got;
      continue;
    }
    if (r.error() != EAGAIN) return got ? Result<usize>(got) : r;
    if (nonblocking(flags)) return got ? Result<usize>(got) : err(EAGAIN);
    auto w = wait(deadline);
    if (!w.ok()) return got ? Result<usize>(got) : Error{w.error()};
  }
}

Result<usize> InetSocket::udp_send(fs::SocketMsg& msg, int flags) {
  if (wr_shut_) return err(EPIPE);
  net::Endpoint dst;
  bool have_dst = msg.addr && msg.addr->len;
  if (have_dst) dst = TRY(parse_addr(*msg.addr, family, ENETUNREACH));
  usize total = fs::iov_total(msg.iov, msg.iovcnt);
  if (total > kMaxDatagram) return err(EMSGSIZE);
  const void* data = msg.iovcnt ? msg.iov[0].base : nullptr;
  u8* tmp = nullptr;
  if (msg.iovcnt > 1) {  // gathered into one datagram
    tmp = static_cast<u8*>(mm::kalloc(total ? total : 1));
    if (!tmp) return err(ENOMEM);
    fs::from_iov(msg.iov, msg.iovcnt, 0, tmp, total);
    data = tmp;
  }
  auto r = udp_->sendto(data, total, have_dst ? &dst : nullptr);
  mm::kfree(tmp);
  inet_kick();
  return r;
}

Result<usize> InetSocket::udp_recv(fs::SocketMsg& msg, int flags) {
  bool peek = flags & fs::kMsgPeek;
  usize total = fs::iov_total(msg.iov, msg.iovcnt);
  u64 deadline = fs::socket_deadline(rcvtimeo_ns);
  for (;;) {
    net::UdpRecvInfo info;
    Result<usize> r = usize(0);
    if (msg.iovcnt <= 1) {
      r = udp_->recvfrom(msg.iovcnt ? msg.iov[0].base : nullptr, total, &info, peek);
    } else {
      u8* tmp = static_cast<u8*>(mm::kalloc(total ? total : 1));
      if (!tmp) return err(ENOMEM);
      r = udp_->recvfrom(tmp, total, &info, peek);
      if (r.ok()) fs::to_iov(msg.iov, msg.iovcnt, 0, tmp, r.value());
      mm::kfree(tmp);
    }
    if (r.ok()) {
      if (msg.want_addr && msg.addr) put_addr(msg.addr, info.from, family);
      if (info.full_len > r.value()) msg.flags_out |= fs::kMsgTrunc;
      return (flags & fs::kMsgTrunc) ? info.full_len : r.value();
    }
    if (r.error() != EAGAIN) return r;
    if (rd_shut_) return usize(0);
    if (nonblocking(flags)) return err(EAGAIN);
    TRY(wait(deadline));
  }
}

Result<void> InetSocket::shutdown(int how) {
  if (how < fs::kShutRd || how > fs::kShutRdwr) return err(EINVAL);
  if (tcp_) {
    auto r = tcp_->shutdown(how, inet_now());
    inet_kick();
    return r;
  }
  if (!udp_->connected()) return err(ENOTCONN);
  if (how != fs::kShutWr) rd_shut_ = true;
  if (how != fs::kShutRd) wr_shut_ = true;
  core::wake_all(q_);
  core::notify_poll();
  return ok();
}

Result<void> InetSocket::getsockname(fs::SockAddr* out) {
  net::Endpoint local = tcp_ ? tcp_->local() : udp_->local();
  if (any6_ && local.addr.v == kLoopback6) local.addr = net::Ipv4(0);
  put_addr(out, local, family);
  return ok();
}

Result<void> InetSocket::getpeername(fs::SockAddr* out) {
  if (tcp_) {
    net::Endpoint p = TRY(tcp_->peer());
    put_addr(out, p, family);
    return ok();
  }
  if (!udp_->connected()) return err(ENOTCONN);
  put_addr(out, udp_->remote(), family);
  return ok();
}

Result<void> InetSocket::tcp_option(int level, int name, int v) {
  using net::TcpOpt;
  u64 now = inet_now();
  if (level == fs::kSolSocket) {
    switch (name) {
      case kSoReuseaddr: return tcp_->set_option(TcpOpt::ReuseAddr, v, now);
      case kSoReuseport: return ok();  // one listener per port here: nothing to share
      case kSoKeepalive: return tcp_->set_option(TcpOpt::KeepAlive, v, now);
      case kSoRcvbuf:
      case kSoRcvbufforce: return tcp_->set_option(TcpOpt::RcvBuf, v, now);
      case kSoSndbuf:
      case kSoSndbufforce: return tcp_->set_option(TcpOpt::SndBuf, v, now);
    }
    return SocketFile::setsockopt(level, name, &v, 4);
  }
  if (level == fs::kSolTcp) {
    switch (name) {
      case kTcpNodelay: return tcp_->set_option(TcpOpt::NoDelay, v, now);
      case kTcpMaxseg: return tcp_->set_option(TcpOpt::MaxSeg, v, now);
      case kTcpKeepidle: return tcp_->set_option(TcpOpt::KeepIdle, v, now);
      case kTcpKeepintvl: return tcp_->set_option(TcpOpt::KeepIntvl, v, now);
      case kTcpKeepcnt: return tcp_->set_option(TcpOpt::KeepCnt, v, now);
      // Hints with no effect on correctness: accepted (docs/compat.md).
      case kTcpDeferAccept:
      case kTcpQuickack: return ok();
    }
    return err(ENOPROTOOPT);
  }
  if (level == fs::kSolIp && name == kIpTos) return tcp_->set_option(TcpOpt::Tos, v, now);
  return err(ENOPROTOOPT);
}

Result<void> InetSocket::setsockopt(int level, int name, const void* val, u32 len) {
  if (level == kSolIpv6) {
    if (family != fs::kAfInet6 || name != kIpv6V6only) return err(ENOPROTOOPT);
    int v = TRY(int_value(val, len)) != 0;
    if (tcp_) TRY(tcp_->set_option(net::TcpOpt::V6Only, v, inet_now()));
    else udp_->set_v6only(v);
    v6only_ = v;
    return ok();
  }
  if (level == fs::kSolSocket && name == kSoLinger) {
    if (len < 8) return err(EINVAL);
    int l[2];
    memcpy(l, val, 8);
    linger_ = l[0] ? (l[1] < 0 ? 0 : l[1]) : -1;
    if (tcp_) return tcp_->set_option(net::TcpOpt::Linger, linger_, inet_now());
    return ok();
  }
  bool int_option = level == fs::kSolTcp || level == fs::kSolIp ||
                    (level == fs::kSolSocket &&
                     (name == kSoReuseaddr || name == kSoReuseport || name == kSoKeepalive ||
                      name == kSoRcvbuf || name == kSoSndbuf || name == kSoBroadcast ||
                      name == kSoRcvbufforce || name == kSoSndbufforce));
  if (!int_option) return SocketFile::setsockopt(level, name, val, len);
  int v = TRY(int_value(val, len));
  if (tcp_) return tcp_option(level, name, v);
  if (level == fs::kSolSocket) {
    switch (name) {
      case kSoReuseaddr: udp_->set_reuse_addr(v); return ok();
      case kSoReuseport: udp_->set_reuse_port(v); return ok();
      case kSoBroadcast: udp_->set_broadcast(v); return ok();
      case kSoKeepalive: return ok();  // meaningless for UDP, accepted as Linux does
      case kSoRcvbuf:
      case kSoRcvbufforce: {
        // Linux doubles the value (bookkeeping overhead) within its bounds.
        u64 b = v < 1152 ? 2304 : min<u64>(u64(v) * 2, 4u << 20);
        udp_->set_rcvbuf(usize(b));
        return ok();
      }
      case kSoSndbuf:
      case kSoSndbufforce: sndbuf_ = u32(v < 2304 ? 4608 : min<u64>(u64(v) * 2, 4u << 20)); return ok();
    }
  }
  if (level == fs::kSolIp && name == kIpTos) {
    udp_->set_tos(u8(v));
    return ok();
  }
  return err(ENOPROTOOPT);
}

// TCP_INFO: struct tcp_info (linux/tcp.h) up to tcpi_snd_wnd, as Linux 6.1
// has it, from the connection's snapshot; what the stack does not track
// (SACK, pacing, byte and segment counters, timestamps of the last
// segments) is 0. Segment counts are bytes over the MSS; times in us.
Result<void> InetSocket::tcp_info(void* val, u32* len) {
  constexpr u32 kSize = 232;
  // Linux's numbering (include/net/tcp_states.h), in TcpState's order.
  static constexpr u8 kLinuxState[] = {7 /*CLOSE*/, 10 /*LISTEN*/, 2 /*SYN_SENT*/,
                                       3 /*SYN_RECV*/, 1 /*ESTABLISHED*/, 4 /*FIN_WAIT1*/,
                                       5 /*FIN_WAIT2*/, 8 /*CLOSE_WAIT*/, 11 /*CLOSING*/,
                                       9 /*LAST_ACK*/, 6 /*TIME_WAIT*/};
  net::TcpInfo t = tcp_->info();
  u8 b[kSize] = {};
  auto put32 = [&](u32 off, u64 v) {
    u32 x = v > 0xffffffffu ? 0xffffffffu : u32(v);
    memcpy(b + off, &x, 4);
  };
  u32 mss = t.snd_mss ? t.snd_mss : 536;
  auto segs = [&](u64 bytes) { return (bytes + mss - 1) / mss; };
  b[0] = kLinuxState[u32(t.state)];
  b[1] = t.in_recovery ? 3 /*TCP_CA_Recovery*/ : t.backoff ? 4 /*TCP_CA_Loss*/ : 0;
  b[2] = u8(t.retransmits > 255 ? 255 : t.retransmits);
  b[4] = u8(t.backoff > 255 ? 255 : t.backoff);
  b[5] = u8((t.ts_ok ? 1 : 0) | (t.wscale_ok ? 4 : 0));  // TCPI_OPT_TIMESTAMPS, _WSCALE
  if (t.wscale_ok) b[6] = u8((t.snd_wscale & 15) | (t.rcv_wscale & 15) << 4);
  put32(8, t.rto_ns / 1000);       // tcpi_rto
  put32(12, 40000);                // tcpi_ato: the delayed-ACK timeout
  put32(16, t.snd_mss);
  put32(20, t.rcv_mss);
  put32(24, segs(t.unacked));      // tcpi_unacked
  put32(60, t.snd_mss + 40);       // tcpi_pmtu
  put32(64, t.rcv_wnd);            // tcpi_rcv_ssthresh
  put32(68, t.srtt_ns / 1000);     // tcpi_rtt
  put32(72, t.rttvar_ns / 1000);   // tcpi_rttvar
  put32(76, t.ssthresh >= (1u << 30) ? 0x7fffffffu : t.ssthresh / mss);
  put32(80, t.cwnd / mss);         // tcpi_snd_cwnd
  put32(84, t.rcv_mss);            // tcpi_advmss
  put32(88, 3);                    // tcpi_reordering
  put32(96, t.rcv_wnd);            // tcpi_rcv_space
  put32(100, t.retransmits);       // tcpi_total_retrans (this episode's)
  put32(144, t.send_queued > t.unacked ? t.send_queued - t.unacked : 0);  // notsent
  put32(228, t.snd_wnd);
  u32 n = *len < kSize ? *len : kSize;
  memcpy(val, b, n);
  *len = n;
  return ok();
}

Result<void> InetSocket::getsockopt(int level, int name, void* val, u32* len) {
  using net::TcpOpt;
  if (level == kSolIpv6) {
    if (family != fs::kAfInet6 || name != kIpv6V6only) return err(ENOPROTOOPT);
    return put_int(val, len, v6only_);
  }
  if (level == fs::kSolSocket) {
    switch (name) {
      case kSoError: return put_int(val, len, tcp_ ? tcp_->take_error() : udp_->take_error());
      case kSoLinger: {
        if (*len < 8) return err(EINVAL);
        int l[2] = {linger_ >= 0, linger_ >= 0 ? linger_ : 0};
        memcpy(val, l, 8);
        *len = 8;
        return ok();
      }
    }
    if (tcp_) {
      switch (name) {
        case kSoReuseaddr: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::ReuseAddr)));
        case kSoKeepalive: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::KeepAlive)));
        case kSoRcvbuf: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::RcvBuf)));
        case kSoSndbuf: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::SndBuf)));
        case kSoReuseport:
        case kSoBroadcast: return put_int(val, len, 0);
      }
    } else {
      switch (name) {
        case kSoReuseaddr: return put_int(val, len, udp_->reuse_addr());
        case kSoReuseport: return put_int(val, len, udp_->reuse_port());
        case kSoBroadcast: return put_int(val, len, udp_->broadcast());
        case kSoKeepalive: return put_int(val, len, 0);
        case kSoRcvbuf: return put_int(val, len, int(udp_->rcvbuf()));
        case kSoSndbuf: return put_int(val, len, int(sndbuf_));
      }
    }
    return SocketFile::getsockopt(level, name, val, len);
  }
  if (level == fs::kSolTcp) {
    if (!tcp_) return err(EOPNOTSUPP);
    switch (name) {
      case kTcpNodelay: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::NoDelay)));
      case kTcpMaxseg: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::MaxSeg)));
      case kTcpKeepidle: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::KeepIdle)));
      case kTcpKeepintvl: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::KeepIntvl)));
      case kTcpKeepcnt: return put_int(val, len, TRY(tcp_->get_option(TcpOpt::KeepCnt)));
      case kTcpInfo: return tcp_info(val, len);
    }
    return err(ENOPROTOOPT);
  }
  if (level == fs::kSolIp && name == kIpTos)
    return put_int(val, len, tcp_ ? TRY(tcp_->get_option(TcpOpt::Tos)) : 0);
  return err(ENOPROTOOPT);
}

Result<Ref<fs::SocketFile>> create(int family, int type, int protocol, u32 file_flags) {
  if (type != fs::kSockStream && type != fs::kSockDgram) return err(ESOCKTNOSUPPORT);
  if (type == fs::kSockStream && protocol != 0 && protocol != kIpprotoTcp)
    return err(EPROTONOSUPPORT);
  if (type == fs::kSockDgram && protocol != 0 && protocol != kIpprotoUdp)
    return err(EPROTONOSUPPORT);  // ping sockets (IPPROTO_ICMP) included
  Inet* in = inet();
  if (!in) return err(ENOMEM);
  auto node = fs::new_socket_inode();
  if (!node) return err(ENOMEM);
  int proto = type == fs::kSockStream ? kIpprotoTcp : kIpprotoUdp;
  auto f = make_ref<InetSocket>(Ref<fs::Inode>(node), file_flags, family, type, proto);
  if (!f) return err(ENOMEM);
  if (type == fs::kSockStream) {
    net::TcpSocket* t = TRY(in->tcp->socket());
    f->attach_tcp(t);
  } else {
    net::UdpSocket* u = in->stack->udp().open();
    if (!u) return err(ENOMEM);
    f->attach_udp(u);
  }
  return Ref<fs::SocketFile>(f);
}

Result<Ref<fs::SocketFile>> create4(int type, int protocol, u32 file_flags) {
  return create(fs::kAfInet, type, protocol, file_flags);
}

Result<Ref<fs::SocketFile>> create6(int type, int protocol, u32 file_flags) {
  return create(fs::kAfInet6, type, protocol, file_flags);
}

const fs::SocketFamily g_inet_family = {create4, nullptr};
const fs::SocketFamily g_inet6_family = {create6, nullptr};

}  // namespace

void inet_register() {
  fs::register_socket_family(fs::kAfInet, &g_inet_family);
  fs::register_socket_family(fs::kAfInet6, &g_inet6_family);
}

}  // namespace mote::linux
