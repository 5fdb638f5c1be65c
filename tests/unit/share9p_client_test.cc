// kernel/fs/share9p_client.h against the monitor's real 9P server
// (monitor/share/server.h) over a test transport: the read-ahead on a
// pipelined transport. The transport fails the test when the client breaks
// the channel's rule (a request while a read-ahead's reply is still in
// flight would take that reply as its own).
// (System headers first: kernel/lib/string.h declares memcpy and friends
// the way the freestanding kernel does.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "abi/p9.h"
#include "kernel/fs/share9p_client.h"
#include "monitor/share/server.h"

namespace mote::fs::share9p {
namespace {

// The server behind a transport that, when pipelined, queues what send()
// gives and answers it on recv(), in order.
struct TestTransport final : P9Transport {
  TestTransport(share::Server& s, bool pipe) : server(s), pipe(pipe) {}

  Result<usize> rpc(const u8* req, usize n, u8* resp, usize cap) override {
    EXPECT_TRUE(queued.empty()) << "a request while a reply is in flight";
    note(req, n);
    return server.dispatch(req, n, resp, cap);
  }
  bool pipelined() const override { return pipe; }
  Result<void> send(const u8* req, usize n) override {
    EXPECT_TRUE(pipe);
    note(req, n);
    queued.emplace_back(req, req + n);
    if (queued.size() > most_queued) most_queued = queued.size();
    return ok();
  }
  Result<usize> recv(u8* resp, usize cap) override {
    EXPECT_FALSE(queued.empty()) << "a reply nobody asked for";
    if (queued.empty()) return err(EIO);
    std::vector<u8> req = std::move(queued.front());
    queued.pop_front();
    if (fail_recv && --fail_recv == 0) return err(EIO);  // this reply is lost
    return server.dispatch(req.data(), req.size(), resp, cap);
  }

  void note(const u8* req, usize n) {
    p9::Reader r(req, u32(n));
    u8 type;
    u16 tag;
    if (r.header(&type, &tag) && type == p9::kTread) ++treads;
  }

  share::Server& server;
  bool pipe;
  std::deque<std::vector<u8>> queued;
  usize most_queued = 0;  // requests in flight at once
  int treads = 0;
  int fail_recv = 0;      // nonzero: the fail_recv-th reply from now fails
};

class Share9pClient : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mote-p9client-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::mt19937 rng(7);
    data_.resize(3 * p9::kMaxIo + 12345);
    for (auto& b : data_) b = u8(rng());
    std::ofstream(dir_ + "/big", std::ios::binary)
        .write(reinterpret_cast<const char*>(data_.data()), long(data_.size()));
    std::string e;
    ASSERT_TRUE(server_.add_share(dir_, false, &e)) << e;
    ASSERT_TRUE(client_.start().ok());
    p9::Writer& w = client_.begin(p9::kTattach);
    w.u32(kRoot);
    w.u32(p9::kNoFid);
    w.str("root", 4);
    w.str("0", 1);
    w.u32(0);
    ASSERT_TRUE(client_.call(p9::kRattach).ok());
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  u32 open(const char* name, u32 flags) {
    auto f = client_.walk(kRoot, StrView(name));
    EXPECT_TRUE(f.ok());
    EXPECT_TRUE(client_.lopen(f.value(), flags).ok());
    return f.value();
  }

  // Reads the file from `off` in pieces of `piece` bytes to its end.
  std::vector<u8> read_all(u32 fid, u64 off, usize piece) {
    std::vector<u8> out, buf(piece);
    for (;;) {
      auto r = client_.read(fid, off, buf.data(), piece);
      EXPECT_TRUE(r.ok());
      if (!r.ok() || r.value() == 0) break;
      out.insert(out.end(), buf.begin(), buf.begin() + long(r.value()));
      off += r.value();
    }
    return out;
  }

  static constexpr u32 kRoot = 100;
  std::string dir_;
  std::vector<u8> data_;
  share::Server server_;
  TestTransport transport_{server_, GetParam()};
  Client client_{&transport_};
};

// Sequential reads of several sizes see the file's bytes; on a pipelined
// transport most of them come from read-aheads, so fewer Treads wait.
TEST_P(Share9pClient, SequentialReadsSeeTheFile) {
  for (usize piece : {usize(16384), usize(65536), usize(p9::kMaxIo), usize(200000)}) {
    SCOPED_TRACE(piece);
    u32 fid = open("big", 0);
    EXPECT_EQ(read_all(fid, 0, piece), data_);
    client_.clunk(fid);
  }
  if (GetParam()) {
    EXPECT_GT(client_.ahead_sent(), 8u);
    EXPECT_GT(client_.ahead_used(), 8u);
  } else {
    EXPECT_EQ(client_.ahead_sent(), 0u);
  }
}

// A read of several messages has several Treads in flight (pipelined),
// and sees the file whole: ending inside the batch, at its end, past it.
TEST_P(Share9pClient, LargeReadsHaveSeveralRequestsInFlight) {
  u32 fid = open("big", 0);
  for (usize piece : {usize(1) << 20, 2 * usize(p9::kMaxIo) + 1, usize(5) << 20}) {
    SCOPED_TRACE(piece);
    EXPECT_EQ(read_all(fid, 0, piece), data_);
    std::vector<u8> buf(piece);
    auto r = client_.read(fid, 100, buf.data(), piece);  // not where the last one ended
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value(), std::min(piece, data_.size() - 100));
    EXPECT_EQ(0, memcmp(buf.data(), data_.data() + 100, r.value()));
  }
  EXPECT_EQ(transport_.most_queued, GetParam() ? 4u : 0u);
  EXPECT_LE(transport_.queued.size(), Client::kAheadDepth);  // the read-ahead at most
  // A fid that cannot read: the error, from every request of a batch.
  u32 wfid = open("big", 1 /*O_WRONLY*/);
  std::vector<u8> buf(1 << 20);
  auto r = client_.read(wfid, 0, buf.data(), buf.size());
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(transport_.queued.empty());
  client_.clunk(wfid);
  client_.clunk(fid);
}

// A read elsewhere, small reads and reads past the end ask for nothing
// ahead, and get the right bytes.
TEST_P(Share9pClient, OnlySequentialLargeReadsReadAhead) {
  u32 fid = open("big", 0);
  std::vector<u8> buf(65536);
  auto r = client_.read(fid, 5000, buf.data(), buf.size());  // not where anything ended
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value(), buf.size());
  EXPECT_EQ(0, memcmp(buf.data(), data_.data() + 5000, buf.size()));
  EXPECT_EQ(client_.ahead_sent(), 0u);
  r = client_.read(fid, 0, buf.data(), 4096);  // at the start, but small
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(client_.ahead_sent(), 0u);
  r = client_.read(fid, data_.size() - 100, buf.data(), buf.size());  // to the end
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value(), 100u);
  EXPECT_EQ(0, memcmp(buf.data(), data_.data() + data_.size() - 100, 100));
  r = client_.read(fid, data_.size(), buf.data(), buf.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 0u);
  EXPECT_EQ(client_.ahead_sent(), 0u);
}

// Bytes read ahead are forgotten when the guest writes: the next read sees
// the write, through another fid as through the same.
TEST_P(Share9pClient, AWriteBetweenReadsIsSeen) {
  u32 rfid = open("big", 0);
  u32 wfid = open("big", 1 /*O_WRONLY*/);
  std::vector<u8> buf(65536);
  ASSERT_EQ(client_.read(rfid, 0, buf.data(), buf.size()).value(), buf.size());
  EXPECT_EQ(transport_.queued.size(), GetParam() ? 1u : 0u);  // the next bytes asked for
  std::vector<u8> news(1000, 0xab);
  ASSERT_EQ(client_.write(wfid, 65536 + 10, news.data(), news.size()).value(), news.size());
  EXPECT_TRUE(transport_.queued.empty());
  ASSERT_EQ(client_.read(rfid, 65536, buf.data(), buf.size()).value(), buf.size());
  std::vector<u8> want(data_.begin() + 65536, data_.begin() + 2 * 65536);
  std::fill(want.begin() + 10, want.begin() + 1010, 0xab);
  EXPECT_EQ(buf, want);
  client_.clunk(wfid);
  client_.clunk(rfid);
}

// A read-ahead in flight when the fid is clunked or another file is read:
// its reply is taken first (the transport checks), and the bytes are right.
TEST_P(Share9pClient, OtherRequestsTakeTheReplyInFlight) {
  std::vector<u8> small(3000, 7);
  std::ofstream(dir_ + "/small", std::ios::binary)
      .write(reinterpret_cast<const char*>(small.data()), long(small.size()));
  u32 a = open("big", 0);
  std::vector<u8> buf(65536);
  ASSERT_EQ(client_.read(a, 0, buf.data(), buf.size()).value(), buf.size());
  u32 b = open("small", 0);  // a walk and an open while bytes of "big" are on the way
  EXPECT_EQ(read_all(b, 0, 65536), small);
  ASSERT_EQ(client_.read(a, 65536, buf.data(), buf.size()).value(), buf.size());
  EXPECT_EQ(0, memcmp(buf.data(), data_.data() + 65536, buf.size()));
  ASSERT_EQ(client_.read(a, 131072, buf.data(), buf.size()).value(), buf.size());
  EXPECT_EQ(0, memcmp(buf.data(), data_.data() + 131072, buf.size()));
  EXPECT_EQ(transport_.queued.size(), GetParam() ? 1u : 0u);  // sequential again: one ahead
  client_.clunk(a);
  EXPECT_TRUE(transport_.queued.empty());
  client_.clunk(b);
}

// Sequential reads of a message each: the first asks the server itself and
// one piece ahead; each read that finds its bytes ahead doubles how many
// are asked for, up to kAheadDepth in flight. At the file's end the ones past
// it are taken and forgotten, and no more are sent.
TEST_P(Share9pClient, ReadAheadOpensUpWhileItPays) {
  std::vector<u8> data(12 * p9::kMaxIo + 777);
  std::mt19937 rng(11);
  for (auto& b : data) b = u8(rng());
  std::ofstream(dir_ + "/long", std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), long(data.size()));
  u32 fid = open("long", 0);
  int before = transport_.treads;
  std::vector<u8> buf(p9::kMaxIo);
  std::vector<usize> in_flight;  // after each of the first reads
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(client_.read(fid, u64(i) * p9::kMaxIo, buf.data(), buf.size()).value(), buf.size());
    EXPECT_EQ(0, memcmp(buf.data(), data.data() + usize(i) * p9::kMaxIo, buf.size()));
    in_flight.push_back(transport_.queued.size());
  }
  if (GetParam())
    EXPECT_EQ(in_flight, (std::vector<usize>{1, 2, Client::kAheadDepth, Client::kAheadDepth}));
  else
    EXPECT_EQ(in_flight, (std::vector<usize>{0, 0, 0, 0}));
  std::vector<u8> rest = read_all(fid, 4 * u64(p9::kMaxIo), p9::kMaxIo);
  EXPECT_EQ(rest, std::vector<u8>(data.begin() + 4 * long(p9::kMaxIo), data.end()));
  EXPECT_TRUE(transport_.queued.empty());
  EXPECT_EQ(transport_.most_queued, GetParam() ? usize(Client::kAheadDepth) : 0u);
  // 13 reads with bytes, then one that finds the end. One at a time: a
  // Tread each. Read ahead: every read after the first found its bytes in
  // flight; the first and the one at the end asked the server themselves,
  // and fewer than kAheadDepth went past the end.
  const u64 reads = (data.size() + p9::kMaxIo - 1) / p9::kMaxIo;
  const u64 treads = u64(transport_.treads - before);
  if (GetParam()) {
    EXPECT_EQ(client_.ahead_used(), reads - 1);
    EXPECT_LT(treads, 2 + (reads - 1) + Client::kAheadDepth);
  } else {
    EXPECT_EQ(treads, reads + 1);
  }
  client_.clunk(fid);
}

// A program that reads the head of many files (an indexer, a loader) costs
// the server one piece ahead for each, not the whole window.
TEST_P(Share9pClient, TheHeadOfManyFilesAsksOnePieceAheadEach) {
  for (int i = 0; i < 5; ++i) {
    u32 fid = open("big", 0);
    int before = transport_.treads;
    std::vector<u8> buf(65536);
    ASSERT_EQ(client_.read(fid, 0, buf.data(), buf.size()).value(), buf.size());
    EXPECT_EQ(0, memcmp(buf.data(), data_.data(), buf.size()));
    client_.clunk(fid);
    EXPECT_EQ(transport_.treads - before, GetParam() ? 2 : 1);
    EXPECT_TRUE(transport_.queued.empty());
  }
}

// A read-ahead whose reply is lost ends what the ring gives; the read asks
// the server itself, and every byte is still right, wherever it is lost.
// (One at a time: no reply is ever read apart from its request, none lost.)
TEST_P(Share9pClient, ALostReadAheadIsAskedAgain) {
  for (int lost = 1; lost <= int(Client::kAheadDepth) + 2; ++lost) {
    SCOPED_TRACE(lost);
    u32 fid = open("big", 0);
    std::vector<u8> buf(65536);
    ASSERT_EQ(client_.read(fid, 0, buf.data(), buf.size()).value(), buf.size());
    if (GetParam()) transport_.fail_recv = lost;
    std::vector<u8> rest = read_all(fid, 65536, 50000);
    EXPECT_EQ(transport_.fail_recv, 0);  // the loss happened
    EXPECT_EQ(rest, std::vector<u8>(data_.begin() + 65536, data_.end()));
    client_.clunk(fid);
  }
}

INSTANTIATE_TEST_SUITE_P(Transport, Share9pClient, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("Pipelined") : std::string("OneAtATime");
                         });

}  // namespace
}  // namespace mote::fs::share9p
