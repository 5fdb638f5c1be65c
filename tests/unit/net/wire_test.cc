// The typed wire headers (kernel/net/wire.h): real frames parse to the
// fields Linux put in them, and every malformed or cut-short header is
// rejected rather than read past.
#include "kernel/net/wire.h"

#include <gtest/gtest.h>

#include "tests/unit/net/net_fixture.h"
#include "tests/unit/net/recorded_frames.h"

namespace mote::net {
namespace {

using namespace test;

TEST(NetWire, RecordedLinuxArpRequestParses) {
  const u8* f = recorded::kLinuxArpRequest;
  auto e = EthHeader::parse(f, sizeof recorded::kLinuxArpRequest);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e.value().dst.broadcast());
  EXPECT_EQ(e.value().src, kPeerMac);
  EXPECT_EQ(e.value().type, u16(EtherType::Arp));
  auto a = ArpPacket::parse(f + 14, sizeof recorded::kLinuxArpRequest - 14);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().op, u16(ArpOp::Request));
  EXPECT_EQ(a.value().spa, kPeerIp);
  EXPECT_EQ(a.value().tpa, kMoteIp);
  EXPECT_EQ(a.value().tha, Mac());
}

TEST(NetWire, ArpWriteIsInverseOfParse) {
  ArpPacket a;
  a.op = 2, a.sha = kMoteMac, a.spa = kMoteIp, a.tha = kPeerMac, a.tpa = kPeerIp;
  u8 buf[ArpPacket::kSize];
  a.write(buf);
  // The recorded reply is the same layout with the roles swapped.
  EXPECT_EQ(memcmp(buf, recorded::kLinuxArpReply + 14, 8), 0);  // hrd pro hln pln op
  auto back = ArpPacket::parse(buf, sizeof buf);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().sha, kMoteMac);
  EXPECT_EQ(back.value().tpa, kPeerIp);
}

TEST(NetWire, ArpForOtherHardwareOrProtocolIsRejected) {
  Bytes a = bytes_of(recorded::kLinuxArpRequest + 14, ArpPacket::kSize);
  EXPECT_TRUE(ArpPacket::parse(a.data(), a.size()).ok());
  for (usize i : {1, 3, 4, 5}) {  // hardware type, protocol type, lengths
    Bytes b = a;
    b[i] ^= 0x10;
    EXPECT_FALSE(ArpPacket::parse(b.data(), b.size()).ok()) << i;
  }
  EXPECT_FALSE(ArpPacket::parse(a.data(), a.size() - 1).ok());
}

TEST(NetWire, EthernetShorterThanHeaderOr8023LengthIsRejected) {
  u8 f[14] = {};
  store_be16(f + 12, 0x0800);
  EXPECT_TRUE(EthHeader::parse(f, 14).ok());
  EXPECT_FALSE(EthHeader::parse(f, 13).ok());
  store_be16(f + 12, 0x05dc);  // an 802.3 length, not an EtherType
  EXPECT_FALSE(EthHeader::parse(f, 14).ok());
}

TEST(NetWire, RecordedEchoRequestIpHeaderParses) {
  const u8* ip = recorded::kLinuxEchoRequest + 14;
  usize len = sizeof recorded::kLinuxEchoRequest - 14;
  auto h = Ipv4Header::parse(ip, len);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().header_len(), 20u);
  EXPECT_EQ(h.value().total_len, 84);
  EXPECT_TRUE(h.value().df());
  EXPECT_FALSE(h.value().is_fragment());
  EXPECT_EQ(h.value().ttl, 64);
  EXPECT_EQ(h.value().proto, kProtoIcmp);
  EXPECT_EQ(h.value().src, kPeerIp);
  EXPECT_EQ(h.value().dst, kMoteIp);
}

TEST(NetWire, Ipv4WithBadVersionIhlLengthOrChecksumIsRejected) {
  Bytes ip = bytes_of(recorded::kLinuxEchoRequest + 14, sizeof recorded::kLinuxEchoRequest - 14);
  auto bad = [&](auto mutate) {
    Bytes b = ip;
    mutate(b);
    return !Ipv4Header::parse(b.data(), b.size()).ok();
  };
  EXPECT_TRUE(bad([](Bytes& b) { b[0] = 0x65; }));                 // version 6
  EXPECT_TRUE(bad([](Bytes& b) { b[0] = 0x44; }));                 // IHL 4
  EXPECT_TRUE(bad([](Bytes& b) { b[0] = 0x4f; }));                 // IHL 15: the sum then fails
  EXPECT_TRUE(bad([](Bytes& b) { store_be16(b.data() + 2, 19); }));  // total < header
  EXPECT_TRUE(bad([](Bytes& b) { store_be16(b.data() + 2, 85); }));  // total > bytes
  EXPECT_TRUE(bad([](Bytes& b) { b[19] ^= 1; }));                  // checksum
  EXPECT_TRUE(bad([](Bytes& b) { b.resize(19); }));                // cut short
  EXPECT_TRUE(bad([](Bytes& b) { b[0] = 0x46; b.resize(23); }));   // options past the end
}

TEST(NetWire, Ipv4AcceptsEthernetPaddingBeyondTotalLength) {
  Bytes ip = bytes_of(recorded::kLinuxEchoRequest + 14, sizeof recorded::kLinuxEchoRequest - 14);
  ip.resize(ip.size() + 10, 0);
  auto h = Ipv4Header::parse(ip.data(), ip.size());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().total_len, 84);
}

TEST(NetWire, Ipv4WriteProducesAValidChecksum) {
  Ipv4Header h;
  h.total_len = 40, h.id = 7, h.frag = Ipv4Header::kFlagMf | 3, h.proto = kProtoUdp;
  h.src = kMoteIp, h.dst = kPeerIp;
  u8 buf[40] = {};
  h.write(buf);
  auto back = Ipv4Header::parse(buf, sizeof buf);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back.value().mf());
  EXPECT_EQ(back.value().frag_offset(), 24u);
}

TEST(NetWire, IcmpChecksumCoversTheWholeMessage) {
  const u8* m = recorded::kLinuxEchoRequest + 34;
  usize len = sizeof recorded::kLinuxEchoRequest - 34;
  auto h = IcmpHeader::parse(m, len);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().type, u8(IcmpType::EchoRequest));
  EXPECT_EQ(h.value().echo_id(), 0x1234);
  EXPECT_EQ(h.value().echo_seq(), 1);
  Bytes b = bytes_of(m, len);
  b.back() ^= 0xff;  // last data byte
  EXPECT_FALSE(IcmpHeader::parse(b.data(), b.size()).ok());
  EXPECT_FALSE(IcmpHeader::parse(m, 7).ok());
}

TEST(NetWire, UdpLengthMustFitTheDatagram) {
  const u8* u = recorded::kLinuxUdp + 34;
  usize len = sizeof recorded::kLinuxUdp - 34;
  auto h = UdpHeader::parse(u, len);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().src_port, 40000);
  EXPECT_EQ(h.value().dst_port, 7777);
  EXPECT_EQ(h.value().length, 8 + 12);
  EXPECT_FALSE(UdpHeader::parse(u, h.value().length - 1).ok());
  Bytes b = bytes_of(u, len);
  store_be16(b.data() + 4, 7);  // shorter than its own header
  EXPECT_FALSE(UdpHeader::parse(b.data(), b.size()).ok());
}

TEST(NetWire, MulticastMacMapsLow23Bits) {
  Mac m = mac_for_multicast(Ipv4::of(239, 129, 2, 3));
  EXPECT_EQ(m, (Mac{{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}}));
}

}  // namespace
}  // namespace mote::net
