// net::Stack: mote's IPv4 host stack below TCP. One Ethernet interface and
// loopback; frames come in through input_frame() and leave through a
// NetDevice; ARP, IPv4 (reassembly, fragmentation), ICMP and UDP live here,
// and TCP plugs in as a TransportHandler for protocol 6 and sends through
// the IpSender interface this class implements.
//
// Time is an argument: every entry point takes now_ns (monotonic), and the
// stack remembers the latest for sends (which have none). The platform calls
// tick() when next_deadline() comes.
//
// Re-entrancy: datagrams for a local address (127/8, our own address) are
// queued, never delivered inside the sender's call; they are delivered by
// run_pending(), which input_frame() and tick() call on their way out and
// the socket layer calls after a send. A transport can therefore send from
// inside its own input() without being re-entered.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/net/arp.h"
#include "kernel/net/device.h"
#include "kernel/net/icmp.h"
#include "kernel/net/ipv4.h"
#include "kernel/net/netdefs.h"
#include "kernel/net/reassembly.h"
#include "kernel/net/transport.h"
#include "kernel/net/udp.h"

namespace mote::net {

// Counters for diagnostics and tests (names follow /proc/net/snmp where one
// exists).
struct StackStats {
  u64 frames_in = 0, frames_dropped = 0, frames_out = 0;
  u64 arp_in = 0;
  u64 ip_in_receives = 0, ip_in_hdr_errors = 0, ip_in_addr_errors = 0;
  u64 ip_in_unknown_protos = 0, ip_in_delivers = 0;
  u64 ip_reasm_oks = 0, ip_frag_creates = 0, ip_out_requests = 0, ip_out_no_routes = 0;
  u64 icmp_in_msgs = 0, icmp_in_errors = 0, icmp_out_msgs = 0, icmp_rate_limited = 0;
  u64 loopback_packets = 0, arp_give_ups = 0;
  // Checksum offload: frames that left with a partial checksum for the
  // device, and received frames whose transport checksum the device vouched
  // for.
  u64 csum_offloaded = 0, csum_vouched = 0;
  // Segmentation offload: TCP segments handed to the device to cut up, and
  // ones it could not take (dropped: TCP resends them MSS-sized).
  u64 tso_out = 0, tso_dropped = 0;
};

class Stack final : public IpSender,
                    private ArpCache::Output,
                    private Reassembler::TimeoutSink {
 public:
  // Bound on datagrams waiting for loopback delivery (beyond: ENOBUFS).
  static constexpr usize kLoopbackQueueMax = 4096;

  // Per-datagram output settings beyond IpSender's.
  struct OutOptions {
    u8 tos = 0;
    u8 ttl = 0;             // 0: kDefaultTtl (1 for multicast, as Linux)
    bool no_df = false;     // never set DF (ICMP, as Linux's own ICMP socket)
    bool df_strict = false; // EMSGSIZE rather than fragment (IP_PMTUDISC_DO)
  };

  Stack(NetDevice& dev, const InterfaceConfig& cfg);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Changes the interface's configuration (a new address forgets the ARP
  // cache; its waiting packets fail).
  void configure(const InterfaceConfig& cfg);
  const InterfaceConfig& config() const { return cfg_; }

  // Routes protocol `proto` (6 for TCP) to handler; null unregisters. ICMP
  // (1) and UDP (17) are the stack's own.
  void set_transport(u8 proto, TransportHandler* handler);
  Udp& udp() { return udp_; }

  // One received Ethernet frame (without FCS); the bytes are only read
  // during the call, any length and content is safe. csum_ok: the device
  // vouches for the transport checksum (it checked it, or the host's own
  // stack left it partial for the offload: virtio's DATA_VALID and
  // NEEDS_CSUM), so TCP and UDP skip their check (IpInfo::csum_ok).
  void input_frame(const u8* frame, usize len, u64 now_ns, bool csum_ok = false);
  // Timers due by now: ARP retries, reassembly timeouts, transports' ticks.
  void tick(u64 now_ns);
  // When tick() (or run_pending) is next needed; 0 when something is ready
  // now, kNoDeadline when nothing is pending.
  u64 next_deadline();
  // Delivers queued loopback datagrams and deferred notices. A no-op when
  // called from inside a delivery (the outer loop finishes the work).
  void run_pending(u64 now_ns);

  // IpSender (netdefs.h).
  Result<void> ip_send(Ipv4 src, Ipv4 dst, u8 proto, u8 tos, Packet* pkt) override;
  Ipv4 source_for(Ipv4 dst) override;
  u16 mtu_for(Ipv4 dst) override;
  bool is_local(Ipv4 addr) override;
  // Yes: partial checksums are completed in eth_send when the device does
  // not take them, before fragmenting, and never for loopback.
  bool csum_offload() override { return true; }
  // Towards the Ethernet device when it segments TCP (NetDevice::tso): a
  // whole IPv4 datagram's worth; else 0.
  u32 tso_max(Ipv4 dst) override;

  // Sends a transport payload (pkt holds it; taken in every case) as one
  // IPv4 datagram, fragmented when over the MTU unless df_strict. DF is set
  // when the datagram fits (Linux's default, IP_PMTUDISC_WANT). src any()
  // picks the route's. Errors: EHOSTUNREACH, EMSGSIZE, ENOBUFS, EINVAL (a
  // loopback or foreign source towards the wire).
  Result<void> ip_output(Ipv4 src, Ipv4 dst, u8 proto, const OutOptions& o, Packet* pkt);

  const StackStats& stats() const { return stats_; }
  const ArpCache& arp() const { return arp_; }
  const Reassembler& reassembler() const { return reasm_; }

 private:
  // Input.
  void ip_input(const u8* p, usize len, bool from_loopback, bool link_group, bool csum_ok);
  // How a datagram was addressed: to an IP broadcast/multicast address, or in
  // a link-layer broadcast/multicast frame (no ICMP errors, no TCP for either).
  struct Cast {
    bool ip_group = false, link_group = false;
    bool any() const { return ip_group || link_group; }
  };
  void deliver(const Ipv4Header& h, const u8* dgram, Cast cast, bool csum_ok);
  void icmp_input(const Ipv4Header& h, const u8* dgram, Cast cast);
  void send_icmp_error(u8 type, u8 code, u32 rest, const Ipv4Header& h, const u8* dgram,
                       usize len, bool to_group);
  void report_unreachable(Packet* ip_packet);

  // Output.
  // Whether TCP segments to cut up may go this way: to one host through a
  // device that segments (NetDevice::tso, with the checksum offload).
  bool tso_route(const Route& r) const;
  void link_output(const Route& r, Packet* pkt);
  void eth_send(Packet* pkt, const Mac& dst, EtherType type);
  static void push_queue(Packet*& head, Packet*& tail, Packet* p);

  // ArpCache::Output.
  void arp_send(ArpOp op, const Mac& tha, Ipv4 tpa) override;
  void arp_resolved(Packet* ip_packet, const Mac& dst) override;
  void arp_failed(Packet* ip_packet) override;
  // Reassembler::TimeoutSink.
  void reassembly_timeout(const u8* quote, usize len) override;

  void advance(u64 now_ns) { now_ = max(now_, now_ns); }

  NetDevice& dev_;
  InterfaceConfig cfg_;
  ArpCache arp_;
  Reassembler reasm_;
  Udp udp_;
  IcmpRateLimit icmp_limit_;
  TransportHandler* transports_[256] = {};
  // The protocols with a handler, for tick and next_deadline (asked after
  // every frame and socket call) to visit without walking all 256.
  u8 registered_[8] = {};
  u32 nregistered_ = 0;
  u64 now_ = 0;
  u16 next_id_ = 1;
  bool draining_ = false;
  Packet* lo_head_ = nullptr;
  Packet* lo_tail_ = nullptr;
  usize lo_count_ = 0;
  Packet* failed_head_ = nullptr;  // ARP give-ups, reported from run_pending
  Packet* failed_tail_ = nullptr;
  usize failed_count_ = 0;
  StackStats stats_;
};

}  // namespace mote::net
