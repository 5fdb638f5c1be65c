// The Internet checksum and the packet buffer (kernel/net/netdefs.h).
#include "kernel/net/netdefs.h"

#include <gtest/gtest.h>

namespace mote::net {
namespace {

TEST(NetChecksum, Rfc1071Example) {
  // RFC 1071 section 3's worked example: the words 0001 f203 f4f5 f6f7 sum to
  // 0x2ddf0, folded 0xddf2, so the checksum field is its complement.
  const u8 data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(csum_fold(csum_add(0, data, sizeof data)), u16(~0xddf2));
}

TEST(NetChecksum, RealIpv4HeaderVerifiesToZero) {
  // An IPv4 header as captured (checksum field 0xb861 included): the sum over
  // a correct header folds to zero.
  const u8 hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                    0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(csum_fold(csum_add(0, hdr, sizeof hdr)), 0);
  u8 bad[sizeof hdr];
  memcpy(bad, hdr, sizeof hdr);
  bad[15] ^= 1;
  EXPECT_NE(csum_fold(csum_add(0, bad, sizeof bad)), 0);
}

TEST(NetChecksum, OddLengthAndPiecesAgree) {
  const u8 data[] = {1, 2, 3, 4, 5, 6, 7};
  u32 whole = csum_add(0, data, 7);
  u32 pieces = csum_add(csum_add(0, data, 4), data + 4, 3);
  EXPECT_EQ(csum_fold(whole), csum_fold(pieces));
  EXPECT_EQ(csum_fold(whole), u16(~(0x0102 + 0x0304 + 0x0506 + 0x0700)));
}

// The sum of 16-bit big-endian words, two bytes a step, as RFC 1071 states
// it: what csum_add's word-at-a-time version must equal after folding.
u16 reference(const u8* p, usize len) {
  u64 acc = 0;
  for (usize i = 0; i + 1 < len; i += 2) acc += u32(p[i]) << 8 | p[i + 1];
  if (len & 1) acc += u32(p[len - 1]) << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return u16(~acc);
}

TEST(NetChecksum, WordsAtATimeEqualTheTwoByteSum) {
  // Every length 0-200 at every alignment 0-7, random bytes, and the worst
  // case for carries (all 0xff), whole and split at an even offset.
  u32 seed = 12345;
  u8 buf[256 + 8];
  for (int fill = 0; fill < 2; ++fill) {
    for (usize i = 0; i < sizeof buf; ++i) {
      seed = seed * 1103515245 + 12345;
      buf[i] = fill ? 0xff : u8(seed >> 16);
    }
    for (usize align = 0; align < 8; ++align)
      for (usize len = 0; len <= 200; ++len) {
        const u8* p = buf + align;
        ASSERT_EQ(csum_fold(csum_add(0, p, len)), reference(p, len)) << len << " at " << align;
        usize cut = (len / 3) & ~usize(1);
        ASSERT_EQ(csum_fold(csum_add(csum_add(0, p, cut), p + cut, len - cut)), reference(p, len))
            << len << " cut at " << cut;
      }
  }
  // A large buffer: 64 KiB of 0xff (carries on every step).
  static u8 big[65536];
  memset(big, 0xff, sizeof big);
  EXPECT_EQ(csum_fold(csum_add(0, big, sizeof big)), reference(big, sizeof big));
}

TEST(NetChecksum, PseudoHeaderMatchesExplicitBytes) {
  Ipv4 s = Ipv4::of(10, 0, 2, 15), d = Ipv4::of(10, 0, 2, 2);
  const u8 ph[] = {10, 0, 2, 15, 10, 0, 2, 2, 0, kProtoTcp, 0x05, 0xdc};
  EXPECT_EQ(csum_fold(csum_pseudo(s, d, kProtoTcp, 1500)),
            csum_fold(csum_add(0, ph, sizeof ph)));
}

TEST(NetPacket, PushAndPutKeepPayloadInPlace) {
  Packet* p = Packet::alloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->size(), 0u);
  EXPECT_EQ(p->headroom(), Packet::kHeadroom);
  memcpy(p->put(5), "hello", 5);
  u8* tcp = p->push(20);
  memset(tcp, 0xaa, 20);
  EXPECT_EQ(p->size(), 25u);
  EXPECT_EQ(p->data(), tcp);
  EXPECT_EQ(memcmp(p->data() + 20, "hello", 5), 0);
  EXPECT_EQ(p->tailroom(), 95u);
  Packet::free(p);
}

}  // namespace
}  // namespace mote::net
