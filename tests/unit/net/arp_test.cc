// ARP (kernel/net/arp.h) driven through the stack: answering requests,
// resolving with a queue that is flushed on the reply, retries and give-up,
// entry expiry, and RFC 826's learning rules.
#include <gtest/gtest.h>

#include "kernel/lib/errno.h"
#include "tests/unit/net/net_fixture.h"
#include "tests/unit/net/recorded_frames.h"

namespace mote::net {
namespace {

using namespace test;

TEST(NetArp, RequestForOurAddressIsAnsweredExactlyAsLinuxAnswers) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  feed(s, bytes_of(recorded::kLinuxArpRequest), kSec);
  auto out = dev.take();
  ASSERT_EQ(out.size(), 1u);
  // Linux's own reply to the mirror-image request, with the roles swapped.
  EXPECT_EQ(out[0], swap_hosts(bytes_of(recorded::kLinuxArpReply)));
  // RFC 826: the requester is learned too.
  const Mac* m = s.arp().lookup(kPeerIp, kSec);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(*m, kPeerMac);
}

TEST(NetArp, RequestForAnotherAddressIsNeitherAnsweredNorLearned) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  feed(s, arp_frame(ArpOp::Request, kPeerMac, kPeerIp, Mac(), Ipv4::of(10, 0, 2, 99),
                    Mac::all_ones()), kSec);
  EXPECT_TRUE(dev.frames.empty());
  EXPECT_EQ(s.arp().size(), 0u);
}

TEST(NetArp, UnknownNeighbourGetsOneRequestAndQueuedPacketsFlushInOrderOnReply) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  UdpSocket* u = s.udp().open();
  Endpoint peer{kPeerIp, 9};
  for (u8 i = 0; i < 3; ++i) ASSERT_TRUE(u->sendto(&i, 1, &peer).ok());
  auto out = dev.take();
  ASSERT_EQ(out.size(), 1u);
  // Our request is Linux's request with the roles swapped.
  EXPECT_EQ(out[0], swap_hosts(bytes_of(recorded::kLinuxArpRequest)));
  EXPECT_EQ(s.next_deadline(), ArpCache::kRetryNs);  // first retry 1 s after "now" (0)

  feed(s, bytes_of(recorded::kLinuxArpReply), kSec / 2);
  out = dev.take();
  ASSERT_EQ(out.size(), 3u);
  for (u8 i = 0; i < 3; ++i) {
    EXPECT_EQ(bytes_of(out[i].data(), 6), bytes_of(kPeerMac.b, 6));
    EXPECT_EQ(ethertype_of(out[i]), u16(EtherType::Ipv4));
    EXPECT_EQ(l4_of(out[i])[8], i);  // the UDP payload byte
  }
  EXPECT_EQ(s.next_deadline(), kNoDeadline);
  u->close();
}

TEST(NetArp, RetriesThreeTimesOneSecondApartThenDropsTheQueue) {
  long blocks = mote::test::live_heap_blocks();
  {
    RecordingDevice dev;
    Stack s(dev, mote_config());
    s.tick(10 * kSec);
    UdpSocket* u = s.udp().open();
    Endpoint peer{kPeerIp, 9};
    ASSERT_TRUE(u->sendto("a", 1, &peer).ok());
    EXPECT_EQ(dev.take().size(), 1u);  // try 1
    s.tick(10 * kSec + kSec / 2);
    EXPECT_TRUE(dev.take().empty());
    EXPECT_EQ(s.next_deadline(), 11 * kSec);
    s.tick(11 * kSec);
    EXPECT_EQ(dev.take().size(), 1u);  // try 2
    s.tick(12 * kSec);
    auto out = dev.take();
    ASSERT_EQ(out.size(), 1u);  // try 3
    EXPECT_EQ(ethertype_of(out[0]), u16(EtherType::Arp));
    s.tick(13 * kSec);  // give up
    EXPECT_TRUE(dev.take().empty());
    EXPECT_EQ(s.arp().size(), 0u);
    EXPECT_EQ(s.stats().arp_give_ups, 1u);
    EXPECT_EQ(s.next_deadline(), kNoDeadline);
    u->close();
  }
  EXPECT_EQ(mote::test::live_heap_blocks(), blocks);
}

TEST(NetArp, GiveUpReportsHostUnreachableToTheSendingTransport) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  RecordingTransport tcp;
  s.set_transport(kProtoTcp, &tcp);
  Bytes seg = {0x9c, 0x40, 0x00, 0x50, 1, 2, 3, 4, 0, 0, 0, 0, 0x50, 0x02, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(s.ip_send(kMoteIp, kPeerIp, kProtoTcp, 0, packet_of(seg)).ok());
  for (u64 t = 1; t <= 3; ++t) s.tick(t * kSec);
  ASSERT_EQ(tcp.errors.size(), 1u);
  EXPECT_EQ(tcp.errors[0].error, EHOSTUNREACH);
  EXPECT_FALSE(tcp.errors[0].hard);
  EXPECT_EQ(tcp.errors[0].src, kMoteIp);
  EXPECT_EQ(tcp.errors[0].dst, kPeerIp);
  EXPECT_EQ(tcp.quoted[0], seg);
}

TEST(NetArp, EntryIsTrustedFor60SecondsThenResolvedAgain) {
  MoteStack m(kSec);  // learned at 1 s
  UdpSocket* u = m.stack.udp().open();
  Endpoint peer{kPeerIp, 9};
  m.stack.tick(60 * kSec);
  ASSERT_TRUE(u->sendto("x", 1, &peer).ok());
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(ethertype_of(out[0]), u16(EtherType::Ipv4));
  m.stack.tick(61 * kSec);
  ASSERT_TRUE(u->sendto("y", 1, &peer).ok());
  out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(ethertype_of(out[0]), u16(EtherType::Arp));
  u->close();
}

TEST(NetArp, WaitingQueueIsBoundedAndDropsTheOldest) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  UdpSocket* u = s.udp().open();
  Endpoint peer{kPeerIp, 9};
  usize n = ArpCache::kQueuePackets + 6;
  for (usize i = 0; i < n; ++i) {
    u8 b = u8(i);
    ASSERT_TRUE(u->sendto(&b, 1, &peer).ok());
  }
  dev.take();
  feed(s, bytes_of(recorded::kLinuxArpReply), kSec / 2);
  auto out = dev.take();
  ASSERT_EQ(out.size(), ArpCache::kQueuePackets);
  EXPECT_EQ(l4_of(out.front())[8], u8(6));  // the first six were dropped
  EXPECT_EQ(l4_of(out.back())[8], u8(n - 1));
  u->close();
}

TEST(NetArp, GratuitousArpUpdatesAKnownNeighbourButAddsNoStranger) {
  MoteStack m(kSec);
  Mac moved{{0x02, 0, 0, 0, 0, 0x99}};
  // RFC 5227 announcement: sender and target address both the sender's.
  feed(m.stack, arp_frame(ArpOp::Request, moved, kPeerIp, Mac(), kPeerIp, Mac::all_ones()),
       2 * kSec);
  const Mac* mac = m.stack.arp().lookup(kPeerIp, 2 * kSec);
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(*mac, moved);
  Ipv4 stranger = Ipv4::of(10, 0, 2, 77);
  feed(m.stack, arp_frame(ArpOp::Reply, moved, stranger, Mac::all_ones(), stranger,
                          Mac::all_ones()), 2 * kSec);
  EXPECT_EQ(m.stack.arp().lookup(stranger, 2 * kSec), nullptr);
  EXPECT_EQ(m.stack.arp().size(), 1u);
  EXPECT_TRUE(m.dev.frames.empty());
}

TEST(NetArp, ProbeFromUnsetAddressIsAnsweredButNotLearned) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  feed(s, arp_frame(ArpOp::Request, kPeerMac, Ipv4(), Mac(), kMoteIp, Mac::all_ones()), kSec);
  auto out = dev.take();
  ASSERT_EQ(out.size(), 1u);
  auto a = ArpPacket::parse(out[0].data() + 14, out[0].size() - 14);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().op, u16(ArpOp::Reply));
  EXPECT_EQ(a.value().tha, kPeerMac);
  EXPECT_EQ(s.arp().size(), 0u);
}

TEST(NetArp, GroupSenderAddressIsNeverLearned) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  feed(s, arp_frame(ArpOp::Request, Mac::all_ones(), kPeerIp, Mac(), kMoteIp, Mac::all_ones()),
       kSec);
  EXPECT_EQ(s.arp().lookup(kPeerIp, kSec), nullptr);
}

TEST(NetArp, FullTableEvictsTheOldestResolvedEntry) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  for (usize i = 0; i <= ArpCache::kEntries; ++i) {
    Ipv4 ip = Ipv4::of(10, 0, 2, u8(100 + i));
    Mac mac{{0x02, 0, 0, 0, 1, u8(i)}};
    feed(s, arp_frame(ArpOp::Request, mac, ip, Mac(), kMoteIp, Mac::all_ones()), (1 + i) * kSec);
  }
  EXPECT_EQ(s.arp().size(), ArpCache::kEntries);
  EXPECT_EQ(s.arp().lookup(Ipv4::of(10, 0, 2, 100), 60 * kSec), nullptr);
  EXPECT_NE(s.arp().lookup(Ipv4::of(10, 0, 2, 101), 60 * kSec), nullptr);
}

}  // namespace
}  // namespace mote::net
