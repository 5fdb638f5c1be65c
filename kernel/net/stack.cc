// net::Stack (stack.h): dispatch between the device, ARP, IPv4, ICMP, UDP and
// the registered transports.
#include "kernel/net/stack.h"

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"

namespace mote::net {

namespace {
constexpr usize kMaxFailedQueue = 256;
constexpr usize kDrainBudget = 100000;  // per run_pending call: no livelock
constexpr Ipv4 kAllHosts = Ipv4::of(224, 0, 0, 1);
// Linux marks the errors it sends as internetwork control traffic.
constexpr u8 kTosInternetControl = 0xc0;

void free_list(Packet*& head) {
  while (head) {
    Packet* n = head->next;
    Packet::free(head);
    head = n;
  }
}

// The fields of a quoted header that decide about an error (no length check:
// a quote is cut short on purpose).
Ipv4Header quoted_header(const u8* q) {
  Ipv4Header h;
  h.ihl = q[0] & 0xf;
  h.tos = q[1];
  h.total_len = load_be16(q + 2);
  h.id = load_be16(q + 4);
  h.frag = load_be16(q + 6);
  h.ttl = q[8];
  h.proto = q[9];
  h.src = Ipv4(load_be32(q + 12));
  h.dst = Ipv4(load_be32(q + 16));
  return h;
}
}  // namespace

Stack::Stack(NetDevice& dev, const InterfaceConfig& cfg)
    : dev_(dev), cfg_(cfg), arp_(*this), udp_(*this, cfg_) {}

Stack::~Stack() {
  free_list(lo_head_);
  free_list(failed_head_);
}

void Stack::configure(const InterfaceConfig& cfg) {
  bool readdress = !(cfg.addr == cfg_.addr) || !(cfg.mac == cfg_.mac);
  cfg_ = cfg;
  if (readdress) arp_.flush();
}

void Stack::set_transport(u8 proto, TransportHandler* handler) {
  if (proto == kProtoIcmp || proto == kProtoUdp) return;
  u32 i = 0;
  while (i < nregistered_ && registered_[i] != proto) ++i;
  if (handler && i == nregistered_) {
    if (nregistered_ == sizeof registered_) return;  // (a handful of protocols at most)
    registered_[nregistered_++] = proto;
  } else if (!handler && i < nregistered_) {
    registered_[i] = registered_[--nregistered_];
  }
  transports_[proto] = handler;
}

// ---------------------------------------------------------------------------
// Input.

void Stack::input_frame(const u8* frame, usize len, u64 now_ns, bool csum_ok) {
  advance(now_ns);
  ++stats_.frames_in;
  if (csum_ok) ++stats_.csum_vouched;
  auto eth = EthHeader::parse(frame, len);
  if (!eth.ok()) {
    ++stats_.frames_dropped;
    return;
  }
  const EthHeader& e = eth.value();
  bool group = mac_is_group(e.dst);
  if (!(e.dst == cfg_.mac) && !group) {  // another host's unicast
    ++stats_.frames_dropped;
    return;
  }
  const u8* payload = frame + EthHeader::kSize;
  usize plen = len - EthHeader::kSize;
  if (e.type == u16(EtherType::Arp)) {
    auto a = ArpPacket::parse(payload, plen);
    if (a.ok()) {
      ++stats_.arp_in;
      arp_.input(a.value(), cfg_.addr, cfg_.mac, now_);
    } else {
      ++stats_.frames_dropped;
    }
  } else if (e.type == u16(EtherType::Ipv4)) {
    ip_input(payload, plen, false, group, csum_ok);
  } else {
    ++stats_.frames_dropped;
  }
  run_pending(now_);
}

void Stack::ip_input(const u8* p, usize len, bool from_loopback, bool link_group, bool csum_ok) {
  ++stats_.ip_in_receives;
  auto parsed = Ipv4Header::parse(p, len);
  if (!parsed.ok()) {
    ++stats_.ip_in_hdr_errors;
    return;
  }
  const Ipv4Header& h = parsed.value();
  if (!from_loopback) {
    // Martians (RFC 1122 3.2.1.3): loopback never arrives on a wire, and no
    // datagram comes from a group address.
    if (h.src.loopback() || h.dst.loopback() || h.src.broadcast() || h.src.multicast()) {
      ++stats_.ip_in_addr_errors;
      return;
    }
  }
  bool bcast = h.dst.broadcast() || cfg_.subnet_broadcast(h.dst);
  bool ours = from_loopback || (!cfg_.addr.any() && h.dst == cfg_.addr);
  bool mcast = h.dst == kAllHosts;  // no group memberships (IGMP) yet
  if (!ours && !bcast && !mcast) {
    ++stats_.ip_in_addr_errors;
    return;
  }
  Cast cast{bcast || mcast, link_group};
  if (!h.is_fragment()) {
    // Loopback: our own transports built it (and may have left it partial).
    deliver(h, p, cast, csum_ok || from_loopback);
    return;
  }
  usize whole_len = 0;
  u8* whole = reasm_.add(h, p + h.header_len(), h.payload_len(), now_, &whole_len);
  if (!whole) return;
  ++stats_.ip_reasm_oks;
  auto wh = Ipv4Header::parse(whole, whole_len);
  if (wh.ok()) deliver(wh.value(), whole, cast, false);  // a vouch covers one frame
  mm::kfree(whole);
}

void Stack::deliver(const Ipv4Header& h, const u8* dgram, Cast cast, bool csum_ok) {
  IpInfo ip;
  ip.src = h.src, ip.dst = h.dst, ip.tos = h.tos, ip.ttl = h.ttl;
  ip.csum_ok = csum_ok;
  const u8* payload = dgram + h.header_len();
  usize plen = h.payload_len();
  ++stats_.ip_in_delivers;
  if (h.proto == kProtoIcmp) {
    icmp_input(h, dgram, cast);
  } else if (h.proto == kProtoUdp) {
    // Demultiplexed by the IP destination: a unicast datagram in a link
    // broadcast frame still goes to one socket (as in Linux).
    if (udp_.input(ip, payload, plen, cast.ip_group) == Udp::InputResult::NoSocket)
      send_icmp_error(u8(IcmpType::DestUnreachable), u8(UnreachCode::Port), 0, h, dgram,
                      h.total_len, cast.any());
  } else if (TransportHandler* t = transports_[h.proto]) {
    if (!cast.any()) t->input(ip, payload, plen, now_);
  } else {
    ++stats_.ip_in_unknown_protos;
    send_icmp_error(u8(IcmpType::DestUnreachable), u8(UnreachCode::Protocol), 0, h, dgram,
                    h.total_len, cast.any());
  }
}

void Stack::icmp_input(const Ipv4Header& h, const u8* dgram, Cast cast) {
  const u8* msg = dgram + h.header_len();
  usize len = h.payload_len();
  auto parsed = IcmpHeader::parse(msg, len);
  if (!parsed.ok()) {
    ++stats_.icmp_in_errors;
    return;
  }
  ++stats_.icmp_in_msgs;
  const IcmpHeader& ih = parsed.value();
  switch (IcmpType(ih.type)) {
    case IcmpType::EchoRequest: {
      // Broadcast pings are ignored (net.ipv4.icmp_echo_ignore_broadcasts).
      if (cast.ip_group) return;
      Packet* reply = icmp_build_echo_reply(msg, len);
      if (!reply) return;
      OutOptions o;
      o.tos = h.tos;
      o.no_df = true;
      ++stats_.icmp_out_msgs;
      (void)ip_output(h.dst, h.src, kProtoIcmp, o, reply);
      return;
    }
    case IcmpType::DestUnreachable:
    case IcmpType::TimeExceeded:
    case IcmpType::ParameterProblem: {
      auto e = icmp_parse_error(ih, msg, len, h.src);
      if (!e.ok()) {
        ++stats_.icmp_in_errors;
        return;
      }
      const IcmpError& err = e.value();
      if (!is_local(err.src)) return;  // not about a datagram of ours
      if (err.proto == kProtoUdp)
        udp_.icmp_error(err);
      else if (TransportHandler* t = transports_[err.proto])
        t->icmp_error(err, now_);
      return;
    }
    default:
      return;  // echo replies (no ping sockets yet), redirects, source quench
  }
}

void Stack::send_icmp_error(u8 type, u8 code, u32 rest, const Ipv4Header& h, const u8* dgram,
                            usize len, bool to_group) {
  bool bcast = h.dst.broadcast() || cfg_.subnet_broadcast(h.dst);
  if (!icmp_error_allowed(h, dgram, len, bcast, to_group)) return;
  if (!icmp_limit_.allow(now_)) {
    ++stats_.icmp_rate_limited;
    return;
  }
  Packet* p = icmp_build_error(type, code, rest, dgram, len);
  if (!p) return;
  OutOptions o;
  o.tos = u8(kTosInternetControl | (h.tos & 0x1e));
  o.no_df = true;
  Ipv4 src = is_local(h.dst) ? h.dst : cfg_.addr;
  ++stats_.icmp_out_msgs;
  (void)ip_output(src, h.src, kProtoIcmp, o, p);
}

void Stack::reassembly_timeout(const u8* quote, usize len) {
  Ipv4Header h = quoted_header(quote);
  send_icmp_error(u8(IcmpType::TimeExceeded), u8(TimeExceededCode::Reassembly), 0, h, quote,
                  len, false);
}

void Stack::report_unreachable(Packet* pkt) {
  // A datagram of ours whose next hop never answered ARP: tell its sender as
  // Linux does (an ICMP host unreachable to ourselves, so EHOSTUNREACH).
  const u8* q = pkt->data();
  usize len = pkt->size();
  if (len < Ipv4Header::kMinSize + 8) return;
  Ipv4Header h = quoted_header(q);
  if (h.header_len() < Ipv4Header::kMinSize || len < h.header_len() + 8 || h.frag_offset())
    return;
  IcmpError e;
  e.type = u8(IcmpType::DestUnreachable);
  e.code = u8(UnreachCode::Host);
  IcmpErrno n = icmp_errno(e.type, e.code);
  e.error = n.error, e.hard = n.hard;
  e.reporter = cfg_.addr;
  e.src = h.src, e.dst = h.dst, e.proto = h.proto;
  e.transport = q + h.header_len();
  e.transport_len = len - h.header_len();
  if (h.proto == kProtoUdp)
    udp_.icmp_error(e);
  else if (TransportHandler* t = transports_[h.proto])
    t->icmp_error(e, now_);
}

// ---------------------------------------------------------------------------
// Output.

Result<void> Stack::ip_send(Ipv4 src, Ipv4 dst, u8 proto, u8 tos, Packet* pkt) {
  OutOptions o;
  o.tos = tos;
  return ip_output(src, dst, proto, o, pkt);
}

Ipv4 Stack::source_for(Ipv4 dst) { return route_for(cfg_, dst).src; }

u16 Stack::mtu_for(Ipv4 dst) {
  Route r = route_for(cfg_, dst);
  return r.kind == RouteKind::None ? cfg_.mtu : r.mtu;
}

bool Stack::is_local(Ipv4 addr) { return is_local_address(cfg_, addr); }

bool Stack::tso_route(const Route& r) const {
  return r.kind == RouteKind::Ethernet && !r.broadcast && !r.multicast && dev_.tso() &&
         dev_.tx_csum_offload();
}

u32 Stack::tso_max(Ipv4 dst) {
  return tso_route(route_for(cfg_, dst)) ? 65535 - Ipv4Header::kMinSize : 0;
}

Result<void> Stack::ip_output(Ipv4 src, Ipv4 dst, u8 proto, const OutOptions& o, Packet* pkt) {
  ++stats_.ip_out_requests;
  Route r = route_for(cfg_, dst);
  if (r.kind == RouteKind::None) {
    ++stats_.ip_out_no_routes;
    Packet::free(pkt);
    return err(EHOSTUNREACH);
  }
  if (r.kind == RouteKind::Ethernet && !src.any() && (src.loopback() || !is_local(src))) {
    // Linux: a 127/8 (or foreign) source never leaves the host.
    Packet::free(pkt);
    return err(EINVAL);
  }
  usize plen = pkt->size();
  if (plen + Ipv4Header::kMinSize > 65535 || pkt->headroom() < Ipv4Header::kMinSize) {
    Packet::free(pkt);
    return err(EMSGSIZE);
  }
  Ipv4Header h;
  h.tos = o.tos;
  h.ttl = o.ttl ? o.ttl : dst.multicast() ? 1 : kDefaultTtl;
  h.proto = proto;
  h.src = src.any() ? r.src : src;
  h.dst = dst;
  h.id = next_id_++;
  usize total = plen + Ipv4Header::kMinSize;
  if (pkt->gso_size()) {
    // A segment for the device to cut up (tso_max said it could); on a
    // route or device that cannot, TCP resends the bytes MSS-sized.
    if (!tso_route(r) || !pkt->csum_partial()) {
      ++stats_.tso_dropped;
      Packet::free(pkt);
      return ok();
    }
    ++stats_.tso_out;
    h.total_len = u16(total);
    h.frag = Ipv4Header::kFlagDf;
    h.write(pkt->push(Ipv4Header::kMinSize));
    link_output(r, pkt);
    return ok();
  }
  if (total <= r.mtu) {
    h.total_len = u16(total);
    if (!o.no_df) h.frag = Ipv4Header::kFlagDf;
    h.write(pkt->push(Ipv4Header::kMinSize));
    if (r.kind == RouteKind::Loopback) {
      if (lo_count_ >= kLoopbackQueueMax) {
        Packet::free(pkt);
        return err(ENOBUFS);
      }
      push_queue(lo_head_, lo_tail_, pkt);
      ++lo_count_;
      return ok();
    }
    link_output(r, pkt);
    return ok();
  }
  if (o.df_strict) {
    Packet::free(pkt);
    return err(EMSGSIZE);
  }
  pkt->finish_csum();  // fragments carry pieces of one sum: no device could finish it
  Packet* frags = ip_fragment(h, pkt->data(), plen, r.mtu);
  Packet::free(pkt);
  if (!frags) return err(ENOBUFS);
  while (frags) {
    Packet* n = frags->next;
    frags->next = nullptr;
    ++stats_.ip_frag_creates;
    link_output(r, frags);
    frags = n;
  }
  return ok();
}

void Stack::link_output(const Route& r, Packet* pkt) {
  if (r.broadcast)
    eth_send(pkt, Mac::all_ones(), EtherType::Ipv4);
  else if (r.multicast)
    eth_send(pkt, mac_for_multicast(r.next_hop), EtherType::Ipv4);
  else
    arp_.send(r.next_hop, pkt, now_);
}

void Stack::eth_send(Packet* pkt, const Mac& dst, EtherType type) {
  if (pkt->headroom() < EthHeader::kSize) {
    Packet::free(pkt);
    return;
  }
  EthHeader e;
  e.dst = dst;
  e.src = cfg_.mac;
  e.type = u16(type);
  e.write(pkt->push(EthHeader::kSize));
  ++stats_.frames_out;
  TxOffload off;
  if (pkt->csum_partial()) {
    if (dev_.tx_csum_offload() && pkt->csum_start() <= 0xffff) {
      off.start = u16(pkt->csum_start());
      off.offset = pkt->csum_offset();
      ++stats_.csum_offloaded;
      if (pkt->gso_size()) {
        // Headers through TCP's options: its data offset field.
        off.gso_size = pkt->gso_size();
        off.hdr_len = u16(off.start + (pkt->data()[off.start + 12] >> 4) * 4);
      }
    } else {
      pkt->finish_csum();
    }
  }
  dev_.send_frame(pkt->data(), pkt->size(), off);
  Packet::free(pkt);
}

void Stack::push_queue(Packet*& head, Packet*& tail, Packet* p) {
  p->next = nullptr;
  if (tail)
    tail->next = p;
  else
    head = p;
  tail = p;
}

void Stack::arp_send(ArpOp op, const Mac& tha, Ipv4 tpa) {
  Packet* p = Packet::alloc(ArpPacket::kSize);
  if (!p) return;
  ArpPacket a;
  a.op = u16(op);
  a.sha = cfg_.mac;
  a.spa = cfg_.addr;
  a.tha = tha;
  a.tpa = tpa;
  a.write(p->put(ArpPacket::kSize));
  eth_send(p, op == ArpOp::Request ? Mac::all_ones() : tha, EtherType::Arp);
}

void Stack::arp_resolved(Packet* ip_packet, const Mac& dst) {
  eth_send(ip_packet, dst, EtherType::Ipv4);
}

void Stack::arp_failed(Packet* ip_packet) {
  ++stats_.arp_give_ups;
  if (failed_count_ >= kMaxFailedQueue) {
    Packet::free(ip_packet);
    return;
  }
  push_queue(failed_head_, failed_tail_, ip_packet);
  ++failed_count_;
}

// ---------------------------------------------------------------------------
// Timers and deferred work.

void Stack::run_pending(u64 now_ns) {
  advance(now_ns);
  if (draining_) return;
  draining_ = true;
  for (usize budget = kDrainBudget; budget && (lo_head_ || failed_head_); --budget) {
    if (Packet* p = failed_head_) {
      failed_head_ = p->next;
      if (!failed_head_) failed_tail_ = nullptr;
      --failed_count_;
      report_unreachable(p);
      Packet::free(p);
      continue;
    }
    Packet* p = lo_head_;
    lo_head_ = p->next;
    if (!lo_head_) lo_tail_ = nullptr;
    --lo_count_;
    p->next = nullptr;
    ++stats_.loopback_packets;
    ip_input(p->data(), p->size(), true, false, true);
    Packet::free(p);
  }
  draining_ = false;
}

void Stack::tick(u64 now_ns) {
  advance(now_ns);
  arp_.tick(now_);
  reasm_.tick(now_, this);
  for (u32 i = 0; i < nregistered_; ++i) transports_[registered_[i]]->tick(now_);
  run_pending(now_);
}

u64 Stack::next_deadline() {
  if (lo_head_ || failed_head_) return 0;
  u64 d = min(arp_.next_deadline(), reasm_.next_deadline());
  for (u32 i = 0; i < nregistered_; ++i) d = min(d, transports_[registered_[i]]->next_deadline());
  return d;
}

}  // namespace mote::net
