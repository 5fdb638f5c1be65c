// The shared pieces of netdefs.h: the Internet checksum and the packet buffer.
#include "kernel/net/netdefs.h"

#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"

#include <new>

namespace mote::net {

u32 csum_add(u32 sum, const void* data, usize len) {
  // The sum does not depend on byte order (RFC 1071 section 2(B)): add the
  // data as little-endian words, eight bytes a step (a 32-bit word is two
  // 16-bit ones, as 2^16 = 1 modulo 0xffff), fold to 16 bits and swap them
  // to the big-endian words' sum. A quarter of the steps of two bytes at a
  // time: under TCG the checksum of each received segment was a visible
  // part of the VM's receive path.
  const u8* p = static_cast<const u8*>(data);
  u64 acc = 0;
  for (; len >= 8; p += 8, len -= 8) {
    u64 w;
    __builtin_memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
  }
  if (len >= 4) {
    u32 w;
    __builtin_memcpy(&w, p, 4);
    acc += w;
    p += 4, len -= 4;
  }
  if (len >= 2) {
    acc += u32(p[0]) | u32(p[1]) << 8;
    p += 2, len -= 2;
  }
  if (len) acc += p[0];  // the odd last byte: the high byte of a big-endian word
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  u64 total = u64(sum) + ((acc & 0xff) << 8 | acc >> 8);
  while (total >> 32) total = (total & 0xffffffffu) + (total >> 32);
  return u32(total);
}

u16 csum_fold(u32 sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return u16(~sum);
}

u32 csum_pseudo(Ipv4 src, Ipv4 dst, u8 proto, u16 length) {
  u64 acc = (src.v >> 16) + (src.v & 0xffff) + (dst.v >> 16) + (dst.v & 0xffff) +
            proto + length;
  while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
  return u32(acc);
}

Packet* Packet::alloc(usize payload) {
  usize cap = kHeadroom + payload;
  if (cap < payload) return nullptr;
  void* mem = mm::kalloc(sizeof(Packet) + cap);
  if (!mem) return nullptr;
  Packet* p = new (mem) Packet();
  p->buf_ = reinterpret_cast<u8*>(p + 1);
  p->cap_ = cap;
  p->head_ = kHeadroom;
  return p;
}

void Packet::finish_csum() {
  if (!csum_off_) return;
  usize start = csum_pos_, end = head_ + len_;
  if (start + csum_off_ + 2 <= end) {
    // Linux's skb_checksum_help: a sum of zero goes out as 0xffff (the same
    // in ones' complement; UDP keeps 0 for "no checksum").
    u16 c = csum_fold(csum_add(0, buf_ + start, end - start));
    store_be16(buf_ + start + csum_off_, c ? c : 0xffff);
  }
  csum_off_ = 0;
}

void Packet::free(Packet* p) {
  if (!p) return;
  p->~Packet();
  mm::kfree(p);
}

}  // namespace mote::net
