// ICMP (RFC 792) as a host needs it (RFC 1122 3.2.2): echo replies, the
// errors this host emits (port/protocol unreachable, reassembly time
// exceeded) with the rules about when not to, their rate limit, and parsing
// of received errors into the IcmpError the transports are given.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"
#include "kernel/net/transport.h"
#include "kernel/net/wire.h"

namespace mote::net {

// RFC 1812 4.3.2.3: an error quotes as much of the offending datagram as
// fits in a 576-byte datagram (Linux does the same).
inline constexpr usize kIcmpErrorMaxQuote = 576 - Ipv4Header::kMinSize - IcmpHeader::kSize;

// The errno and hardness Linux reports for an ICMP error (its
// icmp_err_convert table for destination unreachable; time exceeded is a
// soft EHOSTUNREACH, parameter problem a hard EPROTO).
struct IcmpErrno {
  int error = 0;
  bool hard = false;
};
IcmpErrno icmp_errno(u8 type, u8 code);

bool icmp_is_error(u8 type);

// A token bucket on the errors this host emits (echo replies are not
// limited), like Linux's net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst.
class IcmpRateLimit {
 public:
  static constexpr u64 kPerSecond = 1000;
  static constexpr u64 kBurst = 50;
  bool allow(u64 now_ns);

 private:
  u64 tokens_ = kBurst;
  u64 last_ns_ = 0;
  bool started_ = false;
};

// Whether RFC 1122 3.2.2 allows an error about this datagram: never about an
// ICMP error, a non-initial fragment, a datagram sent to a broadcast or
// multicast address (ip or link layer), or one whose source does not name a
// single host. `dst_is_broadcast` covers the subnet broadcast too.
bool icmp_error_allowed(const Ipv4Header& h, const u8* datagram, usize len,
                        bool dst_is_broadcast, bool link_broadcast);

// An ICMP error message (header and quote, checksum filled in) about the
// datagram starting at `datagram` (its IP header first), in a Packet ready
// for the IP header. Null on ENOMEM.
Packet* icmp_build_error(u8 type, u8 code, u32 rest, const u8* datagram, usize len);

// The echo reply to a verified echo request message (ICMP header first, len
// bytes): same identifier, sequence and data, type 0, new checksum.
Packet* icmp_build_echo_reply(const u8* request, usize len);

// Parses a received error message (msg: ICMP header first, len bytes; the
// header already checked) into what the transports need. EINVAL when the
// quoted datagram is malformed or quotes less than 8 transport bytes.
Result<IcmpError> icmp_parse_error(const IcmpHeader& h, const u8* msg, usize len,
                                   Ipv4 reporter);

}  // namespace mote::net
