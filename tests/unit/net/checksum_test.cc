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
