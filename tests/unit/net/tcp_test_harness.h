// Test doubles for mote's TCP (kernel/net/tcp.h): an IpSender that records
// segments, a builder for crafted segments from a scripted peer, and a Wire
// that joins two Tcp instances through a link that can drop, duplicate,
// reorder and delay segments, all on a fake clock.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "kernel/lib/errno.h"
#include "kernel/net/tcp.h"
#include "kernel/net/tcp_seq.h"
#include "tests/unit/host_heap.h"

namespace mote::net::tcptest {

using Bytes = std::vector<u8>;

inline constexpr Ipv4 kLocalIp = Ipv4::of(10, 0, 2, 15);  // mote
inline constexpr Ipv4 kPeerIp = Ipv4::of(10, 0, 2, 2);    // the peer
inline constexpr u64 kMs = kTcpNsPerMs;
inline constexpr u64 kSec = kTcpNsPerSec;
inline const TcpSecret kSecret{0x0123456789abcdefull, 0xfedcba9876543210ull};

// One segment as it left through IpSender::ip_send.
struct Sent {
  Ipv4 src, dst;
  u8 tos = 0;
  Bytes bytes;
  // Parsed view (checksum verified); data points into `bytes`.
  TcpSegment seg() const {
    TcpSegment s;
    IpInfo ip;
    ip.src = src, ip.dst = dst;
    EXPECT_TRUE(tcp_parse(ip, bytes.data(), bytes.size(), &s)) << "bad checksum or header";
    return s;
  }
  std::string payload() const {
    TcpSegment s = seg();
    return std::string(reinterpret_cast<const char*>(s.data), s.len);
  }
};

class RecordingIp final : public IpSender {
 public:
  explicit RecordingIp(Ipv4 self = kLocalIp) : self_(self) {}
  Result<void> ip_send(Ipv4 src, Ipv4 dst, u8 proto, u8 tos, Packet* pkt) override {
    EXPECT_EQ(proto, kProtoTcp);
    sent.push_back(Sent{src, dst, tos, Bytes(pkt->data(), pkt->data() + pkt->size())});
    Packet::free(pkt);
    return ok();
  }
  Ipv4 source_for(Ipv4) override { return self_; }
  u16 mtu_for(Ipv4) override { return mtu; }
  bool is_local(Ipv4 a) override { return a == self_; }

  std::vector<Sent> take() {
    std::vector<Sent> s;
    s.swap(sent);
    return s;
  }
  std::vector<Sent> sent;
  u16 mtu = 1500;

 private:
  Ipv4 self_;
};

// A crafted segment from `from` to `to`, checksum filled in.
struct Craft {
  u32 seq = 0, ack = 0;
  u8 flags = kTcpAck;
  u16 wnd = 65535;
  Bytes data;
  TcpHeaderOut opts;  // only the option fields are used
};

inline Bytes craft_bytes(Endpoint from, Endpoint to, const Craft& c) {
  Packet* p = Packet::alloc(c.data.size());
  if (!c.data.empty()) memcpy(p->put(c.data.size()), c.data.data(), c.data.size());
  TcpHeaderOut h = c.opts;
  h.sport = from.port, h.dport = to.port;
  h.seq = c.seq, h.ack = c.ack, h.flags = c.flags, h.wnd = c.wnd;
  tcp_build(p, h, from.addr, to.addr);
  Bytes b(p->data(), p->data() + p->size());
  Packet::free(p);
  return b;
}

// A deterministic byte pattern for transfers, so received data can be
// checked position by position.
inline u8 pattern(u64 i) { return u8((i * 2654435761u) >> 13); }

inline Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A Tcp under test plus a scripted peer at kPeerIp that injects segments.
struct TcpFixture : ::testing::Test {
  TcpFixture() : tcp(ip, kSecret, config()) {}
  static TcpConfig config() { return TcpConfig{}; }

  void inject(Endpoint from, Endpoint to, const Craft& c) {
    Bytes b = craft_bytes(from, to, c);
    IpInfo info;
    info.src = from.addr, info.dst = to.addr, info.ttl = 64;
    tcp.input(info, b.data(), b.size(), now);
  }
  void advance(u64 ns) {
    now += ns;
    tcp.tick(now);
  }
  // Runs the timers up to t, one deadline at a time.
  void run_until(u64 t) {
    for (;;) {
      EXPECT_TRUE(tcp.deadlines_consistent());
      u64 d = tcp.next_deadline();
      if (d > t) break;
      now = std::max(now, d);
      tcp.tick(now);
    }
    now = std::max(now, t);
  }

  RecordingIp ip;
  Tcp tcp;
  u64 now = 1000 * kSec;
};

// A connection mote opened (active open) to a scripted peer at kPeerIp:80.
// The peer's side is tracked by hand: pnxt is its next sequence number.
struct Established : TcpFixture {
  TcpSocket* s = nullptr;
  Endpoint me, peer{kPeerIp, 80};
  u32 iss = 0, pnxt = 7001;
  bool ts = false;
  u32 peer_tsval = 5000, last_tsval = 0;  // last_tsval: newest TSval mote sent

  // RFC-style handshake with the given SYN-ACK options; the RTT sample it
  // gives is `rtt`.
  void open(u16 wnd = 65535, u16 mss = 1460, bool with_ts = false, int wscale = -1,
            u64 rtt = 50 * kMs) {
    s = tcp.socket().value();
    ASSERT_TRUE(s->connect(peer, now).ok());
    auto out = ip.take();
    ASSERT_EQ(out.size(), 1u);
    TcpSegment syn = out[0].seg();
    me = Endpoint{kLocalIp, syn.sport};
    iss = syn.seq;
    ts = with_ts;
    last_tsval = syn.opt.tsval;
    now += rtt;
    Craft sa;
    sa.seq = pnxt - 1, sa.ack = iss + 1, sa.flags = kTcpSyn | kTcpAck, sa.wnd = wnd;
    sa.opts.has_mss = true, sa.opts.mss = mss;
    if (wscale >= 0) sa.opts.has_wscale = true, sa.opts.wscale = u8(wscale);
    add_ts(sa);
    inject(peer, me, sa);
    ASSERT_EQ(s->state(), TcpState::Established);
    out = ip.take();
    ASSERT_EQ(out.size(), 1u);  // the third segment
    note(out);
  }
  void add_ts(Craft& c) {
    if (ts) c.opts.has_ts = true, c.opts.tsval = ++peer_tsval, c.opts.tsecr = last_tsval;
  }
  void note(const std::vector<Sent>& out) {
    for (auto& x : out)
      if (x.seg().opt.has_ts) last_tsval = x.seg().opt.tsval;
  }
  std::vector<Sent> take() {
    auto out = ip.take();
    note(out);
    return out;
  }
  // The peer sends data (advancing pnxt) acknowledging `ack`.
  void peer_send(const Bytes& data, u32 ack, u16 wnd = 65535, u8 flags = kTcpAck | kTcpPsh) {
    peer_send_at(pnxt, data, ack, wnd, flags);
    pnxt += u32(data.size()) + ((flags & kTcpFin) ? 1 : 0);
  }
  void peer_send_at(u32 seq, const Bytes& data, u32 ack, u16 wnd = 65535,
                    u8 flags = kTcpAck | kTcpPsh) {
    Craft c;
    c.seq = seq, c.ack = ack, c.flags = flags, c.wnd = wnd, c.data = data;
    add_ts(c);
    inject(peer, me, c);
  }
  void peer_ack(u32 ack, u16 wnd = 65535) { peer_send_at(pnxt, {}, ack, wnd, kTcpAck); }
  // Our first data byte's sequence number.
  u32 data0() const { return iss + 1; }
  void send_bytes(usize n) {
    Bytes b(n);
    for (usize i = 0; i < n; ++i) b[i] = pattern(i);
    ASSERT_EQ(s->send(b.data(), n, now).value(), n);
  }
};

// --- Two stacks joined by an imperfect link ---------------------------------

class Wire;

class WireHost final : public IpSender {
 public:
  WireHost(Wire* w, int id, Ipv4 addr) : wire_(w), id_(id), addr_(addr) {}
  Result<void> ip_send(Ipv4 src, Ipv4 dst, u8 proto, u8 tos, Packet* pkt) override;
  Ipv4 source_for(Ipv4) override { return addr_; }
  u16 mtu_for(Ipv4) override { return mtu; }
  bool is_local(Ipv4 a) override { return a == addr_; }
  bool csum_offload() override;
  u32 tso_max(Ipv4) override;
  u16 mtu = 1500;

 private:
  Wire* wire_;
  int id_;
  Ipv4 addr_;
};

struct WireStats {
  u64 sent = 0, dropped = 0, duplicated = 0, reordered = 0;
  // With Wire::offload: partial checksums the link completed (a tap
  // finishing NEEDS_CSUM), and ones it delivered partial and vouched for
  // (a host handing its own partial sums to the guest).
  u64 csum_finished = 0, csum_vouched = 0;
  // With Wire::tso: segments larger than the MSS, delivered whole (a host's
  // stack taking an uncut segment) or cut up by the link (a tap's GSO).
  u64 tso_whole = 0, tso_cut = 0;
};

// What a device's TCP segmentation offload makes of `seg` (header with
// options, then payload; its checksum partial or not): segments of `mss`
// payload bytes with the header repeated, sequence numbers advanced, FIN and
// PSH kept for the last only, each checksum whole.
inline std::vector<Bytes> gso_segment(Ipv4 src, Ipv4 dst, const Bytes& seg, u32 mss) {
  std::vector<Bytes> out;
  usize hl = usize(seg[12] >> 4) * 4;
  u32 seq = load_be32(seg.data() + 4);
  for (usize at = hl; at < seg.size(); at += mss) {
    usize n = std::min<usize>(mss, seg.size() - at);
    Bytes s(seg.begin(), seg.begin() + hl);
    s.insert(s.end(), seg.begin() + at, seg.begin() + at + n);
    store_be32(s.data() + 4, seq + u32(at - hl));
    if (at + n < seg.size()) s[13] &= u8(~(kTcpFin | kTcpPsh));
    store_be16(s.data() + 16, 0);
    store_be16(s.data() + 16, csum_fold(csum_add(csum_pseudo(src, dst, kProtoTcp, u16(s.size())),
                                                 s.data(), s.size())));
    out.push_back(std::move(s));
  }
  return out;
}

class Wire {
 public:
  explicit Wire(TcpConfig cfg = TcpConfig{}, u64 seed = 1)
      : ha_(this, 0, kLocalIp), hb_(this, 1, kPeerIp),
        a(ha_, TcpSecret{1, 2}, cfg), b(hb_, TcpSecret{3, 4}, cfg), rng_(seed * 0x9e3779b97f4a7c15ull + 1) {}

  // Checksum offload: both Tcps leave their checksums partial
  // (IpSender::csum_offload), and the link completes every other one and
  // delivers the rest partial with IpInfo::csum_ok.
  bool offload = false;
  // Segmentation offload too (needs `offload`): the Tcps may send up to
  // 64 KiB at once; the link delivers every other such segment whole and
  // cuts up the rest.
  bool tso = false;
  // Link behaviour, per segment; percentages.
  u64 delay = 5 * kMs;
  u32 loss_pct = 0, dup_pct = 0, reorder_pct = 0;
  // Drops the segment when it returns true (after the random effects).
  std::function<bool(int from, const TcpSegment&)> drop_if;
  // Called after every event, to let the "applications" act.
  std::function<void()> pump;

  void enqueue(int from, Ipv4 src, Ipv4 dst, Bytes bytes, bool vouched = false) {
    ++stats.sent;
    IpInfo ip;
    ip.src = src, ip.dst = dst, ip.csum_ok = vouched;
    TcpSegment seg;
    if (!tcp_parse(ip, bytes.data(), bytes.size(), &seg)) ADD_FAILURE() << "bad segment on the wire";
    if (drop_if && drop_if(from, seg)) {
      ++stats.dropped;
      return;
    }
    if (chance(loss_pct)) {
      ++stats.dropped;
      return;
    }
    u64 at = now + delay;
    if (chance(reorder_pct)) {
      ++stats.reordered;
      at += 1 + rand() % (3 * delay + 1);
    }
    if (chance(dup_pct)) {
      ++stats.duplicated;
      q_.push_back(Flight{at + 1 + rand() % (delay + 1), order_++, 1 - from, src, dst, bytes, vouched});
    }
    q_.push_back(Flight{at, order_++, 1 - from, src, dst, std::move(bytes), vouched});
  }

  // Runs until pred() holds or t_end passes. Returns pred()'s final value.
  bool run_until(u64 t_end, const std::function<bool()>& pred = nullptr) {
    for (;;) {
      if (pump) pump();
      if (pred && pred()) return true;
      if (!a.deadlines_consistent() || !b.deadlines_consistent()) {
        ADD_FAILURE() << "a Tcp's deadline heap is out of step with its sockets' timers";
        return false;
      }
      u64 next = std::min(a.next_deadline(), b.next_deadline());
      for (const Flight& f : q_) next = std::min(next, f.at);
      if (next > t_end) {
        now = std::max(now, t_end);
        return pred ? pred() : false;
      }
      now = std::max(now, next);
      deliver_due();
      a.tick(now);
      b.tick(now);
    }
  }
  void run_for(u64 ns) { run_until(now + ns); }
  void set_mtu(u16 mtu) { ha_.mtu = hb_.mtu = mtu; }
  bool idle() const { return q_.empty(); }

  WireStats stats;
  u64 now = 1000 * kSec;

 private:
  struct Flight {
    u64 at, order;
    int to;
    Ipv4 src, dst;
    Bytes bytes;
    bool vouched = false;
  };
  void deliver_due() {
    for (;;) {
      auto it = q_.end();
      for (auto i = q_.begin(); i != q_.end(); ++i)
        if (i->at <= now && (it == q_.end() || i->at < it->at || (i->at == it->at && i->order < it->order)))
          it = i;
      if (it == q_.end()) return;
      Flight f = std::move(*it);
      q_.erase(it);
      IpInfo ip;
      ip.src = f.src, ip.dst = f.dst, ip.ttl = 64, ip.csum_ok = f.vouched;
      (f.to == 0 ? a : b).input(ip, f.bytes.data(), f.bytes.size(), now);
      if (pump) pump();
    }
  }
  u64 rand() {
    rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;  // xorshift64
    return rng_;
  }
  bool chance(u32 pct) { return pct && rand() % 100 < pct; }

  WireHost ha_, hb_;

 public:
  Tcp a, b;  // a at kLocalIp, b at kPeerIp

 private:
  u64 rng_;
  u64 order_ = 0;
  std::vector<Flight> q_;
};

inline bool WireHost::csum_offload() { return wire_->offload; }
inline u32 WireHost::tso_max(Ipv4) { return wire_->tso ? 65535 - 20 : 0; }

inline Result<void> WireHost::ip_send(Ipv4 src, Ipv4 dst, u8 proto, u8 tos, Packet* pkt) {
  bool vouched = false;
  if (pkt->gso_size()) {
    EXPECT_TRUE(wire_->tso) << "a segment to cut up nobody offered to";
    EXPECT_TRUE(pkt->csum_partial());
    usize hl = usize(pkt->data()[12] >> 4) * 4;
    EXPECT_GT(pkt->size() - hl, usize(pkt->gso_size())) << "no more than one MSS";
    EXPECT_LE(pkt->size(), 65535u - 20);
    u64 n = wire_->stats.tso_whole + wire_->stats.tso_cut;
    Bytes b(pkt->data(), pkt->data() + pkt->size());
    u16 mss = pkt->gso_size();
    Packet::free(pkt);
    if (n % 2 == 0) {
      ++wire_->stats.tso_whole;
      wire_->enqueue(id_, src, dst, std::move(b), true);  // partial, vouched for
    } else {
      ++wire_->stats.tso_cut;
      for (Bytes& s : gso_segment(src, dst, b, mss)) wire_->enqueue(id_, src, dst, std::move(s));
    }
    return ok();
  }
  if (pkt->csum_partial()) {
    // What a device is given: the TCP checksum field, 16 bytes into the
    // header at the packet's start, holding the pseudo-header sum.
    EXPECT_TRUE(wire_->offload) << "a partial checksum nobody asked for";
    EXPECT_EQ(pkt->csum_start(), 0u);
    EXPECT_EQ(pkt->csum_offset(), 16);
    EXPECT_EQ(load_be16(pkt->data() + 16),
              csum_partial_field(csum_pseudo(src, dst, kProtoTcp, u16(pkt->size()))));
    u64 n = wire_->stats.csum_finished + wire_->stats.csum_vouched;
    if (n % 2) {
      vouched = true;
      ++wire_->stats.csum_vouched;
    } else {
      pkt->finish_csum();
      EXPECT_FALSE(pkt->csum_partial());
      ++wire_->stats.csum_finished;
    }
  } else {
    EXPECT_FALSE(wire_->offload) << "a whole checksum where the link would take a partial one";
  }
  wire_->enqueue(id_, src, dst, Bytes(pkt->data(), pkt->data() + pkt->size()), vouched);
  Packet::free(pkt);
  return ok();
}


}  // namespace mote::net::tcptest
