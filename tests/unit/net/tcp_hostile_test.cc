// Hostile input: a storm of random but checksum-valid segments (random
// flags, options, lengths, sequence and acknowledgment numbers near and far
// from the connections' windows) against a listener and live connections.
// Nothing may crash, memory stays bounded, and everything is released.
#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

struct Rng {
  u64 x;
  u64 next() {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  }
  u32 below(u32 n) { return u32(next() % n); }
};

Bytes random_segment(Rng& r, Endpoint from, Endpoint to, u32 seq_base, u32 ack_base) {
  usize olen = r.below(3) == 0 ? 4 * r.below(11) : 0;
  usize dlen = r.below(4) == 0 ? r.below(1500) : r.below(3) == 0 ? r.below(40) : 0;
  Bytes b(20 + olen + dlen);
  store_be16(&b[0], from.port);
  store_be16(&b[2], to.port);
  u32 seq = r.below(2) ? seq_base + r.below(140000) - 70000 : u32(r.next());
  u32 ack = r.below(2) ? ack_base + r.below(140000) - 70000 : u32(r.next());
  store_be32(&b[4], seq);
  store_be32(&b[8], ack);
  b[12] = u8(((20 + olen) / 4) << 4);
  b[13] = u8(r.next());
  store_be16(&b[14], u16(r.next()));
  for (usize i = 0; i < olen; ++i) {
    // Mostly well-known option kinds with plausible lengths, some garbage.
    u32 k = r.below(8);
    b[20 + i] = k < 5 ? u8(k) : k == 5 ? 8 : k == 6 ? u8(r.below(12)) : u8(r.next());
  }
  for (usize i = 0; i < dlen; ++i) b[20 + olen + i] = u8(r.next());
  u32 sum = csum_add(csum_pseudo(from.addr, to.addr, kProtoTcp, u16(b.size())), b.data(), b.size());
  store_be16(&b[16], csum_fold(sum));
  return b;
}

TEST_F(TcpFixture, RandomSegmentStormIsSurvivedAndLeavesNothingBehind) {
  long base = test::live_heap_blocks();
  {
    Rng r{0x5eed};
    TcpSocket* l = tcp.socket().value();
    ASSERT_TRUE(l->bind(Endpoint{Ipv4(), 80}).ok());
    ASSERT_TRUE(l->listen(16).ok());
    // A few real connections to attack, from peer ports 1000..1003.
    std::vector<TcpSocket*> conns;
    std::vector<u32> our_seq, their_seq;
    for (u16 p = 1000; p < 1004; ++p) {
      Craft syn;
      syn.seq = 100000u * p, syn.flags = kTcpSyn;
      syn.opts.has_ts = p % 2, syn.opts.tsval = 1;
      syn.opts.has_wscale = true, syn.opts.wscale = u8(p % 15);
      inject(Endpoint{kPeerIp, p}, Endpoint{kLocalIp, 80}, syn);
      u32 iss = ip.take().back().seg().seq;
      Craft a;
      a.seq = syn.seq + 1, a.ack = iss + 1;
      a.opts.has_ts = p % 2, a.opts.tsval = 2;
      inject(Endpoint{kPeerIp, p}, Endpoint{kLocalIp, 80}, a);
      conns.push_back(l->accept().value());
      our_seq.push_back(iss + 1);
      their_seq.push_back(syn.seq + 1);
    }
    u8 buf[4096] = {};
    for (int it = 0; it < 100000; ++it) {
      u32 c = r.below(6);
      u16 port = c < 4 ? u16(1000 + c) : u16(2000 + r.below(4000));
      u32 sb = c < 4 ? their_seq[c] : u32(r.next());
      u32 ab = c < 4 ? our_seq[c] : u32(r.next());
      Bytes seg = random_segment(r, Endpoint{kPeerIp, port}, Endpoint{kLocalIp, 80}, sb, ab);
      IpInfo info;
      info.src = kPeerIp, info.dst = kLocalIp;
      tcp.input(info, seg.data(), seg.size(), now);
      if (it % 64 == 0) {
        advance(r.below(3000) * kMs);
        for (TcpSocket* s : conns) {
          (void)s->recv(buf, sizeof buf, now);
          (void)s->send(buf, r.below(3000), now);
        }
        for (auto a = l->accept(); a.ok(); a = l->accept()) a.value()->close(now);
      }
      ip.take();
      ASSERT_LE(tcp.socket_count(), 1u + 4u + 16u + 16u);  // listener, conns, backlog bounds
    }
    EXPECT_GT(tcp.stats().challenge_acks, 0u);
    EXPECT_GT(tcp.stats().resets_sent, 0u);
    for (TcpSocket* s : conns) s->close(now);
    l->close(now);
    run_until(now + 3600 * kSec);
    EXPECT_EQ(tcp.socket_count(), 0u);
  }
  ip.take();
  EXPECT_EQ(test::live_heap_blocks(), base);
}

TEST_F(TcpFixture, TruncatedAndCorruptedSegmentsAreDropped) {
  TcpSocket* l = tcp.socket().value();
  ASSERT_TRUE(l->bind(Endpoint{Ipv4(), 80}).ok());
  ASSERT_TRUE(l->listen(4).ok());
  Craft syn;
  syn.flags = kTcpSyn;
  Bytes b = craft_bytes(Endpoint{kPeerIp, 1}, Endpoint{kLocalIp, 80}, syn);
  IpInfo info;
  info.src = kPeerIp, info.dst = kLocalIp;
  for (usize n = 0; n < b.size(); ++n) tcp.input(info, b.data(), n, now);
  for (usize i = 0; i < b.size(); ++i) {
    Bytes c = b;
    c[i] ^= 0x10;
    tcp.input(info, c.data(), c.size(), now);
  }
  EXPECT_TRUE(ip.take().empty());
  EXPECT_EQ(tcp.stats().bad_segs, 2 * b.size());
  // From a broadcast or multicast source, or to one: never answered.
  info.src = Ipv4(0xffffffff);
  tcp.input(info, b.data(), b.size(), now);
  EXPECT_TRUE(ip.take().empty());
  l->close(now);
}

}  // namespace
}  // namespace mote::net::tcptest
