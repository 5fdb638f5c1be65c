// Two Tcp instances back to back through an imperfect wire: megabytes both
// ways through loss, reordering and duplication arrive exactly; both ends
// close and every byte of memory comes back.
#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

struct Pair {
  TcpSocket *client = nullptr, *server = nullptr, *listener = nullptr;
};

Pair open_pair(Wire& w, u16 port = 9000) {
  Pair p;
  p.listener = w.b.socket().value();
  EXPECT_TRUE(p.listener->bind(Endpoint{kPeerIp, port}).ok());
  EXPECT_TRUE(p.listener->listen(4).ok());
  p.client = w.a.socket().value();
  EXPECT_TRUE(p.client->connect(Endpoint{kPeerIp, port}, w.now).ok());
  EXPECT_TRUE(w.run_until(w.now + 60 * kSec, [&] { return p.listener->poll() & kPollIn; }));
  p.server = p.listener->accept().value();
  return p;
}

// One direction of a transfer: writes `total` pattern bytes into `from`,
// shuts it down, and reads and checks everything arriving at `to`.
struct Stream {
  TcpSocket *from, *to;
  u64 total, sent = 0, received = 0;
  bool shut = false, eof = false, corrupt = false;
  void pump(u64 now) {
    u8 buf[8192];
    while (sent < total) {
      usize n = usize(std::min<u64>(sizeof buf, total - sent));
      for (usize i = 0; i < n; ++i) buf[i] = pattern(sent + i);
      auto r = from->send(buf, n, now);
      if (!r.ok()) break;
      sent += r.value();
    }
    if (sent == total && !shut) shut = from->shutdown(kShutWr, now).ok();
    for (;;) {
      auto r = to->recv(buf, sizeof buf, now);
      if (!r.ok()) break;
      if (r.value() == 0) {
        eof = true;
        break;
      }
      for (usize i = 0; i < r.value(); ++i) corrupt |= buf[i] != pattern(received + i);
      received += r.value();
    }
  }
  bool done() const { return eof && received == total; }
};

std::string describe(TcpSocket* s) {
  TcpInfo i = s->info();
  char b[512];
  snprintf(b, sizeof b,
           "%s mss %u cwnd %u ssthresh %u snd_wnd %u rcv_wnd %u rto %llu backoff %u rtx %u "
           "unacked %u sendq %u recvq %u ooo %u err %d",
           tcp_state_name(i.state), i.snd_mss, i.cwnd, i.ssthresh, i.snd_wnd, i.rcv_wnd,
           (unsigned long long)(i.rto_ns / kMs), i.backoff, i.retransmits, i.unacked,
           i.send_queued, i.recv_queued, i.ooo_ranges, s->take_error());
  return b;
}

void transfer_both_ways(Wire& w, u64 a_to_b, u64 b_to_a, u64 limit) {
  long base = test::live_heap_blocks();
  {
    Pair p = open_pair(w);
    Stream up{p.client, p.server, a_to_b}, down{p.server, p.client, b_to_a};
    w.pump = [&] {
      up.pump(w.now);
      down.pump(w.now);
    };
    ASSERT_TRUE(w.run_until(w.now + limit, [&] { return up.done() && down.done(); }))
        << "up " << up.received << "/" << a_to_b << " down " << down.received << "/" << b_to_a
        << "\n client " << describe(p.client) << "\n server " << describe(p.server);
    w.pump = nullptr;
    EXPECT_FALSE(up.corrupt);
    EXPECT_FALSE(down.corrupt);
    // Both shut down writing and read EOF: a close from both sides.
    p.client->close(w.now);
    p.server->close(w.now);
    p.listener->close(w.now);
    // FINs settle; TIME_WAIT (2 * 30 s) expires; everything is freed.
    w.run_until(w.now + 200 * kSec, [&] { return w.a.socket_count() + w.b.socket_count() == 0; });
    EXPECT_EQ(w.a.socket_count(), 0u);
    EXPECT_EQ(w.b.socket_count(), 0u);
  }
  EXPECT_EQ(test::live_heap_blocks(), base);
}

// Buffer autotuning (tcp_autotune.cc). A bulk transfer over a 10 ms round
// trip: the sender's buffer and the reading receiver's grow from 128 KiB.
TEST(TcpTransfer, BuffersGrowWithABulkTransfer) {
  Wire w;
  Pair p = open_pair(w);
  Stream up{p.client, p.server, 16 << 20};
  w.pump = [&] { up.pump(w.now); };
  ASSERT_TRUE(w.run_until(w.now + 60 * kSec, [&] { return up.done(); }));
  w.pump = nullptr;
  EXPECT_FALSE(up.corrupt);
  EXPECT_GE(p.client->get_option(TcpOpt::SndBuf).value(), 1 << 20);
  EXPECT_GE(p.server->get_option(TcpOpt::RcvBuf).value(), 1 << 20);
  EXPECT_LE(p.client->get_option(TcpOpt::SndBuf).value(), 4 << 20);
  EXPECT_LE(p.server->get_option(TcpOpt::RcvBuf).value(), 4 << 20);
  EXPECT_EQ(p.server->get_option(TcpOpt::SndBuf).value(), 128 << 10);  // it sent nothing
  for (TcpSocket* s : {p.client, p.server, p.listener}) s->abort(w.now), s->close(w.now);
}

// SO_SNDBUF and SO_RCVBUF (on the listener: the connection inherits it)
// stay as the program set them.
TEST(TcpTransfer, BuffersTheProgramSetDoNotGrow) {
  Wire w;
  Pair p;
  p.listener = w.b.socket().value();
  ASSERT_TRUE(p.listener->set_option(TcpOpt::RcvBuf, 65536, w.now).ok());
  ASSERT_TRUE(p.listener->bind(Endpoint{kPeerIp, 9000}).ok());
  ASSERT_TRUE(p.listener->listen(4).ok());
  p.client = w.a.socket().value();
  ASSERT_TRUE(p.client->set_option(TcpOpt::SndBuf, 65536, w.now).ok());
  ASSERT_TRUE(p.client->connect(Endpoint{kPeerIp, 9000}, w.now).ok());
  ASSERT_TRUE(w.run_until(w.now + 60 * kSec, [&] { return p.listener->poll() & kPollIn; }));
  p.server = p.listener->accept().value();
  Stream up{p.client, p.server, 4 << 20};
  w.pump = [&] { up.pump(w.now); };
  ASSERT_TRUE(w.run_until(w.now + 120 * kSec, [&] { return up.done(); }));
  w.pump = nullptr;
  EXPECT_FALSE(up.corrupt);
  EXPECT_EQ(p.client->get_option(TcpOpt::SndBuf).value(), 131072);  // doubled, as Linux reports
  EXPECT_EQ(p.server->get_option(TcpOpt::RcvBuf).value(), 131072);
  EXPECT_EQ(p.server->info().rcv_wscale, 2);  // scaled for that buffer, not for 4 MiB
  for (TcpSocket* s : {p.client, p.server, p.listener}) s->abort(w.now), s->close(w.now);
}

// Bytes that arrive and are not read do not grow the receive buffer: a
// fast peer cannot make a connection hold more than the default.
TEST(TcpTransfer, AReceiverThatDoesNotReadKeepsItsBuffer) {
  Wire w;
  Pair p = open_pair(w);
  std::vector<u8> junk(1 << 20);
  w.pump = [&] { (void)p.client->send(junk.data(), junk.size(), w.now); };
  w.run_for(5 * kSec);
  w.pump = nullptr;
  EXPECT_EQ(p.server->readable_bytes(), 128u << 10);  // full
  EXPECT_EQ(p.server->get_option(TcpOpt::RcvBuf).value(), 128 << 10);
  for (TcpSocket* s : {p.client, p.server, p.listener}) s->abort(w.now), s->close(w.now);
}

// All connections' buffers together grow no further than grown_max: two
// bulk transfers with room for 1 MiB of growth between them.
TEST(TcpTransfer, BuffersGrowWithinTheirSharedBudget) {
  Wire w(TcpConfig{.grown_max = 1 << 20});
  Pair p = open_pair(w), q = open_pair(w, 9001);
  Stream a{p.client, p.server, 8 << 20}, b{q.client, q.server, 8 << 20};
  w.pump = [&] {
    a.pump(w.now);
    b.pump(w.now);
  };
  ASSERT_TRUE(w.run_until(w.now + 120 * kSec, [&] { return a.done() && b.done(); }));
  w.pump = nullptr;
  EXPECT_FALSE(a.corrupt || b.corrupt);
  // Each end's Tcp (w.a the clients', w.b the servers') has its budget.
  auto grown = [](TcpSocket* x, TcpSocket* y) {
    i64 g = 0;
    for (TcpSocket* s : {x, y})
      g += s->get_option(TcpOpt::SndBuf).value() - (128 << 10) +
           s->get_option(TcpOpt::RcvBuf).value() - (128 << 10);
    return g;
  };
  EXPECT_GT(grown(p.client, q.client), 0);
  EXPECT_LE(grown(p.client, q.client), 1 << 20);
  EXPECT_GT(grown(p.server, q.server), 0);
  EXPECT_LE(grown(p.server, q.server), 1 << 20);
  for (TcpSocket* s : {p.client, p.server, p.listener, q.client, q.server, q.listener})
    s->abort(w.now), s->close(w.now);
}

// A connection's memory follows what it holds (tcp_buffer.h): accepted
// and carrying requests and replies of a few KiB, both ends together hold
// a small part of the 4 x 128 KiB their buffers could take.
TEST(TcpTransfer, RequestsAndRepliesHoldLittleMemory) {
  Wire w;
  long base = test::live_heap_bytes();
  Pair p = open_pair(w);
  std::vector<u8> req(800, 'q'), rep(1500, 'r'), buf(4096);
  for (int k = 0; k < 200; ++k) {
    ASSERT_EQ(p.client->send(req.data(), req.size(), w.now).value(), req.size());
    ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return p.server->readable_bytes() == req.size(); }));
    ASSERT_EQ(p.server->recv(buf.data(), buf.size(), w.now).value(), req.size());
    ASSERT_EQ(p.server->send(rep.data(), rep.size(), w.now).value(), rep.size());
    ASSERT_TRUE(w.run_until(w.now + kSec, [&] { return p.client->readable_bytes() == rep.size(); }));
    ASSERT_EQ(p.client->recv(buf.data(), buf.size(), w.now).value(), rep.size());
  }
  EXPECT_LT(test::live_heap_bytes() - base, 64 << 10);
  for (TcpSocket* s : {p.client, p.server, p.listener}) s->abort(w.now), s->close(w.now);
}

// When memory runs out, rings stop growing at the memory they have (the
// sender's queue, the receiver's window), and every byte still arrives
// exactly.
TEST(TcpTransfer, MegabytesArriveExactlyWhenBufferMemoryRunsOut) {
  Wire w;
  Pair p = open_pair(w);
  struct Restore {
    ~Restore() { test::fail_allocations_over(0); }
  } restore;
  test::fail_allocations_over(2 * TcpRing::kFirstStore);  // rings of 8000 bytes at most
  long base = test::live_heap_bytes(), peak = 0;
  Stream up{p.client, p.server, 2 << 20};
  w.pump = [&] {
    up.pump(w.now);
    peak = std::max(peak, test::live_heap_bytes() - base);
  };
  ASSERT_TRUE(w.run_until(w.now + 300 * kSec, [&] { return up.done(); }))
      << up.received << " of " << up.total;
  w.pump = nullptr;
  EXPECT_FALSE(up.corrupt);
  EXPECT_LT(peak, 64 << 10);  // the rings never had more (segments in flight aside)
  for (TcpSocket* s : {p.client, p.server, p.listener}) s->abort(w.now), s->close(w.now);
}

TEST(TcpTransfer, MegabytesBothWaysOverCleanWire) {
  Wire w;
  transfer_both_ways(w, 4 << 20, 1 << 20, 60 * kSec);
  EXPECT_EQ(w.a.stats().retrans_segs + w.b.stats().retrans_segs, 0u);
}

TEST(TcpTransfer, MegabytesBothWaysThroughLossReorderAndDuplication) {
  Wire w(TcpConfig{}, 7);
  w.loss_pct = 2, w.reorder_pct = 5, w.dup_pct = 2;
  transfer_both_ways(w, 4 << 20, 2 << 20, 600 * kSec);
  EXPECT_GT(w.stats.dropped, 0u);
  EXPECT_GT(w.stats.reordered, 0u);
  EXPECT_GT(w.stats.duplicated, 0u);
  EXPECT_GT(w.a.stats().retrans_segs, 0u);
}

TEST(TcpTransfer, MegabytesBothWaysWithChecksumOffload) {
  // Every segment leaves with only its pseudo-header sum: the link finishes
  // half (a tap completing NEEDS_CSUM; tcp_parse then checks the result)
  // and hands the other half over partial, vouched for, as a host's stack
  // does to the guest. Lossy and reordering, so retransmissions and pure
  // ACKs, RSTs aside, take both paths too.
  Wire w(TcpConfig{}, 11);
  w.offload = true;
  w.loss_pct = 2, w.reorder_pct = 3;
  transfer_both_ways(w, 2 << 20, 1 << 20, 600 * kSec);
  EXPECT_GT(w.stats.csum_finished, 1000u);
  EXPECT_GT(w.stats.csum_vouched, 1000u);
}

TEST(TcpTransfer, MegabytesBothWaysWithSegmentationOffload) {
  // Segments of up to 64 KiB, delivered whole (as a host's stack takes an
  // uncut one) or cut into MSS-sized ones with the headers repeated (a
  // tap's GSO); through loss and reordering, so retransmissions (one MSS
  // each) mix with the big ones.
  Wire w(TcpConfig{}, 12);
  w.offload = w.tso = true;
  w.loss_pct = 1, w.reorder_pct = 2;
  transfer_both_ways(w, 8 << 20, 4 << 20, 600 * kSec);
  EXPECT_GT(w.stats.tso_whole, 20u);
  EXPECT_GT(w.stats.tso_cut, 20u);
}

TEST(TcpTransfer, HeavyLossStillDeliversExactly) {
  Wire w(TcpConfig{}, 99);
  w.loss_pct = 10, w.reorder_pct = 10, w.dup_pct = 5;
  transfer_both_ways(w, 1 << 20, 256 << 10, 1800 * kSec);
}

TEST(TcpTransfer, ManySeedsOfALossyReorderingWire) {
  for (u64 seed = 10; seed < 20; ++seed) {
    SCOPED_TRACE(seed);
    Wire w(TcpConfig{}, seed);
    w.loss_pct = 1 + seed % 5, w.reorder_pct = 10, w.dup_pct = 3;
    w.delay = (1 + seed % 7) * kMs;
    transfer_both_ways(w, 512 << 10, 300 << 10, 1800 * kSec);
  }
}

TEST(TcpTransfer, ReaderThatStopsClosesTheWindowAndProbesReopenIt) {
  // The receiving application stops reading: the window closes, the sender
  // stops and probes; window updates are lost too (20% loss), so the
  // probes must find the reopened window. Buffers that cannot grow past
  // 64 KiB, so a window scale of 1: with the shift of 7 for 4 MiB the last
  // 256 bytes of window (two units) stay open, too little for the sender.
  Wire w(TcpConfig{.rcvbuf = 16384, .sndbuf = 65536, .max_buf = 65536}, 5);
  Pair p = open_pair(w);
  w.loss_pct = 20;
  Bytes data(200000);
  for (usize i = 0; i < data.size(); ++i) data[i] = pattern(i);
  usize sent = 0, got = 0;
  bool reading = false, corrupt = false;
  w.pump = [&] {
    while (sent < data.size()) {
      auto r = p.client->send(data.data() + sent, data.size() - sent, w.now);
      if (!r.ok()) break;
      sent += r.value();
    }
    u8 buf[4096];
    while (reading) {
      auto r = p.server->recv(buf, sizeof buf, w.now);
      if (!r.ok() || r.value() == 0) break;
      corrupt |= memcmp(buf, data.data() + got, r.value()) != 0;
      got += r.value();
    }
  };
  w.run_for(60 * kSec);
  EXPECT_EQ(p.server->readable_bytes(), 16384u);  // full, nothing read
  EXPECT_EQ(p.server->info().rcv_wnd, 0u);
  EXPECT_EQ(p.client->info().snd_wnd, 0u);
  EXPECT_EQ(p.client->state(), TcpState::Established);  // probing keeps it alive
  reading = true;
  ASSERT_TRUE(w.run_until(w.now + 1800 * kSec, [&] { return got == data.size(); }))
      << got << " " << describe(p.client);
  EXPECT_FALSE(corrupt);
  w.pump = nullptr;
  p.client->abort(w.now);
  p.client->close(w.now);
  p.server->close(w.now);
  p.listener->close(w.now);
}

TEST(TcpTransfer, SmallBuffersAndSmallMtu) {
  // A 576-byte MTU and 4 KiB buffers: many small segments, windows that
  // fill, and window updates that reopen them.
  Wire w(TcpConfig{.rcvbuf = 4096, .sndbuf = 4096}, 3);
  w.set_mtu(576);
  w.loss_pct = 3, w.reorder_pct = 5;
  transfer_both_ways(w, 512 << 10, 512 << 10, 1800 * kSec);
}

}  // namespace
}  // namespace mote::net::tcptest
