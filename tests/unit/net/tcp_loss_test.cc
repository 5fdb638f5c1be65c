// Loss and disorder against a scripted peer: RTO timing per RFC 6298 with
// backoff and Karn's rule, giving up, fast retransmit and NewReno recovery
// (RFC 6582), out-of-order reassembly with immediate duplicate ACKs.
#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

using TcpLoss = Established;

TEST_F(TcpLoss, RttEstimatorFollowsRfc6298) {
  open(65535, 1460, false, -1, 50 * kMs);
  // The SYN's RTT is the first sample: SRTT = R, RTTVAR = R/2.
  EXPECT_EQ(s->info().srtt_ns, 50 * kMs);
  EXPECT_EQ(s->info().rttvar_ns, 25 * kMs);
  EXPECT_EQ(s->info().rto_ns, 200 * kMs);  // 50 + 4*25 = 150, clamped to the 200 ms floor
  send_bytes(100);
  take();
  now += 100 * kMs;
  peer_ack(data0() + 100);
  // RTTVAR = 3/4*25 + 1/4*|50-100| = 31.25; SRTT = 7/8*50 + 1/8*100 = 56.25.
  EXPECT_EQ(s->info().rttvar_ns, 31250 * 1000u);
  EXPECT_EQ(s->info().srtt_ns, 56250 * 1000u);
  EXPECT_EQ(s->info().rto_ns, 200 * kMs);  // 56.25 + 4*31.25 = 181.25, floored
  send_bytes(100);
  take();
  now += 900 * kMs;
  peer_ack(data0() + 200);
  // RTO = SRTT + 4*RTTVAR = 161.72 + 4*261.72 (integer ns).
  TcpInfo i = s->info();
  EXPECT_EQ(i.srtt_ns, (7 * 56250000u + 900000000u) / 8);
  EXPECT_EQ(i.rto_ns, i.srtt_ns + 4 * i.rttvar_ns);
}

TEST_F(TcpLoss, AcksAfterATimeoutCarryTheHighestSequenceSent) {
  // Three segments out, their ACK lost: the timeout sends SND.NXT back to
  // SND.UNA. The peer had them all; its own data must still be acknowledged
  // with a sequence number it accepts (SND.MAX, not SND.NXT, which is below
  // its RCV.NXT): two peers in that state ignored each other's ACKs for good.
  open();
  send_bytes(3 * 1460);
  ASSERT_EQ(take().size(), 3u);
  run_until(tcp.next_deadline());  // the RTO
  auto rtx = take();
  ASSERT_EQ(rtx.size(), 1u);
  EXPECT_EQ(rtx[0].seg().seq, data0());
  peer_send(text("more"), data0());  // acknowledges nothing new
  run_until(now + 100 * kMs);        // the delayed ACK
  bool acked = false;
  for (auto& x : take()) {
    if (x.seg().len != 0) continue;
    EXPECT_EQ(x.seg().seq, data0() + 3 * 1460);
    EXPECT_EQ(x.seg().ack, pnxt);
    acked = true;
  }
  EXPECT_TRUE(acked);
}

TEST_F(TcpLoss, RetransmitsOnRtoWithExponentialBackoff) {
  open();
  u64 t0 = now;
  send_bytes(100);
  ASSERT_EQ(take().size(), 1u);
  std::vector<u64> at_ms;
  while (now < t0 + 7 * kSec) {
    run_until(std::min(tcp.next_deadline(), t0 + 7 * kSec));
    for (auto& x : take()) {
      EXPECT_EQ(x.seg().seq, data0());
      EXPECT_EQ(x.seg().len, 100u);
      at_ms.push_back((now - t0) / kMs);
    }
  }
  // RTO 200 ms, doubling each time.
  EXPECT_EQ(at_ms, (std::vector<u64>{200, 600, 1400, 3000, 6200}));
  EXPECT_EQ(s->info().backoff, 5u);
  EXPECT_EQ(tcp.stats().retrans_segs, 5u);
  // The cumulative ACK finally comes. Karn: no RTT sample from the
  // retransmitted segment, so the backed-off RTO stays until a clean one.
  u64 srtt = s->info().srtt_ns;
  peer_ack(data0() + 100);
  EXPECT_EQ(s->info().srtt_ns, srtt);
  EXPECT_EQ(s->info().backoff, 5u);
  EXPECT_EQ(s->info().retransmits, 0u);
  EXPECT_EQ(s->info().cwnd, 1460u + 100u);  // loss window, then slow start
  send_bytes(10);
  take();
  now += 30 * kMs;
  peer_ack(data0() + 110);
  EXPECT_EQ(s->info().backoff, 0u);  // a fresh sample ends the backoff
  EXPECT_EQ(s->info().rto_ns, 200 * kMs);
}

TEST_F(TcpLoss, GivesUpAfterRetries2WithEtimedout) {
  open();
  send_bytes(100);
  take();
  run_until(now + 3600 * kSec);
  EXPECT_EQ(take().size(), 15u);  // tcp_retries2
  EXPECT_EQ(s->state(), TcpState::Closed);
  EXPECT_EQ(s->take_error(), ETIMEDOUT);
  EXPECT_EQ(s->send("x", 1, now).error(), EPIPE);
}

TEST_F(TcpLoss, FastRetransmitAfterThreeDupAcksThenNewRenoRecovery) {
  open(65535, 1000);
  ASSERT_TRUE(s->set_option(TcpOpt::NoDelay, 1, now).ok());
  send_bytes(30000);
  // Initial window: min(10*MSS, max(2*MSS, 14600)) = 10 segments.
  auto out = take();
  ASSERT_EQ(out.size(), 10u);
  for (u32 i = 0; i < 10; ++i) EXPECT_EQ(out[i].seg().seq, data0() + 1000 * i);
  // Segment 0 arrives; 1 and 2 are lost; 3.. arrive and each brings a dup ACK.
  peer_ack(data0() + 1000);  // slow start: two more segments
  EXPECT_EQ(take().size(), 2u);
  EXPECT_EQ(s->info().cwnd, 11000u);
  peer_ack(data0() + 1000);
  peer_ack(data0() + 1000);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(s->info().dupacks, 2u);
  peer_ack(data0() + 1000);  // the third: fast retransmit, no timer involved
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().seq, data0() + 1000);
  EXPECT_EQ(out[0].seg().len, 1000u);
  TcpInfo i = s->info();
  EXPECT_TRUE(i.in_recovery);
  EXPECT_EQ(i.ssthresh, 11000u / 2);  // half the flight (11 segments)
  EXPECT_EQ(i.cwnd, 5500u + 3000u);
  // More dup ACKs inflate the window: new data goes out.
  for (int k = 0; k < 4; ++k) peer_ack(data0() + 1000);
  out = take();
  EXPECT_EQ(s->info().cwnd, 8500u + 4000u);
  ASSERT_EQ(out.size(), 1u);  // 11 in flight, cwnd 12.5 segments
  EXPECT_EQ(out[0].seg().seq, data0() + 12000);
  // Partial ACK: segment 1 repaired, 2 still missing -> retransmit it now.
  peer_ack(data0() + 2000);
  out = take();
  ASSERT_GE(out.size(), 1u);
  EXPECT_EQ(out[0].seg().seq, data0() + 2000);
  EXPECT_TRUE(s->info().in_recovery);
  // Full ACK of everything sent before recovery: leave it, cwnd = ssthresh
  // (min(ssthresh, flight + MSS)).
  peer_ack(data0() + 12000);
  i = s->info();
  EXPECT_FALSE(i.in_recovery);
  EXPECT_LE(i.cwnd, 5500u);
  EXPECT_EQ(tcp.stats().retrans_segs, 2u);
}

TEST_F(TcpLoss, DupAcksFromTheSameLossDoNotRestartRecovery) {
  open(65535, 1000);
  send_bytes(10000);
  take();
  for (int k = 0; k < 3; ++k) peer_ack(data0());
  ASSERT_EQ(take().size(), 1u);  // fast retransmit of segment 0
  peer_ack(data0() + 10000);     // full ACK
  EXPECT_FALSE(s->info().in_recovery);
  u32 ss = s->info().ssthresh;
  // Stray duplicate ACKs now (nothing outstanding) change nothing.
  for (int k = 0; k < 5; ++k) peer_ack(data0() + 10000);
  EXPECT_EQ(s->info().ssthresh, ss);
  EXPECT_TRUE(take().empty());
}

TEST_F(TcpLoss, OutOfOrderSegmentsAreHeldAndReassembled) {
  open();
  Bytes d(3000);
  for (usize i = 0; i < d.size(); ++i) d[i] = pattern(i);
  Bytes p0(d.begin(), d.begin() + 1000), p1(d.begin() + 1000, d.begin() + 2000),
      p2(d.begin() + 2000, d.end());
  u32 ack = data0();
  peer_send_at(pnxt + 2000, p2, ack);
  auto out = take();  // an immediate duplicate ACK
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  EXPECT_EQ(s->readable_bytes(), 0u);
  EXPECT_EQ(s->info().ooo_ranges, 1u);
  peer_send_at(pnxt + 1000, p1, ack);
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  EXPECT_EQ(s->info().ooo_ranges, 1u);  // merged
  peer_send_at(pnxt, p0, ack);
  out = take();  // the hole filled: ACK everything at once
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt + 3000);
  u8 buf[4000];
  ASSERT_EQ(s->recv(buf, sizeof buf, now).value(), 3000u);
  EXPECT_EQ(memcmp(buf, d.data(), 3000), 0);
  EXPECT_EQ(s->info().ooo_ranges, 0u);
}

TEST_F(TcpLoss, DuplicateDataIsAckedButDeliveredOnce) {
  open();
  peer_send(text("hello"), data0());
  take();
  peer_send_at(pnxt - 5, text("hello"), data0());  // a retransmission we already have
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().ack, pnxt);
  peer_send_at(pnxt - 2, text("lo, world"), data0());  // overlaps: only new bytes kept
  pnxt += 7;
  char buf[32];
  usize n = s->recv(buf, sizeof buf, now).value();
  EXPECT_EQ(std::string(buf, n), "hello, world");
}

TEST_F(TcpLoss, OutOfOrderFinWaitsForTheHole) {
  open();
  peer_send_at(pnxt + 3, text("def"), data0(), 65535, kTcpAck | kTcpFin);
  EXPECT_EQ(s->state(), TcpState::Established);
  peer_send_at(pnxt, text("abc"), data0());
  EXPECT_EQ(s->state(), TcpState::CloseWait);
  char buf[16];
  EXPECT_EQ(s->recv(buf, sizeof buf, now).value(), 6u);
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  EXPECT_EQ(s->recv(buf, sizeof buf, now).value(), 0u);  // EOF
  auto out = take();
  EXPECT_EQ(out.back().seg().ack, pnxt + 7);
}

TEST_F(TcpLoss, OutOfOrderRangesAreBounded) {
  open();
  // 40 one-byte islands with gaps: only 16 ranges are kept.
  for (u32 k = 0; k < 40; ++k) peer_send_at(pnxt + 1 + 2 * k, Bytes{u8('A' + k % 26)}, data0());
  EXPECT_EQ(s->info().ooo_ranges, TcpReassembly::kMax);
  EXPECT_EQ(tcp.stats().ooo_drops, 40u - TcpReassembly::kMax);
  // Filling the first hole delivers the first island too.
  peer_send_at(pnxt, Bytes{'_'}, data0());
  EXPECT_EQ(s->readable_bytes(), 2u);
}

TEST_F(TcpLoss, IcmpFragNeededShrinksMssAndResends) {
  open(65535, 1460);
  send_bytes(1460);
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seg().len, 1460u);
  // A router quotes our segment back: next-hop MTU 1000.
  tcp.icmp_error(kLocalIp, kPeerIp, 3, 4, 1000, out[0].bytes.data(), 8, now);
  EXPECT_EQ(s->info().snd_mss, 960u);
  out = take();
  ASSERT_GE(out.size(), 1u);
  EXPECT_EQ(out[0].seg().len, 960u);
  EXPECT_EQ(out[0].seg().seq, data0());
  // Errors quoting sequence numbers not in flight are ignored (RFC 5927).
  Bytes fake = out[0].bytes;
  store_be32(&fake[4], data0() + 100000);
  tcp.icmp_error(kLocalIp, kPeerIp, 3, 4, 600, fake.data(), 8, now);
  EXPECT_EQ(s->info().snd_mss, 960u);
}

TEST_F(TcpLoss, IcmpPortUnreachableRefusesAConnectionAttempt) {
  s = tcp.socket().value();
  ASSERT_TRUE(s->connect(peer, now).ok());
  auto out = take();
  tcp.icmp_error(kLocalIp, kPeerIp, 3, 3, 0, out[0].bytes.data(), 8, now);
  EXPECT_EQ(s->state(), TcpState::Closed);
  EXPECT_EQ(s->take_error(), ECONNREFUSED);
  s->close(now);
}

}  // namespace
}  // namespace mote::net::tcptest
