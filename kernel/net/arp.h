// The ARP cache (RFC 826, with RFC 1122 2.3.2.1's timeouts): IPv4 next hops
// to Ethernet addresses. A packet for an unresolved next hop waits in a small
// per-entry queue while requests go out (kMaxTries, kRetryNs apart); on a
// reply the queue is sent, on give-up it is handed back as failed. Resolved
// entries are trusted for kReachableNs, then resolved again. Fixed size, no
// allocation: a full table evicts its oldest entry.
#pragma once

#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"
#include "kernel/net/transport.h"
#include "kernel/net/wire.h"

namespace mote::net {

class ArpCache {
 public:
  static constexpr usize kEntries = 64;
  static constexpr u64 kReachableNs = 60 * kNsPerSec;
  static constexpr u64 kRetryNs = 1 * kNsPerSec;
  static constexpr u32 kMaxTries = 3;
  // Bound on the packets waiting for one resolution (the oldest is dropped):
  // enough for one 64 KiB datagram's fragments, like Linux's unres_qlen_bytes.
  static constexpr usize kQueueBytes = 96 * 1024;
  static constexpr usize kQueuePackets = 64;

  // What the cache asks of the link layer (the stack implements it).
  class Output {
   public:
    // Sends an ARP packet from our addresses: a request is broadcast (tha
    // zero), a reply goes to `tha`.
    virtual void arp_send(ArpOp op, const Mac& tha, Ipv4 tpa) = 0;
    // Transmits a waiting (or immediately resolvable) IP packet; takes it.
    virtual void arp_resolved(Packet* ip_packet, const Mac& dst) = 0;
    // Resolution gave up (or the entry was evicted); takes the packet.
    virtual void arp_failed(Packet* ip_packet) = 0;

   protected:
    ~Output() = default;
  };

  explicit ArpCache(Output& out) : out_(out) {}
  ~ArpCache();
  ArpCache(const ArpCache&) = delete;
  ArpCache& operator=(const ArpCache&) = delete;

  // Sends an IP packet to next_hop: at once when the address is known, else
  // queued behind a resolution (which is started if need be). Takes pkt.
  void send(Ipv4 next_hop, Packet* pkt, u64 now_ns);
  // A received ARP packet; `our` is this host's address. Learns the sender
  // per RFC 826's merge rules and answers requests for `our`.
  void input(const ArpPacket& a, Ipv4 our, const Mac& our_mac, u64 now_ns);
  // Retries and give-ups due by now; expired entries are forgotten.
  void tick(u64 now_ns);
  // The next retry due (kNoDeadline when nothing is being resolved).
  u64 next_deadline() const;

  // The resolved address of ip if still fresh, else nullptr (diagnostics).
  const Mac* lookup(Ipv4 ip, u64 now_ns) const;
  // Entries in use, resolved or not.
  usize size() const;
  // Forgets everything; waiting packets are failed.
  void flush();

 private:
  enum class State : u8 { Free, Incomplete, Reachable };
  struct Entry {
    State state = State::Free;
    u8 tries = 0;
    Ipv4 ip;
    Mac mac;
    u64 deadline = 0;  // Incomplete: next retry; Reachable: expiry
    u64 updated = 0;   // for eviction
    Packet* q_head = nullptr;
    Packet* q_tail = nullptr;
    usize q_bytes = 0, q_count = 0;
  };

  Entry* find(Ipv4 ip);
  const Entry* find(Ipv4 ip) const;
  Entry* take_slot();
  void enqueue(Entry& e, Packet* pkt);
  // Frees the entry; its queue goes to arp_resolved (mac given) or arp_failed.
  void release(Entry& e, const Mac* resolved);
  void learn(Entry& e, const Mac& mac, u64 now_ns);

  Output& out_;
  Entry table_[kEntries];
  u32 incomplete_ = 0;  // entries resolving: the only ones with a deadline to run
};

}  // namespace mote::net
