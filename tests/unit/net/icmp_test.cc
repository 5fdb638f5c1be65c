// ICMP (kernel/net/icmp.h): echo replies and port unreachables identical to
// Linux's but for the IP identification, the RFC 1122 rules on when no error
// is sent, the rate limit, and received errors reaching UDP's SO_ERROR and the
// registered transport.
#include <gtest/gtest.h>

#include "kernel/lib/errno.h"
#include "tests/unit/net/net_fixture.h"
#include "tests/unit/net/recorded_frames.h"

namespace mote::net {
namespace {

using namespace test;

// Blanks the IP identification and header checksum, the two fields our
// frames may differ from Linux's in.
Bytes without_id(Bytes f) {
  for (usize k : {18, 19, 24, 25}) f[k] = 0;
  return f;
}

TEST(NetIcmp, EchoReplyToRecordedPingIsLinuxsReplyButForTheIdentification) {
  MoteStack m;
  feed(m.stack, bytes_of(recorded::kLinuxEchoRequest), 2 * kSec);
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  // Linux's reply to the same request sent the other way, roles swapped:
  // same id, sequence, data and ICMP checksum, TTL 64, DF clear.
  EXPECT_EQ(without_id(out[0]), without_id(swap_hosts(bytes_of(recorded::kLinuxEchoReply))));
  Ipv4Header h = ip_of(out[0]);  // the IP checksum verified
  EXPECT_FALSE(h.df());
  const u8* icmp = l4_of(out[0]);
  EXPECT_EQ(icmp[0], 0);
  EXPECT_EQ(load_be16(icmp + 4), 0x1234);
  EXPECT_EQ(load_be16(icmp + 6), 1);
  EXPECT_EQ(csum_fold(csum_add(0, icmp, h.payload_len())), 0);
}

TEST(NetIcmp, EchoRequestWithBadChecksumOrToBroadcastIsIgnored) {
  MoteStack m;
  Bytes bad = bytes_of(recorded::kLinuxEchoRequest);
  bad.back() ^= 1;
  feed(m.stack, bad, 2 * kSec);
  EXPECT_EQ(m.stack.stats().icmp_in_errors, 1u);
  Bytes bcast = eth_frame(Mac::all_ones(), kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, Ipv4::of(10, 0, 2, 255), kProtoIcmp,
                                    bytes_of(recorded::kLinuxEchoRequest + 34,
                                             sizeof recorded::kLinuxEchoRequest - 34)));
  feed(m.stack, bcast, 2 * kSec);
  EXPECT_TRUE(m.dev.frames.empty());
}

TEST(NetIcmp, EchoToOurAddressInABroadcastFrameIsAnswered) {
  MoteStack m;
  Bytes f = bytes_of(recorded::kLinuxEchoRequest);
  memset(f.data(), 0xff, 6);
  feed(m.stack, f, 2 * kSec);
  EXPECT_EQ(m.dev.take().size(), 1u);
}

TEST(NetIcmp, PortUnreachableIsLinuxsButForTheIdentification) {
  MoteStack m;
  // The mirror image of the datagram Linux answered in the recording:
  // 10.0.2.2:32768 -> 10.0.2.15:9 "knock", identification 0x0101, DF.
  Bytes seg = udp_segment(kPeerIp, kMoteIp, 32768, 9, str_bytes("knock"));
  feed(m.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, kMoteIp, kProtoUdp, seg, 0x0101)),
       2 * kSec);
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  // TOS 0xc0, DF clear, the whole datagram quoted, checksums as Linux's.
  EXPECT_EQ(without_id(out[0]),
            without_id(swap_hosts(bytes_of(recorded::kLinuxPortUnreachable))));
  EXPECT_EQ(m.stack.udp().stats().no_ports, 1u);
}

TEST(NetIcmp, RecordedUdpToClosedPortGetsPortUnreachable) {
  MoteStack m;
  feed(m.stack, bytes_of(recorded::kLinuxUdp), 2 * kSec);
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  Ipv4Header h = ip_of(out[0]);
  EXPECT_EQ(h.src, kMoteIp);
  EXPECT_EQ(h.dst, kPeerIp);
  const u8* icmp = l4_of(out[0]);
  EXPECT_EQ(icmp[0], u8(IcmpType::DestUnreachable));
  EXPECT_EQ(icmp[1], u8(UnreachCode::Port));
  // The quote is the datagram as it arrived.
  Bytes quoted = bytes_of(icmp + 8, h.payload_len() - 8);
  EXPECT_EQ(quoted, bytes_of(recorded::kLinuxUdp + 14, sizeof recorded::kLinuxUdp - 14));
}

TEST(NetIcmp, NoErrorAboutBroadcastsFragmentsOrErrors) {
  MoteStack m;
  // UDP to the subnet broadcast, closed port.
  Ipv4 bc = Ipv4::of(10, 0, 2, 255);
  feed(m.stack, eth_frame(Mac::all_ones(), kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, bc, kProtoUdp, udp_segment(kPeerIp, bc, 1, 9, {1}))),
       2 * kSec);
  // A unicast IP datagram in a link-layer broadcast frame.
  Bytes f = bytes_of(recorded::kLinuxUdp);
  memset(f.data(), 0xff, 6);
  feed(m.stack, f, 2 * kSec);
  // An unknown protocol in an ICMP error about... an ICMP error.
  Bytes inner = ip_packet(kMoteIp, kPeerIp, kProtoIcmp, Bytes{3, 3, 0, 0, 0, 0, 0, 0});
  Bytes err = {3, 3, 0, 0, 0, 0, 0, 0};
  err.insert(err.end(), inner.begin(), inner.end());
  store_be16(err.data() + 2, csum_fold(csum_add(0, err.data(), err.size())));
  feed(m.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, kMoteIp, kProtoIcmp, err)),
       2 * kSec);
  EXPECT_TRUE(m.dev.frames.empty());
}

TEST(NetIcmp, UnknownProtocolGetsProtocolUnreachable) {
  MoteStack m;
  feed(m.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, kMoteIp, 132 /*SCTP*/, Bytes(12, 0))),
       2 * kSec);
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(l4_of(out[0])[0], u8(IcmpType::DestUnreachable));
  EXPECT_EQ(l4_of(out[0])[1], u8(UnreachCode::Protocol));
}

TEST(NetIcmp, ErrorsAreRateLimitedTo50ThenRefillAt1000PerSecond) {
  MoteStack m;
  for (int i = 0; i < 200; ++i) feed(m.stack, peer_udp_frame(40000, 9, {1}), 2 * kSec);
  EXPECT_EQ(m.dev.take().size(), IcmpRateLimit::kBurst);
  EXPECT_EQ(m.stack.stats().icmp_rate_limited, 150u);
  for (int i = 0; i < 20; ++i) feed(m.stack, peer_udp_frame(40000, 9, {1}), 2 * kSec + 10 * kNsPerMs);
  EXPECT_EQ(m.dev.take().size(), 10u);  // 10 ms bought 10 tokens
}

TEST(NetIcmp, RecordedLinuxPortUnreachableBecomesSoErrorOfTheConnectedSocket) {
  MoteStack m;
  UdpSocket* u = m.stack.udp().open();
  ASSERT_TRUE(u->connect(Endpoint{kPeerIp, 9}).ok());
  ASSERT_EQ(u->local().port, 32768);  // the first ephemeral port, as recorded
  int wakes = 0;
  u->set_wakeup([](void* c) { ++*static_cast<int*>(c); }, &wakes);
  feed(m.stack, bytes_of(recorded::kLinuxPortUnreachable), 2 * kSec);
  EXPECT_EQ(wakes, 1);
  EXPECT_TRUE(u->readable());
  u8 buf[8];
  EXPECT_EQ(u->recvfrom(buf, sizeof buf, nullptr, false).error(), ECONNREFUSED);
  EXPECT_EQ(u->take_error(), 0);  // reported once
  EXPECT_FALSE(u->readable());
  u->close();
}

TEST(NetIcmp, UnconnectedSocketIgnoresIcmpErrors) {
  MoteStack m;
  UdpSocket* u = m.stack.udp().open();
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 32768}).ok());
  feed(m.stack, bytes_of(recorded::kLinuxPortUnreachable), 2 * kSec);
  EXPECT_EQ(u->take_error(), 0);
  u->close();
}

TEST(NetIcmp, FragmentationNeededReachesTheTransportWithTheMtu) {
  MoteStack m;
  RecordingTransport tcp;
  m.stack.set_transport(kProtoTcp, &tcp);
  // A router's "fragmentation needed, next-hop MTU 1400" about a segment of
  // ours 10.0.2.15:40000 -> 1.1.1.1:443, quoting its header and 8 bytes.
  Bytes tcp_head = {0x9c, 0x40, 0x01, 0xbb, 0xde, 0xad, 0xbe, 0xef};
  Bytes inner = ip_packet(kMoteIp, Ipv4::of(1, 1, 1, 1), kProtoTcp, tcp_head);
  store_be16(inner.data() + 2, 1500);  // as sent: the quote is cut short
  store_be16(inner.data() + 10, 0);
  store_be16(inner.data() + 10, csum_fold(csum_add(0, inner.data(), 20)));
  Bytes msg = {3, 4, 0, 0, 0, 0, 0x05, 0x78};
  msg.insert(msg.end(), inner.begin(), inner.end());
  store_be16(msg.data() + 2, csum_fold(csum_add(0, msg.data(), msg.size())));
  feed(m.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, kMoteIp, kProtoIcmp, msg)),
       2 * kSec);
  ASSERT_EQ(tcp.errors.size(), 1u);
  const IcmpError& e = tcp.errors[0];
  EXPECT_EQ(e.type, 3);
  EXPECT_EQ(e.code, 4);
  EXPECT_EQ(e.mtu, 1400);
  EXPECT_EQ(e.error, EMSGSIZE);
  EXPECT_FALSE(e.hard);
  EXPECT_EQ(e.reporter, kPeerIp);
  EXPECT_EQ(e.src, kMoteIp);
  EXPECT_EQ(e.dst, Ipv4::of(1, 1, 1, 1));
  EXPECT_EQ(tcp.quoted[0], tcp_head);
}

TEST(NetIcmp, ErrnoTableFollowsLinux) {
  EXPECT_EQ(icmp_errno(3, 3).error, ECONNREFUSED);
  EXPECT_TRUE(icmp_errno(3, 3).hard);
  EXPECT_EQ(icmp_errno(3, 1).error, EHOSTUNREACH);
  EXPECT_FALSE(icmp_errno(3, 1).hard);
  EXPECT_EQ(icmp_errno(3, 0).error, ENETUNREACH);
  EXPECT_EQ(icmp_errno(3, 2).error, ENOPROTOOPT);
  EXPECT_EQ(icmp_errno(3, 13).error, EHOSTUNREACH);
  EXPECT_TRUE(icmp_errno(3, 13).hard);
  EXPECT_EQ(icmp_errno(11, 0).error, EHOSTUNREACH);
  EXPECT_EQ(icmp_errno(12, 0).error, EPROTO);
}

}  // namespace
}  // namespace mote::net
