// IPv4 fragment reassembly (reassembly.h).
#include "kernel/net/reassembly.h"

#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"

namespace mote::net {

namespace {
constexpr usize kMaxDatagramData = 65535 - Ipv4Header::kMinSize;
}  // namespace

Reassembler::~Reassembler() {
  for (Datagram& d : slots_)
    if (d.used) drop(d);
}

void Reassembler::drop(Datagram& d) {
  Piece* p = d.pieces;
  while (p) {
    Piece* n = p->next;
    bytes_ -= sizeof(Piece) + p->len;
    mm::kfree(p);
    p = n;
  }
  d = Datagram();
  --count_;
}

Reassembler::Datagram* Reassembler::oldest() {
  Datagram* o = nullptr;
  for (Datagram& d : slots_)
    if (d.used && (!o || d.started < o->started)) o = &d;
  return o;
}

Reassembler::Datagram* Reassembler::find_or_start(const Ipv4Header& h, u64 now_ns) {
  Datagram* free_slot = nullptr;
  for (Datagram& d : slots_) {
    if (!d.used) {
      if (!free_slot) free_slot = &d;
      continue;
    }
    if (d.src == h.src && d.dst == h.dst && d.proto == h.proto && d.id == h.id) return &d;
  }
  if (!free_slot) {
    free_slot = oldest();
    drop(*free_slot);
  }
  Datagram& d = *free_slot;
  d.used = true;
  d.src = h.src, d.dst = h.dst, d.proto = h.proto, d.id = h.id;
  d.started = now_ns;
  ++count_;
  return &d;
}

bool Reassembler::insert(Datagram& d, usize off, const u8* data, usize len, bool* duplicate) {
  usize end = off + len;
  // Covered entirely by contiguous data already held: a duplicate.
  usize covered = off;
  for (Piece* p = d.pieces; p; p = p->next)
    if (p->off <= covered && covered < usize(p->off) + p->len) covered = usize(p->off) + p->len;
  if (covered >= end) {
    *duplicate = true;
    return true;
  }
  *duplicate = false;
  Piece** link = &d.pieces;
  for (Piece* p = d.pieces; p; p = p->next) {
    usize p_end = usize(p->off) + p->len;
    if (p->off < end && off < p_end) return false;  // partial overlap
    if (p_end <= off) link = &p->next;
  }
  usize need = sizeof(Piece) + len;
  // Make room within the byte budget, oldest reassemblies first.
  while (bytes_ + need > kMaxBytes) {
    Datagram* o = oldest();
    if (o == &d) {
      // Only this one is left to evict: it alone is too big to keep.
      bool alone = true;
      for (Datagram& x : slots_) alone &= !x.used || &x == &d;
      if (alone) return false;
      // Evict the next oldest instead.
      Datagram* next = nullptr;
      for (Datagram& x : slots_)
        if (x.used && &x != &d && (!next || x.started < next->started)) next = &x;
      o = next;
    }
    drop(*o);
  }
  Piece* n = static_cast<Piece*>(mm::kalloc(need));
  if (!n) return false;
  n->off = u16(off), n->len = u16(len);
  memcpy(n->data(), data, len);
  n->next = *link;
  *link = n;
  bytes_ += need;
  d.received += len;
  return true;
}

u8* Reassembler::assemble(Datagram& d, usize* out_len) {
  usize total = Ipv4Header::kMinSize + d.total;
  u8* buf = static_cast<u8*>(mm::kalloc(total));
  if (!buf) {
    drop(d);
    return nullptr;
  }
  Ipv4Header h;
  h.tos = d.quote[1];
  h.ttl = d.quote[8];
  h.total_len = u16(total);
  h.id = d.id;
  h.proto = d.proto;
  h.src = d.src, h.dst = d.dst;
  h.write(buf);
  for (Piece* p = d.pieces; p; p = p->next)
    memcpy(buf + Ipv4Header::kMinSize + p->off, p->data(), p->len);
  *out_len = total;
  drop(d);
  return buf;
}

u8* Reassembler::add(const Ipv4Header& h, const u8* payload, usize len, u64 now_ns,
                     usize* out_len) {
  usize off = h.frag_offset();
  usize end = off + len;
  // Empty fragments say nothing; a non-last one must be a multiple of 8
  // (RFC 791); nothing may end beyond the largest datagram (ping of death).
  if (len == 0 || (h.mf() && (len & 7)) || end > kMaxDatagramData) return nullptr;
  Datagram* d = find_or_start(h, now_ns);
  if (!h.mf()) {
    if ((d->have_last && d->total != end) || d->received > end) {
      drop(*d);
      return nullptr;
    }
    for (Piece* p = d->pieces; p; p = p->next)
      if (usize(p->off) + p->len > end) {
        drop(*d);
        return nullptr;
      }
    d->have_last = true;
    d->total = end;
  } else if (d->have_last && end > d->total) {
    drop(*d);
    return nullptr;
  }
  bool duplicate = false;
  if (!insert(*d, off, payload, len, &duplicate)) {
    drop(*d);
    return nullptr;
  }
  if (duplicate) return nullptr;
  if (off == 0) {
    // Keep the header and first 8 data bytes for ICMP time exceeded.
    Ipv4Header q = h;
    q.ihl = 5;
    q.total_len = u16(Ipv4Header::kMinSize + len);
    q.write(d->quote);
    usize data = min<usize>(len, 8);
    memcpy(d->quote + Ipv4Header::kMinSize, payload, data);
    d->quote_len = Ipv4Header::kMinSize + data;
  }
  // Complete: the last fragment is known and the pieces (which never
  // overlap) add up to it. Offset 0 is then necessarily there.
  if (d->have_last && d->received == d->total) return assemble(*d, out_len);
  return nullptr;
}

void Reassembler::tick(u64 now_ns, TimeoutSink* sink) {
  for (Datagram& d : slots_) {
    if (!d.used || now_ns - d.started < kTimeoutNs) continue;
    u8 quote[kQuoteLen];
    usize qlen = d.quote_len;
    memcpy(quote, d.quote, qlen);
    drop(d);
    if (qlen && sink) sink->reassembly_timeout(quote, qlen);
  }
}

u64 Reassembler::next_deadline() const {
  u64 t = kNoDeadline;
  if (!count_) return t;  // (asked after every frame: most often nothing held)
  for (const Datagram& d : slots_)
    if (d.used) t = min(t, d.started + kTimeoutNs);
  return t;
}

}  // namespace mote::net
