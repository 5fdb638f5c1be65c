// Checksum offload through the stack (netdefs.h Packet::set_csum_partial,
// device.h TxOffload, IpInfo::csum_ok): TCP and UDP leave their checksums
// partial for a device that completes them and whole for one that does not;
// frames the device vouches for skip the transport check, others and
// reassembled datagrams do not; fragments always carry whole sums.
#include <gtest/gtest.h>

#include "kernel/net/tcp.h"
#include "tests/unit/net/net_fixture.h"

namespace mote::net {
namespace {

using namespace test;

constexpr usize kL4 = EthHeader::kSize + Ipv4Header::kMinSize;  // 34: no IP options

// TCP on a Stack, as the kernel wires it (kernel/linux/inet.cc).
class TcpOnStack final : public TransportHandler {
 public:
  explicit TcpOnStack(Stack& s) : tcp(s, TcpSecret{5, 6}) { s.set_transport(kProtoTcp, this); }
  void input(const IpInfo& ip, const u8* seg, usize len, u64 now) override {
    tcp.input(ip, seg, len, now);
  }
  void icmp_error(const IcmpError&, u64) override {}
  void tick(u64 now) override { tcp.tick(now); }
  u64 next_deadline() override { return tcp.next_deadline(); }
  Tcp tcp;
};

// The sum a device adds: over the transport header and payload, whose
// checksum field holds the pseudo-header sum (as a tap or virtio device
// completes NEEDS_CSUM).
Bytes complete(Bytes f, TxOffload c) {
  u16 sum = csum_fold(csum_add(0, f.data() + c.start, f.size() - c.start));
  store_be16(f.data() + c.start + c.offset, sum ? sum : 0xffff);
  return f;
}

bool transport_checksum_ok(const Bytes& f) {
  Ipv4Header h = ip_of(f);
  usize n = h.total_len - h.header_len();
  return csum_fold(csum_add(csum_pseudo(h.src, h.dst, h.proto, u16(n)), l4_of(f), n)) == 0;
}

// A SYN and a datagram from mote to the peer: two frames on m's device.
struct SynAndDatagram {
  TcpOnStack t;
  TcpSocket* s;
  UdpSocket* u;
  explicit SynAndDatagram(MoteStack& m)
      : t(m.stack), s(t.tcp.socket().value()), u(m.stack.udp().open()) {
    EXPECT_TRUE(s->connect(Endpoint{kPeerIp, 80}, 2 * kSec).ok());
    Endpoint to{kPeerIp, 53};
    EXPECT_TRUE(u->sendto("question", 8, &to).ok());
  }
  ~SynAndDatagram() {
    u->close();
    s->close(2 * kSec);
  }
};

TEST(NetCsumOffload, TcpAndUdpLeaveTheSumToAnOffloadingDevice) {
  MoteStack m;
  m.dev.offload = true;
  SynAndDatagram sent(m);
  auto frames = m.dev.frames;
  auto csums = m.dev.csums;
  ASSERT_EQ(frames.size(), 2u);
  const u16 offsets[2] = {16, 6};  // TCP's field, UDP's field
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(csums[i].start, kL4) << i;
    EXPECT_EQ(csums[i].offset, offsets[i]) << i;
    Ipv4Header h = ip_of(frames[i]);
    u16 n = u16(h.total_len - h.header_len());
    EXPECT_EQ(load_be16(l4_of(frames[i]) + offsets[i]),
              csum_partial_field(csum_pseudo(h.src, h.dst, h.proto, n)))
        << i;
    EXPECT_FALSE(transport_checksum_ok(frames[i])) << "partial, not whole: " << i;
    EXPECT_TRUE(transport_checksum_ok(complete(frames[i], csums[i]))) << i;
  }
  EXPECT_EQ(m.stack.stats().csum_offloaded, 2u);
}

TEST(NetCsumOffload, WithoutTheOffloadEverySumIsWhole) {
  MoteStack m;  // RecordingDevice without offload fails any partial frame
  SynAndDatagram sent(m);
  ASSERT_EQ(m.dev.frames.size(), 2u);
  for (const Bytes& f : m.dev.frames) EXPECT_TRUE(transport_checksum_ok(f));
  EXPECT_EQ(m.stack.stats().csum_offloaded, 0u);
}

TEST(NetCsumOffload, AFragmentedDatagramIsCompletedBeforeItIsSplit) {
  // No device could finish a sum spread over fragments: they go whole even
  // to an offloading device, and the peer's reassembly checks the sum.
  MoteStack m;
  m.dev.offload = true;
  UdpSocket* u = m.stack.udp().open();
  Endpoint to{kPeerIp, 7777};
  Bytes data(3000);
  for (usize i = 0; i < data.size(); ++i) data[i] = u8(i * 31 + 7);
  ASSERT_TRUE(u->sendto(data.data(), data.size(), &to).ok());
  ASSERT_EQ(m.dev.frames.size(), 3u);
  for (const TxOffload& c : m.dev.csums) EXPECT_EQ(c.offset, 0);

  RecordingDevice pdev;
  Stack peer(pdev, peer_config());
  UdpSocket* pu = peer.udp().open();
  ASSERT_TRUE(pu->bind(Endpoint{Ipv4(), 7777}).ok());
  for (const Bytes& f : m.dev.frames) feed(peer, f, 2 * kSec);
  Bytes got(4000);
  auto r = pu->recvfrom(got.data(), got.size(), nullptr, false);
  ASSERT_TRUE(r.ok());
  got.resize(r.value());
  EXPECT_EQ(got, data);
  EXPECT_EQ(peer.udp().stats().in_csum_errors, 0u);
  pu->close();
  u->close();
}

TEST(NetCsumOffload, AVouchedFrameSkipsTheCheckAndOthersDoNot) {
  MoteStack m;
  UdpSocket* u = m.stack.udp().open();
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  // A host's own datagram handed over partial (NEEDS_CSUM): the field holds
  // only the pseudo-header sum, so checking it would drop the datagram.
  Bytes f = peer_udp_frame(1000, 7777, {1, 2, 3, 4, 5}, false);
  u8* l4 = f.data() + kL4;
  store_be16(l4 + 6, csum_partial_field(csum_pseudo(kPeerIp, kMoteIp, kProtoUdp, 13)));
  feed(m.stack, f, 2 * kSec);
  EXPECT_FALSE(u->readable());
  EXPECT_EQ(m.stack.udp().stats().in_csum_errors, 1u);
  m.stack.input_frame(f.data(), f.size(), 2 * kSec, true);
  EXPECT_TRUE(u->readable());
  EXPECT_EQ(m.stack.udp().stats().in_csum_errors, 1u);
  EXPECT_EQ(m.stack.stats().csum_vouched, 1u);
  u8 buf[16];
  EXPECT_EQ(u->recvfrom(buf, sizeof buf, nullptr, false).value(), 5u);

  // TCP alike: a vouched SYN with a partial sum reaches the listener and is
  // answered; the same SYN unvouched is a bad segment.
  TcpOnStack t(m.stack);
  TcpSocket* l = t.tcp.socket().value();
  ASSERT_TRUE(l->bind(Endpoint{Ipv4(), 80}).ok());
  ASSERT_TRUE(l->listen(4).ok());
  TcpHeaderOut h;
  h.sport = 40000, h.dport = 80, h.seq = 1234, h.flags = kTcpSyn, h.wnd = 65535;
  h.has_mss = true, h.mss = 1460;
  Packet* p = Packet::alloc(0);
  tcp_build(p, h, kPeerIp, kMoteIp, true);
  Bytes syn = eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                        ip_packet(kPeerIp, kMoteIp, kProtoTcp, Bytes(p->data(), p->data() + p->size())));
  Packet::free(p);
  m.dev.take();
  feed(m.stack, syn, 3 * kSec);
  EXPECT_TRUE(m.dev.frames.empty()) << "an unvouched partial sum was taken";
  EXPECT_EQ(t.tcp.stats().bad_segs, 1u);
  m.stack.input_frame(syn.data(), syn.size(), 3 * kSec, true);
  ASSERT_EQ(m.dev.frames.size(), 1u);  // the SYN-ACK
  EXPECT_EQ(l4_of(m.dev.frames[0])[13], kTcpSyn | kTcpAck);
  u->close();
  l->close(3 * kSec);
}

TEST(NetCsumOffload, AVouchCoversOneFrameNotAReassembledDatagram) {
  // Two fragments of a datagram whose UDP sum is wrong, each vouched for:
  // the vouch is about a frame, so the whole datagram is still checked.
  MoteStack m;
  UdpSocket* u = m.stack.udp().open();
  ASSERT_TRUE(u->bind(Endpoint{Ipv4(), 7777}).ok());
  Bytes data(2000, 0x5a);
  Bytes seg = udp_segment(kPeerIp, kMoteIp, 1000, 7777, data);
  seg[6] ^= 0x01;  // a wrong sum
  const usize first = 1480;
  Bytes a(seg.begin(), seg.begin() + first), b(seg.begin() + first, seg.end());
  Bytes fa = eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                       ip_packet(kPeerIp, kMoteIp, kProtoUdp, a, 0x4242, Ipv4Header::kFlagMf));
  Bytes fb = eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                       ip_packet(kPeerIp, kMoteIp, kProtoUdp, b, 0x4242, u16(first / 8)));
  m.stack.input_frame(fa.data(), fa.size(), 2 * kSec, true);
  m.stack.input_frame(fb.data(), fb.size(), 2 * kSec, true);
  EXPECT_EQ(m.stack.stats().ip_reasm_oks, 1u);
  EXPECT_FALSE(u->readable());
  EXPECT_EQ(m.stack.udp().stats().in_csum_errors, 1u);
  u->close();
}

TEST(NetCsumOffload, LoopbackDeliversPartialSumsUnchecked) {
  // Through 127.0.0.1 nothing computes a sum: the datagram stays partial
  // (the stack's own) and is taken as it is.
  MoteStack m;
  m.dev.offload = true;
  UdpSocket* a = m.stack.udp().open();
  UdpSocket* b = m.stack.udp().open();
  Ipv4 lo = Ipv4::of(127, 0, 0, 1);
  ASSERT_TRUE(b->bind(Endpoint{lo, 53}).ok());
  Endpoint to{lo, 53};
  ASSERT_TRUE(a->sendto("loop", 4, &to).ok());
  m.stack.run_pending(2 * kSec);
  u8 buf[8];
  EXPECT_EQ(b->recvfrom(buf, sizeof buf, nullptr, false).value(), 4u);
  EXPECT_EQ(m.stack.udp().stats().in_csum_errors, 0u);
  EXPECT_TRUE(m.dev.frames.empty());
  a->close();
  b->close();
}

// Opens a connection from mote to the peer's port 80 through the stack and
// answers its SYN (MSS 1460, window scale 7, timestamps off): established.
TcpSocket* connect_to_peer(MoteStack& m, TcpOnStack& t) {
  TcpSocket* s = t.tcp.socket().value();
  EXPECT_TRUE(s->connect(Endpoint{kPeerIp, 80}, 2 * kSec).ok());
  auto syn = m.dev.take();
  EXPECT_EQ(syn.size(), 1u);
  const u8* l4 = l4_of(syn[0]);
  TcpHeaderOut h;
  h.sport = 80, h.dport = load_be16(l4), h.seq = 5000, h.ack = load_be32(l4 + 4) + 1;
  h.flags = kTcpSyn | kTcpAck, h.wnd = 65535;
  h.has_mss = true, h.mss = 1460, h.has_wscale = true, h.wscale = 7;
  Packet* p = Packet::alloc(0);
  tcp_build(p, h, kPeerIp, kMoteIp);
  feed(m.stack, eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                          ip_packet(kPeerIp, kMoteIp, kProtoTcp, Bytes(p->data(), p->data() + p->size()))),
       2 * kSec);
  Packet::free(p);
  m.dev.take();  // the ACK
  EXPECT_EQ(s->info().state, TcpState::Established);
  return s;
}

TEST(NetCsumOffload, ASegmentingDeviceGetsOneSegmentForTheWholeFlight) {
  MoteStack m;
  m.dev.offload = true, m.dev.tso_ = true;
  TcpOnStack t(m.stack);
  TcpSocket* s = connect_to_peer(m, t);
  Bytes data(100000);
  for (usize i = 0; i < data.size(); ++i) data[i] = u8(i * 7 + 3);
  ASSERT_TRUE(s->send(data.data(), data.size(), 3 * kSec).ok());
  ASSERT_GE(m.dev.frames.size(), 1u);
  const Bytes& f = m.dev.frames[0];
  const TxOffload& o = m.dev.csums[0];
  u32 mss = s->info().snd_mss;
  EXPECT_EQ(mss, 1460u);
  EXPECT_GT(f.size(), 1514u) << "larger than the MTU: the device cuts it up";
  EXPECT_EQ(o.start, kL4);
  EXPECT_EQ(o.offset, 16);
  EXPECT_EQ(o.gso_size, mss);
  EXPECT_EQ(o.hdr_len, kL4 + 20);  // no options without timestamps
  usize payload = f.size() - o.hdr_len;
  EXPECT_EQ(payload % mss, 0u) << "whole MSS while more data waits";
  EXPECT_EQ(ip_of(f).total_len, f.size() - EthHeader::kSize);
  EXPECT_EQ(ip_of(f).frag, Ipv4Header::kFlagDf);
  EXPECT_EQ(0, memcmp(f.data() + o.hdr_len, data.data(), payload));
  EXPECT_TRUE(transport_checksum_ok(complete(f, o)));
  EXPECT_GE(m.stack.stats().tso_out, 1u);
  s->close(3 * kSec);
}

TEST(NetCsumOffload, WithoutSegmentationEveryFrameFitsTheMtu) {
  MoteStack m;
  m.dev.offload = true;  // checksums only
  TcpOnStack t(m.stack);
  TcpSocket* s = connect_to_peer(m, t);
  Bytes data(100000, 0x33);
  ASSERT_TRUE(s->send(data.data(), data.size(), 3 * kSec).ok());
  ASSERT_GE(m.dev.frames.size(), 2u);
  for (usize i = 0; i < m.dev.frames.size(); ++i) {
    EXPECT_LE(m.dev.frames[i].size(), 1514u);
    EXPECT_EQ(m.dev.csums[i].gso_size, 0);
  }
  EXPECT_EQ(m.stack.stats().tso_out, 0u);
  s->close(3 * kSec);
}

TEST(NetCsumOffload, ASegmentForTheDeviceIsNeverFragmentedOrLooped) {
  // A segment marked for the device on a route that cannot take it (here
  // loopback) is dropped, never fragmented: TCP resends it MSS-sized.
  MoteStack m;
  m.dev.offload = true, m.dev.tso_ = true;
  EXPECT_EQ(m.stack.tso_max(Ipv4::of(127, 0, 0, 1)), 0u);
  EXPECT_EQ(m.stack.tso_max(kPeerIp), 65535u - 20);
  Packet* p = packet_of(Bytes(20 + 5000, 0));
  p->set_csum_partial(16);
  p->set_gso(1460);
  EXPECT_TRUE(m.stack.ip_send(Ipv4(), Ipv4::of(127, 0, 0, 1), kProtoTcp, 0, p).ok());
  m.stack.run_pending(2 * kSec);
  EXPECT_EQ(m.stack.stats().tso_dropped, 1u);
  EXPECT_EQ(m.stack.stats().ip_frag_creates, 0u);
  EXPECT_EQ(m.stack.stats().loopback_packets, 0u);
}

}  // namespace
}  // namespace mote::net
