// The ARP cache (arp.h).
#include "kernel/net/arp.h"

namespace mote::net {

ArpCache::~ArpCache() {
  for (Entry& e : table_) {
    Packet* p = e.q_head;
    while (p) {
      Packet* n = p->next;
      Packet::free(p);
      p = n;
    }
    e = Entry();
  }
}

ArpCache::Entry* ArpCache::find(Ipv4 ip) {
  for (Entry& e : table_)
    if (e.state != State::Free && e.ip == ip) return &e;
  return nullptr;
}

const ArpCache::Entry* ArpCache::find(Ipv4 ip) const {
  return const_cast<ArpCache*>(this)->find(ip);
}

ArpCache::Entry* ArpCache::take_slot() {
  Entry* oldest = nullptr;
  for (Entry& e : table_) {
    if (e.state == State::Free) return &e;
    // Prefer evicting a resolved entry: it costs one request, not packets.
    bool better = !oldest || (e.state == State::Reachable && oldest->state != State::Reachable) ||
                  (e.state == oldest->state && e.updated < oldest->updated);
    if (better) oldest = &e;
  }
  release(*oldest, nullptr);
  return oldest;
}

void ArpCache::release(Entry& e, const Mac* resolved) {
  // Detach first: the callbacks may send, and so reach this table again.
  Packet* p = e.q_head;
  Mac mac = resolved ? *resolved : Mac();
  if (e.state == State::Incomplete) --incomplete_;
  e = Entry();
  while (p) {
    Packet* n = p->next;
    p->next = nullptr;
    if (resolved)
      out_.arp_resolved(p, mac);
    else
      out_.arp_failed(p);
    p = n;
  }
}

void ArpCache::enqueue(Entry& e, Packet* pkt) {
  pkt->next = nullptr;
  if (e.q_tail)
    e.q_tail->next = pkt;
  else
    e.q_head = pkt;
  e.q_tail = pkt;
  e.q_bytes += pkt->size();
  ++e.q_count;
  // Drop the oldest while over budget, but always keep the newest.
  while (e.q_head != pkt && (e.q_bytes > kQueueBytes || e.q_count > kQueuePackets)) {
    Packet* old = e.q_head;
    e.q_head = old->next;
    e.q_bytes -= old->size();
    --e.q_count;
    old->next = nullptr;
    out_.arp_failed(old);
  }
}

void ArpCache::send(Ipv4 next_hop, Packet* pkt, u64 now_ns) {
  Entry* e = find(next_hop);
  if (e && e->state == State::Reachable) {
    if (now_ns < e->deadline) {
      out_.arp_resolved(pkt, e->mac);
      return;
    }
    // Expired (RFC 1122 2.3.2.1): resolve again before trusting it.
    release(*e, nullptr);
    e = nullptr;
  }
  if (e) {  // already resolving
    enqueue(*e, pkt);
    return;
  }
  e = take_slot();
  e->state = State::Incomplete;
  ++incomplete_;
  e->ip = next_hop;
  e->tries = 1;
  e->deadline = now_ns + kRetryNs;
  e->updated = now_ns;
  enqueue(*e, pkt);
  out_.arp_send(ArpOp::Request, Mac(), next_hop);
}

void ArpCache::learn(Entry& e, const Mac& mac, u64 now_ns) {
  bool was_waiting = e.state == State::Incomplete;
  if (was_waiting) --incomplete_;
  e.state = State::Reachable;
  e.mac = mac;
  e.deadline = now_ns + kReachableNs;
  e.updated = now_ns;
  e.tries = 0;
  if (!was_waiting) return;
  // Send what waited, in order; detach first (sending may re-enter send()).
  Packet* p = e.q_head;
  e.q_head = e.q_tail = nullptr;
  e.q_bytes = e.q_count = 0;
  while (p) {
    Packet* n = p->next;
    p->next = nullptr;
    out_.arp_resolved(p, mac);
    p = n;
  }
}

void ArpCache::input(const ArpPacket& a, Ipv4 our, const Mac& our_mac, u64 now_ns) {
  // Never learn from our own frames, group hardware addresses (a broadcast
  // sender would poison the cache) or an unset sender address (an RFC 5227
  // probe, which is still answered below).
  bool can_learn = !(a.sha == our_mac) && !mac_is_group(a.sha) && !a.spa.any() &&
                   !a.spa.broadcast() && !(a.spa == our);
  // RFC 826 "Packet Reception": if the sender is already in the table, update
  // it (this is also how gratuitous ARP refreshes a neighbour's entry).
  bool merged = false;
  if (can_learn) {
    if (Entry* e = find(a.spa)) {
      learn(*e, a.sha, now_ns);
      merged = true;
    }
  }
  if (our.any() || !(a.tpa == our)) return;
  // "Am I the target protocol address?" Then add the sender if not merged.
  if (can_learn && !merged) {
    Entry* e = take_slot();
    e->ip = a.spa;
    learn(*e, a.sha, now_ns);
  }
  if (a.op == u16(ArpOp::Request)) out_.arp_send(ArpOp::Reply, a.sha, a.spa);
}

void ArpCache::tick(u64 now_ns) {
  for (Entry& e : table_) {
    if (e.state == State::Reachable && now_ns >= e.deadline) {
      e = Entry();
    } else if (e.state == State::Incomplete && now_ns >= e.deadline) {
      if (e.tries >= kMaxTries) {
        release(e, nullptr);
        continue;
      }
      ++e.tries;
      e.deadline = now_ns + kRetryNs;
      out_.arp_send(ArpOp::Request, Mac(), e.ip);
    }
  }
}

u64 ArpCache::next_deadline() const {
  u64 d = kNoDeadline;
  if (!incomplete_) return d;  // (asked after every frame: most often none)
  for (const Entry& e : table_)
    if (e.state == State::Incomplete) d = min(d, e.deadline);
  return d;
}

const Mac* ArpCache::lookup(Ipv4 ip, u64 now_ns) const {
  const Entry* e = find(ip);
  if (!e || e->state != State::Reachable || now_ns >= e->deadline) return nullptr;
  return &e->mac;
}

usize ArpCache::size() const {
  usize n = 0;
  for (const Entry& e : table_) n += e.state != State::Free;
  return n;
}

void ArpCache::flush() {
  for (Entry& e : table_)
    if (e.state != State::Free) release(e, nullptr);
}

}  // namespace mote::net
