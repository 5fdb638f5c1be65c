// SipHash-2-4 and the TCP numbers derived from it (tcp_isn.h).
#include "kernel/net/tcp_isn.h"

namespace mote::net {
namespace {

constexpr u64 rotl(u64 x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
  u64 v0, v1, v2, v3;
  void round() {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  }
  void absorb(u64 m) {
    v3 ^= m;
    round(), round();
    v0 ^= m;
  }
};

}  // namespace

u64 siphash24(const TcpSecret& key, const void* data, usize len) {
  // The constants are "somepseudorandomlygeneratedbytes" (SipHash paper 2.2).
  SipState s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull,
             key.k0 ^ 0x6c7967656e657261ull, key.k1 ^ 0x7465646279746573ull};
  const u8* p = static_cast<const u8*>(data);
  usize whole = len & ~usize(7);
  for (usize i = 0; i < whole; i += 8) {
    u64 m = 0;
    for (int b = 7; b >= 0; --b) m = m << 8 | p[i + b];  // little-endian words
    s.absorb(m);
  }
  u64 last = u64(len & 0xff) << 56;
  for (usize b = 0; b < (len & 7); ++b) last |= u64(p[whole + b]) << (8 * b);
  s.absorb(last);
  s.v2 ^= 0xff;
  s.round(), s.round(), s.round(), s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

u64 tcp_tuple_hash(const TcpSecret& key, u8 domain, Endpoint local, Endpoint remote) {
  u8 b[13];
  store_be32(b, local.addr.v);
  store_be16(b + 4, local.port);
  store_be32(b + 6, remote.addr.v);
  store_be16(b + 10, remote.port);
  b[12] = domain;
  return siphash24(key, b, sizeof b);
}

u32 tcp_isn(const TcpSecret& key, Endpoint local, Endpoint remote, u64 now_ns) {
  return u32(tcp_tuple_hash(key, 1, local, remote)) + u32(now_ns / 4000);
}

}  // namespace mote::net
