// AF_NETLINK sockets of protocol NETLINK_ROUTE (netlink(7), rtnetlink(7)):
// the queries programs make to list interfaces, addresses and routes
// (glibc's and musl's getifaddrs and if_nameindex, Go's net.Interfaces,
// iproute2's `ip addr` and `ip route`). The kernel answers
//  - RTM_GETLINK: a dump, or one interface by index or IFLA_IFNAME;
//  - RTM_GETADDR: a dump of the IPv4 addresses (there are no IPv6 ones);
//  - RTM_GETROUTE: a dump of the IPv4 routes of the main and local tables,
// from the interfaces there are (inet.h: lo, and eth0 with a device).
// Changes (RTM_NEW*, RTM_DEL*, RTM_SETLINK) are EPERM, as for a process
// without CAP_NET_ADMIN; other message types EOPNOTSUPP. Nothing is ever
// multicast: mote's interfaces do not change, so a socket subscribed to
// groups only ever reads its own answers.
//
// Answers are queued when the request is sent: datagrams of at most
// kDgramMax bytes, as many messages as fit in each (NLMSG_DONE in the last
// when it fits), as Linux's dumps for a page-sized receive buffer.
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/fs/socket.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/inet.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr int kNetlinkRoute = 0;
constexpr int kSolNetlink = 270;
// linux/netlink.h socket options (SOL_NETLINK).
enum : int { kNetlinkAddMembership = 1, kNetlinkDropMembership = 2, kNetlinkPktinfo = 3,
             kNetlinkBroadcastError = 4, kNetlinkNoEnobufs = 5, kNetlinkListenAllNsid = 8,
             kNetlinkCapAck = 10, kNetlinkExtAck = 11, kNetlinkGetStrictChk = 12 };

// Message types and flags (linux/netlink.h, linux/rtnetlink.h).
enum : u16 {
  kNlmsgError = 2, kNlmsgDone = 3, kNlmsgMinType = 0x10,
  kRtmNewlink = 16, kRtmDellink = 17, kRtmGetlink = 18, kRtmSetlink = 19,
  kRtmNewaddr = 20, kRtmDeladdr = 21, kRtmGetaddr = 22,
  kRtmNewroute = 24, kRtmDelroute = 25, kRtmGetroute = 26,
};
enum : u16 { kNlmFRequest = 0x1, kNlmFMulti = 0x2, kNlmFAck = 0x4, kNlmFDump = 0x300,
             kNlmFCapped = 0x100 };

// Attributes: IFLA_* (linux/if_link.h), IFA_* (linux/if_addr.h), RTA_*.
enum : u16 { kIflaAddress = 1, kIflaBroadcast = 2, kIflaIfname = 3, kIflaMtu = 4,
             kIflaStats = 7, kIflaTxqlen = 13, kIflaOperstate = 16, kIflaLinkmode = 17 };
enum : u16 { kIfaAddress = 1, kIfaLocal = 2, kIfaLabel = 3, kIfaBroadcast = 4,
             kIfaCacheinfo = 6, kIfaFlags = 8 };
enum : u16 { kRtaDst = 1, kRtaOif = 4, kRtaGateway = 5, kRtaPrefsrc = 7, kRtaTable = 15 };
constexpr u8 kIfOperUnknown = 0, kIfOperUp = 6;
constexpr u32 kIffLowerUp = 0x10000;
constexpr u8 kIfaFPermanent = 0x80;
constexpr u8 kRtScopeUniverse = 0, kRtScopeLink = 253, kRtScopeHost = 254;
constexpr u8 kRtTableMain = 254, kRtTableLocal = 255;
constexpr u8 kRtprotKernel = 2, kRtprotBoot = 3;
constexpr u8 kRtnUnicast = 1, kRtnLocal = 2, kRtnBroadcast = 3;
constexpr u8 kAfUnspec = 0;

struct NlMsgHdr {
  u32 len;
  u16 type, flags;
  u32 seq, pid;
};
struct IfInfoMsg {
  u8 family, pad;
  u16 type;
  i32 index;
  u32 flags, change;
};
struct IfAddrMsg {
  u8 family, prefixlen, flags, scope;
  u32 index;
};
struct RtMsg {
  u8 family, dst_len, src_len, tos, table, protocol, scope, type;
  u32 flags;
};
static_assert(sizeof(NlMsgHdr) == 16 && sizeof(IfInfoMsg) == 16 && sizeof(IfAddrMsg) == 8 &&
              sizeof(RtMsg) == 12);

constexpr usize align4(usize n) { return (n + 3) & ~usize(3); }

constexpr usize kDgramMax = 4096;    // one datagram of answers
constexpr usize kRequestMax = 32768;  // one sendmsg's bytes (Linux: EMSGSIZE past sk_sndbuf)
constexpr usize kMsgMax = 512;        // one answer message (the largest: a link, ~250 bytes)

// One queued datagram.
struct Dgram {
  Dgram* next;
  usize len;
  u8 bytes[kDgramMax];
};

// One answer being built: the header, the fixed part, then attributes.
class Msg {
 public:
  Msg(u16 type, u16 flags, u32 seq, u32 pid) {
    NlMsgHdr h{0, type, flags, seq, pid};
    put(&h, sizeof h);
  }
  void put(const void* p, usize n) {
    if (len_ + align4(n) > sizeof buf_) return;  // kMsgMax bounds every message built here
    memcpy(buf_ + len_, p, n);
    memset(buf_ + len_ + n, 0, align4(n) - n);
    len_ += align4(n);
  }
  void attr(u16 type, const void* p, usize n) {
    u16 head[2] = {u16(4 + n), type};
    put(head, sizeof head);
    put(p, n);
  }
  void attr_u32(u16 type, u32 v) { attr(type, &v, 4); }
  void attr_u8(u16 type, u8 v) { attr(type, &v, 1); }
  void attr_ip(u16 type, net::Ipv4 a) {
    u8 b[4];
    net::store_be32(b, a.v);
    attr(type, b, 4);
  }
  void attr_str(u16 type, const char* s) { attr(type, s, strlen(s) + 1); }
  // The finished message: nlmsg_len filled in.
  const u8* bytes() {
    u32 n = u32(len_);
    memcpy(buf_, &n, 4);
    return buf_;
  }
  usize size() const { return len_; }

 private:
  alignas(4) u8 buf_[kMsgMax];
  usize len_ = 0;
};

class NetlinkSocket;
NetlinkSocket* g_bound = nullptr;  // the sockets with a port id, for uniqueness

class NetlinkSocket final : public fs::SocketFile {
 public:
  NetlinkSocket(Ref<fs::Inode> node, u32 file_flags, int type)
      : SocketFile(static_cast<Ref<fs::Inode>&&>(node), file_flags, fs::kAfNetlink, type,
                   kNetlinkRoute) {}
  ~NetlinkSocket() override {
    drop_queue();
    for (NetlinkSocket** p = &g_bound; *p; p = &(*p)->next_bound_)
      if (*p == this) {
        *p = next_bound_;
        break;
      }
  }

  Result<void> bind(const fs::SockAddr& a) override {
    u32 pid, groups;
    TRY(parse(a, &pid, &groups));
    if (portid_) {
      if (pid && pid != portid_) return err(EINVAL);  // Linux: a second bind may not move it
    } else {
      TRY(take_portid(pid));
    }
    groups_ = groups;
    return ok();
  }

  Result<void> connect(const fs::SockAddr& a) override {
    u32 pid, groups;
    if (a.family() == kAfUnspec) {  // disconnect
      return ok();
    }
    TRY(parse(a, &pid, &groups));
    if (pid != 0) return err(ECONNREFUSED);  // only the kernel answers here
    if (!portid_) TRY(take_portid(0));
    return ok();
  }

  Result<void> getsockname(fs::SockAddr* out) override {
    put_addr(out, portid_, groups_);
    return ok();
  }
  Result<void> getpeername(fs::SockAddr* out) override {
    put_addr(out, 0, 0);
    return ok();
  }

  Result<usize> sendmsg(fs::SocketMsg& m, int flags) override {
    if (m.addr && m.addr->len) {
      u32 pid, groups;
      TRY(parse(*m.addr, &pid, &groups));
      if (pid != 0) return err(ECONNREFUSED);
      if (groups) return err(EPERM);  // multicasting needs CAP_NET_ADMIN
    }
    usize total = fs::iov_total(m.iov, m.iovcnt);
    if (total > kRequestMax) return err(EMSGSIZE);
    if (!portid_) TRY(take_portid(0));
    u8* req = static_cast<u8*>(mm::kalloc(total ? total : 1));
    if (!req) return err(ENOMEM);
    fs::from_iov(m.iov, m.iovcnt, 0, req, total);
    // Each message in turn (netlink_rcv_skb): a short or overlong header
    // ends the batch.
    for (usize at = 0; total - at >= sizeof(NlMsgHdr);) {
      NlMsgHdr h;
      memcpy(&h, req + at, sizeof h);
      if (h.len < sizeof h || h.len > total - at) break;
      handle(h, req + at);
      at += min(align4(h.len), total - at);
    }
    mm::kfree(req);
    core::wake_all(wq_);
    core::notify_poll();
    return total;
  }

  Result<usize> recvmsg(fs::SocketMsg& m, int flags) override {
    u64 deadline = fs::socket_deadline(rcvtimeo_ns);
    while (!head_) {
      if (error_) {
        int e = error_;
        error_ = 0;
        return err(e);
      }
      if (nonblocking(flags)) return err(EAGAIN);
      TRY(fs::socket_wait(wq_, deadline));
    }
    Dgram* d = head_;
    usize copied = min(fs::iov_total(m.iov, m.iovcnt), d->len);
    fs::to_iov(m.iov, m.iovcnt, 0, d->bytes, copied);
    if (copied < d->len) m.flags_out |= fs::kMsgTrunc;
    if (m.want_addr && m.addr) put_addr(m.addr, 0, 0);  // from the kernel
    usize len = d->len;
    if (!(flags & fs::kMsgPeek)) {
      head_ = d->next;
      if (!head_) tail_ = nullptr;
      queued_ -= d->len;
      mm::kfree(d);
      core::notify_poll();
    }
    // MSG_TRUNC asks for the datagram's real length (netlink_recvmsg).
    return (flags & fs::kMsgTrunc) ? len : copied;
  }

  u32 poll_ready() override {
    u32 ev = fs::kPollOut | fs::kPollWrnorm;
    if (head_) ev |= fs::kPollIn | fs::kPollRdnorm;
    if (error_) ev |= fs::kPollErr;
    return ev;
  }
  Result<u64> readable_bytes() override { return u64(head_ ? head_->len : 0); }

  Result<void> setsockopt(int level, int name, const void* val, u32 len) override {
    if (level != kSolNetlink) return SocketFile::setsockopt(level, name, val, len);
    if (len < sizeof(int)) return err(EINVAL);
    int v;
    memcpy(&v, val, sizeof v);
    switch (name) {
      case kNetlinkAddMembership:
      case kNetlinkDropMembership:
        if (v < 1 || v > 32) return err(EINVAL);  // the groups of the legacy bitmask only
        if (name == kNetlinkAddMembership) groups_ |= 1u << (v - 1);
        else groups_ &= ~(1u << (v - 1));
        return ok();
      case kNetlinkCapAck: cap_ack_ = v != 0; return ok();
      case kNetlinkPktinfo: case kNetlinkBroadcastError: case kNetlinkNoEnobufs:
      case kNetlinkListenAllNsid: case kNetlinkExtAck: case kNetlinkGetStrictChk:
        return ok();  // nothing is multicast and no error carries extended details
      default: return err(ENOPROTOOPT);
    }
  }

  Result<void> getsockopt(int level, int name, void* val, u32* len) override {
    if (level != kSolNetlink) return SocketFile::getsockopt(level, name, val, len);
    if (*len < sizeof(int)) return err(EINVAL);
    int v = 0;
    switch (name) {
      case kNetlinkCapAck: v = cap_ack_; break;
      case kNetlinkPktinfo: case kNetlinkBroadcastError: case kNetlinkNoEnobufs:
      case kNetlinkListenAllNsid: case kNetlinkExtAck: case kNetlinkGetStrictChk: break;
      default: return err(ENOPROTOOPT);
    }
    memcpy(val, &v, sizeof v);
    *len = sizeof v;
    return ok();
  }

 private:
  // struct sockaddr_nl: family, pad, pid, groups.
  static Result<void> parse(const fs::SockAddr& a, u32* pid, u32* groups) {
    if (a.len < 12) return err(EINVAL);
    if (a.family() != fs::kAfNetlink) return err(EINVAL);
    memcpy(pid, a.bytes + 4, 4);
    memcpy(groups, a.bytes + 8, 4);
    return ok();
  }
  static void put_addr(fs::SockAddr* out, u32 pid, u32 groups) {
    memset(out->bytes, 0, 12);
    out->bytes[0] = u8(fs::kAfNetlink);
    memcpy(out->bytes + 4, &pid, 4);
    memcpy(out->bytes + 8, &groups, 4);
    out->len = 12;
  }

  static bool portid_used(u32 id) {
    for (NetlinkSocket* s = g_bound; s; s = s->next_bound_)
      if (s->portid_ == id) return true;
    return false;
  }
  // A port id: the one asked for, else the process id for the first socket
  // and then -4096, -4097, ... (netlink_autobind).
  Result<void> take_portid(u32 want) {
    if (want) {
      if (portid_used(want)) return err(EADDRINUSE);
    } else {
      want = u32(core::g_proc.pid);
      static i32 next_negative = -4096;
      while (portid_used(want)) {
        want = u32(next_negative--);
        if (next_negative > -4096) next_negative = -4096;  // wrapped around
      }
    }
    portid_ = want;
    next_bound_ = g_bound;
    g_bound = this;
    return ok();
  }

  void drop_queue() {
    while (head_) {
      Dgram* d = head_;
      head_ = d->next;
      mm::kfree(d);
    }
    tail_ = nullptr;
    queued_ = 0;
  }

  // Appends one message to the answers: to the last datagram while it fits.
  void emit(Msg& msg) {
    usize n = msg.size();
    if (!tail_ || tail_->len + n > kDgramMax || tail_closed_) {
      if (queued_ + sizeof(Dgram) > usize(opts.rcvbuf)) {  // SO_RCVBUF full: dropped, as Linux
        error_ = ENOBUFS;
        return;
      }
      auto* d = static_cast<Dgram*>(mm::kalloc(sizeof(Dgram)));
      if (!d) {
        error_ = ENOBUFS;
        return;
      }
      d->next = nullptr;
      d->len = 0;
      if (tail_) tail_->next = d;
      else head_ = d;
      tail_ = d;
      tail_closed_ = false;
      queued_ += sizeof(Dgram);
    }
    memcpy(tail_->bytes + tail_->len, msg.bytes(), n);
    tail_->len += n;
  }
  // The next answer starts a datagram of its own (each request's answers
  // are separate datagrams, as each of Linux's skbs).
  void close_dgram() { tail_closed_ = true; }

  void error_reply(const NlMsgHdr& h, const u8* req, int error) {
    bool capped = error == 0 || cap_ack_;
    Msg m(kNlmsgError, capped ? kNlmFCapped : 0, h.seq, portid_);
    i32 e = -error;
    m.put(&e, 4);
    // The request: its header when capped, else whole (within kMsgMax).
    m.put(req, capped ? sizeof h : min<usize>(h.len, kMsgMax - 4 - 2 * sizeof h));
    emit(m);
    close_dgram();
  }

  void done_reply(const NlMsgHdr& h) {
    Msg m(kNlmsgDone, kNlmFMulti, h.seq, portid_);
    i32 zero = 0;
    m.put(&zero, 4);
    emit(m);
    close_dgram();
  }

  void handle(const NlMsgHdr& h, const u8* req) {
    const u8* body = req + sizeof h;
    usize body_len = h.len - sizeof h;
    // Not a request, a control message, or (rtnetlink_rcv_msg) a request
    // without even a family byte: nothing to do but the ack asked for.
    if (!(h.flags & kNlmFRequest) || h.type < kNlmsgMinType || body_len < 1) {
      if (h.flags & kNlmFAck) error_reply(h, req, 0);
      return;
    }
    bool dump = (h.flags & kNlmFDump) != 0;
    int error = 0;
    switch (h.type) {
      case kRtmGetlink:
        if (dump) {
          dump_links(h);
          return;
        }
        error = get_link(h, body, body_len);
        break;
      case kRtmGetaddr:
      case kRtmGetroute:  // dumps only (no single-address or route lookup)
        if (!dump) {
          error = EOPNOTSUPP;
          break;
        }
        // body[0]: the family of ifaddrmsg, rtmsg or a bare rtgenmsg.
        if (h.type == kRtmGetaddr) dump_addrs(h, body[0]);
        else dump_routes(h, body[0]);
        return;
      case kRtmNewlink: case kRtmDellink: case kRtmSetlink:
      case kRtmNewaddr: case kRtmDeladdr: case kRtmNewroute: case kRtmDelroute:
        error = EPERM;
        break;
      default:
        error = EOPNOTSUPP;
        break;
    }
    if (error || (h.flags & kNlmFAck)) error_reply(h, req, error);
  }

  void link_msg(const NetIface& f, const NlMsgHdr& h, u16 flags) {
    Msg m(kRtmNewlink, flags, h.seq, portid_);
    IfInfoMsg info{kAfUnspec, 0, f.hwtype, f.index, u32(f.flags) | kIffLowerUp, 0};
    m.put(&info, sizeof info);
    m.attr_str(kIflaIfname, f.name);
    m.attr_u32(kIflaTxqlen, 1000);
    bool loopback = f.hwtype == kArphrdLoopback;
    m.attr_u8(kIflaOperstate, loopback ? kIfOperUnknown : kIfOperUp);
    m.attr_u8(kIflaLinkmode, 0);
    m.attr_u32(kIflaMtu, f.mtu);
    u8 bcast[6];
    memset(bcast, loopback ? 0 : 0xff, sizeof bcast);
    m.attr(kIflaAddress, f.mac, 6);
    m.attr(kIflaBroadcast, bcast, 6);
    u32 stats[24] = {};  // struct rtnl_link_stats: mote keeps no per-device counters
    m.attr(kIflaStats, stats, sizeof stats);
    emit(m);
  }

  void dump_links(const NlMsgHdr& h) {
    NetIface ifs[kMaxNetIfaces];
    int n = net_interfaces(ifs);
    for (int i = 0; i < n; ++i) link_msg(ifs[i], h, kNlmFMulti);
    done_reply(h);
  }

  // One link by ifi_index, else by IFLA_IFNAME.
  int get_link(const NlMsgHdr& h, const u8* body, usize len) {
    if (len < sizeof(IfInfoMsg)) return EINVAL;
    IfInfoMsg want;
    memcpy(&want, body, sizeof want);
    StrView name;
    for (usize at = sizeof want; len - at >= 4;) {
      u16 alen, type;
      memcpy(&alen, body + at, 2);
      memcpy(&type, body + at + 2, 2);
      if (alen < 4 || alen > len - at) break;
      if (type == kIflaIfname) {
        const char* s = reinterpret_cast<const char*>(body + at + 4);
        name = StrView(s, strnlen(s, alen - 4));
      }
      at += align4(alen);
      if (at > len) break;
    }
    NetIface ifs[kMaxNetIfaces];
    int n = net_interfaces(ifs);
    for (int i = 0; i < n; ++i) {
      bool match = want.index > 0 ? ifs[i].index == want.index
                                  : name.size && name == StrView(ifs[i].name);
      if (!match) continue;
      link_msg(ifs[i], h, 0);
      close_dgram();
      return 0;
    }
    return ENODEV;
  }

  void dump_addrs(const NlMsgHdr& h, u8 family) {
    if (family == kAfUnspec || family == fs::kAfInet) {
      NetIface ifs[kMaxNetIfaces];
      int n = net_interfaces(ifs);
      for (int i = 0; i < n; ++i) {
        const NetIface& f = ifs[i];
        if (f.addr.any()) continue;  // eth0 without an address yet
        bool loopback = f.hwtype == kArphrdLoopback;
        Msg m(kRtmNewaddr, kNlmFMulti, h.seq, portid_);
        IfAddrMsg a{u8(fs::kAfInet), u8(f.prefix), kIfaFPermanent,
                    loopback ? kRtScopeHost : kRtScopeUniverse, u32(f.index)};
        m.put(&a, sizeof a);
        m.attr_ip(kIfaAddress, f.addr);
        m.attr_ip(kIfaLocal, f.addr);
        if (!loopback && f.prefix < 31)
          m.attr_ip(kIfaBroadcast, net::Ipv4(f.addr.v | ~mask(f.prefix)));
        m.attr_str(kIfaLabel, f.name);
        m.attr_u32(kIfaFlags, kIfaFPermanent);
        u32 cache[4] = {~u32(0), ~u32(0), 0, 0};  // preferred, valid: forever
        m.attr(kIfaCacheinfo, cache, sizeof cache);
        emit(m);
      }
    }
    done_reply(h);
  }

  static u32 mask(u32 prefix) { return prefix ? ~u32(0) << (32 - prefix) : 0; }

  void route_msg(const NlMsgHdr& h, u8 table, u8 type, u8 proto, u8 scope, net::Ipv4 dst,
                 u8 dst_len, net::Ipv4 gateway, net::Ipv4 prefsrc, int oif) {
    Msg m(kRtmNewroute, kNlmFMulti, h.seq, portid_);
    RtMsg r{u8(fs::kAfInet), dst_len, 0, 0, table, proto, scope, type, 0};
    m.put(&r, sizeof r);
    m.attr_u32(kRtaTable, table);
    if (dst_len) m.attr_ip(kRtaDst, dst);
    if (!prefsrc.any()) m.attr_ip(kRtaPrefsrc, prefsrc);
    if (!gateway.any()) m.attr_ip(kRtaGateway, gateway);
    m.attr_u32(kRtaOif, u32(oif));
    emit(m);
  }

  // The routes Linux makes for these addresses (fib_add_ifaddr), and the
  // default route through the boot info's gateway; main table first, each
  // table in address order, as Linux's dump.
  void dump_routes(const NlMsgHdr& h, u8 family) {
    if (family == kAfUnspec || family == fs::kAfInet) {
      NetIface ifs[kMaxNetIfaces];
      int n = net_interfaces(ifs);
      const net::Ipv4 none;
      const NetIface* eth = n > 1 && !ifs[1].addr.any() ? &ifs[1] : nullptr;
      const NetIface& lo = ifs[0];
      if (eth) {
        net::Ipv4 gw = net_config().gateway;
        if (!gw.any())
          route_msg(h, kRtTableMain, kRtnUnicast, kRtprotBoot, kRtScopeUniverse, none, 0, gw,
                    none, eth->index);
        route_msg(h, kRtTableMain, kRtnUnicast, kRtprotKernel, kRtScopeLink,
                  net::Ipv4(eth->addr.v & mask(eth->prefix)), u8(eth->prefix), none, eth->addr,
                  eth->index);
        route_msg(h, kRtTableLocal, kRtnLocal, kRtprotKernel, kRtScopeHost, eth->addr, 32, none,
                  eth->addr, eth->index);
        if (eth->prefix < 31)
          route_msg(h, kRtTableLocal, kRtnBroadcast, kRtprotKernel, kRtScopeLink,
                    net::Ipv4(eth->addr.v | ~mask(eth->prefix)), 32, none, eth->addr, eth->index);
      }
      route_msg(h, kRtTableLocal, kRtnLocal, kRtprotKernel, kRtScopeHost,
                net::Ipv4(lo.addr.v & mask(lo.prefix)), u8(lo.prefix), none, lo.addr, lo.index);
      route_msg(h, kRtTableLocal, kRtnLocal, kRtprotKernel, kRtScopeHost, lo.addr, 32, none,
                lo.addr, lo.index);
      route_msg(h, kRtTableLocal, kRtnBroadcast, kRtprotKernel, kRtScopeLink,
                net::Ipv4(lo.addr.v | ~mask(lo.prefix)), 32, none, lo.addr, lo.index);
    }
    done_reply(h);
  }

  core::WaitQueue wq_;
  Dgram* head_ = nullptr;
  Dgram* tail_ = nullptr;
  bool tail_closed_ = false;
  usize queued_ = 0;
  int error_ = 0;  // ENOBUFS once answers were dropped, reported by the next recv
  bool cap_ack_ = false;
  u32 portid_ = 0;  // 0 until bound (no port id is 0: that is the kernel's)
  u32 groups_ = 0;
  NetlinkSocket* next_bound_ = nullptr;
};

Result<Ref<fs::SocketFile>> create(int type, int protocol, u32 file_flags) {
  if (type != fs::kSockRaw && type != fs::kSockDgram) return err(ESOCKTNOSUPPORT);
  if (protocol != kNetlinkRoute) return err(EPROTONOSUPPORT);
  Ref<fs::Inode> node = fs::new_socket_inode();
  if (!node) return err(ENOMEM);
  void* mem = mm::kzalloc(sizeof(NetlinkSocket));
  if (!mem) return err(ENOMEM);
  return Ref<fs::SocketFile>(new (mem) NetlinkSocket(static_cast<Ref<fs::Inode>&&>(node),
                                                     file_flags, type));
}

const fs::SocketFamily g_netlink_family = {create, nullptr};

}  // namespace

void netlink_register() { fs::register_socket_family(fs::kAfNetlink, &g_netlink_family); }

}  // namespace mote::linux
