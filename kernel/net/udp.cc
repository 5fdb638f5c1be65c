// UDP sockets and demultiplexing (udp.h).
#include "kernel/net/udp.h"

#include <new>

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"
#include "kernel/net/wire.h"

namespace mote::net {

namespace {
// What a queued datagram costs against the budget: its bytes and its node.
usize charge(usize len) { return len + 64; }

u16 udp_checksum(Ipv4 src, Ipv4 dst, const u8* seg, usize len) {
  u16 c = csum_fold(csum_add(csum_pseudo(src, dst, kProtoUdp, u16(len)), seg, len));
  return c ? c : 0xffff;  // RFC 768: a computed zero is sent as all ones
}
}  // namespace

// ---------------------------------------------------------------------------
// Sockets.

UdpSocket::~UdpSocket() {
  while (q_head_) {
    Datagram* d = q_head_;
    q_head_ = d->next;
    mm::kfree(d);
  }
}

void UdpSocket::close() { udp_.remove(this); }

Result<void> UdpSocket::autobind() {
  u16 port = TRY(udp_.pick_ephemeral());
  local_.port = port;
  return ok();
}

Result<void> UdpSocket::bind(Endpoint local) {
  if (bound()) return err(EINVAL);
  Ipv4 a = local.addr;
  if (!a.any() && !udp_.ip_.is_local(a) && !a.multicast() && !udp_.is_broadcast(a))
    return err(EADDRNOTAVAIL);
  u16 port = local.port;
  if (port == 0) {
    port = TRY(udp_.pick_ephemeral());
  } else if (!udp_.may_bind(*this, a, port)) {
    return err(EADDRINUSE);
  }
  local_ = Endpoint{a, port};
  addr_from_connect_ = false;
  return ok();
}

Result<void> UdpSocket::connect(Endpoint remote) {
  if (remote.addr.any() && remote.port == 0) {  // AF_UNSPEC: dissolve
    connected_ = false;
    remote_ = Endpoint();
    if (addr_from_connect_) local_.addr = Ipv4(), addr_from_connect_ = false;
    return ok();
  }
  if (udp_.is_broadcast(remote.addr) && !broadcast_) return err(EACCES);
  Ipv4 src = udp_.ip_.source_for(remote.addr);
  if (src.any() && !remote.addr.broadcast()) return err(ENETUNREACH);
  if (!bound()) TRY(autobind());
  if (local_.addr.any() && !src.any()) local_.addr = src, addr_from_connect_ = true;
  remote_ = remote;
  connected_ = true;
  return ok();
}

Result<usize> UdpSocket::sendto(const void* data, usize len, const Endpoint* dst) {
  Endpoint to;
  if (dst) {
    to = *dst;
  } else {
    if (!connected_) return err(EDESTADDRREQ);
    to = remote_;
  }
  if (to.port == 0) return err(EINVAL);
  if (len > kMaxPayload) return err(EMSGSIZE);
  if (udp_.is_broadcast(to.addr) && !broadcast_) return err(EACCES);
  if (!bound()) TRY(autobind());
  Ipv4 src = local_.addr;
  // A socket bound to a broadcast or multicast address still sends from ours.
  if (src.any() || src.multicast() || udp_.is_broadcast(src)) src = udp_.ip_.source_for(to.addr);
  if (src.any() && !to.addr.broadcast()) return err(EHOSTUNREACH);

  usize ulen = UdpHeader::kSize + len;
  Packet* p = Packet::alloc(ulen);
  if (!p) return err(ENOBUFS);
  u8* seg = p->put(ulen);
  UdpHeader h;
  h.src_port = local_.port;
  h.dst_port = to.port;
  h.length = u16(ulen);
  h.write(seg);
  if (len) memcpy(seg + UdpHeader::kSize, data, len);
  if (udp_.ip_.csum_offload()) {
    store_be16(seg + 6, csum_partial_field(csum_pseudo(src, to.addr, kProtoUdp, u16(ulen))));
    p->set_csum_partial(6);
  } else {
    store_be16(seg + 6, udp_checksum(src, to.addr, seg, ulen));
  }
  TRY(udp_.ip_.ip_send(src, to.addr, kProtoUdp, tos_, p));
  ++udp_.stats_.out_datagrams;
  return len;
}

Result<usize> UdpSocket::recvfrom(void* buf, usize cap, UdpRecvInfo* info, bool peek) {
  if (error_) return err(take_error());
  Datagram* d = q_head_;
  if (!d) return err(EAGAIN);
  usize n = min(cap, d->len);
  if (n) memcpy(buf, d->data(), n);
  if (info) {
    info->from = d->from;
    info->dst = d->dst;
    info->full_len = d->len;
  }
  if (!peek) {
    q_head_ = d->next;
    if (!q_head_) q_tail_ = nullptr;
    q_bytes_ -= charge(d->len);
    --q_count_;
    mm::kfree(d);
  }
  return n;
}

bool UdpSocket::enqueue(const IpInfo& ip, Endpoint from, const u8* data, usize len) {
  // The budget admits a datagram while the queue is under it (one at least,
  // so a budget smaller than a datagram does not starve the socket).
  if (q_head_ && q_bytes_ + charge(len) > rcvbuf_) {
    ++drops_;
    return false;
  }
  auto* d = static_cast<Datagram*>(mm::kalloc(sizeof(Datagram) + len));
  if (!d) {
    ++drops_;
    return false;
  }
  d->next = nullptr;
  d->from = from;
  d->dst = ip.dst;
  d->len = len;
  if (len) memcpy(d->data(), data, len);
  if (q_tail_)
    q_tail_->next = d;
  else
    q_head_ = d;
  q_tail_ = d;
  q_bytes_ += charge(len);
  ++q_count_;
  wake();
  return true;
}

// ---------------------------------------------------------------------------
// The table.

Udp::~Udp() {
  for (UdpSocket* s : socks_) {
    s->~UdpSocket();
    mm::kfree(s);
  }
}

UdpSocket* Udp::open() {
  void* mem = mm::kalloc(sizeof(UdpSocket));
  if (!mem) return nullptr;
  UdpSocket* s = new (mem) UdpSocket(*this);
  if (!socks_.push(s).ok()) {
    s->~UdpSocket();
    mm::kfree(mem);
    return nullptr;
  }
  return s;
}

void Udp::remove(UdpSocket* s) {
  for (usize i = 0; i < socks_.size(); ++i) {
    if (socks_[i] == s) {
      socks_.erase(i);
      break;
    }
  }
  s->~UdpSocket();
  mm::kfree(s);
}

bool Udp::may_bind(const UdpSocket& s, Ipv4 addr, u16 port) const {
  for (const UdpSocket* o : socks_) {
    if (o == &s || o->local_.port != port) continue;
    bool overlap = o->local_.addr == addr ||
                   ((o->local_.addr.any() || addr.any()) && o->v6only_ == s.v6only_);
    if (!overlap) continue;
    // Linux: UDP ports are shared when both set SO_REUSEADDR, or both set
    // SO_REUSEPORT (same owner, which one kernel instance always is).
    if ((s.reuse_addr_ && o->reuse_addr_) || (s.reuse_port_ && o->reuse_port_)) continue;
    return false;
  }
  return true;
}

bool Udp::port_used(u16 port) const {
  for (const UdpSocket* o : socks_)
    if (o->local_.port == port) return true;
  return false;
}

Result<u16> Udp::pick_ephemeral() {
  u32 range = u32(kEphemeralHigh) - kEphemeralLow + 1;
  for (u32 i = 0; i < range; ++i) {
    u16 port = next_ephemeral_;
    next_ephemeral_ = port == kEphemeralHigh ? kEphemeralLow : u16(port + 1);
    if (!port_used(port)) return port;
  }
  return err(EAGAIN);
}

bool Udp::matches(const UdpSocket& s, const IpInfo& ip, u16 src_port, u16 dst_port,
                  bool to_group) const {
  if (s.local_.port != dst_port) return false;
  // A socket bound to one address hears only that address; a broadcast
  // reaches sockets bound to the wildcard or to that broadcast address.
  if (!s.local_.addr.any() && !(s.local_.addr == ip.dst)) return false;
  if (s.connected_ && !(s.remote_.addr == ip.src && s.remote_.port == src_port)) return false;
  return true;
}

UdpSocket* Udp::lookup(const IpInfo& ip, u16 src_port, u16 dst_port) {
  UdpSocket* best = nullptr;
  int best_score = -1;
  u32 group = 0;  // SO_REUSEPORT sockets tied for best, to spread flows
  for (UdpSocket* s : socks_) {
    if (!matches(*s, ip, src_port, dst_port, false)) continue;
    int score = (s->local_.addr.any() ? 0 : 4) + (s->connected_ ? 8 : 0);
    if (score > best_score) {
      best = s, best_score = score, group = 1;
    } else if (score == best_score && s->reuse_port_ && best->reuse_port_) {
      ++group;
    }
  }
  if (group > 1) {
    // Pick one of the group by a hash of the flow, so a flow stays put.
    u32 h = ip.src.v * 2654435761u ^ (u32(src_port) << 16 | dst_port);
    u32 pick = h % group;
    for (UdpSocket* s : socks_) {
      if (!matches(*s, ip, src_port, dst_port, false) || !s->reuse_port_) continue;
      int score = (s->local_.addr.any() ? 0 : 4) + (s->connected_ ? 8 : 0);
      if (score != best_score) continue;
      if (pick-- == 0) return s;
    }
  }
  return best;
}

Udp::InputResult Udp::input(const IpInfo& ip, const u8* seg, usize len, bool to_group) {
  auto parsed = UdpHeader::parse(seg, len);
  if (!parsed.ok()) {
    ++stats_.in_errors;
    return InputResult::Dropped;
  }
  UdpHeader h = parsed.value();
  usize ulen = h.length;  // trailing bytes past the UDP length are ignored
  if (h.checksum != 0 && !ip.csum_ok &&
      csum_fold(csum_add(csum_pseudo(ip.src, ip.dst, kProtoUdp, u16(ulen)), seg, ulen)) != 0) {
    ++stats_.in_errors, ++stats_.in_csum_errors;
    return InputResult::Dropped;
  }
  Endpoint from{ip.src, h.src_port};
  const u8* data = seg + UdpHeader::kSize;
  usize dlen = ulen - UdpHeader::kSize;
  if (!to_group) {
    UdpSocket* s = lookup(ip, h.src_port, h.dst_port);
    if (!s) {
      ++stats_.no_ports;
      return InputResult::NoSocket;
    }
    if (s->enqueue(ip, from, data, dlen))
      ++stats_.in_datagrams;
    else
      ++stats_.in_errors, ++stats_.rcvbuf_errors;
    return InputResult::Delivered;
  }
  // Broadcast and multicast: a copy for every socket that matches. Sockets
  // can close from their wakeups only later, so the table is stable here.
  bool any = false;
  for (UdpSocket* s : socks_) {
    if (!matches(*s, ip, h.src_port, h.dst_port, true)) continue;
    any = true;
    if (s->enqueue(ip, from, data, dlen))
      ++stats_.in_datagrams;
    else
      ++stats_.in_errors, ++stats_.rcvbuf_errors;
  }
  if (!any) ++stats_.no_ports;
  return any ? InputResult::Delivered : InputResult::NoSocket;
}

void Udp::icmp_error(const IcmpError& e) {
  if (e.transport_len < UdpHeader::kSize || !e.hard) return;
  u16 sport = load_be16(e.transport), dport = load_be16(e.transport + 2);
  for (UdpSocket* s : socks_) {
    if (!s->connected_ || s->local_.port != sport) continue;
    if (!s->local_.addr.any() && !(s->local_.addr == e.src)) continue;
    if (!(s->remote_.addr == e.dst) || s->remote_.port != dport) continue;
    s->error_ = e.error;
    s->wake();
    return;
  }
}

}  // namespace mote::net
