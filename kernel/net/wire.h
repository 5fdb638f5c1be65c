// Typed wire headers below TCP: Ethernet II, ARP (RFC 826), IPv4 (RFC 791),
// ICMP (RFC 792) and UDP (RFC 768). Each header is a small host-order struct
// with a parse() that checks every length against the bytes it was given
// (input frames are untrusted and fuzzed) and a write() that lays it out in
// network order. Checksums are verified or filled in by the protocol files.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"

namespace mote::net {

// ---------------------------------------------------------------------------
// Ethernet II (IEEE 802.3 clause 3.1.1 with an EtherType, not a length).
enum class EtherType : u16 {
  Ipv4 = 0x0800,
  Arp = 0x0806,
};

struct EthHeader {
  static constexpr usize kSize = 14;
  Mac dst, src;
  u16 type = 0;  // an EtherType value; >= 0x0600 (smaller is an 802.3 length)

  // EINVAL when shorter than a header or when the type field is a length.
  static Result<EthHeader> parse(const u8* p, usize len);
  void write(u8* p) const;
};

// The multicast bit (IEEE 802 "I/G"): set in broadcast and multicast MACs.
inline bool mac_is_group(const Mac& m) { return m.b[0] & 1; }
// RFC 1112 6.4: 01:00:5e followed by the low 23 bits of the group address.
Mac mac_for_multicast(Ipv4 group);

// ---------------------------------------------------------------------------
// ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800,
// address lengths 6 and 4. Anything else is rejected by parse().
enum class ArpOp : u16 {
  Request = 1,
  Reply = 2,
};

struct ArpPacket {
  static constexpr usize kSize = 28;
  u16 op = 0;
  Mac sha;   // sender hardware address
  Ipv4 spa;  // sender protocol address
  Mac tha;   // target hardware address
  Ipv4 tpa;  // target protocol address

  static Result<ArpPacket> parse(const u8* p, usize len);
  void write(u8* p) const;
};

// ---------------------------------------------------------------------------
// IPv4 (RFC 791 3.1). Options are kept in the header length and skipped.
struct Ipv4Header {
  static constexpr usize kMinSize = 20;
  static constexpr usize kMaxSize = 60;
  static constexpr u16 kFlagDf = 0x4000;     // don't fragment
  static constexpr u16 kFlagMf = 0x2000;     // more fragments
  static constexpr u16 kOffsetMask = 0x1fff; // in 8-byte units

  u8 ihl = 5;  // header length in 32-bit words
  u8 tos = 0;
  u16 total_len = 0;
  u16 id = 0;
  u16 frag = 0;  // flags and fragment offset, as on the wire
  u8 ttl = 64;
  u8 proto = 0;
  u16 checksum = 0;
  Ipv4 src, dst;

  usize header_len() const { return usize(ihl) * 4; }
  usize payload_len() const { return total_len - header_len(); }
  bool df() const { return frag & kFlagDf; }
  bool mf() const { return frag & kFlagMf; }
  usize frag_offset() const { return usize(frag & kOffsetMask) * 8; }  // bytes
  bool is_fragment() const { return mf() || frag_offset() != 0; }

  // Checks version 4, IHL >= 5, header and total length within `len`, and
  // the header checksum. `len` may exceed total_len (Ethernet padding).
  static Result<Ipv4Header> parse(const u8* p, usize len);
  // Writes a 20-byte header (no options) with the checksum filled in.
  void write(u8* p) const;
};

// ---------------------------------------------------------------------------
// ICMP (RFC 792). The 4 bytes after the checksum are kept raw in `rest`:
// identifier/sequence for echo, the next-hop MTU for fragmentation needed
// (RFC 1191), the pointer for parameter problem.
enum class IcmpType : u8 {
  EchoReply = 0,
  DestUnreachable = 3,
  SourceQuench = 4,
  Redirect = 5,
  EchoRequest = 8,
  TimeExceeded = 11,
  ParameterProblem = 12,
};

// Destination unreachable codes (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1).
enum class UnreachCode : u8 {
  Net = 0,
  Host = 1,
  Protocol = 2,
  Port = 3,
  FragNeeded = 4,
  SourceRouteFailed = 5,
  NetUnknown = 6,
  HostUnknown = 7,
  HostIsolated = 8,
  NetProhibited = 9,
  HostProhibited = 10,
  NetTos = 11,
  HostTos = 12,
  AdminProhibited = 13,
  HostPrecedence = 14,
  PrecedenceCutoff = 15,
};

enum class TimeExceededCode : u8 {
  Ttl = 0,
  Reassembly = 1,
};

struct IcmpHeader {
  static constexpr usize kSize = 8;
  u8 type = 0;
  u8 code = 0;
  u16 checksum = 0;
  u32 rest = 0;

  u16 echo_id() const { return u16(rest >> 16); }
  u16 echo_seq() const { return u16(rest); }
  u16 next_hop_mtu() const { return u16(rest); }

  // Checks the length and the checksum over the whole message (len bytes).
  static Result<IcmpHeader> parse(const u8* p, usize len);
  // Writes the 8 header bytes with checksum 0; the caller sums the message.
  void write(u8* p) const;
};

// ---------------------------------------------------------------------------
// UDP (RFC 768).
struct UdpHeader {
  static constexpr usize kSize = 8;
  u16 src_port = 0;
  u16 dst_port = 0;
  u16 length = 0;    // header and data
  u16 checksum = 0;  // 0: none was computed (RFC 768)

  // Checks 8 <= length <= len. The checksum is the caller's (it needs the
  // pseudo-header).
  static Result<UdpHeader> parse(const u8* p, usize len);
  void write(u8* p) const;
};

}  // namespace mote::net
