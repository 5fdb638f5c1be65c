// The stack's contract with transport protocols above IP (TCP; UDP is the
// stack's own): segments in, ICMP errors in, timers. A transport registers
// with Stack::set_transport(proto, handler) and sends through IpSender
// (netdefs.h). Every call comes from the stack's input, loopback or timer
// paths, never from inside the transport's own calls into the stack: sending
// to a local address is queued and delivered later (Stack::run_pending).
#pragma once

#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"

namespace mote::net {

inline constexpr u64 kNoDeadline = ~u64(0);
inline constexpr u64 kNsPerSec = 1'000'000'000;
inline constexpr u64 kNsPerMs = 1'000'000;

// An ICMP error about a datagram this host sent (RFC 792, RFC 1122 3.2.2):
// what the transport needs to find the socket and what to report on it.
struct IcmpError {
  u8 type = 0, code = 0;  // IcmpType / UnreachCode etc. (wire.h)
  int error = 0;          // the Linux errno for SO_ERROR (ECONNREFUSED, EMSGSIZE...)
  bool hard = false;      // Linux's "fatal": aborts a connection attempt
  u16 mtu = 0;            // next-hop MTU for "fragmentation needed" (RFC 1191), else 0
  Ipv4 reporter;          // who sent the ICMP message
  // The offending datagram as quoted back: src is ours, dst the peer.
  Ipv4 src, dst;
  u8 proto = 0;
  // The quoted transport header (ports first; TCP's sequence number follows),
  // at least 8 bytes. Valid only during the call.
  const u8* transport = nullptr;
  usize transport_len = 0;
};

class TransportHandler {
 public:
  // A segment for this protocol addressed to one of our unicast addresses
  // (broadcast and multicast are never passed here, RFC 1122 4.2.3.10).
  // `seg` covers the transport header and data; valid only during the call.
  // The checksum is unverified (the transport owns its pseudo-header sum).
  virtual void input(const IpInfo& ip, const u8* seg, usize len, u64 now_ns) = 0;
  // An ICMP error quoting a segment of this protocol.
  virtual void icmp_error(const IcmpError& e, u64 now_ns) = 0;
  // Timers: called from Stack::tick; next_deadline() is folded into
  // Stack::next_deadline() (kNoDeadline when nothing is pending).
  virtual void tick(u64 now_ns) {}
  virtual u64 next_deadline() { return kNoDeadline; }

 protected:
  ~TransportHandler() = default;
};

}  // namespace mote::net
