// A DHCP client (RFC 2131, options RFC 2132) for the guest's one Ethernet
// device: how the kernel gets its address when the monitor gives none
// (`--net user:dhcp`, `--net tap:NAME:dhcp`; the boot info's net_addr 0).
//
// It works on whole Ethernet frames, before the TCP/IP stack exists: the
// kernel runs it once at boot (kernel/linux/net_config.cc), sending through
// platform::net_send and polling platform::net_receive, so it needs nothing
// from the stack and the host tests drive it with crafted frames.
//
//   INIT --DISCOVER--> SELECTING --OFFER--> REQUESTING --ACK--> BOUND
//    ^                     ^                     |                |  T1
//    |                     +------- NAK ---------+                v
//    +---- NAK, or the lease ran out ---- REBINDING <--T2-- RENEWING
//                                             |  ACK: BOUND  |
//
// DISCOVER and REQUEST are broadcast from 0.0.0.0 (the BROADCAST flag asks
// the server to broadcast its replies: we cannot receive unicast to an
// address we do not have yet). Retransmissions back off 1, 2, 4, 8 s
// (RFC 2131 4.1 suggests 4, 8, ...: shorter at first, since a unikernel's
// boot waits on it), each with a fresh `secs`.
//
// Renewal (RFC 2131 4.4.5): at T1 (half the lease) a REQUEST with ciaddr and
// no server id or requested address asks the leasing server again; at T2
// (7/8) any server; each retransmitted after half the time left (at least
// 1 s). RENEWING's REQUEST should be unicast to the server: it is broadcast
// at the Ethernet and IP level here (the client has no ARP; servers answer
// both alike, to ciaddr). A lease that runs out, or a NAK, starts again from
// DISCOVER; what the address meanwhile is, the caller decides (leases()).
// An infinite lease (0xffffffff) or none given is never renewed.
#pragma once

#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"

namespace mote::net {

inline constexpr u16 kDhcpServerPort = 67;
inline constexpr u16 kDhcpClientPort = 68;

enum class DhcpType : u8 {
  None = 0,
  Discover = 1,
  Offer = 2,
  Request = 3,
  Decline = 4,
  Ack = 5,
  Nak = 6,
  Release = 7,
};

// What a server's reply says (only the fields the client uses).
struct DhcpReply {
  DhcpType type = DhcpType::None;
  u32 xid = 0;
  Ipv4 yiaddr;          // "your" address
  Ipv4 server;          // option 54 (server identifier); else the IP source
  u8 prefix_len = 0;    // option 1 (subnet mask), 0 when absent or not contiguous
  Ipv4 router;          // option 3 (first)
  Ipv4 dns;             // option 6 (first)
  u32 lease_s = 0;      // option 51
  u16 mtu = 0;          // option 26
};

// Parses one received Ethernet frame: IPv4 (header checksum), UDP to port
// 68 from 67 (checksum when present), a BOOTREPLY for `mac` and `xid` with
// the magic cookie, and its options (pad, end, overloaded fields are not
// followed). False for anything else, however malformed.
// csum_ok: the device vouched for the UDP checksum (Stack::input_frame).
bool dhcp_parse_reply(const u8* frame, usize len, const Mac& mac, u32 xid, DhcpReply* out,
                      bool csum_ok = false);

struct DhcpLease {
  Ipv4 addr;
  u8 prefix_len = 24;
  Ipv4 gateway;
  Ipv4 dns;
  Ipv4 server;
  u32 lease_s = 0;
  u16 mtu = 0;  // 0: not given
};

class DhcpClient {
 public:
  static constexpr usize kFrameCap = 14 + 20 + 8 + 320;  // the largest frame it sends

  // `xid` should be random; the host name (hostname_len 0: none; at most
  // 32 bytes are sent) goes in option 12. It must outlive the client.
  DhcpClient(const Mac& mac, u32 xid, const char* hostname, usize hostname_len);

  // The frame to send now (into buf, kFrameCap bytes), or 0 when nothing
  // is due before `*next_ns` (set to the time of the next retransmission).
  usize poll(u64 now_ns, u8* buf, u64* next_ns);
  // Takes a received frame; true when it moved the client on.
  bool input(const u8* frame, usize len, u64 now_ns, bool csum_ok = false);

  // Holding a lease (BOUND, or RENEWING/REBINDING it).
  bool bound() const { return state_ == State::Bound || renewing(); }
  bool renewing() const { return state_ == State::Renewing || state_ == State::Rebinding; }
  const DhcpLease& lease() const { return lease_; }
  u32 transmissions() const { return sent_; }
  // ACKs taken so far: a change means lease() is new (renewed, or another).
  u32 leases() const { return leases_; }
  // Times the lease was lost (ran out unrenewed, or NAKed in renewal).
  u32 losses() const { return losses_; }

 private:
  enum class State { Init, Selecting, Requesting, Bound, Renewing, Rebinding };
  usize poll_lease(u64 now_ns, u8* buf, u64* next_ns);
  void take(const DhcpReply& r, u64 now_ns);
  usize build(DhcpType type, u64 now_ns, u8* buf);
  void restart(u64 now_ns);

  Mac mac_;
  u32 xid_;
  const char* hostname_;
  usize hostname_len_;
  State state_ = State::Init;
  u64 start_ns_ = 0;       // of this exchange: `secs`
  u64 next_send_ns_ = 0;   // 0: now
  u32 backoff_ = 0;        // retransmissions of the current message
  u32 sent_ = 0;
  u32 leases_ = 0, losses_ = 0;
  u64 bound_ns_ = 0;       // when the lease was taken: T1, T2 and its end count from here
  Ipv4 offered_, server_;
  DhcpLease lease_;
};

}  // namespace mote::net
