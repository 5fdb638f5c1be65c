#include "kernel/net/dhcp.h"

#include "kernel/lib/string.h"
#include "kernel/net/wire.h"

namespace mote::net {

namespace {

// RFC 2131 2: the fixed part of a message, then the magic cookie (RFC 2132 2).
constexpr usize kFixed = 236;
constexpr usize kCookieEnd = kFixed + 4;
constexpr u8 kCookie[4] = {99, 130, 83, 99};
constexpr usize kMinMessage = 300;  // RFC 1542 2.1: BOOTP relays expect at least this
constexpr usize kHeaders = EthHeader::kSize + Ipv4Header::kMinSize + UdpHeader::kSize;

enum Option : u8 {
  kPad = 0,
  kSubnetMask = 1,
  kRouter = 3,
  kDns = 6,
  kHostName = 12,
  kInterfaceMtu = 26,
  kRequestedIp = 50,
  kLeaseTime = 51,
  kMessageType = 53,
  kServerId = 54,
  kParamList = 55,
  kClientId = 61,
  kEnd = 255,
};

u8 prefix_of(u32 mask) {
  u8 n = 0;
  while (n < 32 && (mask & (0x80000000u >> n))) ++n;
  // Contiguous only: the rest must be zero.
  return (n == 32 || (mask << n) == 0) ? n : 0;
}

u64 backoff_ns(u32 retries) {
  u32 s = retries >= 3 ? 8 : 1u << retries;  // 1, 2, 4, 8, 8, ...
  return u64(s) * 1000000000ull;
}

}  // namespace

bool dhcp_parse_reply(const u8* frame, usize len, const Mac& mac, u32 xid, DhcpReply* out,
                      bool csum_ok) {
  auto eth = EthHeader::parse(frame, len);
  if (!eth.ok() || eth.value().type != u16(EtherType::Ipv4)) return false;
  const u8* ip = frame + EthHeader::kSize;
  auto ih = Ipv4Header::parse(ip, len - EthHeader::kSize);
  if (!ih.ok()) return false;
  const Ipv4Header& h = ih.value();
  if (h.proto != 17 || h.is_fragment()) return false;
  const u8* udp = ip + h.header_len();
  usize udp_len = h.payload_len();
  auto uh = UdpHeader::parse(udp, udp_len);
  if (!uh.ok()) return false;
  const UdpHeader& u = uh.value();
  if (u.dst_port != kDhcpClientPort || u.src_port != kDhcpServerPort) return false;
  udp_len = u.length;
  if (u.checksum && !csum_ok) {
    u32 sum = csum_pseudo(h.src, h.dst, 17, u16(udp_len));
    if (csum_fold(csum_add(sum, udp, udp_len)) != 0) return false;
  }
  const u8* m = udp + UdpHeader::kSize;
  const usize n = udp_len - UdpHeader::kSize;
  if (n < kCookieEnd) return false;
  if (m[0] != 2 || m[1] != 1 || m[2] != 6) return false;  // BOOTREPLY, Ethernet
  if (load_be32(m + 4) != xid || memcmp(m + 28, mac.b, 6) != 0) return false;
  if (memcmp(m + kFixed, kCookie, 4) != 0) return false;
  DhcpReply r;
  r.xid = xid;
  r.yiaddr = Ipv4(load_be32(m + 16));
  r.server = h.src;
  for (usize i = kCookieEnd; i < n;) {
    u8 code = m[i++];
    if (code == kPad) continue;
    if (code == kEnd) break;
    if (i >= n) return false;
    u8 olen = m[i++];
    if (olen > n - i) return false;
    const u8* v = m + i;
    switch (code) {
      case kMessageType:
        if (olen == 1) r.type = DhcpType(v[0]);
        break;
      case kSubnetMask:
        if (olen == 4) r.prefix_len = prefix_of(load_be32(v));
        break;
      case kRouter:
        if (olen >= 4) r.router = Ipv4(load_be32(v));
        break;
      case kDns:
        if (olen >= 4) r.dns = Ipv4(load_be32(v));
        break;
      case kLeaseTime:
        if (olen == 4) r.lease_s = load_be32(v);
        break;
      case kServerId:
        if (olen == 4) r.server = Ipv4(load_be32(v));
        break;
      case kInterfaceMtu:
        if (olen == 2) r.mtu = load_be16(v);
        break;
      default:
        break;
    }
    i += olen;
  }
  if (r.type == DhcpType::None) return false;  // a BOOTP reply: not ours
  *out = r;
  return true;
}

DhcpClient::DhcpClient(const Mac& mac, u32 xid, const char* hostname, usize hostname_len)
    : mac_(mac), xid_(xid), hostname_(hostname), hostname_len_(hostname_len) {}

void DhcpClient::restart(u64 now_ns) {
  state_ = State::Init;
  next_send_ns_ = now_ns;
  backoff_ = 0;
  offered_ = server_ = Ipv4();
}

usize DhcpClient::build(DhcpType type, u64 now_ns, u8* buf) {
  u8* m = buf + kHeaders;
  memset(m, 0, kFixed);
  m[0] = 1;  // BOOTREQUEST
  m[1] = 1;  // Ethernet
  m[2] = 6;
  store_be32(m + 4, xid_);
  u64 secs = (now_ns - start_ns_) / 1000000000ull;
  store_be16(m + 8, u16(secs > 0xffff ? 0xffff : secs));
  // Renewing, the client has its address (ciaddr) and is answered there;
  // before, BROADCAST: we have no address to be sent to.
  const bool renew = renewing();
  if (renew) store_be32(m + 12, lease_.addr.v);
  else store_be16(m + 10, 0x8000);
  memcpy(m + 28, mac_.b, 6);
  memcpy(m + kFixed, kCookie, 4);
  usize i = kCookieEnd;
  auto opt = [&](u8 code, const void* v, u8 len) {
    m[i++] = code;
    m[i++] = len;
    memcpy(m + i, v, len);
    i += len;
  };
  u8 t = u8(type);
  opt(kMessageType, &t, 1);
  u8 client_id[7] = {1};
  memcpy(client_id + 1, mac_.b, 6);
  opt(kClientId, client_id, 7);
  if (type == DhcpType::Request && !renew) {
    u8 v[4];
    store_be32(v, offered_.v);
    opt(kRequestedIp, v, 4);
    store_be32(v, server_.v);
    opt(kServerId, v, 4);
  }
  if (hostname_len_) opt(kHostName, hostname_, u8(hostname_len_ > 32 ? 32 : hostname_len_));
  const u8 params[] = {kSubnetMask, kRouter, kDns, kInterfaceMtu, kLeaseTime, kServerId};
  opt(kParamList, params, sizeof params);
  m[i++] = kEnd;
  usize msg = i < kMinMessage ? kMinMessage : i;
  memset(m + i, 0, msg - i);

  // UDP from 0.0.0.0:68 (the leased address when renewing) to
  // 255.255.255.255:67 (RFC 2131 4.1), in an Ethernet broadcast.
  const Ipv4 src = renew ? lease_.addr : Ipv4(), dst(0xffffffffu);
  u8* udp = buf + EthHeader::kSize + Ipv4Header::kMinSize;
  UdpHeader uh;
  uh.src_port = kDhcpClientPort;
  uh.dst_port = kDhcpServerPort;
  uh.length = u16(UdpHeader::kSize + msg);
  uh.checksum = 0;
  uh.write(udp);
  u16 c = csum_fold(csum_add(csum_pseudo(src, dst, 17, uh.length), udp, uh.length));
  store_be16(udp + 6, c ? c : 0xffff);
  Ipv4Header ih;
  ih.total_len = u16(Ipv4Header::kMinSize + uh.length);
  ih.proto = 17;
  ih.src = src;
  ih.dst = dst;
  ih.write(buf + EthHeader::kSize);
  EthHeader eh;
  memset(eh.dst.b, 0xff, 6);
  eh.src = mac_;
  eh.type = u16(EtherType::Ipv4);
  eh.write(buf);
  ++sent_;
  return EthHeader::kSize + ih.total_len;
}

// BOUND, RENEWING, REBINDING: the lease's clock (RFC 2131 4.4.5).
usize DhcpClient::poll_lease(u64 now_ns, u8* buf, u64* next_ns) {
  if (lease_.lease_s == 0 || lease_.lease_s == 0xffffffffu) return 0;  // never renewed
  const u64 len = u64(lease_.lease_s) * 1000000000ull;
  const u64 t1 = bound_ns_ + len / 2, t2 = bound_ns_ + len / 8 * 7, end = bound_ns_ + len;
  if (now_ns >= end) {  // lost: start again (poll goes on with DISCOVER)
    ++losses_;
    restart(now_ns);
    return 0;
  }
  if (state_ == State::Bound) {
    if (now_ns < t1) {
      *next_ns = t1;
      return 0;
    }
    state_ = State::Renewing;
    start_ns_ = now_ns;
    ++xid_;  // a new exchange
    next_send_ns_ = now_ns;
  }
  if (state_ == State::Renewing && now_ns >= t2) {
    state_ = State::Rebinding;
    next_send_ns_ = now_ns;
  }
  const u64 until = state_ == State::Renewing ? t2 : end;
  if (now_ns < next_send_ns_) {
    *next_ns = min(next_send_ns_, until);
    return 0;
  }
  // Half the time left, at least 1 s (RFC 2131 4.4.5 says 60 s; leases of
  // minutes would then get one try), never past the next phase.
  u64 wait = (until - now_ns) / 2;
  if (wait < 1000000000ull) wait = min<u64>(1000000000ull, until - now_ns);
  usize n = build(DhcpType::Request, now_ns, buf);
  next_send_ns_ = now_ns + wait;
  *next_ns = next_send_ns_;
  return n;
}

usize DhcpClient::poll(u64 now_ns, u8* buf, u64* next_ns) {
  *next_ns = ~0ull;
  if (bound()) {
    usize n = poll_lease(now_ns, buf, next_ns);
    if (n || state_ != State::Init) return n;
  }
  // A REQUEST unanswered four times: start again from DISCOVER (RFC 2131
  // 3.1 step 5 lets the client go back to INIT).
  if (state_ == State::Requesting && now_ns >= next_send_ns_ && backoff_ >= 4) restart(now_ns);
  if (state_ == State::Init) {  // a new exchange (restart() made it due now)
    state_ = State::Selecting;
    start_ns_ = now_ns;
  }
  if (now_ns < next_send_ns_) {
    *next_ns = next_send_ns_;
    return 0;
  }
  usize n = build(state_ == State::Selecting ? DhcpType::Discover : DhcpType::Request, now_ns, buf);
  next_send_ns_ = now_ns + backoff_ns(backoff_++);
  *next_ns = next_send_ns_;
  return n;
}

void DhcpClient::take(const DhcpReply& r, u64 now_ns) {
  lease_.addr = r.yiaddr;
  lease_.prefix_len = r.prefix_len ? r.prefix_len : 24;
  lease_.gateway = r.router;
  lease_.dns = r.dns;
  lease_.server = r.server;
  lease_.lease_s = r.lease_s;
  lease_.mtu = r.mtu;
  server_ = r.server;
  bound_ns_ = now_ns;
  state_ = State::Bound;
  ++leases_;
}

bool DhcpClient::input(const u8* frame, usize len, u64 now_ns, bool csum_ok) {
  if (state_ != State::Selecting && state_ != State::Requesting && !renewing()) return false;
  DhcpReply r;
  if (!dhcp_parse_reply(frame, len, mac_, xid_, &r, csum_ok)) return false;
  if (renewing()) {
    // RENEWING asks the leasing server; REBINDING any.
    if (state_ == State::Renewing && r.server != server_) return false;
    if (r.type == DhcpType::Nak) {
      ++losses_;
      restart(now_ns);
      return true;
    }
    if (r.type != DhcpType::Ack || r.yiaddr.any()) return false;
    take(r, now_ns);
    return true;
  }
  if (state_ == State::Selecting) {
    if (r.type != DhcpType::Offer || r.yiaddr.any() || r.server.any()) return false;
    offered_ = r.yiaddr;
    server_ = r.server;
    state_ = State::Requesting;
    backoff_ = 0;
    next_send_ns_ = now_ns;  // the REQUEST goes out at the next poll
    return true;
  }
  if (r.server != server_) return false;  // another server's answer
  if (r.type == DhcpType::Nak) {
    restart(now_ns);
    return true;
  }
  if (r.type != DhcpType::Ack || r.yiaddr.any()) return false;
  take(r, now_ns);
  return true;
}

}  // namespace mote::net
