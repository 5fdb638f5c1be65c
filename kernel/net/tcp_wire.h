// The TCP header on the wire (RFC 9293 3.1) and the options mote speaks:
// MSS (RFC 9293 3.7.1), window scale and timestamps (RFC 7323 2.2, 3.2), and
// SACK-permitted (RFC 2018), which is parsed but never offered or used.
// Parsing is the trust boundary for segments: everything after it reads only
// fields checked here.
#pragma once

#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"

namespace mote::net {

// Control bits, RFC 9293 3.1 (the low byte of header word 3).
enum TcpFlag : u8 {
  kTcpFin = 0x01,
  kTcpSyn = 0x02,
  kTcpRst = 0x04,
  kTcpPsh = 0x08,
  kTcpAck = 0x10,
  kTcpUrg = 0x20,
};

inline constexpr usize kTcpHeaderLen = 20;
inline constexpr usize kTcpMaxHeaderLen = 60;

// Option kinds, IANA "TCP Option Kind Numbers".
enum TcpOptKind : u8 {
  kTcpOptEnd = 0,
  kTcpOptNop = 1,
  kTcpOptMss = 2,
  kTcpOptWscale = 3,
  kTcpOptSackOk = 4,
  kTcpOptTimestamp = 8,
};

struct TcpOptions {
  bool has_mss = false, has_wscale = false, sack_ok = false, has_ts = false;
  u16 mss = 0;
  u8 wscale = 0;     // already clamped to 14 (RFC 7323 2.3)
  u32 tsval = 0, tsecr = 0;
};

// A parsed, checksum-verified segment. `data` points into the caller's bytes.
struct TcpSegment {
  u16 sport = 0, dport = 0;
  u32 seq = 0, ack = 0;
  u8 flags = 0;
  u16 wnd = 0;  // unscaled field value
  const u8* data = nullptr;
  u32 len = 0;  // payload bytes
  TcpOptions opt;

  bool has(u8 f) const { return (flags & f) != 0; }
  // Sequence space the segment occupies: payload plus one each for SYN, FIN.
  u32 seq_len() const { return len + (has(kTcpSyn) ? 1 : 0) + (has(kTcpFin) ? 1 : 0); }
};

// Parses and validates a segment that arrived from ip.src to ip.dst: length,
// data offset, options, and the checksum over the pseudo-header (unless
// ip.csum_ok). Returns false (and leaves *out unspecified) for anything
// malformed.
bool tcp_parse(const IpInfo& ip, const u8* seg, usize len, TcpSegment* out);

// Parses only the options area (used by tcp_parse; exposed for tests).
void tcp_parse_options(const u8* p, usize len, TcpOptions* out);

// What goes into an outgoing header. Options are laid out by tcp_build.
struct TcpHeaderOut {
  u16 sport = 0, dport = 0;
  u32 seq = 0, ack = 0;
  u8 flags = 0;
  u16 wnd = 0;
  // Options: MSS and window scale only on SYNs; timestamps when has_ts.
  bool has_mss = false, has_wscale = false, has_ts = false;
  u16 mss = 0;
  u8 wscale = 0;
  u32 tsval = 0, tsecr = 0;
};

// Bytes the options of h take (a multiple of 4).
usize tcp_options_len(const TcpHeaderOut& h);
// Prepends the header (with options) to pkt, whose current contents are the
// payload, and fills in the checksum for src -> dst; with `partial` only its
// pseudo-header part, for the device to complete (Packet::set_csum_partial).
void tcp_build(Packet* pkt, const TcpHeaderOut& h, Ipv4 src, Ipv4 dst, bool partial = false);

}  // namespace mote::net
