// The socket-level surface the syscall layer wraps: bind rules and
// ephemeral ports, options (IP_TOS, TCP_MAXSEG, SO_SNDBUF), poll states,
// names, the wakeup hook, and errors for calls in the wrong state.
#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

using TcpSock = Established;

TEST_F(TcpSock, BindRulesAndEphemeralPorts) {
  TcpSocket* a = tcp.socket().value();
  EXPECT_EQ(a->bind(Endpoint{Ipv4::of(192, 168, 1, 1), 80}).error(), EADDRNOTAVAIL);
  ASSERT_TRUE(a->bind(Endpoint{kLocalIp, 0}).ok());  // port 0: ephemeral
  EXPECT_GE(a->local().port, 32768);
  EXPECT_LE(a->local().port, 60999);
  EXPECT_EQ(a->bind(Endpoint{kLocalIp, 81}).error(), EINVAL);  // already bound
  TcpSocket* b = tcp.socket().value();
  EXPECT_EQ(b->bind(Endpoint{Ipv4(), a->local().port}).error(), EADDRINUSE);
  // Many connections to one destination get distinct local ports.
  std::vector<u16> ports;
  std::vector<TcpSocket*> socks;
  for (int i = 0; i < 50; ++i) {
    TcpSocket* c = tcp.socket().value();
    ASSERT_TRUE(c->connect(Endpoint{kPeerIp, 443}, now).ok());
    ports.push_back(c->local().port);
    socks.push_back(c);
  }
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(std::unique(ports.begin(), ports.end()), ports.end());
  for (TcpSocket* c : socks) c->close(now);
  a->close(now);
  b->close(now);
  EXPECT_EQ(tcp.socket_count(), 0u);
}

TEST_F(TcpSock, ListenWithoutBindPicksAPortAndListenersDoNotShare) {
  TcpSocket* l = tcp.socket().value();
  ASSERT_TRUE(l->listen(5).ok());
  EXPECT_GE(l->local().port, 32768);
  EXPECT_EQ(l->peer().error(), ENOTCONN);
  EXPECT_EQ(l->accept().error(), EAGAIN);
  EXPECT_EQ(l->connect(peer, now).error(), EISCONN);
  char b[1];
  EXPECT_EQ(l->recv(b, 1, now).error(), ENOTCONN);
  TcpSocket* fresh = tcp.socket().value();
  EXPECT_EQ(fresh->accept().error(), EINVAL);
  EXPECT_EQ(fresh->send("x", 1, now).error(), ENOTCONN);
  EXPECT_EQ(fresh->shutdown(kShutWr, now).error(), ENOTCONN);
  EXPECT_EQ(fresh->poll(), kPollOut | kPollHup);  // as Linux reports an unconnected socket
  fresh->close(now);
  l->close(now);
}

TEST_F(TcpSock, TosAndMaxSegApplyToSegments) {
  s = tcp.socket().value();
  ASSERT_TRUE(s->set_option(TcpOpt::Tos, 0x10, now).ok());
  ASSERT_TRUE(s->set_option(TcpOpt::MaxSeg, 500, now).ok());
  EXPECT_EQ(s->set_option(TcpOpt::MaxSeg, 20, now).error(), EINVAL);
  ASSERT_TRUE(s->connect(peer, now).ok());
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tos, 0x10);
  EXPECT_EQ(out[0].seg().opt.mss, 500);
  me = Endpoint{kLocalIp, out[0].seg().sport};
  iss = out[0].seg().seq;
  Craft sa;
  sa.seq = pnxt - 1, sa.ack = iss + 1, sa.flags = kTcpSyn | kTcpAck;
  sa.opts.has_mss = true, sa.opts.mss = 1460;
  inject(peer, me, sa);
  take();
  EXPECT_EQ(s->get_option(TcpOpt::MaxSeg).value(), 500);  // the smaller of the two
  send_bytes(1200);
  out = take();
  ASSERT_EQ(out.size(), 2u);  // 500 + 500; Nagle holds the 200-byte tail
  EXPECT_EQ(out[0].seg().len, 500u);
  EXPECT_EQ(out[0].tos, 0x10);
  peer_ack(data0() + 1000);
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().len, 200u);
}

TEST_F(TcpSock, SendBufferFullGivesEagainAndWritableComesBack) {
  s = tcp.socket().value();
  ASSERT_TRUE(s->set_option(TcpOpt::SndBuf, 4096, now).ok());  // 8 KiB
  EXPECT_EQ(s->get_option(TcpOpt::SndBuf).value(), 8192);
  ASSERT_TRUE(s->connect(peer, now).ok());
  TcpSegment syn = take()[0].seg();
  me = Endpoint{kLocalIp, syn.sport};
  iss = syn.seq;
  Craft sa;
  sa.seq = pnxt - 1, sa.ack = iss + 1, sa.flags = kTcpSyn | kTcpAck, sa.wnd = 1000;
  sa.opts.has_mss = true, sa.opts.mss = 1000;
  inject(peer, me, sa);
  take();
  u32 events = 0;
  s->set_wakeup([](void* ctx, TcpSocket*, u32 ev) { *static_cast<u32*>(ctx) |= ev; }, &events);
  Bytes big(20000, 'q');
  ASSERT_EQ(s->send(big.data(), big.size(), now).value(), 8192u);
  EXPECT_EQ(s->send(big.data(), big.size(), now).error(), EAGAIN);
  EXPECT_EQ(s->poll() & kPollOut, 0u);
  EXPECT_EQ(s->unsent_bytes(), 8192u);
  take();
  peer_ack(data0() + 1000, 8000);
  EXPECT_NE(events & kPollOut, 0u);
  EXPECT_EQ(s->unsent_bytes(), 7192u);
  peer_ack(data0() + 5000, 8000);
  EXPECT_NE(s->poll() & kPollOut, 0u);  // half the buffer free again
}

TEST_F(TcpSock, PollAndWakeupFollowTheConnection) {
  open();
  u32 events = 0;
  s->set_wakeup([](void* ctx, TcpSocket*, u32 ev) { *static_cast<u32*>(ctx) |= ev; }, &events);
  EXPECT_EQ(s->poll(), kPollOut);
  peer_send(text("data"), data0());
  EXPECT_NE(events & kPollIn, 0u);
  EXPECT_EQ(s->poll(), kPollOut | kPollIn);
  EXPECT_EQ(s->readable_bytes(), 4u);
  char b[8];
  EXPECT_EQ(s->recv(b, 2, now, /*peek=*/true).value(), 2u);
  EXPECT_EQ(s->readable_bytes(), 4u);
  EXPECT_EQ(s->recv(b, 8, now).value(), 4u);
  EXPECT_EQ(s->recv(b, 8, now).error(), EAGAIN);
  events = 0;
  peer_send({}, data0(), 65535, kTcpAck | kTcpFin);
  EXPECT_NE(events & kPollRdHup, 0u);
  EXPECT_EQ(s->poll(), kPollOut | kPollIn | kPollRdHup);
  ASSERT_TRUE(s->shutdown(kShutWr, now).ok());
  EXPECT_EQ(s->poll() & kPollHup, kPollHup);  // both directions done
  EXPECT_EQ(s->peer().value(), peer);
  EXPECT_EQ(s->local(), me);
}

TEST_F(TcpSock, ShutdownReadDiscardsAndReadsEof) {
  open();
  peer_send(text("ignored"), data0());
  ASSERT_TRUE(s->shutdown(kShutRd, now).ok());
  char b[8];
  EXPECT_EQ(s->recv(b, 8, now).value(), 0u);
  peer_send(text("more"), data0());  // still acknowledged, then dropped
  EXPECT_EQ(s->readable_bytes(), 0u);
  EXPECT_EQ(s->state(), TcpState::Established);
  EXPECT_EQ(s->send("still writable", 14, now).value(), 14u);
  EXPECT_EQ(s->shutdown(7, now).error(), EINVAL);
}

TEST_F(TcpSock, ConnectAgainAfterRefusal) {
  s = tcp.socket().value();
  ASSERT_TRUE(s->connect(peer, now).ok());
  TcpSegment syn = take()[0].seg();
  Craft rst;
  rst.flags = kTcpRst | kTcpAck, rst.ack = syn.seq + 1;
  inject(peer, Endpoint{kLocalIp, syn.sport}, rst);
  EXPECT_EQ(s->take_error(), ECONNREFUSED);
  // The application may try again on the same socket.
  ASSERT_TRUE(s->connect(peer, now).ok());
  EXPECT_EQ(take()[0].seg().flags, kTcpSyn);
  EXPECT_EQ(s->state(), TcpState::SynSent);
}

}  // namespace
}  // namespace mote::net::tcptest
