// IPv4 input validation, routing and output (kernel/net/ipv4.h, stack.h):
// bad and cut-short datagrams are dropped, options skipped, only our
// addresses accepted; output headers carry TTL 64, DF and fresh IDs; large
// datagrams are fragmented exactly as Linux fragments them and come back
// together through our own reassembly.
#include <gtest/gtest.h>

#include "kernel/lib/errno.h"
#include "tests/unit/net/net_fixture.h"
#include "tests/unit/net/recorded_frames.h"

namespace mote::net {
namespace {

using namespace test;

struct Bound : MoteStack {
  UdpSocket* sock = stack.udp().open();
  explicit Bound(u16 port = 7777) { EXPECT_TRUE(sock->bind(Endpoint{Ipv4(), port}).ok()); }
  ~Bound() { sock->close(); }
  Bytes recv(Endpoint* from = nullptr) {
    u8 buf[70000];
    UdpRecvInfo info;
    auto r = sock->recvfrom(buf, sizeof buf, &info, false);
    if (!r.ok()) return {};
    if (from) *from = info.from;
    return bytes_of(buf, r.value());
  }
};

TEST(NetIpv4, RecordedDatagramIsDeliveredAndItsChecksumFlipRejected) {
  Bound b;
  feed(b.stack, bytes_of(recorded::kLinuxUdp), 2 * kSec);
  EXPECT_EQ(b.recv(), str_bytes("hello, mote\n"));
  Bytes bad = bytes_of(recorded::kLinuxUdp);
  bad[14 + 10] ^= 0x01;  // the header checksum
  feed(b.stack, bad, 2 * kSec);
  EXPECT_FALSE(b.sock->readable());
  EXPECT_EQ(b.stack.stats().ip_in_hdr_errors, 1u);
  EXPECT_TRUE(b.dev.frames.empty());  // and no ICMP about it
}

TEST(NetIpv4, EveryTruncationOfEveryRecordedFrameIsDroppedSafely) {
  Bound b;
  const Bytes frames[] = {
      bytes_of(recorded::kLinuxUdp),      bytes_of(recorded::kLinuxEchoRequest),
      bytes_of(recorded::kLinuxUdpFrag0), bytes_of(recorded::kLinuxUdpFrag2),
      bytes_of(recorded::kLinuxArpRequest), bytes_of(recorded::kLinuxPortUnreachable)};
  for (const Bytes& f : frames) {
    for (usize n = 0; n < f.size(); ++n) {
      // An exact-size copy, so a read past it would be a heap overflow.
      Bytes cut(f.begin(), f.begin() + long(n));
      feed(b.stack, cut, 2 * kSec);
    }
  }
  EXPECT_FALSE(b.sock->readable());
  EXPECT_TRUE(b.dev.frames.empty());
  EXPECT_EQ(b.stack.reassembler().datagrams(), 0u);
}

TEST(NetIpv4, DatagramForAnotherHostOrMacIsDropped) {
  Bound b;
  Bytes other_ip = eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                             ip_packet(kPeerIp, Ipv4::of(10, 0, 2, 99), kProtoUdp,
                                       udp_segment(kPeerIp, Ipv4::of(10, 0, 2, 99), 1, 7777, {1})));
  feed(b.stack, other_ip, 2 * kSec);
  Bytes other_mac = bytes_of(recorded::kLinuxUdp);
  other_mac[5] = 0x57;
  feed(b.stack, other_mac, 2 * kSec);
  EXPECT_FALSE(b.sock->readable());
  EXPECT_TRUE(b.dev.frames.empty());
}

TEST(NetIpv4, LoopbackSourceArrivingOnTheWireIsDropped) {
  Bound b;
  Ipv4 lo = Ipv4::of(127, 0, 0, 1);
  feed(b.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(lo, kMoteIp, kProtoUdp, udp_segment(lo, kMoteIp, 1, 7777, {1}))),
       2 * kSec);
  EXPECT_FALSE(b.sock->readable());
  EXPECT_EQ(b.stack.stats().ip_in_addr_errors, 1u);
}

TEST(NetIpv4, HeaderOptionsAreSkipped) {
  Bound b;
  Bytes seg = udp_segment(kPeerIp, kMoteIp, 40000, 7777, str_bytes("opt"));
  // IHL 6: a 4-byte option area (Record Route's type, then NOP NOP EOL).
  Bytes ip(24, 0);
  ip[0] = 0x46, ip[8] = 64, ip[9] = kProtoUdp;
  store_be16(ip.data() + 2, u16(24 + seg.size()));
  store_be32(ip.data() + 12, kPeerIp.v);
  store_be32(ip.data() + 16, kMoteIp.v);
  ip[20] = 7, ip[21] = 1, ip[22] = 1, ip[23] = 0;
  store_be16(ip.data() + 10, csum_fold(csum_add(0, ip.data(), 24)));
  ip.insert(ip.end(), seg.begin(), seg.end());
  feed(b.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4), ip), 2 * kSec);
  EXPECT_EQ(b.recv(), str_bytes("opt"));
}

TEST(NetIpv4, SubnetAndLimitedBroadcastReachWildcardSocket) {
  Bound b(68);
  for (Ipv4 dst : {Ipv4::of(10, 0, 2, 255), Ipv4::of(255, 255, 255, 255)}) {
    feed(b.stack, eth_frame(Mac::all_ones(), kPeerMac, u16(EtherType::Ipv4),
                            ip_packet(kPeerIp, dst, kProtoUdp, udp_segment(kPeerIp, dst, 67, 68, {7}))),
         2 * kSec);
    EXPECT_EQ(b.recv(), Bytes{7});
  }
}

TEST(NetIpv4, OutputHasTtl64DfAndAFreshIdentificationEachTime) {
  MoteStack m;
  UdpSocket* u = m.stack.udp().open();
  Endpoint peer{kPeerIp, 9};
  ASSERT_TRUE(u->sendto("a", 1, &peer).ok());
  ASSERT_TRUE(u->sendto("b", 1, &peer).ok());
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 2u);
  Ipv4Header h0 = ip_of(out[0]), h1 = ip_of(out[1]);  // parse() verified the checksums
  EXPECT_EQ(h0.ttl, 64);
  EXPECT_TRUE(h0.df());
  EXPECT_EQ(h0.src, kMoteIp);
  EXPECT_EQ(h0.dst, kPeerIp);
  EXPECT_EQ(u16(h1.id - h0.id), 1);
  u->close();
}

TEST(NetIpv4, RoutesLoopbackOnLinkGatewayAndNothingWithoutOne) {
  InterfaceConfig c = mote_config();
  Route r = route_for(c, Ipv4::of(127, 1, 2, 3));
  EXPECT_EQ(r.kind, RouteKind::Loopback);
  EXPECT_EQ(r.mtu, kLoopbackMtu);
  EXPECT_EQ(route_for(c, kMoteIp).kind, RouteKind::Loopback);
  r = route_for(c, Ipv4::of(10, 0, 2, 3));
  EXPECT_EQ(r.kind, RouteKind::Ethernet);
  EXPECT_EQ(r.next_hop, Ipv4::of(10, 0, 2, 3));
  EXPECT_EQ(r.src, kMoteIp);
  r = route_for(c, Ipv4::of(8, 8, 8, 8));
  EXPECT_EQ(r.next_hop, kPeerIp);
  EXPECT_TRUE(route_for(c, Ipv4::of(10, 0, 2, 255)).broadcast);
  c.gateway = Ipv4();
  EXPECT_EQ(route_for(c, Ipv4::of(8, 8, 8, 8)).kind, RouteKind::None);
  c.addr = Ipv4();
  EXPECT_EQ(route_for(c, Ipv4::of(10, 0, 2, 3)).kind, RouteKind::None);
  EXPECT_EQ(route_for(c, Ipv4::of(127, 0, 0, 1)).kind, RouteKind::Loopback);
}

TEST(NetIpv4, SendWithoutRouteIsHostUnreachableAndFreesThePacket) {
  long blocks = mote::test::live_heap_blocks();
  {
    RecordingDevice dev;
    InterfaceConfig c = mote_config();
    c.gateway = Ipv4();
    Stack s(dev, c);
    auto r = s.ip_send(kMoteIp, Ipv4::of(8, 8, 8, 8), kProtoTcp, 0, packet_of(Bytes(20)));
    EXPECT_EQ(r.error(), EHOSTUNREACH);
    EXPECT_EQ(s.source_for(Ipv4::of(8, 8, 8, 8)), Ipv4());
    EXPECT_EQ(s.mtu_for(kPeerIp), 1500);
    EXPECT_EQ(s.mtu_for(Ipv4::of(127, 0, 0, 1)), 65535);
    EXPECT_TRUE(s.is_local(kMoteIp));
    EXPECT_FALSE(s.is_local(kPeerIp));
  }
  EXPECT_EQ(mote::test::live_heap_blocks(), blocks);
}

TEST(NetIpv4, OffLinkDestinationGoesToTheGatewayMac) {
  MoteStack m;  // knows the gateway 10.0.2.2
  ASSERT_TRUE(m.stack.ip_send(kMoteIp, Ipv4::of(1, 1, 1, 1), kProtoTcp, 0, packet_of(Bytes(20))).ok());
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(bytes_of(out[0].data(), 6), bytes_of(kPeerMac.b, 6));
  EXPECT_EQ(ip_of(out[0]).dst, Ipv4::of(1, 1, 1, 1));
}

// The peer's stack sending what Linux sent in the recording: 3000 bytes from
// 10.0.2.2:40000 to 10.0.2.15:7777.
std::vector<Bytes> peer_sends_3000(Stack& peer, RecordingDevice& dev) {
  feed(peer, arp_frame(ArpOp::Request, kMoteMac, kMoteIp, Mac(), kPeerIp, Mac::all_ones()), kSec);
  dev.take();
  UdpSocket* u = peer.udp().open();
  EXPECT_TRUE(u->bind(Endpoint{kPeerIp, 40000}).ok());
  Bytes data(3000);
  for (usize i = 0; i < data.size(); ++i) data[i] = u8(i);
  Endpoint to{kMoteIp, 7777};
  EXPECT_TRUE(u->sendto(data.data(), data.size(), &to).ok());
  u->close();
  return dev.take();
}

TEST(NetIpv4, FragmentsMatchLinuxsByteForByteButForTheIdentification) {
  RecordingDevice dev;
  Stack peer(dev, peer_config());
  auto out = peer_sends_3000(peer, dev);
  const Bytes linux[] = {bytes_of(recorded::kLinuxUdpFrag0), bytes_of(recorded::kLinuxUdpFrag1),
                         bytes_of(recorded::kLinuxUdpFrag2)};
  ASSERT_EQ(out.size(), 3u);
  for (usize i = 0; i < 3; ++i) {
    Bytes ours = out[i], theirs = linux[i];
    ASSERT_EQ(ours.size(), theirs.size()) << i;
    EXPECT_FALSE(ip_of(ours).df());
    // Identification (IP bytes 4-5) and so the header checksum (10-11) differ.
    for (usize k : {18, 19, 24, 25}) ours[k] = theirs[k] = 0;
    EXPECT_EQ(ours, theirs) << "fragment " << i;
  }
}

TEST(NetIpv4, OutputFragmentationRoundTripsThroughOurReassembly) {
  RecordingDevice peer_dev;
  Stack peer(peer_dev, peer_config());
  auto out = peer_sends_3000(peer, peer_dev);
  Bound b;
  for (auto it = out.rbegin(); it != out.rend(); ++it) feed(b.stack, *it, 2 * kSec);
  Endpoint from;
  Bytes got = b.recv(&from);
  ASSERT_EQ(got.size(), 3000u);
  for (usize i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], u8(i)) << i;
  EXPECT_EQ(from, (Endpoint{kPeerIp, 40000}));
}

TEST(NetIpv4, LargestDatagramRoundTripsThrough45Fragments) {
  RecordingDevice peer_dev;
  Stack peer(peer_dev, peer_config());
  UdpSocket* u = peer.udp().open();
  Bytes data(UdpSocket::kMaxPayload);
  for (usize i = 0; i < data.size(); ++i) data[i] = u8(i * 7);
  Endpoint to{kMoteIp, 7777};
  ASSERT_TRUE(u->sendto(data.data(), data.size(), &to).ok());
  ASSERT_EQ(peer_dev.frames.size(), 1u);  // an ARP request; the fragments wait
  peer_dev.take();
  feed(peer, arp_frame(ArpOp::Reply, kMoteMac, kMoteIp, kPeerMac, kPeerIp, kPeerMac), kSec);
  auto out = peer_dev.take();
  EXPECT_EQ(out.size(), 45u);
  Bound b;
  for (const Bytes& f : out) feed(b.stack, f, 2 * kSec);
  EXPECT_EQ(b.recv(), data);
  EXPECT_EQ(u->sendto(data.data(), data.size() + 1, &to).error(), EMSGSIZE);
  u->close();
}

TEST(NetIpv4, StrictDontFragmentRefusesOversizedDatagram) {
  MoteStack m;
  Stack::OutOptions o;
  o.df_strict = true;
  EXPECT_EQ(m.stack.ip_output(kMoteIp, kPeerIp, kProtoUdp, o, packet_of(Bytes(1481))).error(),
            EMSGSIZE);
  EXPECT_TRUE(m.stack.ip_output(kMoteIp, kPeerIp, kProtoUdp, o, packet_of(Bytes(1480))).ok());
  EXPECT_EQ(m.dev.take().size(), 1u);
}

}  // namespace
}  // namespace mote::net
