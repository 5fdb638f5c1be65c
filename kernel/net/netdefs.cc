// The shared pieces of netdefs.h: the Internet checksum and the packet buffer.
#include "kernel/net/netdefs.h"

#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"

#include <new>

namespace mote::net {

u32 csum_add(u32 sum, const void* data, usize len) {
  // 64-bit accumulation of 16-bit big-endian words; folded once at the end.
  u64 acc = sum;
  const u8* p = static_cast<const u8*>(data);
  while (len >= 2) {
    acc += u32(p[0]) << 8 | p[1];
    p += 2, len -= 2;
  }
  if (len) acc += u32(p[0]) << 8;
  while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
  return u32(acc);
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

void Packet::free(Packet* p) {
  if (!p) return;
  p->~Packet();
  mm::kfree(p);
}

}  // namespace mote::net
