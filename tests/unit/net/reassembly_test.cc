// Fragment reassembly (kernel/net/reassembly.h): Linux's recorded fragments
// in every order, duplicates, overlaps, limits and the 30 s timeout (which
// frees everything and sends ICMP time exceeded when the first fragment came).
#include <gtest/gtest.h>

#include <algorithm>

#include "kernel/mm/heap.h"
#include "tests/unit/net/net_fixture.h"
#include "tests/unit/net/recorded_frames.h"

namespace mote::net {
namespace {

using namespace test;

Bytes pattern_3000() {
  Bytes d(3000);
  for (usize i = 0; i < d.size(); ++i) d[i] = u8(i);
  return d;
}

struct Receiver : MoteStack {
  UdpSocket* sock = stack.udp().open();
  Receiver() { EXPECT_TRUE(sock->bind(Endpoint{Ipv4(), 7777}).ok()); }
  ~Receiver() { sock->close(); }
  Bytes recv() {
    u8 buf[70000];
    auto r = sock->recvfrom(buf, sizeof buf, nullptr, false);
    return r.ok() ? bytes_of(buf, r.value()) : Bytes();
  }
};

// A fragment of a datagram from the peer: offset in bytes, mf as given.
Bytes fragment(u16 id, usize offset, bool mf, const Bytes& data, u8 proto = kProtoUdp) {
  u16 frag = u16((mf ? Ipv4Header::kFlagMf : 0) | (offset / 8));
  return eth_frame(kMoteMac, kPeerMac, u16(EtherType::Ipv4),
                   ip_packet(kPeerIp, kMoteIp, proto, data, id, frag));
}

// A UDP datagram to port 7777 carrying `payload`, cut into fragments at the
// given byte boundaries of the IP payload.
std::vector<Bytes> split(u16 id, const Bytes& payload, std::vector<usize> cuts) {
  Bytes seg = udp_segment(kPeerIp, kMoteIp, 40000, 7777, payload);
  cuts.insert(cuts.begin(), 0);
  cuts.push_back(seg.size());
  std::vector<Bytes> f;
  for (usize i = 0; i + 1 < cuts.size(); ++i)
    f.push_back(fragment(id, cuts[i], i + 2 < cuts.size(),
                         Bytes(seg.begin() + long(cuts[i]), seg.begin() + long(cuts[i + 1]))));
  return f;
}

TEST(NetReassembly, LinuxFragmentsReassembleInEveryOrder) {
  std::vector<int> order = {0, 1, 2};
  const Bytes frags[] = {bytes_of(recorded::kLinuxUdpFrag0), bytes_of(recorded::kLinuxUdpFrag1),
                         bytes_of(recorded::kLinuxUdpFrag2)};
  do {
    Receiver r;
    for (int i : order) feed(r.stack, frags[i], 2 * kSec);
    EXPECT_EQ(r.recv(), pattern_3000()) << order[0] << order[1] << order[2];
    EXPECT_EQ(r.stack.reassembler().datagrams(), 0u);
    EXPECT_EQ(r.stack.reassembler().bytes(), 0u);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(NetReassembly, DuplicateFragmentsAreIgnored) {
  Receiver r;
  feed(r.stack, bytes_of(recorded::kLinuxUdpFrag1), 2 * kSec);
  feed(r.stack, bytes_of(recorded::kLinuxUdpFrag1), 2 * kSec);
  feed(r.stack, bytes_of(recorded::kLinuxUdpFrag0), 2 * kSec);
  feed(r.stack, bytes_of(recorded::kLinuxUdpFrag0), 2 * kSec);
  feed(r.stack, bytes_of(recorded::kLinuxUdpFrag2), 2 * kSec);
  EXPECT_EQ(r.recv(), pattern_3000());
  EXPECT_FALSE(r.sock->readable());  // delivered once
  // A late duplicate starts a reassembly that times out harmlessly.
  feed(r.stack, bytes_of(recorded::kLinuxUdpFrag2), 2 * kSec);
  EXPECT_FALSE(r.sock->readable());
}

TEST(NetReassembly, FragmentInsideContiguousReceivedDataIsADuplicate) {
  Receiver r;
  Bytes payload(40, 0xab);
  auto f = split(9, payload, {16, 32});  // [0,16) [16,32) [32,48)
  feed(r.stack, f[0], 2 * kSec);
  feed(r.stack, f[1], 2 * kSec);
  Bytes seg = udp_segment(kPeerIp, kMoteIp, 40000, 7777, payload);
  // [8,24) spans both pieces held, overlapping no hole: a duplicate.
  feed(r.stack, fragment(9, 8, true, Bytes(seg.begin() + 8, seg.begin() + 24)), 2 * kSec);
  feed(r.stack, f[2], 2 * kSec);
  EXPECT_EQ(r.recv(), payload);
}

TEST(NetReassembly, PartialOverlapDiscardsTheWholeDatagram) {
  Receiver r;
  Bytes payload(40, 0x11);
  auto f = split(7, payload, {16, 32});
  feed(r.stack, f[0], 2 * kSec);
  // [8,24) with different bytes overlaps [0,16) and the hole after it.
  feed(r.stack, fragment(7, 8, true, Bytes(16, 0xee)), 2 * kSec);
  EXPECT_EQ(r.stack.reassembler().datagrams(), 0u);
  EXPECT_EQ(r.stack.reassembler().bytes(), 0u);
  feed(r.stack, f[1], 2 * kSec);
  feed(r.stack, f[2], 2 * kSec);
  EXPECT_FALSE(r.sock->readable());  // the first piece is gone for good
  // The same datagram sent again in full is accepted.
  for (const Bytes& x : split(7, payload, {16, 32})) feed(r.stack, x, 3 * kSec);
  EXPECT_EQ(r.recv(), payload);
}

TEST(NetReassembly, ConflictingLastFragmentsDiscardTheDatagram) {
  Receiver r;
  Bytes payload(40, 0x22);
  auto f = split(5, payload, {16, 32});
  feed(r.stack, f[2], 2 * kSec);                               // ends at 48
  feed(r.stack, fragment(5, 32, false, Bytes(24, 0)), 2 * kSec);  // ends at 56
  feed(r.stack, f[0], 2 * kSec);
  feed(r.stack, f[1], 2 * kSec);
  EXPECT_FALSE(r.sock->readable());
}

TEST(NetReassembly, FragmentPastTheLargestDatagramIsDropped) {
  Receiver r;
  // Offset 65512 plus 100 bytes: the classic "ping of death".
  feed(r.stack, fragment(3, 65512, false, Bytes(100, 0)), 2 * kSec);
  EXPECT_EQ(r.stack.reassembler().datagrams(), 0u);
}

TEST(NetReassembly, NonFinalFragmentNotAMultipleOf8IsDropped) {
  Receiver r;
  feed(r.stack, fragment(3, 0, true, Bytes(12, 0)), 2 * kSec);
  EXPECT_EQ(r.stack.reassembler().datagrams(), 0u);
}

TEST(NetReassembly, TimeoutFreesEverythingAndSendsTimeExceeded) {
  long blocks = mote::test::live_heap_blocks();
  {
    Receiver r;
    long before = mote::test::live_heap_blocks();
    feed(r.stack, bytes_of(recorded::kLinuxUdpFrag0), 2 * kSec);
    feed(r.stack, bytes_of(recorded::kLinuxUdpFrag1), 3 * kSec);
    EXPECT_GT(mote::test::live_heap_blocks(), before);
    EXPECT_EQ(r.stack.next_deadline(), 32 * kSec);
    r.stack.tick(31 * kSec);
    EXPECT_EQ(r.stack.reassembler().datagrams(), 1u);
    r.stack.tick(32 * kSec);
    EXPECT_EQ(r.stack.reassembler().datagrams(), 0u);
    EXPECT_EQ(mote::test::live_heap_blocks(), before);
    auto out = r.dev.take();
    ASSERT_EQ(out.size(), 1u);
    Ipv4Header h = ip_of(out[0]);
    EXPECT_EQ(h.dst, kPeerIp);
    EXPECT_EQ(h.proto, kProtoIcmp);
    const u8* icmp = l4_of(out[0]);
    usize len = h.payload_len();
    EXPECT_TRUE(IcmpHeader::parse(icmp, len).ok());
    EXPECT_EQ(icmp[0], u8(IcmpType::TimeExceeded));
    EXPECT_EQ(icmp[1], u8(TimeExceededCode::Reassembly));
    ASSERT_EQ(len, 8u + 20 + 8);  // the first fragment's header and 8 bytes
    EXPECT_EQ(load_be16(icmp + 8 + 4), load_be16(recorded::kLinuxUdpFrag0 + 18));  // its id
    EXPECT_EQ(load_be16(icmp + 8 + 20), 40000);  // the UDP source port
  }
  EXPECT_EQ(mote::test::live_heap_blocks(), blocks);
}

TEST(NetReassembly, TimeoutWithoutTheFirstFragmentSendsNothing) {
  Receiver r;
  feed(r.stack, bytes_of(recorded::kLinuxUdpFrag2), 2 * kSec);
  r.stack.tick(40 * kSec);
  EXPECT_EQ(r.stack.reassembler().datagrams(), 0u);
  EXPECT_TRUE(r.dev.frames.empty());
}

TEST(NetReassembly, NumberOfReassembliesIsBoundedOldestFirst) {
  Receiver r;
  for (u16 id = 0; id <= Reassembler::kMaxDatagrams; ++id)
    feed(r.stack, fragment(id, 0, true, Bytes(8, 0)), 2 * kSec + id);
  EXPECT_EQ(r.stack.reassembler().datagrams(), Reassembler::kMaxDatagrams);
  // Datagram 0 was evicted: its last fragment completes nothing.
  feed(r.stack, fragment(0, 8, false, udp_segment(kPeerIp, kMoteIp, 1, 7777, {})), 3 * kSec);
  EXPECT_FALSE(r.sock->readable());
}

TEST(NetReassembly, HeldBytesStayWithinTheBudget) {
  Reassembler re;
  Bytes chunk(8000, 0x5a);
  Ipv4Header h;
  h.src = kPeerIp, h.dst = kMoteIp, h.proto = kProtoUdp;
  for (u16 id = 0; id < 30; ++id) {
    h.id = id;
    for (usize off = 0; off + chunk.size() <= 64000; off += chunk.size()) {
      h.frag = u16(Ipv4Header::kFlagMf | off / 8);
      usize n = 0;
      EXPECT_EQ(re.add(h, chunk.data(), chunk.size(), id, &n), nullptr);
      ASSERT_LE(re.bytes(), Reassembler::kMaxBytes);
    }
  }
  EXPECT_LT(re.datagrams(), 30u);  // 30 x 64000 bytes do not fit
  EXPECT_GT(re.datagrams(), 0u);
}

TEST(NetReassembly, ReassembledDatagramHasAPlainHeader) {
  Reassembler re;
  Ipv4Header h;
  h.src = kPeerIp, h.dst = kMoteIp, h.proto = 99, h.id = 42, h.ttl = 17, h.tos = 0x10;
  u8 a[16], b[5];
  memset(a, 1, sizeof a), memset(b, 2, sizeof b);
  usize n = 0;
  h.frag = Ipv4Header::kFlagMf;
  EXPECT_EQ(re.add(h, a, sizeof a, 0, &n), nullptr);
  h.frag = 2;
  u8* whole = re.add(h, b, sizeof b, 0, &n);
  ASSERT_NE(whole, nullptr);
  ASSERT_EQ(n, 20u + 21);
  auto w = Ipv4Header::parse(whole, n);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w.value().is_fragment());
  EXPECT_EQ(w.value().ttl, 17);
  EXPECT_EQ(w.value().tos, 0x10);
  EXPECT_EQ(w.value().proto, 99);
  EXPECT_EQ(whole[20], 1);
  EXPECT_EQ(whole[40], 2);
  mm::kfree(whole);
}

}  // namespace
}  // namespace mote::net
