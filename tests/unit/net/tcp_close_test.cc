// Ending connections: active and passive close, simultaneous close, FIN and
// ACK in either order, TIME_WAIT and its reuse, resets (RFC 5961 checks),
// SO_LINGER 0 and unread data, keepalive, orphan timeouts, and that no
// memory outlives a connection.
#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

using TcpClose = Established;

TEST_F(TcpClose, ActiveCloseGoesThroughFinWaitToTimeWaitThenFrees) {
  long base = test::live_heap_blocks();
  open();
  ASSERT_EQ(s->send("bye", 3, now).value(), 3u);
  take();
  s->close(now);  // the socket layer lets go; the protocol carries on
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpFin | kTcpAck);
  EXPECT_EQ(out[0].seg().seq, data0() + 3);
  peer_ack(data0() + 4);  // data and FIN acknowledged: FIN_WAIT_2
  EXPECT_EQ(tcp.socket_count(), 1u);
  peer_send({}, data0() + 4, 65535, kTcpAck | kTcpFin);  // the peer's FIN
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  // TIME_WAIT holds the connection for 2*MSL = 60 s, re-acking a
  // retransmitted FIN.
  run_until(now + 30 * kSec);
  peer_send_at(pnxt - 1, {}, data0() + 4, 65535, kTcpAck | kTcpFin);
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  run_until(now + 59 * kSec);  // restarted by that FIN
  EXPECT_EQ(tcp.socket_count(), 1u);
  run_until(now + 2 * kSec);
  EXPECT_EQ(tcp.socket_count(), 0u);
  EXPECT_EQ(test::live_heap_blocks(), base);
}

TEST_F(TcpClose, ShutdownWriteThenPeerFinWhileSocketHeld) {
  open();
  ASSERT_TRUE(s->shutdown(kShutWr, now).ok());
  EXPECT_EQ(s->state(), TcpState::FinWait1);
  EXPECT_EQ(s->send("x", 1, now).error(), EPIPE);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpFin | kTcpAck);
  // FIN and ACK of our FIN in one segment: straight to TIME_WAIT.
  peer_send(text("last words"), data0() + 1, 65535, kTcpAck | kTcpFin);
  EXPECT_EQ(s->state(), TcpState::TimeWait);
  EXPECT_TRUE(s->linger_done());
  char buf[32];
  EXPECT_EQ(s->recv(buf, sizeof buf, now).value(), 10u);
  EXPECT_EQ(s->recv(buf, sizeof buf, now).value(), 0u);
  EXPECT_NE(s->poll() & kPollHup, 0u);
  run_until(now + 61 * kSec);
  EXPECT_EQ(s->state(), TcpState::Closed);
  s->close(now);
  EXPECT_EQ(tcp.socket_count(), 0u);
}

TEST_F(TcpClose, PassiveCloseReadsEofThenLastAck) {
  open();
  peer_send(text("done"), data0(), 65535, kTcpAck | kTcpPsh | kTcpFin);
  EXPECT_EQ(s->state(), TcpState::CloseWait);
  EXPECT_NE(s->poll() & kPollRdHup, 0u);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);  // a FIN is acknowledged at once
  EXPECT_EQ(out[0].seg().ack, pnxt);
  char buf[8];
  EXPECT_EQ(s->recv(buf, sizeof buf, now).value(), 4u);
  EXPECT_EQ(s->recv(buf, sizeof buf, now).value(), 0u);
  // We may still send in CLOSE_WAIT.
  ASSERT_EQ(s->send("ok", 2, now).value(), 2u);
  s->close(now);
  out = take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].seg().flags, kTcpFin | kTcpAck);
  EXPECT_EQ(tcp.socket_count(), 1u);  // LAST_ACK
  peer_ack(data0() + 3);
  EXPECT_EQ(tcp.socket_count(), 0u);  // no TIME_WAIT on this side
}

TEST_F(TcpClose, SimultaneousCloseGoesThroughClosing) {
  open();
  ASSERT_TRUE(s->shutdown(kShutWr, now).ok());
  take();
  // The peer's FIN crosses ours: it does not acknowledge our FIN yet.
  peer_send({}, data0(), 65535, kTcpAck | kTcpFin);
  EXPECT_EQ(s->state(), TcpState::Closing);
  peer_ack(data0() + 1);
  EXPECT_EQ(s->state(), TcpState::TimeWait);
  s->close(now);
  run_until(now + 61 * kSec);
  EXPECT_EQ(tcp.socket_count(), 0u);
}

TEST(TcpCloseWire, SimultaneousCloseBothEndsReachTimeWaitThenClosed) {
  long base = test::live_heap_blocks();
  {
    Wire w;
    TcpSocket* l = w.b.socket().value();
    ASSERT_TRUE(l->bind(Endpoint{kPeerIp, 25}).ok());
    ASSERT_TRUE(l->listen(1).ok());
    TcpSocket* c = w.a.socket().value();
    ASSERT_TRUE(c->connect(Endpoint{kPeerIp, 25}, w.now).ok());
    ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return l->poll() & kPollIn; }));
    TcpSocket* s = l->accept().value();
    l->close(w.now);
    ASSERT_TRUE(c->shutdown(kShutWr, w.now).ok());
    ASSERT_TRUE(s->shutdown(kShutWr, w.now).ok());  // both FINs on the wire at once
    w.run_for(kSec);
    EXPECT_EQ(c->state(), TcpState::TimeWait);
    EXPECT_EQ(s->state(), TcpState::TimeWait);
    w.run_for(60 * kSec);
    EXPECT_EQ(c->state(), TcpState::Closed);
    EXPECT_EQ(s->state(), TcpState::Closed);
    c->close(w.now);
    s->close(w.now);
    EXPECT_EQ(w.a.socket_count() + w.b.socket_count(), 0u);
  }
  EXPECT_EQ(test::live_heap_blocks(), base);
}

TEST(TcpCloseWire, EitherSideClosesFirst) {
  for (int first = 0; first < 2; ++first) {
    SCOPED_TRACE(first);
    Wire w;
    TcpSocket* l = w.b.socket().value();
    ASSERT_TRUE(l->bind(Endpoint{kPeerIp, 25}).ok());
    ASSERT_TRUE(l->listen(1).ok());
    TcpSocket* c = w.a.socket().value();
    ASSERT_TRUE(c->connect(Endpoint{kPeerIp, 25}, w.now).ok());
    ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return l->poll() & kPollIn; }));
    TcpSocket* s = l->accept().value();
    TcpSocket* closer = first ? s : c;
    TcpSocket* other = first ? c : s;
    closer->close(w.now);
    w.run_for(kSec);
    EXPECT_EQ(other->state(), TcpState::CloseWait);
    char b[4];
    EXPECT_EQ(other->recv(b, 4, w.now).value(), 0u);
    other->close(w.now);
    w.run_for(kSec);
    // The side that closed first holds TIME_WAIT, the other is gone.
    // (b also holds the listener.)
    EXPECT_EQ(w.a.socket_count(), first ? 0u : 1u);
    EXPECT_EQ(w.b.socket_count(), first ? 2u : 1u);
    w.run_for(61 * kSec);
    l->close(w.now);
    EXPECT_EQ(w.a.socket_count() + w.b.socket_count(), 0u);
  }
}

TEST_F(TcpClose, RstExactResetsInWindowChallengesOutOfWindowIgnored) {
  open();
  // In the window but not at RCV.NXT: a challenge ACK (RFC 5961 3.2).
  Craft rst;
  rst.flags = kTcpRst, rst.seq = pnxt + 1000;
  inject(peer, me, rst);
  EXPECT_EQ(s->state(), TcpState::Established);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpAck);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  EXPECT_EQ(tcp.stats().challenge_acks, 1u);
  // Outside the window: silently dropped.
  rst.seq = pnxt + 10000000;
  inject(peer, me, rst);
  rst.seq = pnxt - 1;
  inject(peer, me, rst);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(s->state(), TcpState::Established);
  // Exactly RCV.NXT: the connection is reset.
  rst.seq = pnxt;
  inject(peer, me, rst);
  EXPECT_EQ(s->state(), TcpState::Closed);
  EXPECT_TRUE(take().empty());
  char b[4];
  EXPECT_EQ(s->recv(b, 4, now).error(), ECONNRESET);
  EXPECT_EQ(s->recv(b, 4, now).value(), 0u);
  EXPECT_EQ(s->send("x", 1, now).error(), EPIPE);
  EXPECT_EQ(s->poll() & (kPollHup | kPollIn), kPollHup | kPollIn);
  s->close(now);
}

TEST_F(TcpClose, SynOnEstablishedConnectionGetsChallengeAck) {
  open();
  Craft syn;
  syn.flags = kTcpSyn, syn.seq = pnxt + 5;
  inject(peer, me, syn);
  EXPECT_EQ(s->state(), TcpState::Established);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpAck);
  EXPECT_EQ(out[0].seg().ack, pnxt);
}

TEST_F(TcpClose, AckForUnsentDataIsAnsweredAndIgnored) {
  open();
  send_bytes(10);
  take();
  peer_ack(data0() + 5000);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  EXPECT_EQ(s->info().unacked, 10u);
}

TEST_F(TcpClose, LingerZeroCloseSendsRst) {
  open();
  ASSERT_TRUE(s->set_option(TcpOpt::Linger, 0, now).ok());
  send_bytes(100);
  take();
  s->close(now);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpRst | kTcpAck);
  EXPECT_EQ(out[0].seg().seq, data0() + 100);
  EXPECT_EQ(tcp.socket_count(), 0u);
}

TEST_F(TcpClose, CloseWithUnreadDataSendsRst) {
  open();
  peer_send(text("unread"), data0());
  take();
  s->close(now);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpRst | kTcpAck);
  EXPECT_EQ(tcp.socket_count(), 0u);
}

// The program's end (Tcp::close_all): a socket it still holds is closed as
// close() would, its data and FIN go on, and unacked() counts them down.
TEST_F(TcpClose, CloseAllAtExitSendsTheFinAfterTheDataAndCountsItDown) {
  open();
  send_bytes(100);
  take();
  EXPECT_EQ(tcp.unacked(), 100u);
  tcp.close_all(now);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpFin | kTcpAck);
  EXPECT_EQ(out[0].seg().seq, data0() + 100);
  EXPECT_EQ(s->state(), TcpState::FinWait1);
  EXPECT_EQ(tcp.unacked(), 101u);  // the data and the FIN
  peer_ack(data0() + 60);
  EXPECT_EQ(tcp.unacked(), 41u);
  peer_ack(data0() + 100);
  EXPECT_EQ(tcp.unacked(), 1u);  // the FIN
  peer_ack(data0() + 101);
  EXPECT_EQ(tcp.unacked(), 0u);
  EXPECT_EQ(tcp.socket_count(), 1u);  // FIN_WAIT_2, an orphan with its timeout
  run_until(now + 61 * kSec);
  EXPECT_EQ(tcp.socket_count(), 0u);
}

TEST_F(TcpClose, CloseAllAtExitResetsWhatCloseWouldReset) {
  open();
  peer_send(text("unread"), data0());
  take();
  tcp.close_all(now);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpRst | kTcpAck);
  EXPECT_EQ(tcp.socket_count(), 0u);
  EXPECT_EQ(tcp.unacked(), 0u);
}

// Every kind of socket at once: a listener with a connection nobody
// accepted, an accepted one with data on its way, a closed socket never
// connected, and one the program closed already. Each goes as close() takes
// it; what is left is the data and FINs on their way, until acknowledged.
TEST(TcpCloseWire, CloseAllAtExitLetsEveryKindGo) {
  long base = test::live_heap_blocks();
  {
    Wire w;
    TcpSocket* l = w.b.socket().value();
    ASSERT_TRUE(l->bind(Endpoint{kPeerIp, 25}).ok());
    ASSERT_TRUE(l->listen(4).ok());
    TcpSocket* c1 = w.a.socket().value();
    TcpSocket* c2 = w.a.socket().value();
    ASSERT_TRUE(c1->connect(Endpoint{kPeerIp, 25}, w.now).ok());
    ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return l->poll() & kPollIn; }));
    TcpSocket* s1 = l->accept().value();
    ASSERT_TRUE(c2->connect(Endpoint{kPeerIp, 25}, w.now).ok());  // never accepted
    w.run_for(kSec);
    ASSERT_EQ(c2->state(), TcpState::Established);
    (void)w.b.socket().value();  // never used
    TcpSocket* gone = w.b.socket().value();
    gone->close(w.now);
    static char big[200000];
    usize queued = s1->send(big, sizeof big, w.now).value();
    ASSERT_GT(queued, 0u);
    EXPECT_GT(w.b.unacked(), 0u);
    w.b.close_all(w.now);
    EXPECT_EQ(w.b.unacked(), queued + 1);  // nothing is acknowledged yet
    ASSERT_TRUE(w.run_until(w.now + 10 * kSec, [&] { return w.b.unacked() == 0; }));
    // c1 got every byte, then the end; c2's connection was reset.
    usize got = 0;
    char buf[65536];
    for (;;) {
      auto r = c1->recv(buf, sizeof buf, w.now);
      if (!r.ok()) {
        ASSERT_EQ(r.error(), EAGAIN);
        w.run_for(kSec / 10);
        continue;
      }
      if (r.value() == 0) break;
      got += r.value();
    }
    EXPECT_EQ(got, queued);
    EXPECT_EQ(c2->take_error(), ECONNRESET);
    c1->close(w.now);
    c2->close(w.now);
    w.run_for(200 * kSec);
    EXPECT_EQ(w.a.socket_count() + w.b.socket_count(), 0u);
  }
  EXPECT_EQ(test::live_heap_blocks(), base);
}

TEST_F(TcpClose, OrphanInFinWait2TimesOut) {
  open();
  s->close(now);
  take();
  peer_ack(data0() + 1);
  EXPECT_EQ(tcp.socket_count(), 1u);
  run_until(now + 59 * kSec);
  EXPECT_EQ(tcp.socket_count(), 1u);
  run_until(now + 2 * kSec);  // tcp_fin_timeout: 60 s
  EXPECT_EQ(tcp.socket_count(), 0u);
}

TEST_F(TcpClose, KeepaliveProbesThenTimesOut) {
  open();
  ASSERT_TRUE(s->set_option(TcpOpt::KeepIdle, 10, now).ok());
  ASSERT_TRUE(s->set_option(TcpOpt::KeepIntvl, 2, now).ok());
  ASSERT_TRUE(s->set_option(TcpOpt::KeepCnt, 3, now).ok());
  ASSERT_TRUE(s->set_option(TcpOpt::KeepAlive, 1, now).ok());
  u64 t0 = now;
  std::vector<u64> at;
  while (s->state() == TcpState::Established) {
    run_until(tcp.next_deadline());
    for (auto& x : take()) {
      if (x.seg().flags == kTcpAck) {
        EXPECT_EQ(x.seg().seq, data0() - 1);  // probe: old sequence number
        EXPECT_EQ(x.seg().len, 0u);
        at.push_back((now - t0) / kSec);
      } else {
        EXPECT_EQ(x.seg().flags, kTcpRst | kTcpAck);
        at.push_back(1000 + (now - t0) / kSec);
      }
    }
  }
  // Probes after 10 s idle, then every 2 s; after 3 unanswered, a reset.
  EXPECT_EQ(at, (std::vector<u64>{10, 12, 14, 1016}));
  EXPECT_EQ(s->take_error(), ETIMEDOUT);
  s->close(now);
}

TEST_F(TcpClose, AnsweredKeepaliveKeepsTheConnection) {
  open();
  ASSERT_TRUE(s->set_option(TcpOpt::KeepIdle, 10, now).ok());
  ASSERT_TRUE(s->set_option(TcpOpt::KeepIntvl, 2, now).ok());
  ASSERT_TRUE(s->set_option(TcpOpt::KeepCnt, 2, now).ok());
  ASSERT_TRUE(s->set_option(TcpOpt::KeepAlive, 1, now).ok());
  // Each answered probe restarts the idle time: one probe per 10 s.
  for (int k = 0; k < 5; ++k) {
    run_until(now + 10 * kSec);
    ASSERT_EQ(take().size(), 1u);
    peer_ack(data0());  // the peer answers
  }
  EXPECT_EQ(s->state(), TcpState::Established);
}

TEST_F(TcpClose, TimeWaitIsReusedByANewerSyn) {
  TcpSocket* l = tcp.socket().value();
  ASSERT_TRUE(l->bind(Endpoint{Ipv4(), 80}).ok());
  ASSERT_TRUE(l->listen(4).ok());
  Endpoint srv{kLocalIp, 80}, cli{kPeerIp, 40000};
  Craft syn;
  syn.seq = 100, syn.flags = kTcpSyn;
  inject(cli, srv, syn);
  u32 our = ip.take()[0].seg().seq;
  Craft a;
  a.seq = 101, a.ack = our + 1;
  inject(cli, srv, a);
  TcpSocket* c = l->accept().value();
  c->close(now);  // server closes first: it gets TIME_WAIT
  a.ack = our + 2, a.flags = kTcpAck | kTcpFin;
  inject(cli, srv, a);
  EXPECT_EQ(c->state(), TcpState::TimeWait);
  ip.take();
  // The same client port again with a higher sequence number: a new
  // connection, not a challenge ACK.
  syn.seq = 5000;
  inject(cli, srv, syn);
  auto out = ip.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(out[0].seg().ack, 5001u);
  // An older one gets the TIME_WAIT treatment instead.
  l->close(now);
}

TEST_F(TcpClose, ReuseAddrBindsOverTimeWaitOnly) {
  open();
  u16 port = me.port;
  ASSERT_TRUE(s->shutdown(kShutWr, now).ok());
  peer_send({}, data0() + 1, 65535, kTcpAck | kTcpFin);
  ASSERT_EQ(s->state(), TcpState::TimeWait);
  s->close(now);
  TcpSocket* n = tcp.socket().value();
  EXPECT_EQ(n->bind(Endpoint{kLocalIp, port}).error(), EADDRINUSE);
  ASSERT_TRUE(n->set_option(TcpOpt::ReuseAddr, 1, now).ok());
  EXPECT_TRUE(n->bind(Endpoint{kLocalIp, port}).ok());
  ASSERT_TRUE(n->listen(1).ok());
  // A listener is never shared, SO_REUSEADDR or not.
  TcpSocket* m = tcp.socket().value();
  ASSERT_TRUE(m->set_option(TcpOpt::ReuseAddr, 1, now).ok());
  EXPECT_EQ(m->bind(Endpoint{Ipv4(), port}).error(), EADDRINUSE);
  m->close(now);
  n->close(now);
}

TEST_F(TcpClose, NoBlocksOutliveManyConnections) {
  long base = test::live_heap_blocks();
  {
    TcpSocket* l = tcp.socket().value();
    ASSERT_TRUE(l->bind(Endpoint{Ipv4(), 80}).ok());
    ASSERT_TRUE(l->listen(64).ok());
    for (u16 p = 1; p <= 50; ++p) {
      Endpoint cli{kPeerIp, u16(20000 + p)}, srv{kLocalIp, 80};
      Craft syn;
      syn.seq = 1000u * p, syn.flags = kTcpSyn;
      inject(cli, srv, syn);
      if (p % 5 == 0) continue;  // some stay half-open
      u32 our = ip.take().back().seg().seq;
      Craft a;
      a.seq = 1000u * p + 1, a.ack = our + 1, a.data = text("data");
      inject(cli, srv, a);
      if (p % 3 == 0) continue;  // some stay in the accept queue
      TcpSocket* c = l->accept().value();
      if (p % 2) c->abort(now);
      c->close(now);
    }
    l->close(now);
    run_until(now + 600 * kSec);
    EXPECT_EQ(tcp.socket_count(), 0u);
  }
  ip.take();
  EXPECT_EQ(test::live_heap_blocks(), base);
}

}  // namespace
}  // namespace mote::net::tcptest
