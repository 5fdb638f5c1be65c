// net::Stack's contract with TCP (kernel/net/stack.h, transport.h): unicast
// segments reach the registered handler, a handler sending from inside its
// own input is never re-entered, deadlines and ticks reach it, and a stack
// torn down with work in flight leaks nothing.
#include <gtest/gtest.h>

#include "tests/unit/net/net_fixture.h"
#include "tests/unit/net/recorded_frames.h"

namespace mote::net {
namespace {

using namespace test;

Bytes tcp_syn(u16 sport, u16 dport) {
  Bytes s(20, 0);
  store_be16(s.data(), sport);
  store_be16(s.data() + 2, dport);
  s[12] = 0x50, s[13] = 0x02;
  return s;
}

TEST(NetStack, UnicastSegmentsReachTheRegisteredTransportWithTheirIpInfo) {
  MoteStack m;
  RecordingTransport tcp;
  m.stack.set_transport(kProtoTcp, &tcp);
  Bytes seg = tcp_syn(40000, 80);
  Bytes ip = ip_packet(kPeerIp, kMoteIp, kProtoTcp, seg);
  ip[1] = 0x10;  // TOS
  store_be16(ip.data() + 10, 0);
  store_be16(ip.data() + 10, csum_fold(csum_add(0, ip.data(), 20)));
  feed(m.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4), ip), 2 * kSec);
  ASSERT_EQ(tcp.segments.size(), 1u);
  EXPECT_EQ(tcp.segments[0].data, seg);
  EXPECT_EQ(tcp.segments[0].ip.src, kPeerIp);
  EXPECT_EQ(tcp.segments[0].ip.dst, kMoteIp);
  EXPECT_EQ(tcp.segments[0].ip.tos, 0x10);
  EXPECT_EQ(tcp.segments[0].ip.ttl, 64);
  // To the subnet broadcast: never given to TCP (RFC 1122 4.2.3.10).
  Ipv4 bc = Ipv4::of(10, 0, 2, 255);
  feed(m.stack, eth_frame(Mac::all_ones(), kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, bc, kProtoTcp, seg)), 2 * kSec);
  EXPECT_EQ(tcp.segments.size(), 1u);
  EXPECT_TRUE(m.dev.frames.empty());
  // Unregistered: protocol unreachable again.
  m.stack.set_transport(kProtoTcp, nullptr);
  feed(m.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4), ip), 2 * kSec);
  EXPECT_EQ(m.dev.take().size(), 1u);
}

// A transport that answers every segment over loopback, N times over,
// checking it is never entered while it is already running.
class EchoingTransport final : public TransportHandler {
 public:
  explicit EchoingTransport(Stack& s) : stack_(s) {}
  void input(const IpInfo& ip, const u8* seg, usize len, u64 now_ns) override {
    ++depth;
    max_depth = max(max_depth, depth);
    ++received;
    if (remaining > 0) {
      --remaining;
      Bytes b(seg, seg + len);
      int before = received;
      EXPECT_TRUE(stack_.ip_send(ip.dst, ip.src, kProtoTcp, 0, packet_of(b)).ok());
      EXPECT_EQ(received, before);  // queued, not delivered inside ip_send
    }
    --depth;
  }
  void icmp_error(const IcmpError&, u64) override {}
  Stack& stack_;
  int depth = 0, max_depth = 0, received = 0, remaining = 10;
};

TEST(NetStack, TransportSendingFromItsOwnInputIsNeverReentered) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  EchoingTransport t(s);
  s.set_transport(kProtoTcp, &t);
  Ipv4 lo = Ipv4::of(127, 0, 0, 1);
  ASSERT_TRUE(s.ip_send(lo, lo, kProtoTcp, 0, packet_of(tcp_syn(1, 2))).ok());
  EXPECT_EQ(t.received, 0);
  s.run_pending(kSec);
  EXPECT_EQ(t.received, 11);  // the first and ten answers, all in one drain
  EXPECT_EQ(t.max_depth, 1);
  EXPECT_TRUE(dev.frames.empty());
}

TEST(NetStack, LoopbackSegmentCarriesTheLoopbackAddresses) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  RecordingTransport tcp;
  s.set_transport(kProtoTcp, &tcp);
  Ipv4 lo = Ipv4::of(127, 0, 0, 1);
  EXPECT_EQ(s.source_for(lo), lo);
  ASSERT_TRUE(s.ip_send(Ipv4(), lo, kProtoTcp, 0, packet_of(tcp_syn(1, 2))).ok());
  s.tick(kSec);  // tick drains the loopback queue too
  ASSERT_EQ(tcp.segments.size(), 1u);
  EXPECT_EQ(tcp.segments[0].ip.src, lo);
  EXPECT_EQ(tcp.segments[0].ip.dst, lo);
}

TEST(NetStack, DeadlinesAndTicksReachTheTransport) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  EXPECT_EQ(s.next_deadline(), kNoDeadline);
  RecordingTransport tcp;
  tcp.deadline = 5 * kSec;
  s.set_transport(kProtoTcp, &tcp);
  EXPECT_EQ(s.next_deadline(), 5 * kSec);
  // An ARP resolution's retry comes first.
  UdpSocket* u = s.udp().open();
  Endpoint peer{kPeerIp, 9};
  s.tick(2 * kSec);
  ASSERT_TRUE(u->sendto("x", 1, &peer).ok());
  EXPECT_EQ(s.next_deadline(), 3 * kSec);
  s.tick(5 * kSec);
  ASSERT_EQ(tcp.ticks.size(), 2u);
  EXPECT_EQ(tcp.ticks[1], 5 * kSec);
  u->close();
}

TEST(NetStack, UnconfiguredInterfaceStillServesLoopback) {
  RecordingDevice dev;
  InterfaceConfig c;
  c.mac = kMoteMac;
  Stack s(dev, c);
  UdpSocket* a = s.udp().open();
  ASSERT_TRUE(a->bind(Endpoint{Ipv4::of(127, 0, 0, 1), 53}).ok());
  Endpoint to{Ipv4::of(127, 0, 0, 1), 53};
  ASSERT_TRUE(a->sendto("q", 1, &to).ok());
  s.run_pending(kSec);
  EXPECT_TRUE(a->readable());
  feed(s, bytes_of(recorded::kLinuxUdp), kSec);  // not addressed to us now
  feed(s, bytes_of(recorded::kLinuxArpRequest), kSec);
  EXPECT_TRUE(dev.frames.empty());
  a->close();
}

TEST(NetStack, ReconfiguringTheAddressForgetsNeighbours) {
  MoteStack m;
  EXPECT_EQ(m.stack.arp().size(), 1u);
  InterfaceConfig c = mote_config();
  c.addr = Ipv4::of(10, 0, 2, 16);
  m.stack.configure(c);
  EXPECT_EQ(m.stack.arp().size(), 0u);
  EXPECT_TRUE(m.stack.is_local(Ipv4::of(10, 0, 2, 16)));
  EXPECT_FALSE(m.stack.is_local(kMoteIp));
}

TEST(NetStack, TearingDownWithWorkInFlightLeaksNothing) {
  long blocks = mote::test::live_heap_blocks();
  {
    RecordingDevice dev;
    Stack s(dev, mote_config());
    UdpSocket* u = s.udp().open();
    Endpoint peer{kPeerIp, 9}, lo{Ipv4::of(127, 0, 0, 1), 9};
    ASSERT_TRUE(u->sendto("waits for ARP", 13, &peer).ok());
    ASSERT_TRUE(u->sendto("waits for loopback", 18, &lo).ok());
    feed(s, bytes_of(recorded::kLinuxUdpFrag0), kSec);  // a reassembly in progress
    EXPECT_EQ(s.reassembler().datagrams(), 1u);
  }
  EXPECT_EQ(mote::test::live_heap_blocks(), blocks);
}

}  // namespace
}  // namespace mote::net
