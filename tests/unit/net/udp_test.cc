// UDP sockets (kernel/net/udp.h): both directions against Linux's recorded
// datagram, checksums (zero accepted, bad dropped), the receive budget,
// bind/connect rules, broadcast, and loopback through 127.0.0.1.
#include <gtest/gtest.h>

#include "kernel/lib/errno.h"
#include "tests/unit/net/net_fixture.h"
#include "tests/unit/net/recorded_frames.h"

namespace mote::net {
namespace {

using namespace test;

struct Socket {
  UdpSocket* s;
  explicit Socket(Stack& st) : s(st.udp().open()) {}
  ~Socket() { s->close(); }
  UdpSocket* operator->() { return s; }
  Bytes recv(UdpRecvInfo* info = nullptr, usize cap = 70000, bool peek = false) {
    Bytes buf(cap);
    auto r = s->recvfrom(buf.data(), cap, info, peek);
    if (!r.ok()) return {};
    buf.resize(r.value());
    return buf;
  }
};

TEST(NetUdp, RecordedLinuxDatagramArrivesWithItsSource) {
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  int wakes = 0;
  u->set_wakeup([](void* c) { ++*static_cast<int*>(c); }, &wakes);
  EXPECT_FALSE(u->readable());
  feed(m.stack, bytes_of(recorded::kLinuxUdp), 2 * kSec);
  EXPECT_EQ(wakes, 1);
  EXPECT_TRUE(u->readable());
  UdpRecvInfo info;
  EXPECT_EQ(u.recv(&info), str_bytes("hello, mote\n"));
  EXPECT_EQ(info.from, (Endpoint{kPeerIp, 40000}));
  EXPECT_EQ(info.dst, kMoteIp);
  EXPECT_EQ(info.full_len, 12u);
  EXPECT_EQ(u->recvfrom(nullptr, 0, nullptr, false).error(), EAGAIN);
  EXPECT_TRUE(m.dev.frames.empty());
}

TEST(NetUdp, SentDatagramIsLinuxsByteForByteButForTheIdentification) {
  RecordingDevice dev;
  Stack peer(dev, peer_config());
  feed(peer, arp_frame(ArpOp::Request, kMoteMac, kMoteIp, Mac(), kPeerIp, Mac::all_ones()), kSec);
  dev.take();
  Socket u(peer);
  ASSERT_TRUE(u->bind(Endpoint{kPeerIp, 40000}).ok());
  Endpoint to{kMoteIp, 7777};
  Bytes msg = str_bytes("hello, mote\n");
  ASSERT_EQ(u->sendto(msg.data(), msg.size(), &to).value(), msg.size());
  auto out = dev.take();
  ASSERT_EQ(out.size(), 1u);
  Bytes ours = out[0], linux = bytes_of(recorded::kLinuxUdp);
  for (usize k : {18, 19, 24, 25}) ours[k] = linux[k] = 0;
  EXPECT_EQ(ours, linux);  // including the UDP checksum
}

TEST(NetUdp, ZeroChecksumIsAcceptedAndABadOneDropped) {
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  feed(m.stack, peer_udp_frame(1, 7777, {1, 2, 3}, false), 2 * kSec);
  EXPECT_EQ(u.recv(), (Bytes{1, 2, 3}));
  Bytes bad = bytes_of(recorded::kLinuxUdp);
  bad.back() ^= 0x20;
  feed(m.stack, bad, 2 * kSec);
  EXPECT_FALSE(u->readable());
  EXPECT_EQ(m.stack.udp().stats().in_csum_errors, 1u);
  EXPECT_TRUE(m.dev.frames.empty());  // no port unreachable for it either
}

TEST(NetUdp, ComputedZeroChecksumIsSentAsAllOnes) {
  // Pick data making the sum come out 0: the field must then be 0xffff.
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{kMoteIp, 1000}).ok());
  Endpoint to{kPeerIp, 2000};
  Bytes seg = udp_segment(kMoteIp, kPeerIp, 1000, 2000, {0, 0});
  u16 c = load_be16(seg.data() + 6);  // with data 0000; data equal to the
  Bytes data = {u8(c >> 8), u8(c)};   // checksum itself folds the sum to zero
  ASSERT_TRUE(u->sendto(data.data(), 2, &to).ok());
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(load_be16(l4_of(out[0]) + 6), 0xffff);
}

TEST(NetUdp, ReceiveQueueKeepsToItsByteBudget) {
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  u->set_rcvbuf(1000);
  for (int i = 0; i < 20; ++i) feed(m.stack, peer_udp_frame(1, 7777, Bytes(100, u8(i))), 2 * kSec);
  usize kept = u->queued();
  EXPECT_GE(kept, 1u);
  EXPECT_LT(kept, 20u);
  EXPECT_LE(u->queued_bytes(), 1000u);
  EXPECT_EQ(u->drops(), 20 - kept);
  EXPECT_EQ(m.stack.udp().stats().rcvbuf_errors, 20 - kept);
  EXPECT_EQ(u.recv(), Bytes(100, 0));  // the oldest are kept, the newest dropped
  feed(m.stack, peer_udp_frame(1, 7777, Bytes(100, 0x77)), 2 * kSec);
  EXPECT_EQ(u->queued(), kept);  // room again
}

TEST(NetUdp, OneDatagramIsAlwaysAdmittedEvenOverTheBudget) {
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  u->set_rcvbuf(10);
  feed(m.stack, peer_udp_frame(1, 7777, Bytes(500, 1)), 2 * kSec);
  feed(m.stack, peer_udp_frame(1, 7777, Bytes(500, 2)), 2 * kSec);
  EXPECT_EQ(u->queued(), 1u);
}

TEST(NetUdp, ShortReadTruncatesAndPeekLeavesTheDatagram) {
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  feed(m.stack, bytes_of(recorded::kLinuxUdp), 2 * kSec);
  UdpRecvInfo info;
  EXPECT_EQ(u.recv(&info, 5, true), str_bytes("hello"));
  EXPECT_EQ(info.full_len, 12u);
  EXPECT_EQ(u.recv(&info, 5), str_bytes("hello"));
  EXPECT_FALSE(u->readable());  // the rest went with it
}

TEST(NetUdp, BindPicksEphemeralPortsAndRefusesConflicts) {
  MoteStack m;
  Socket a(m.stack), b(m.stack), c(m.stack), d(m.stack);
  ASSERT_TRUE(a->bind(Endpoint{}).ok());
  EXPECT_GE(a->local().port, Udp::kEphemeralLow);
  EXPECT_LE(a->local().port, Udp::kEphemeralHigh);
  EXPECT_EQ(a->bind(Endpoint{}).error(), EINVAL);  // already bound
  ASSERT_TRUE(b->bind(Endpoint{Ipv4(), 5000}).ok());
  EXPECT_EQ(c->bind(Endpoint{Ipv4(), 5000}).error(), EADDRINUSE);
  EXPECT_EQ(c->bind(Endpoint{kMoteIp, 5000}).error(), EADDRINUSE);  // overlaps the wildcard
  EXPECT_EQ(c->bind(Endpoint{Ipv4::of(10, 0, 2, 3), 6000}).error(), EADDRNOTAVAIL);
  ASSERT_TRUE(c->bind(Endpoint{kMoteIp, 6000}).ok());
  EXPECT_TRUE(d->bind(Endpoint{Ipv4::of(127, 0, 0, 1), 6000}).ok());  // distinct addresses
}

TEST(NetUdp, ReuseAddrOrReusePortOnBothSharesAPort) {
  MoteStack m;
  Socket a(m.stack), b(m.stack), c(m.stack);
  a->set_reuse_addr(true);
  ASSERT_TRUE(a->bind(Endpoint{Ipv4(), 5353}).ok());
  EXPECT_EQ(b->bind(Endpoint{Ipv4(), 5353}).error(), EADDRINUSE);  // b did not ask
  b->set_reuse_addr(true);
  EXPECT_TRUE(b->bind(Endpoint{Ipv4(), 5353}).ok());
  Socket p(m.stack), q(m.stack);
  p->set_reuse_port(true), q->set_reuse_port(true);
  ASSERT_TRUE(p->bind(Endpoint{Ipv4(), 7000}).ok());
  ASSERT_TRUE(q->bind(Endpoint{Ipv4(), 7000}).ok());
  // A flow always lands on the same one of the group.
  for (int i = 0; i < 4; ++i) feed(m.stack, peer_udp_frame(1234, 7000, {u8(i)}), 2 * kSec);
  EXPECT_TRUE((p->queued() == 4 && q->queued() == 0) || (p->queued() == 0 && q->queued() == 4));
}

TEST(NetUdp, ConnectFiltersSourcesAndSetsTheDefaultDestination) {
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  EXPECT_EQ(u->sendto("x", 1, nullptr).error(), EDESTADDRREQ);
  ASSERT_TRUE(u->connect(Endpoint{kPeerIp, 40000}).ok());
  EXPECT_EQ(u->local().addr, kMoteIp);
  EXPECT_EQ(u->remote(), (Endpoint{kPeerIp, 40000}));
  feed(m.stack, peer_udp_frame(40001, 7777, {1}), 2 * kSec);  // another port
  EXPECT_FALSE(u->readable());
  feed(m.stack, bytes_of(recorded::kLinuxUdp), 2 * kSec);
  EXPECT_EQ(u.recv(), str_bytes("hello, mote\n"));
  ASSERT_EQ(u->sendto("x", 1, nullptr).value(), 1u);
  auto out = m.dev.take();
  ASSERT_EQ(out.size(), 2u);  // the port unreachable for 40001, then ours
  EXPECT_EQ(load_be16(l4_of(out[1]) + 2), 40000);
  ASSERT_TRUE(u->connect(Endpoint{}).ok());  // AF_UNSPEC
  EXPECT_FALSE(u->connected());
  EXPECT_EQ(u->local(), (Endpoint{Ipv4(), 7777}));
}

TEST(NetUdp, SendRefusesBadDestinationsAndSizes) {
  MoteStack m;
  Socket u(m.stack);
  Endpoint port0{kPeerIp, 0};
  EXPECT_EQ(u->sendto("x", 1, &port0).error(), EINVAL);
  Endpoint to{kPeerIp, 9};
  Bytes big(UdpSocket::kMaxPayload + 1);
  EXPECT_EQ(u->sendto(big.data(), big.size(), &to).error(), EMSGSIZE);
  Endpoint far{Ipv4::of(8, 8, 8, 8), 53};
  RecordingDevice dev;
  InterfaceConfig c = mote_config();
  c.gateway = Ipv4();
  Stack nogw(dev, c);
  Socket v(nogw);
  EXPECT_EQ(v->sendto("x", 1, &far).error(), EHOSTUNREACH);
  EXPECT_EQ(v->connect(far).error(), ENETUNREACH);
}

TEST(NetUdp, BroadcastNeedsSoBroadcastAndGoesToAllOnesWithoutArp) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  Socket u(s);
  Endpoint bc{Ipv4::of(255, 255, 255, 255), 67};
  EXPECT_EQ(u->sendto("x", 1, &bc).error(), EACCES);
  Endpoint sbc{Ipv4::of(10, 0, 2, 255), 67};
  EXPECT_EQ(u->sendto("x", 1, &sbc).error(), EACCES);
  EXPECT_EQ(u->connect(sbc).error(), EACCES);
  u->set_broadcast(true);
  ASSERT_TRUE(u->sendto("x", 1, &bc).ok());
  ASSERT_TRUE(u->sendto("y", 1, &sbc).ok());
  auto out = dev.take();
  ASSERT_EQ(out.size(), 2u);
  for (const Bytes& f : out) {
    EXPECT_EQ(bytes_of(f.data(), 6), Bytes(6, 0xff));
    EXPECT_EQ(ethertype_of(f), u16(EtherType::Ipv4));
  }
}

TEST(NetUdp, BroadcastIsCopiedToEverySharingSocket) {
  MoteStack m;
  Socket a(m.stack), b(m.stack), other(m.stack);
  a->set_reuse_addr(true), b->set_reuse_addr(true);
  ASSERT_TRUE(a->bind(Endpoint{Ipv4(), 68}).ok());
  ASSERT_TRUE(b->bind(Endpoint{Ipv4(), 68}).ok());
  ASSERT_TRUE(other->bind(Endpoint{kMoteIp, 68 + 1}).ok());
  Ipv4 all = Ipv4::of(255, 255, 255, 255);
  feed(m.stack, eth_frame(Mac::all_ones(), kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, all, kProtoUdp, udp_segment(kPeerIp, all, 67, 68, {9}))),
       2 * kSec);
  EXPECT_EQ(a.recv(), Bytes{9});
  EXPECT_EQ(b.recv(), Bytes{9});
  EXPECT_FALSE(other->readable());
}

TEST(NetUdp, UnicastDatagramInABroadcastFrameGoesToOneSocketAndGetsNoError) {
  MoteStack m;
  Socket a(m.stack), b(m.stack);
  a->set_reuse_addr(true), b->set_reuse_addr(true);
  ASSERT_TRUE(a->bind(Endpoint{Ipv4(), 7777}).ok());
  ASSERT_TRUE(b->bind(Endpoint{Ipv4(), 7777}).ok());
  Bytes f = bytes_of(recorded::kLinuxUdp);
  memset(f.data(), 0xff, 6);
  feed(m.stack, f, 2 * kSec);
  EXPECT_EQ(a->queued() + b->queued(), 1u);
  memcpy(f.data() + 14 + 20 + 2, "\x00\x09", 2);  // now to a closed port
  store_be16(f.data() + 14 + 20 + 6, 0);           // (no checksum)
  feed(m.stack, f, 2 * kSec);
  EXPECT_TRUE(m.dev.frames.empty());
}

TEST(NetUdp, LoopbackBoundSocketCannotSendToTheWire) {
  MoteStack m;
  Socket u(m.stack);
  ASSERT_TRUE(u->bind(Endpoint{Ipv4::of(127, 0, 0, 1), 0}).ok());
  Endpoint peer{kPeerIp, 9};
  EXPECT_EQ(u->sendto("x", 1, &peer).error(), EINVAL);
  EXPECT_TRUE(m.dev.frames.empty());
}

TEST(NetUdp, LoopbackDatagramFrom127001To127001) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  Socket server(s), client(s);
  Ipv4 lo = Ipv4::of(127, 0, 0, 1);
  ASSERT_TRUE(server->bind(Endpoint{lo, 5000}).ok());
  Endpoint to{lo, 5000};
  ASSERT_EQ(client->sendto("ping", 4, &to).value(), 4u);
  EXPECT_FALSE(server->readable());  // queued, not delivered inside sendto
  EXPECT_EQ(s.next_deadline(), 0u);
  s.run_pending(kSec);
  UdpRecvInfo info;
  EXPECT_EQ(server.recv(&info), str_bytes("ping"));
  EXPECT_EQ(info.from, (Endpoint{lo, client->local().port}));
  EXPECT_EQ(info.dst, lo);
  // And back, to the client's wildcard binding.
  ASSERT_TRUE(server->sendto("pong", 4, &info.from).ok());
  s.run_pending(kSec);
  EXPECT_EQ(client.recv(), str_bytes("pong"));
  EXPECT_TRUE(dev.frames.empty());  // nothing touched the wire
  EXPECT_EQ(s.next_deadline(), kNoDeadline);
}

TEST(NetUdp, DatagramToOurOwnAddressLoopsBackToo) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  Socket a(s);
  ASSERT_TRUE(a->bind(Endpoint{Ipv4(), 5001}).ok());
  Endpoint to{kMoteIp, 5001};
  ASSERT_TRUE(a->sendto("me", 2, &to).ok());
  s.run_pending(kSec);
  UdpRecvInfo info;
  EXPECT_EQ(a.recv(&info), str_bytes("me"));
  EXPECT_EQ(info.from.addr, kMoteIp);
  EXPECT_TRUE(dev.frames.empty());
}

TEST(NetUdp, LoopbackToClosedPortReportsRefusedOnTheConnectedSender) {
  RecordingDevice dev;
  Stack s(dev, mote_config());
  Socket c(s);
  ASSERT_TRUE(c->connect(Endpoint{Ipv4::of(127, 0, 0, 1), 9}).ok());
  ASSERT_TRUE(c->sendto("x", 1, nullptr).ok());
  s.run_pending(kSec);  // delivers the datagram, then the port unreachable
  EXPECT_EQ(c->take_error(), ECONNREFUSED);
}

TEST(NetUdp, ClosingSocketsAndTheStackFreesEverything) {
  long blocks = mote::test::live_heap_blocks();
  {
    MoteStack m;
    Socket keep(m.stack);
    UdpSocket* u = m.stack.udp().open();
    ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
    ASSERT_TRUE(keep->bind(Endpoint{Ipv4(), 7778}).ok());
    for (int i = 0; i < 3; ++i) {
      feed(m.stack, bytes_of(recorded::kLinuxUdp), 2 * kSec);
      feed(m.stack, peer_udp_frame(1, 7778, {1}), 2 * kSec);
    }
    u->close();  // with three datagrams queued
    EXPECT_EQ(m.stack.udp().sockets(), 1u);
    UdpSocket* leak = m.stack.udp().open();  // never closed: the stack frees it
    (void)leak;
    Endpoint lo{Ipv4::of(127, 0, 0, 1), 9};
    ASSERT_TRUE(keep->sendto("x", 1, &lo).ok());  // still queued for loopback
  }
  EXPECT_EQ(mote::test::live_heap_blocks(), blocks);
}

}  // namespace
}  // namespace mote::net
