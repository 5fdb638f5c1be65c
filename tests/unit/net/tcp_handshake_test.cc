// Opening connections: passive open against a real Linux SYN, active open,
// simultaneous open, refused connections, listen backlog bounds, SYN
// retransmission and timeout.
#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

// Linux 6.18's SYN (see tcp_wire_test.cc), from port 58616 to 40123.
const u8 kLinuxSyn[] = {0xe4, 0xf8, 0x9c, 0xbb, 0x77, 0xc5, 0x9f, 0xc8, 0x00, 0x00,
                        0x00, 0x00, 0xa0, 0x02, 0xff, 0xd7, 0xfe, 0x30, 0x00, 0x00,
                        0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x50, 0x92,
                        0x0b, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a};

const Endpoint kPeer{kPeerIp, 58616};
const Endpoint kServer{kLocalIp, 40123};

struct Handshake : TcpFixture {
  TcpSocket* listener(u16 port, u32 backlog = 8) {
    TcpSocket* l = tcp.socket().value();
    EXPECT_TRUE(l->bind(Endpoint{Ipv4(), port}).ok());
    EXPECT_TRUE(l->listen(backlog).ok());
    return l;
  }
  void inject_raw(const u8* seg, usize len) {
    Bytes b(seg, seg + len);
    b[16] = b[17] = 0;
    store_be16(&b[16], csum_fold(csum_add(csum_pseudo(kPeerIp, kLocalIp, kProtoTcp, u16(len)),
                                          b.data(), len)));
    IpInfo info;
    info.src = kPeerIp, info.dst = kLocalIp;
    tcp.input(info, b.data(), b.size(), now);
  }
  // A plain SYN from the scripted peer; returns our SYN-ACK's seq (ISS).
  Craft syn(u32 seq) {
    Craft c;
    c.seq = seq, c.flags = kTcpSyn, c.wnd = 29200;
    c.opts.has_mss = true, c.opts.mss = 1460;
    return c;
  }
};

TEST_F(Handshake, PassiveOpenAnswersRealLinuxSynAndEstablishes) {
  TcpSocket* l = listener(40123);
  inject_raw(kLinuxSyn, sizeof kLinuxSyn);
  auto out = ip.take();
  ASSERT_EQ(out.size(), 1u);
  TcpSegment sa = out[0].seg();
  EXPECT_EQ(out[0].src, kLocalIp);
  EXPECT_EQ(out[0].dst, kPeerIp);
  EXPECT_EQ(sa.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(sa.sport, 40123);
  EXPECT_EQ(sa.dport, 58616);
  EXPECT_EQ(sa.ack, 0x77c59fc9u);
  EXPECT_EQ(sa.opt.mss, 1460);        // our MTU 1500 - 40
  EXPECT_TRUE(sa.opt.has_wscale);     // Linux offered it, so we answer
  EXPECT_EQ(sa.opt.wscale, 7);        // buffers that may grow to 4 MiB need a shift of 7
  EXPECT_TRUE(sa.opt.has_ts);
  EXPECT_EQ(sa.opt.tsecr, 0x50920bd8u);  // echoes Linux's TSval
  EXPECT_FALSE(sa.opt.sack_ok);       // SACK is not implemented
  EXPECT_EQ(l->accept().error(), EAGAIN);
  EXPECT_EQ(l->poll(), 0u);

  // Linux's third segment: ACK with its scaled window and a timestamp.
  Craft ack;
  ack.seq = 0x77c59fc9, ack.ack = sa.seq + 1, ack.wnd = 64;
  ack.opts.has_ts = true, ack.opts.tsval = 0x50920bd9, ack.opts.tsecr = sa.opt.tsval;
  inject(kPeer, kServer, ack);
  EXPECT_EQ(l->poll(), kPollIn);
  auto c = l->accept();
  ASSERT_TRUE(c.ok());
  TcpSocket* s = c.value();
  EXPECT_EQ(s->state(), TcpState::Established);
  EXPECT_EQ(s->peer().value(), kPeer);
  EXPECT_EQ(s->local(), kServer);
  TcpInfo i = s->info();
  EXPECT_TRUE(i.ts_ok);
  EXPECT_TRUE(i.wscale_ok);
  EXPECT_EQ(i.snd_wscale, 10);
  EXPECT_EQ(i.snd_wnd, 64u << 10);
  EXPECT_EQ(i.snd_mss, 1460u - 12);  // timestamps take 12 bytes a segment
  EXPECT_TRUE(ip.take().empty());   // nothing more to say
  s->abort(now);
  s->close(now);
  l->close(now);
}

TEST_F(Handshake, ActiveOpenSendsSynWithOptionsAndCompletesOnSynAck) {
  TcpSocket* s = tcp.socket().value();
  int wakeups = 0;
  s->set_wakeup([](void* ctx, TcpSocket*, u32) { ++*static_cast<int*>(ctx); }, &wakeups);
  ASSERT_TRUE(s->connect(Endpoint{kPeerIp, 80}, now).ok());
  EXPECT_EQ(s->state(), TcpState::SynSent);
  EXPECT_EQ(s->connect(Endpoint{kPeerIp, 80}, now).error(), EALREADY);
  EXPECT_EQ(s->send("x", 1, now).error(), EAGAIN);
  EXPECT_EQ(s->poll() & kPollOut, 0u);
  auto out = ip.take();
  ASSERT_EQ(out.size(), 1u);
  TcpSegment syn = out[0].seg();
  EXPECT_EQ(syn.flags, kTcpSyn);
  EXPECT_GE(syn.sport, 32768);
  EXPECT_LE(syn.sport, 60999);
  EXPECT_EQ(syn.dport, 80);
  EXPECT_EQ(syn.opt.mss, 1460);
  EXPECT_TRUE(syn.opt.has_wscale);
  EXPECT_TRUE(syn.opt.has_ts);
  EXPECT_EQ(syn.opt.tsecr, 0u);
  Endpoint me{kLocalIp, syn.sport};
  EXPECT_EQ(s->local(), me);

  // A SYN-ACK without timestamps or window scaling: both stay off.
  Craft sa;
  sa.seq = 5000, sa.ack = syn.seq + 1, sa.flags = kTcpSyn | kTcpAck, sa.wnd = 8192;
  sa.opts.has_mss = true, sa.opts.mss = 1000;
  inject(Endpoint{kPeerIp, 80}, me, sa);
  EXPECT_EQ(s->state(), TcpState::Established);
  EXPECT_GT(wakeups, 0);
  EXPECT_NE(s->poll() & kPollOut, 0u);
  out = ip.take();
  ASSERT_EQ(out.size(), 1u);
  TcpSegment a = out[0].seg();
  EXPECT_EQ(a.flags, kTcpAck);
  EXPECT_EQ(a.seq, syn.seq + 1);
  EXPECT_EQ(a.ack, 5001u);
  EXPECT_FALSE(a.opt.has_ts);
  TcpInfo i = s->info();
  EXPECT_FALSE(i.ts_ok);
  EXPECT_FALSE(i.wscale_ok);
  EXPECT_EQ(i.snd_mss, 1000u);
  EXPECT_EQ(i.snd_wnd, 8192u);
  EXPECT_GT(i.srtt_ns, 0u);  // the SYN was timed
  s->abort(now);
  s->close(now);
}

TEST_F(Handshake, ConnectToClosedPortGetsRstAndEconnrefused) {
  TcpSocket* s = tcp.socket().value();
  ASSERT_TRUE(s->connect(Endpoint{kPeerIp, 81}, now).ok());
  TcpSegment syn = ip.take()[0].seg();
  Endpoint me{kLocalIp, syn.sport};
  // An RST whose ACK is wrong is ignored (RFC 9293 3.10.7.3).
  Craft bad;
  bad.flags = kTcpRst | kTcpAck, bad.ack = syn.seq + 7;
  inject(Endpoint{kPeerIp, 81}, me, bad);
  EXPECT_EQ(s->state(), TcpState::SynSent);
  Craft rst;
  rst.flags = kTcpRst | kTcpAck, rst.ack = syn.seq + 1;
  inject(Endpoint{kPeerIp, 81}, me, rst);
  EXPECT_EQ(s->state(), TcpState::Closed);
  EXPECT_NE(s->poll() & kPollErr, 0u);
  EXPECT_EQ(s->take_error(), ECONNREFUSED);
  EXPECT_EQ(s->take_error(), 0);
  EXPECT_TRUE(ip.take().empty());
  s->close(now);
}

TEST_F(Handshake, SegmentsToClosedPortAreAnsweredWithRst) {
  // RFC 9293 3.10.7.1: a SYN gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>...
  inject(Endpoint{kPeerIp, 4000}, Endpoint{kLocalIp, 9}, syn(777));
  auto out = ip.take();
  ASSERT_EQ(out.size(), 1u);
  TcpSegment r = out[0].seg();
  EXPECT_EQ(r.flags, kTcpRst | kTcpAck);
  EXPECT_EQ(r.seq, 0u);
  EXPECT_EQ(r.ack, 778u);
  EXPECT_EQ(r.sport, 9);
  EXPECT_EQ(r.dport, 4000);
  // ...a segment with an ACK gets <SEQ=SEG.ACK><CTL=RST>...
  Craft a;
  a.seq = 1, a.ack = 4242, a.data = text("hi");
  inject(Endpoint{kPeerIp, 4000}, Endpoint{kLocalIp, 9}, a);
  out = ip.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpRst);
  EXPECT_EQ(out[0].seg().seq, 4242u);
  // ...and an RST gets nothing.
  Craft r2;
  r2.flags = kTcpRst;
  inject(Endpoint{kPeerIp, 4000}, Endpoint{kLocalIp, 9}, r2);
  EXPECT_TRUE(ip.take().empty());
}

TEST_F(Handshake, ListenBacklogFullDropsSyns) {
  TcpSocket* l = listener(80, 2);
  for (u16 p = 1000; p < 1004; ++p) inject(Endpoint{kPeerIp, p}, Endpoint{kLocalIp, 80}, syn(p));
  // Two half-open connections fit; the other two SYNs got no answer.
  EXPECT_EQ(ip.take().size(), 2u);
  EXPECT_EQ(tcp.stats().listen_drops, 2u);
  EXPECT_EQ(tcp.socket_count(), 3u);
  // A retransmitted SYN for a half-open one is answered again.
  inject(Endpoint{kPeerIp, 1000}, Endpoint{kLocalIp, 80}, syn(1000));
  auto out = ip.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpSyn | kTcpAck);
  // Complete both: the accept queue then holds the backlog, and new SYNs are
  // dropped until the application accepts.
  for (u16 p = 1000; p < 1002; ++p) {
    Craft a;
    a.seq = p + 1u, a.ack = out[0].seg().seq + 1;
    if (p == 1001) {
      inject(Endpoint{kPeerIp, p}, Endpoint{kLocalIp, 80}, syn(p));
      a.ack = ip.take()[0].seg().seq + 1;
    }
    inject(Endpoint{kPeerIp, p}, Endpoint{kLocalIp, 80}, a);
  }
  EXPECT_EQ(l->info().state, TcpState::Listen);
  inject(Endpoint{kPeerIp, 2000}, Endpoint{kLocalIp, 80}, syn(5));
  EXPECT_TRUE(ip.take().empty());
  EXPECT_EQ(tcp.stats().listen_drops, 3u);
  TcpSocket* c = l->accept().value();
  inject(Endpoint{kPeerIp, 2000}, Endpoint{kLocalIp, 80}, syn(5));
  EXPECT_EQ(ip.take().size(), 1u);  // room again
  c->close(now);
  l->close(now);
  // Unaccepted children go with the listener; the accepted one, closed,
  // lives on in FIN_WAIT_1 until its FIN is answered.
  EXPECT_EQ(tcp.socket_count(), 1u);
  // The accepted one sent its FIN; the established, unaccepted one a reset;
  // the half-open one nothing.
  auto out2 = ip.take();
  ASSERT_EQ(out2.size(), 2u);
  EXPECT_EQ(out2[0].seg().flags, kTcpFin | kTcpAck);
  EXPECT_EQ(out2[1].seg().flags, kTcpRst | kTcpAck);
}

TEST_F(Handshake, SynRetransmitsWithBackoffThenTimesOut) {
  TcpSocket* s = tcp.socket().value();
  u64 t0 = now;
  ASSERT_TRUE(s->connect(Endpoint{kPeerIp, 80}, now).ok());
  ip.take();
  // RFC 6298: initial RTO 1 s, doubling: 1, 3, 7, 15, 31, 63 s after start.
  std::vector<u64> at;
  while (s->state() == TcpState::SynSent && now < t0 + 1000 * kSec) {
    run_until(tcp.next_deadline());
    for (auto& x : ip.take()) {
      EXPECT_EQ(x.seg().flags, kTcpSyn);
      at.push_back((now - t0) / kSec);
    }
  }
  EXPECT_EQ(at, (std::vector<u64>{1, 3, 7, 15, 31, 63}));
  EXPECT_EQ(s->state(), TcpState::Closed);
  EXPECT_EQ(now - t0, 127 * kSec);  // the sixth retransmission's RTO, then give up
  EXPECT_EQ(s->take_error(), ETIMEDOUT);
  s->close(now);
}

TEST_F(Handshake, SynAckRetransmittedUntilAckedAndHalfOpenExpires) {
  TcpSocket* l = listener(80);
  inject(kPeer, Endpoint{kLocalIp, 80}, syn(1));
  ip.take();
  run_until(now + 200 * kSec);
  // 5 retransmissions (synack_retries), then the half-open child is gone.
  EXPECT_EQ(ip.take().size(), 5u);
  EXPECT_EQ(tcp.socket_count(), 1u);
  l->close(now);
}

TEST(TcpWireHandshake, BothSidesEstablishAndExchangeGreetings) {
  Wire w;
  TcpSocket* l = w.b.socket().value();
  ASSERT_TRUE(l->bind(Endpoint{kPeerIp, 7}).ok());
  ASSERT_TRUE(l->listen(4).ok());
  TcpSocket* c = w.a.socket().value();
  ASSERT_TRUE(c->connect(Endpoint{kPeerIp, 7}, w.now).ok());
  ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return l->poll() & kPollIn; }));
  TcpSocket* s = l->accept().value();
  EXPECT_EQ(c->state(), TcpState::Established);
  EXPECT_EQ(s->state(), TcpState::Established);
  EXPECT_EQ(s->peer().value(), c->local());
  EXPECT_EQ(c->peer().value(), s->local());
  ASSERT_EQ(c->send("ping", 4, w.now).value(), 4u);
  ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return s->readable_bytes() == 4; }));
  char buf[8];
  ASSERT_EQ(s->recv(buf, sizeof buf, w.now).value(), 4u);
  EXPECT_EQ(std::string(buf, 4), "ping");
  ASSERT_EQ(s->send("pong", 4, w.now).value(), 4u);
  ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return c->readable_bytes() == 4; }));
  ASSERT_EQ(c->recv(buf, sizeof buf, w.now).value(), 4u);
  EXPECT_EQ(std::string(buf, 4), "pong");
  c->abort(w.now);
  c->close(w.now);
  s->close(w.now);
  l->close(w.now);
}

TEST(TcpWireHandshake, SimultaneousOpenEstablishesBothEnds) {
  Wire w;
  TcpSocket* a = w.a.socket().value();
  TcpSocket* b = w.b.socket().value();
  ASSERT_TRUE(a->bind(Endpoint{kLocalIp, 5000}).ok());
  ASSERT_TRUE(b->bind(Endpoint{kPeerIp, 6000}).ok());
  ASSERT_TRUE(a->connect(Endpoint{kPeerIp, 6000}, w.now).ok());
  ASSERT_TRUE(b->connect(Endpoint{kLocalIp, 5000}, w.now).ok());
  // Both SYNs are on the wire before either arrives.
  w.run_until(w.now + 10 * kSec, [&] {
    return a->state() == TcpState::Established && b->state() == TcpState::Established;
  });
  EXPECT_EQ(a->state(), TcpState::Established);
  EXPECT_EQ(b->state(), TcpState::Established);
  EXPECT_EQ(w.stats.sent, 4u);  // SYN, SYN, SYN-ACK, SYN-ACK: nothing else needed
  ASSERT_EQ(a->send("abc", 3, w.now).value(), 3u);
  ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return b->readable_bytes() == 3; }));
  a->abort(w.now);
  w.run_for(kSec);
  EXPECT_EQ(b->state(), TcpState::Closed);
  EXPECT_EQ(b->take_error(), ECONNRESET);
  a->close(w.now);
  b->close(w.now);
}

}  // namespace
}  // namespace mote::net::tcptest
