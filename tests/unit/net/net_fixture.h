// Shared pieces of the network stack's tests: a device that records the
// frames the stack sends, the addresses of recorded_frames.h's two hosts
// (mote 10.0.2.15 and a Linux peer 10.0.2.2), and builders for frames as
// Linux would send them (DF set, TTL 64, correct checksums).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/net/stack.h"
#include "kernel/net/wire.h"
#include "tests/unit/host_heap.h"

namespace mote::net::test {

using Bytes = std::vector<u8>;

inline constexpr Mac kMoteMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
inline constexpr Mac kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr Ipv4 kMoteIp = Ipv4::of(10, 0, 2, 15);
inline constexpr Ipv4 kPeerIp = Ipv4::of(10, 0, 2, 2);
inline constexpr u64 kSec = kNsPerSec;

// With `offload` it says it completes partial checksums (a tap's or
// virtio-net's NEEDS_CSUM) and records what each frame asked (csums, one
// per frame); without, every frame must come whole.
class RecordingDevice final : public NetDevice {
 public:
  void send_frame(const u8* frame, usize len, TxOffload csum) override {
    frames.emplace_back(frame, frame + len);
    csums.push_back(csum);
    if (!offload) {
      EXPECT_EQ(csum.offset, 0) << "a partial checksum to a device without the offload";
    }
  }
  bool tx_csum_offload() const override { return offload; }
  bool tso() const override { return tso_; }
  std::vector<Bytes> take() {
    std::vector<Bytes> f;
    f.swap(frames);
    csums.clear();
    return f;
  }
  std::vector<Bytes> frames;
  std::vector<TxOffload> csums;
  bool offload = false;
  bool tso_ = false;  // segmentation offload too (with `offload`)
};

inline InterfaceConfig mote_config(u16 mtu = 1500) {
  InterfaceConfig c;
  c.mac = kMoteMac;
  c.addr = kMoteIp;
  c.prefix_len = 24;
  c.gateway = kPeerIp;
  c.mtu = mtu;
  return c;
}

inline InterfaceConfig peer_config(u16 mtu = 1500) {
  InterfaceConfig c = mote_config(mtu);
  c.mac = kPeerMac;
  c.addr = kPeerIp;
  c.gateway = Ipv4();
  return c;
}

inline Bytes bytes_of(const u8* p, usize n) { return Bytes(p, p + n); }
template <usize N>
Bytes bytes_of(const u8 (&a)[N]) {
  return Bytes(a, a + N);
}

inline Bytes eth_frame(const Mac& dst, const Mac& src, u16 type, const Bytes& payload) {
  Bytes f(EthHeader::kSize);
  EthHeader e;
  e.dst = dst, e.src = src, e.type = type;
  e.write(f.data());
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

// An IPv4 datagram with a 20-byte header (frag: flags and offset as on the wire).
inline Bytes ip_packet(Ipv4 src, Ipv4 dst, u8 proto, const Bytes& payload, u16 id = 0x1000,
                       u16 frag = Ipv4Header::kFlagDf, u8 ttl = 64) {
  Bytes p(Ipv4Header::kMinSize);
  Ipv4Header h;
  h.total_len = u16(p.size() + payload.size());
  h.id = id, h.frag = frag, h.ttl = ttl, h.proto = proto, h.src = src, h.dst = dst;
  h.write(p.data());
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

inline Bytes udp_segment(Ipv4 src, Ipv4 dst, u16 sport, u16 dport, const Bytes& data,
                         bool checksum = true) {
  Bytes s(UdpHeader::kSize);
  UdpHeader h;
  h.src_port = sport, h.dst_port = dport, h.length = u16(s.size() + data.size());
  h.write(s.data());
  s.insert(s.end(), data.begin(), data.end());
  if (checksum) {
    u16 c = csum_fold(csum_add(csum_pseudo(src, dst, kProtoUdp, u16(s.size())), s.data(), s.size()));
    store_be16(s.data() + 6, c ? c : 0xffff);
  }
  return s;
}

// A UDP datagram from the peer to mote, in an Ethernet frame.
inline Bytes peer_udp_frame(u16 sport, u16 dport, const Bytes& data, bool checksum = true) {
  return eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                   ip_packet(kPeerIp, kMoteIp, kProtoUdp,
                             udp_segment(kPeerIp, kMoteIp, sport, dport, data, checksum)));
}

inline Bytes arp_frame(ArpOp op, const Mac& sha, Ipv4 spa, const Mac& tha, Ipv4 tpa,
                       const Mac& eth_dst) {
  Bytes a(ArpPacket::kSize);
  ArpPacket p;
  p.op = u16(op), p.sha = sha, p.spa = spa, p.tha = tha, p.tpa = tpa;
  p.write(a.data());
  return eth_frame(eth_dst, sha, u16(EtherType::Arp), a);
}

inline Bytes str_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A frame with the two hosts' addresses (MACs and IPs) exchanged.
inline Bytes swap_hosts(Bytes f) {
  auto swap_seq = [&](const u8* a, const u8* b, usize n) {
    for (usize i = 0; i + n <= f.size(); ++i) {
      if (memcmp(&f[i], a, n) == 0)
        memcpy(&f[i], b, n), i += n - 1;
      else if (memcmp(&f[i], b, n) == 0)
        memcpy(&f[i], a, n), i += n - 1;
    }
  };
  u8 mote_ip[4], peer_ip[4];
  store_be32(mote_ip, kMoteIp.v);
  store_be32(peer_ip, kPeerIp.v);
  swap_seq(kMoteMac.b, kPeerMac.b, 6);
  swap_seq(mote_ip, peer_ip, 4);
  return f;
}

// Feeds a frame to the stack.
inline void feed(Stack& s, const Bytes& f, u64 now) { s.input_frame(f.data(), f.size(), now); }

// Views into a frame the stack sent (asserting its shape).
inline Ipv4Header ip_of(const Bytes& f) {
  auto h = Ipv4Header::parse(f.data() + EthHeader::kSize, f.size() - EthHeader::kSize);
  EXPECT_TRUE(h.ok());
  return h.value_or(Ipv4Header());
}
inline u16 ethertype_of(const Bytes& f) { return load_be16(f.data() + 12); }
inline const u8* l4_of(const Bytes& f) {
  return f.data() + EthHeader::kSize + (f[EthHeader::kSize] & 0xf) * 4;
}

// A transport (standing in for TCP) that records what the stack gives it.
class RecordingTransport final : public TransportHandler {
 public:
  struct Segment {
    IpInfo ip;
    Bytes data;
  };
  void input(const IpInfo& ip, const u8* seg, usize len, u64 now_ns) override {
    segments.push_back({ip, bytes_of(seg, len)});
  }
  void icmp_error(const IcmpError& e, u64 now_ns) override {
    errors.push_back(e);
    quoted.push_back(bytes_of(e.transport, e.transport_len));
  }
  void tick(u64 now_ns) override { ticks.push_back(now_ns); }
  u64 next_deadline() override { return deadline; }
  std::vector<Segment> segments;
  std::vector<IcmpError> errors;
  std::vector<Bytes> quoted;
  std::vector<u64> ticks;
  u64 deadline = kNoDeadline;
};

// A transport payload in a Packet, for IpSender::ip_send.
inline Packet* packet_of(const Bytes& b) {
  Packet* p = Packet::alloc(b.size());
  if (p && !b.empty()) memcpy(p->put(b.size()), b.data(), b.size());
  return p;
}

// A stack for mote whose ARP entry for the peer is already known (learned
// from the peer's recorded request), with its device cleared.
struct MoteStack {
  RecordingDevice dev;
  Stack stack{dev, mote_config()};
  explicit MoteStack(u64 now = kSec) {
    feed(stack, arp_frame(ArpOp::Request, kPeerMac, kPeerIp, Mac(), kMoteIp, Mac::all_ones()),
         now);
    dev.take();
  }
};

}  // namespace mote::net::test
