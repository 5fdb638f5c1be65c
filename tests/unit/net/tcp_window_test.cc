// Flow control and segment timing against a scripted peer: zero windows on
// either side and the persist timer, Nagle vs TCP_NODELAY, delayed ACKs,
// window scaling, timestamps and PAWS.
#include <random>

#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

using TcpWindow = Established;

// The receive ring's memory runs out (tcp_buffer.h): the window shrinks to
// the memory there is. A segment beyond it is dropped with an ACK at once,
// and of one that straddles it the bytes that fit are kept; the peer sends
// the rest again, and everything is read in order.
TEST_F(TcpWindow, WithoutMemoryForItsWindowTheBytesBeyondAreSentAgain) {
  open();
  struct Restore {
    ~Restore() { test::fail_allocations_over(0); }
  } restore;
  // The ring keeps its first memory (it would double); segments still fit.
  test::fail_allocations_over(TcpRing::kFirstStore * 3 / 2);
  const u32 mem = TcpRing::kFirstStore;
  Bytes all(2 * mem);
  for (usize i = 0; i < all.size(); ++i) all[i] = pattern(i);
  const u32 base = pnxt;
  // Far ahead, out of order, inside the 128 KiB window advertised: no memory.
  peer_send_at(base + 20000, Bytes(all.begin(), all.begin() + 1000), data0());
  EXPECT_EQ(tcp.stats().mem_drops, 1u);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, base);
  // In order: 3/4 of the memory, then a segment of half of it straddling its end.
  peer_send_at(base, Bytes(all.begin(), all.begin() + mem * 3 / 4), data0());
  peer_send_at(base + mem * 3 / 4, Bytes(all.begin() + mem * 3 / 4, all.begin() + mem * 5 / 4),
               data0());
  EXPECT_EQ(s->readable_bytes(), mem);  // what the memory holds
  run_until(now + kSec);
  out = take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().seg().ack, base + mem);
  // The reader empties it; the peer sends the rest again.
  std::vector<u8> got(2 * mem);
  ASSERT_EQ(s->recv(got.data(), mem, now).value(), mem);
  peer_send_at(base + mem, Bytes(all.begin() + mem, all.end()), data0());
  ASSERT_EQ(s->readable_bytes(), mem);
  ASSERT_EQ(s->recv(got.data() + mem, mem, now).value(), mem);
  EXPECT_EQ(Bytes(got.begin(), got.end()), all);
}

TEST_F(TcpWindow, ZeroWindowStopsSenderThenProbesThenResumes) {
  open(2000, 1000);
  send_bytes(6000);
  auto out = take();
  ASSERT_EQ(out.size(), 2u);  // the peer's 2000-byte window
  // Everything acknowledged, window closed.
  peer_ack(data0() + 2000, 0);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(s->info().snd_wnd, 0u);
  // Persist timer: probes at RTO, 2*RTO, 4*RTO ... each an ACK for old
  // sequence space (SND.UNA - 1) without data.
  u64 t0 = now;
  std::vector<u64> at_ms;
  for (int k = 0; k < 3; ++k) {
    run_until(tcp.next_deadline());
    out = take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].seg().seq, data0() + 2000 - 1);
    EXPECT_EQ(out[0].seg().len, 0u);
    at_ms.push_back((now - t0) / kMs);
    peer_ack(data0() + 2000, 0);  // the peer answers: still zero
  }
  EXPECT_EQ(at_ms, (std::vector<u64>{200, 600, 1400}));
  EXPECT_EQ(s->state(), TcpState::Established);  // probing never gives up
  // The window opens: data flows at once.
  peer_ack(data0() + 2000, 3000);
  out = take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].seg().seq, data0() + 2000);
  EXPECT_EQ(out[2].seg().seq + out[2].seg().len, data0() + 5000);
}

TEST_F(TcpWindow, ReceiverClosesWindowWhenFullAndReopensAfterRead) {
  s = tcp.socket().value();
  ASSERT_TRUE(s->set_option(TcpOpt::RcvBuf, 2048, now).ok());  // doubled: 4096
  EXPECT_EQ(s->get_option(TcpOpt::RcvBuf).value(), 4096);
  tcp.socket().value()->close(now);  // (an unrelated socket, made and dropped)
  ASSERT_TRUE(s->connect(peer, now).ok());
  TcpSegment syn = take()[0].seg();
  EXPECT_EQ(syn.wnd, 4096);
  me = Endpoint{kLocalIp, syn.sport};
  iss = syn.seq;
  Craft sa;
  sa.seq = pnxt - 1, sa.ack = iss + 1, sa.flags = kTcpSyn | kTcpAck;
  sa.opts.has_mss = true, sa.opts.mss = 1024;
  inject(peer, me, sa);
  take();
  Bytes chunk(1024, 'z');
  for (int k = 0; k < 4; ++k) peer_send(chunk, data0());
  auto out = take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().seg().ack, pnxt);
  EXPECT_EQ(out.back().seg().wnd, 0);  // full
  // A zero-window probe carrying a byte: not taken, answered with window 0.
  peer_send_at(pnxt, Bytes{'!'}, data0());
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  EXPECT_EQ(out[0].seg().wnd, 0);
  // Reading a little is not worth a window update (receiver SWS avoidance)...
  u8 buf[4096];
  ASSERT_EQ(s->recv(buf, 100, now).value(), 100u);
  EXPECT_TRUE(take().empty());
  // ...reading it all is.
  ASSERT_EQ(s->recv(buf, sizeof buf, now).value(), 3996u);
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().wnd, 4096);
}

TEST_F(TcpWindow, NagleCoalescesSmallWritesUntilAcked) {
  open();
  ASSERT_EQ(s->send("a", 1, now).value(), 1u);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);  // nothing in flight: goes at once
  ASSERT_EQ(s->send("b", 1, now).value(), 1u);
  ASSERT_EQ(s->send("c", 1, now).value(), 1u);
  ASSERT_EQ(s->send("d", 1, now).value(), 1u);
  EXPECT_TRUE(take().empty());  // held while "a" is unacknowledged
  peer_ack(data0() + 1);
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload(), "bcd");
  // A full-sized segment is never held.
  peer_ack(data0() + 4);
  ASSERT_EQ(s->send("e", 1, now).value(), 1u);
  take();
  send_bytes(1460);
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().len, 1460u);
}

TEST_F(TcpWindow, NoDelaySendsEveryWriteAtOnce) {
  open();
  ASSERT_TRUE(s->set_option(TcpOpt::NoDelay, 1, now).ok());
  EXPECT_EQ(s->get_option(TcpOpt::NoDelay).value(), 1);
  for (const char* m : {"a", "b", "c"}) ASSERT_EQ(s->send(m, 1, now).value(), 1u);
  auto out = take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].payload(), "c");
  EXPECT_NE(out[2].seg().flags & kTcpPsh, 0);
}

TEST_F(TcpWindow, SettingNoDelayPushesWhatNagleHeld) {
  open();
  ASSERT_EQ(s->send("a", 1, now).value(), 1u);
  ASSERT_EQ(s->send("b", 1, now).value(), 1u);
  take();
  ASSERT_TRUE(s->set_option(TcpOpt::NoDelay, 1, now).ok());
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload(), "b");
}

TEST_F(TcpWindow, DelayedAckFiresAfter40ms) {
  open();
  u64 t0 = now;
  peer_send(text("one small segment"), data0());
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(tcp.next_deadline(), t0 + 40 * kMs);
  run_until(t0 + 39 * kMs);
  EXPECT_TRUE(take().empty());
  run_until(t0 + 40 * kMs);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
}

// next_deadline is kept as timers are armed and disarmed (Tcp's deadline
// heap): when the timer that was the earliest is disarmed, the next one counts,
// and a socket freed with timers armed leaves none behind.
TEST_F(TcpWindow, NextDeadlineFollowsTimersAsTheyAreDisarmed) {
  open();
  u64 t0 = now;
  peer_send(text("request"), data0());
  EXPECT_EQ(tcp.next_deadline(), t0 + 40 * kMs);  // the delayed ACK
  TcpSocket* other = tcp.socket().value();
  ASSERT_TRUE(other->connect(Endpoint{peer.addr, u16(peer.port + 1)}, now).ok());
  take();
  EXPECT_EQ(tcp.next_deadline(), t0 + 40 * kMs);  // still first; the SYN's is at 1 s
  now += kMs;
  ASSERT_EQ(s->send("reply", 5, now).value(), 5u);  // the ACK rides on the reply
  ASSERT_EQ(take().size(), 1u);
  // The delayed ACK is off; the reply's retransmission timer (200 ms
  // here) comes before the SYN's.
  EXPECT_EQ(tcp.next_deadline(), t0 + kMs + 200 * kMs);
  peer_ack(data0() + 5);
  EXPECT_EQ(tcp.next_deadline(), t0 + kSec);  // the other's SYN
  other->abort(now);  // freed: its SYN timer goes with it
  EXPECT_EQ(tcp.next_deadline(), ~u64(0));  // none
}

// A peer without window scaling (libslirp): the 128 KiB buffer cannot be
// advertised beyond 65535, so reading a request opens no window worth an
// update, and the ACK waits to ride on the reply.
TEST_F(TcpWindow, ReadingWithoutWindowScalingSendsNoWindowUpdate) {
  open();  // no wscale in the SYN-ACK
  for (int round = 0; round < 3; ++round) {
    peer_send(text("GET key\r\n"), data0() + 5 * round);
    char buf[64];
    ASSERT_EQ(s->recv(buf, sizeof buf, now).value(), 9u);
    EXPECT_TRUE(take().empty()) << "round " << round;
    ASSERT_EQ(s->send("$1\r\nv\r\n", 5, now).value(), 5u);
    auto out = take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].seg().ack, pnxt);  // the reply carries the ACK
    peer_ack(data0() + 5 * (round + 1));
  }
}

// Many sockets whose timers are armed, backed off and disarmed at random:
// the heap behind next_deadline stays in step (deadlines_consistent walks
// every socket) -- new sockets, retransmission timers moving later as they
// back off, aborts, and sockets freed.
TEST_F(TcpWindow, DeadlineHeapStaysInStepWithManySockets) {
  std::mt19937 rng(7);
  std::vector<TcpSocket*> socks;
  u16 port = 2000;
  auto connect_one = [&] {
    TcpSocket* x = tcp.socket().value();
    ASSERT_TRUE(x->connect(Endpoint{kPeerIp, port++}, now).ok());  // a SYN: its timer
    socks.push_back(x);
  };
  for (int i = 0; i < 64; ++i) {
    connect_one();
    now += (rng() % 50) * kMs;
    ASSERT_TRUE(tcp.deadlines_consistent()) << "socket " << i;
  }
  for (int step = 0; step < 600; ++step) {
    if (rng() % 3 == 0 && !socks.empty()) {
      usize i = rng() % socks.size();
      if (rng() % 2) socks[i]->abort(now);
      socks[i]->close(now);  // freed once the protocol is done with it
      socks.erase(socks.begin() + long(i));
      connect_one();
    } else {
      now += (rng() % 400) * kMs;  // SYNs time out: resent, their timers later
      tcp.tick(now);
    }
    ip.take();
    ASSERT_TRUE(tcp.deadlines_consistent()) << "step " << step;
  }
  EXPECT_LT(tcp.next_deadline(), ~u64(0));
}

TEST_F(TcpWindow, EverySecondFullSegmentIsAckedAtOnce) {
  open();
  Bytes full(1460, 'x');
  peer_send(full, data0());
  EXPECT_TRUE(take().empty());
  peer_send(full, data0());
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  run_until(now + 100 * kMs);
  EXPECT_TRUE(take().empty());  // no stale delayed ACK follows
  peer_send(full, data0());
  EXPECT_TRUE(take().empty());
}

TEST_F(TcpWindow, OutgoingDataCarriesThePendingAck) {
  open();
  peer_send(text("question"), data0());
  EXPECT_TRUE(take().empty());
  ASSERT_EQ(s->send("answer", 6, now).value(), 6u);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);  // piggybacked
  run_until(now + 100 * kMs);
  EXPECT_TRUE(take().empty());  // and the delayed ACK was cancelled
}

TEST_F(TcpWindow, WindowScalingNegotiatedAndUsedBothWays) {
  open(100, 1460, false, 7);
  TcpInfo i = s->info();
  EXPECT_TRUE(i.wscale_ok);
  EXPECT_EQ(i.snd_wscale, 7);
  EXPECT_EQ(i.rcv_wscale, 7);  // for the 4 MiB the buffer may grow to
  // The SYN-ACK's own window is never scaled...
  EXPECT_EQ(i.snd_wnd, 100u);
  // ...later ones are: 100 << 7 = 12800 bytes.
  peer_ack(data0(), 100);
  EXPECT_EQ(s->info().snd_wnd, 12800u);
  send_bytes(20000);
  u32 sent = 0;
  for (auto& x : take()) sent += x.seg().len;
  EXPECT_EQ(sent, 12800u - 12800u % 1460u);  // the whole segments that fit
  // Our advertisements are scaled by 7: 128 KiB of space is 1024. Two
  // bytes later the right edge stays put: 131070 bytes round up to 1024
  // rather than shrink the window (RFC 7323 2.4).
  peer_send(text("hi"), data0(), 100);
  run_until(now + kSec);
  auto out = take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().seg().wnd, 1024);
}

TEST_F(TcpWindow, WithoutPeerWindowScalingOurWindowIsCappedUnscaled) {
  open(65535, 1460, false, -1);
  EXPECT_FALSE(s->info().wscale_ok);
  EXPECT_EQ(s->info().rcv_wscale, 0);
  peer_send(text("hi"), data0());
  run_until(now + kSec);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  // Capped at 65535, minus the two unread bytes: a 2-byte increase is not
  // worth advertising (receiver SWS avoidance).
  EXPECT_EQ(out[0].seg().wnd, 65533);
}

TEST_F(TcpWindow, TimestampsEchoedAndAdvanceWithTheClock) {
  open(65535, 1460, true);
  EXPECT_TRUE(s->info().ts_ok);
  EXPECT_EQ(s->info().snd_mss, 1448u);
  peer_send(text("ping"), data0());
  u32 their = peer_tsval;
  ASSERT_EQ(s->send("pong", 4, now).value(), 4u);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  TcpSegment a = out[0].seg();
  EXPECT_TRUE(a.opt.has_ts);
  EXPECT_EQ(a.opt.tsecr, their);
  now += 250 * kMs;
  ASSERT_EQ(s->send("x", 1, now).value(), 1u);
  peer_ack(data0() + 4);
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().opt.tsval - a.opt.tsval, 250u);  // a 1 ms clock
}

TEST_F(TcpWindow, PawsDropsSegmentsWithOldTimestamps) {
  open(65535, 1460, true);
  peer_send(text("new"), data0());
  run_until(now + kSec);
  take();
  // An old duplicate: in-window sequence number but an older TSval.
  Craft old;
  old.seq = pnxt, old.ack = data0(), old.data = text("stale");
  old.opts.has_ts = true, old.opts.tsval = peer_tsval - 10, old.opts.tsecr = last_tsval;
  inject(peer, me, old);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);  // answered with an ACK, data dropped
  EXPECT_EQ(out[0].seg().ack, pnxt);
  EXPECT_EQ(tcp.stats().paws_drops, 1u);
  EXPECT_EQ(s->readable_bytes(), 3u);
}

}  // namespace
}  // namespace mote::net::tcptest
