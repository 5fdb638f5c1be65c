// ICMP messages (icmp.h).
#include "kernel/net/icmp.h"

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

namespace mote::net {

namespace {

// Destination unreachable, indexed by code (UnreachCode): the errno Linux
// reports and whether it is hard (fatal to a connection attempt).
constexpr IcmpErrno kUnreachErrno[] = {
    {ENETUNREACH, false},   // 0 net unreachable
    {EHOSTUNREACH, false},  // 1 host unreachable
    {ENOPROTOOPT, true},    // 2 protocol unreachable
    {ECONNREFUSED, true},   // 3 port unreachable
    {EMSGSIZE, false},      // 4 fragmentation needed and DF set
    {EOPNOTSUPP, false},    // 5 source route failed
    {ENETUNREACH, true},    // 6 destination network unknown
    {EHOSTDOWN, true},      // 7 destination host unknown
    {ENONET, true},         // 8 source host isolated
    {ENETUNREACH, true},    // 9 network administratively prohibited
    {EHOSTUNREACH, true},   // 10 host administratively prohibited
    {ENETUNREACH, false},   // 11 network unreachable for TOS
    {EHOSTUNREACH, false},  // 12 host unreachable for TOS
    {EHOSTUNREACH, true},   // 13 communication administratively prohibited
    {EHOSTUNREACH, true},   // 14 host precedence violation
    {EHOSTUNREACH, true},   // 15 precedence cutoff in effect
};

void finish_checksum(u8* msg, usize len) {
  store_be16(msg + 2, 0);
  store_be16(msg + 2, csum_fold(csum_add(0, msg, len)));
}

}  // namespace

IcmpErrno icmp_errno(u8 type, u8 code) {
  switch (IcmpType(type)) {
    case IcmpType::DestUnreachable:
      if (code < sizeof kUnreachErrno / sizeof kUnreachErrno[0]) return kUnreachErrno[code];
      return {EHOSTUNREACH, false};
    case IcmpType::TimeExceeded:
      return {EHOSTUNREACH, false};
    case IcmpType::ParameterProblem:
      return {EPROTO, true};
    default:
      return {};
  }
}

bool icmp_is_error(u8 type) {
  switch (IcmpType(type)) {
    case IcmpType::DestUnreachable:
    case IcmpType::SourceQuench:
    case IcmpType::Redirect:
    case IcmpType::TimeExceeded:
    case IcmpType::ParameterProblem:
      return true;
    default:
      return false;
  }
}

bool IcmpRateLimit::allow(u64 now_ns) {
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
  }
  if (now_ns > last_ns_) {
    u64 gained = (now_ns - last_ns_) / (kNsPerSec / kPerSecond);
    if (gained) {
      tokens_ = min(kBurst, tokens_ + gained);
      last_ns_ += gained * (kNsPerSec / kPerSecond);
    }
  }
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

bool icmp_error_allowed(const Ipv4Header& h, const u8* datagram, usize len,
                        bool dst_is_broadcast, bool link_broadcast) {
  if (dst_is_broadcast || link_broadcast || h.dst.broadcast() || h.dst.multicast()) return false;
  if (h.frag_offset() != 0) return false;
  if (h.src.any() || h.src.broadcast() || h.src.multicast() || (h.src.v >> 24) == 0)
    return false;
  if (h.proto == kProtoIcmp) {
    // Errors about ICMP errors (or unknown types) are never sent; errors
    // about queries (an echo request, say) are.
    usize hl = h.header_len();
    if (len < hl + 1) return false;
    u8 type = datagram[hl];
    if (icmp_is_error(type) || (type != u8(IcmpType::EchoRequest) &&
                                type != u8(IcmpType::EchoReply)))
      return false;
  }
  return true;
}

Packet* icmp_build_error(u8 type, u8 code, u32 rest, const u8* datagram, usize len) {
  usize quote = min(len, kIcmpErrorMaxQuote);
  Packet* p = Packet::alloc(IcmpHeader::kSize + quote);
  if (!p) return nullptr;
  u8* msg = p->put(IcmpHeader::kSize + quote);
  IcmpHeader h;
  h.type = type, h.code = code, h.rest = rest;
  h.write(msg);
  memcpy(msg + IcmpHeader::kSize, datagram, quote);
  finish_checksum(msg, IcmpHeader::kSize + quote);
  return p;
}

Packet* icmp_build_echo_reply(const u8* request, usize len) {
  Packet* p = Packet::alloc(len);
  if (!p) return nullptr;
  u8* msg = p->put(len);
  memcpy(msg, request, len);
  msg[0] = u8(IcmpType::EchoReply);
  msg[1] = 0;
  finish_checksum(msg, len);
  return p;
}

Result<IcmpError> icmp_parse_error(const IcmpHeader& h, const u8* msg, usize len,
                                   Ipv4 reporter) {
  const u8* q = msg + IcmpHeader::kSize;
  usize qlen = len - IcmpHeader::kSize;
  // The quoted header is the start of a datagram, possibly cut short, so its
  // total length is not checked against what was quoted; its checksum is.
  if (qlen < Ipv4Header::kMinSize || (q[0] >> 4) != 4) return err(EINVAL);
  usize hl = usize(q[0] & 0xf) * 4;
  if (hl < Ipv4Header::kMinSize || qlen < hl + 8) return err(EINVAL);
  if (csum_fold(csum_add(0, q, hl)) != 0) return err(EINVAL);
  // A quoted non-initial fragment carries no transport header.
  if (load_be16(q + 6) & Ipv4Header::kOffsetMask) return err(EINVAL);
  IcmpError e;
  e.type = h.type, e.code = h.code;
  IcmpErrno n = icmp_errno(h.type, h.code);
  e.error = n.error, e.hard = n.hard;
  if (h.type == u8(IcmpType::DestUnreachable) && h.code == u8(UnreachCode::FragNeeded))
    e.mtu = h.next_hop_mtu();
  e.reporter = reporter;
  e.src = Ipv4(load_be32(q + 12));
  e.dst = Ipv4(load_be32(q + 16));
  e.proto = q[9];
  e.transport = q + hl;
  e.transport_len = qlen - hl;
  return e;
}

}  // namespace mote::net
