// libFuzzer target: net::Stack::input_frame, the network's trust boundary.
// The input is a script of records run against a fresh stack (mote's
// address, a UDP socket bound on port 7777, a TCP stand-in registered, a
// device that checks every frame sent is well formed):
//   [op u8][len u8][len bytes]
// op & 3:
//   0: a raw frame: the body repeated 1 + (op >> 2 & 7) times;
//   1: a frame addressed to us, so the fuzzer need not find our MAC, address
//      and checksums by chance: an Ethernet header (to our MAC, or broadcast
//      if op bit 2; ARP if op bit 3, else IPv4) then the body repeated
//      1 + (op >> 5) times; for IPv4 the destination is set to our address
//      (unless op bit 4) and the IPv4, ICMP and UDP checksums are fixed up;
//      for ARP the fixed fields are set and the target is our address;
//   2: advance time by len * 250 ms and tick;
//   3: socket calls (recv, peek, send body x (1 + op >> 4) to the peer or to
//      loopback).
// Every frame is an exact-size heap copy,
// so ASan sees a read past it. At the end the stack is destroyed and every
// heap block must be back.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel/net/stack.h"
#include "tests/unit/host_heap.h"

using namespace mote;
using namespace mote::net;

namespace {

constexpr Mac kMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

class CheckingDevice final : public NetDevice {
 public:
  void send_frame(const u8* f, usize len, TxOffload csum) override {
    auto e = EthHeader::parse(f, len);
    if (!e.ok()) abort();
    // A partial checksum only to a device that takes them, its field inside
    // the frame, past the IP header.
    if (csum.offset && (!offload || csum.start < EthHeader::kSize + 20 ||
                        usize(csum.start) + csum.offset + 2 > len))
      abort();
    if (e.value().type == u16(EtherType::Ipv4) &&
        !Ipv4Header::parse(f + EthHeader::kSize, len - EthHeader::kSize).ok())
      abort();
    if (e.value().type == u16(EtherType::Arp) &&
        !ArpPacket::parse(f + EthHeader::kSize, len - EthHeader::kSize).ok())
      abort();
  }
  bool tx_csum_offload() const override { return offload; }
  bool offload = false;
};

class NullTransport final : public TransportHandler {
 public:
  void input(const IpInfo&, const u8* seg, usize len, u64) override { touch(seg, len); }
  void icmp_error(const IcmpError& e, u64) override { touch(e.transport, e.transport_len); }
  static void touch(const u8* p, usize n) {
    volatile u8 sink = 0;
    for (usize i = 0; i < n; ++i) sink = sink + p[i];
  }
};

constexpr Mac kPeerMac{{0x02, 0, 0, 0, 0, 1}};
constexpr Ipv4 kOurIp = Ipv4::of(10, 0, 2, 15);

void address_and_fix(std::vector<u8>& f, bool set_dst) {
  if (f.size() >= 42 && load_be16(f.data() + 12) == 0x0806) {
    const u8 fixed[] = {0, 1, 8, 0, 6, 4};  // Ethernet, IPv4, lengths 6 and 4
    memcpy(f.data() + 14, fixed, sizeof fixed);
    if (set_dst) store_be32(f.data() + 14 + 24, kOurIp.v);
    return;
  }
  if (f.size() < 34 || load_be16(f.data() + 12) != 0x0800) return;
  u8* ip = f.data() + 14;
  usize avail = f.size() - 14;
  if (set_dst) store_be32(ip + 16, kOurIp.v);
  usize hl = usize(ip[0] & 0xf) * 4;
  if (hl < 20 || hl > avail) return;
  store_be16(ip + 10, 0);
  store_be16(ip + 10, csum_fold(csum_add(0, ip, hl)));
  usize total = load_be16(ip + 2);
  if (total < hl || total > avail) return;
  u8* l4 = ip + hl;
  usize n = total - hl;
  if (load_be16(ip + 6) & 0x1fff) return;  // a later fragment: no header
  if (ip[9] == kProtoIcmp && n >= 4) {
    store_be16(l4 + 2, 0);
    store_be16(l4 + 2, csum_fold(csum_add(0, l4, n)));
  } else if (ip[9] == kProtoUdp && n >= 8 && !(load_be16(ip + 6) & 0x2000)) {
    store_be16(l4 + 6, 0);
    Ipv4 s(load_be32(ip + 12)), d(load_be32(ip + 16));
    store_be16(l4 + 6, csum_fold(csum_add(csum_pseudo(s, d, kProtoUdp, u16(n)), l4, n)));
  }
}

void run(const uint8_t* data, size_t size) {
  CheckingDevice dev;
  dev.offload = size & 1;  // both kinds of device
  InterfaceConfig cfg;
  cfg.mac = kMac;
  cfg.addr = kOurIp;
  cfg.prefix_len = 24;
  cfg.gateway = Ipv4::of(10, 0, 2, 2);
  cfg.mtu = 1500;
  Stack stack(dev, cfg);
  NullTransport tcp;
  stack.set_transport(kProtoTcp, &tcp);
  UdpSocket* sock = stack.udp().open();
  if (!sock || !sock->bind(Endpoint{Ipv4(), 7777}).ok()) abort();
  sock->set_rcvbuf(4096);
  u64 now = 1'000'000'000;
  size_t i = 0;
  while (i + 2 <= size) {
    u8 op = data[i], len = data[i + 1];
    i += 2;
    size_t n = len < size - i ? len : size - i;
    const uint8_t* body = data + i;
    i += n;
    switch (op & 3) {
      case 0:
      case 1: {
        std::vector<u8> frame;
        int copies = op & 1 ? 1 + (op >> 5) : 1 + (op >> 2 & 7);
        if (op & 1) {
          EthHeader e;
          e.dst = op & 4 ? Mac::all_ones() : kMac;
          e.src = kPeerMac;
          e.type = u16(op & 8 ? EtherType::Arp : EtherType::Ipv4);
          frame.resize(EthHeader::kSize);
          e.write(frame.data());
        }
        for (int r = 0; r < copies; ++r) frame.insert(frame.end(), body, body + n);
        if (op & 1) address_and_fix(frame, !(op & 16));
        // Exact size on the heap: reading one byte past is an ASan report.
        u8* copy = static_cast<u8*>(malloc(frame.size() ? frame.size() : 1));
        if (!frame.empty()) memcpy(copy, frame.data(), frame.size());
        // Half the frames come vouched for (a tap's DATA_VALID/NEEDS_CSUM).
        stack.input_frame(copy, frame.size(), now, n & 1);
        free(copy);
        break;
      }
      case 2:
        now += u64(len) * 250'000'000;
        stack.tick(now);
        break;
      case 3: {
        u8 buf[2048];
        (void)sock->recvfrom(buf, sizeof buf, nullptr, (op >> 2) & 1);
        Endpoint peer{Ipv4::of(10, 0, 2, 2), 9}, lo{Ipv4::of(127, 0, 0, 1), 7777};
        // Up to 16 copies of the body: sends past the MTU are fragmented.
        std::vector<u8> msg;
        for (int r = 0; r <= op >> 4; ++r) msg.insert(msg.end(), body, body + n);
        (void)sock->sendto(msg.data(), msg.size(), (op >> 3) & 1 ? &lo : &peer);
        stack.run_pending(now);
        break;
      }
    }
    if (stack.next_deadline() == 0) stack.run_pending(now);
  }
  sock->close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  long before = mote::test::live_heap_blocks();
  run(data, size);
  if (mote::test::live_heap_blocks() != before) abort();  // a leak in the stack
  return 0;
}
