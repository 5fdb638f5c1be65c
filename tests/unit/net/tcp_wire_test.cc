// TCP's building blocks: header parsing and building (tcp_wire.h), the ring
// buffer and out-of-order range list (tcp_buffer.h), SipHash and ISNs
// (tcp_isn.h), and sequence arithmetic (tcp_seq.h).
#include "kernel/net/tcp_buffer.h"
#include "kernel/net/tcp_isn.h"
#include "kernel/net/tcp_seq.h"
#include "kernel/net/tcp_wire.h"
#include "tests/unit/net/tcp_test_harness.h"

namespace mote::net::tcptest {
namespace {

// A SYN as Linux 6.18 sent it (captured with an AF_PACKET socket on lo for
// a Python connect() to 127.0.0.1:40123): MSS 65495, SACK-permitted,
// timestamps, NOP, window scale 10. Loopback leaves the checksum to
// "offload", so tests put the addresses they use and recompute it.
const u8 kLinuxSyn[] = {0xe4, 0xf8, 0x9c, 0xbb, 0x77, 0xc5, 0x9f, 0xc8, 0x00, 0x00,
                        0x00, 0x00, 0xa0, 0x02, 0xff, 0xd7, 0xfe, 0x30, 0x00, 0x00,
                        0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x50, 0x92,
                        0x0b, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a};

Bytes with_checksum(const u8* seg, usize len, Ipv4 src, Ipv4 dst) {
  Bytes b(seg, seg + len);
  b[16] = b[17] = 0;
  u32 sum = csum_add(csum_pseudo(src, dst, kProtoTcp, u16(len)), b.data(), len);
  store_be16(&b[16], csum_fold(sum));
  return b;
}

TEST(TcpWire, ParsesRealLinuxSynWithAllItsOptions) {
  Bytes b = with_checksum(kLinuxSyn, sizeof kLinuxSyn, kPeerIp, kLocalIp);
  IpInfo ip;
  ip.src = kPeerIp, ip.dst = kLocalIp;
  TcpSegment s;
  ASSERT_TRUE(tcp_parse(ip, b.data(), b.size(), &s));
  EXPECT_EQ(s.sport, 58616);
  EXPECT_EQ(s.dport, 40123);
  EXPECT_EQ(s.seq, 0x77c59fc8u);
  EXPECT_EQ(s.flags, kTcpSyn);
  EXPECT_EQ(s.wnd, 65495);
  EXPECT_EQ(s.len, 0u);
  EXPECT_TRUE(s.opt.has_mss);
  EXPECT_EQ(s.opt.mss, 65495);
  EXPECT_TRUE(s.opt.sack_ok);
  EXPECT_TRUE(s.opt.has_ts);
  EXPECT_EQ(s.opt.tsval, 0x50920bd8u);
  EXPECT_EQ(s.opt.tsecr, 0u);
  EXPECT_TRUE(s.opt.has_wscale);
  EXPECT_EQ(s.opt.wscale, 10);
  EXPECT_EQ(s.seq_len(), 1u);
}

TEST(TcpWire, RejectsBadChecksumAndBadDataOffset) {
  Bytes b = with_checksum(kLinuxSyn, sizeof kLinuxSyn, kPeerIp, kLocalIp);
  IpInfo ip;
  ip.src = kPeerIp, ip.dst = kLocalIp;
  TcpSegment s;
  Bytes bad = b;
  bad[5] ^= 0x40;
  EXPECT_FALSE(tcp_parse(ip, bad.data(), bad.size(), &s));
  // Checksum over different addresses (the pseudo-header) fails too.
  IpInfo other = ip;
  other.src = Ipv4::of(10, 0, 2, 3);
  EXPECT_FALSE(tcp_parse(other, b.data(), b.size(), &s));
  // Data offset past the end, and below 5 words.
  for (u8 off : {0x00, 0x40, 0xb0, 0xf0}) {
    Bytes d = b;
    d[12] = off;
    d = with_checksum(d.data(), d.size(), kPeerIp, kLocalIp);
    EXPECT_FALSE(tcp_parse(ip, d.data(), d.size(), &s)) << int(off);
  }
  EXPECT_FALSE(tcp_parse(ip, b.data(), 19, &s));
}

TEST(TcpWire, MalformedOptionsStopParsingWithoutOverrun) {
  TcpOptions o;
  const u8 zero_len[] = {kTcpOptMss, 0, 5, 0xb4};
  tcp_parse_options(zero_len, sizeof zero_len, &o);
  EXPECT_FALSE(o.has_mss);
  const u8 runs_off[] = {kTcpOptNop, kTcpOptTimestamp, 10, 1, 2, 3};
  o = TcpOptions{};
  tcp_parse_options(runs_off, sizeof runs_off, &o);
  EXPECT_FALSE(o.has_ts);
  const u8 big_shift[] = {kTcpOptWscale, 3, 200, kTcpOptEnd, kTcpOptMss, 4, 1, 1};
  o = TcpOptions{};
  tcp_parse_options(big_shift, sizeof big_shift, &o);
  EXPECT_TRUE(o.has_wscale);
  EXPECT_EQ(o.wscale, 14);  // RFC 7323 2.3
  EXPECT_FALSE(o.has_mss);  // after End
  const u8 wrong_len[] = {kTcpOptMss, 3, 5, kTcpOptNop};
  o = TcpOptions{};
  tcp_parse_options(wrong_len, sizeof wrong_len, &o);
  EXPECT_FALSE(o.has_mss);
}

TEST(TcpWire, BuildThenParseRoundTripsEveryField) {
  Packet* p = Packet::alloc(5);
  memcpy(p->put(5), "hello", 5);
  TcpHeaderOut h;
  h.sport = 1234, h.dport = 80, h.seq = 0xfffffff0, h.ack = 7, h.flags = kTcpSyn | kTcpAck;
  h.wnd = 29200, h.has_mss = true, h.mss = 1460, h.has_wscale = true, h.wscale = 7;
  h.has_ts = true, h.tsval = 111, h.tsecr = 222;
  EXPECT_EQ(tcp_options_len(h), 20u);
  tcp_build(p, h, kLocalIp, kPeerIp);
  IpInfo ip;
  ip.src = kLocalIp, ip.dst = kPeerIp;
  TcpSegment s;
  ASSERT_TRUE(tcp_parse(ip, p->data(), p->size(), &s));
  EXPECT_EQ(s.sport, 1234);
  EXPECT_EQ(s.dport, 80);
  EXPECT_EQ(s.seq, 0xfffffff0u);
  EXPECT_EQ(s.ack, 7u);
  EXPECT_EQ(s.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(s.wnd, 29200);
  EXPECT_EQ(s.opt.mss, 1460);
  EXPECT_EQ(s.opt.wscale, 7);
  EXPECT_EQ(s.opt.tsval, 111u);
  EXPECT_EQ(s.opt.tsecr, 222u);
  EXPECT_FALSE(s.opt.sack_ok);
  ASSERT_EQ(s.len, 5u);
  EXPECT_EQ(memcmp(s.data, "hello", 5), 0);
  Packet::free(p);
}

TEST(TcpSeq, ComparisonsWrapAround) {
  EXPECT_TRUE(seq_lt(0xfffffff0u, 0x10u));
  EXPECT_TRUE(seq_gt(0x10u, 0xfffffff0u));
  EXPECT_TRUE(seq_in(0u, 0xfffffff0u, 0x10u));
  EXPECT_FALSE(seq_in(0x10u, 0xfffffff0u, 0x10u));
  EXPECT_TRUE(seq_leq(5u, 5u));
}

TEST(TcpRing, WrapsAroundAndKeepsOrder) {
  TcpRing r;
  ASSERT_TRUE(r.init(8).ok());
  const u8 a[] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(r.append(a, 6), 6u);
  r.consume(4);
  EXPECT_EQ(r.append(a, 6), 6u);  // wraps
  EXPECT_EQ(r.append(a, 6), 0u);  // full
  u8 out[8];
  r.copy_out(0, out, 8);
  const u8 want[] = {5, 6, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(memcmp(out, want, 8), 0);
  r.consume(8);
  EXPECT_EQ(r.size(), 0u);
}

TEST(TcpRing, GrowKeepsContentsAndBytesPastTheTail) {
  // A wrapped ring with out-of-order bytes beyond its tail grows: the same
  // bytes at the same offsets from the head, and room for more.
  TcpRing r;
  ASSERT_TRUE(r.init(8).ok());
  const u8 a[] = {1, 2, 3, 4, 5, 6}, late[] = {9};
  r.append(a, 6);
  r.consume(5);
  r.append(a, 4);         // contents 6 1 2 3 4, wrapped
  r.write_at(2, late, 1);  // offset 7 from the head: past the tail
  r.grow(32);
  EXPECT_EQ(r.cap(), 32u);
  EXPECT_EQ(r.size(), 5u);
  const u8 gap[] = {7, 8};
  r.write_at(0, gap, 2);
  r.commit(3);
  u8 out[8];
  r.copy_out(0, out, 8);
  const u8 want[] = {6, 1, 2, 3, 4, 7, 8, 9};
  EXPECT_EQ(memcmp(out, want, 8), 0);
  EXPECT_EQ(r.append(a, 6), 6u);
  EXPECT_EQ(r.space(), 32u - 14u);
  r.grow(16);  // never shrinks
  EXPECT_EQ(r.cap(), 32u);
}

TEST(TcpRing, OutOfOrderBytesBecomeReadableOnCommit) {
  TcpRing r;
  ASSERT_TRUE(r.init(10).ok());
  const u8 head[] = {'a', 'b'}, tail[] = {'e', 'f'};
  r.write_at(4, tail, 2);  // bytes 4..5 past the tail arrive first
  EXPECT_EQ(r.size(), 0u);
  r.append(head, 2);
  const u8 mid[] = {'c', 'd'};
  r.write_at(0, mid, 2);
  r.commit(4);
  u8 out[6];
  r.copy_out(0, out, 6);
  EXPECT_EQ(memcmp(out, "abcdef", 6), 0);
}

TEST(TcpRing, OutOfOrderBytesSurviveTheReaderEmptyingTheRing) {
  // Regression: consume() used to rewind an empty ring to position 0, moving
  // the place out-of-order bytes had been written to.
  TcpRing r;
  ASSERT_TRUE(r.init(16).ok());
  const u8 a[] = {'a', 'b', 'c'}, late[] = {'x', 'y'}, mid[] = {'m'};
  r.append(a, 3);
  r.write_at(1, late, 2);  // bytes 4..5 arrive early
  r.consume(3);            // the reader drains everything in order
  r.write_at(0, mid, 1);   // the hole fills
  r.commit(3);
  u8 out[3];
  r.copy_out(0, out, 3);
  EXPECT_EQ(memcmp(out, "mxy", 3), 0);
}

// The memory behind a ring follows the bytes written into it, not its
// capacity (tcp_buffer.h).
TEST(TcpRing, MemoryFollowsTheBytesNotTheCapacity) {
  TcpRing r;
  ASSERT_TRUE(r.init(128 << 10).ok());
  EXPECT_EQ(r.cap(), 128u << 10);
  EXPECT_EQ(r.store(), TcpRing::kFirstStore);
  std::vector<u8> a(3000);
  for (usize i = 0; i < a.size(); ++i) a[i] = u8(i * 7);
  for (int k = 0; k < 50; ++k) {  // requests and replies: written, read, again
    ASSERT_EQ(r.append(a.data(), 3000), 3000u);
    u8 out[3000];
    r.copy_out(0, out, 3000);
    ASSERT_EQ(memcmp(out, a.data(), 3000), 0);
    r.consume(3000);
  }
  EXPECT_EQ(r.store(), TcpRing::kFirstStore);
  // A byte far out of order takes memory up to it, doubling at least.
  const u8 late[] = {42};
  ASSERT_TRUE(r.write_at(20000, late, 1));
  EXPECT_GE(r.store(), 20001u);
  EXPECT_LE(r.store(), r.cap());
  u32 grown = r.store();
  EXPECT_EQ(r.append(a.data(), 3000), 3000u);  // within the memory it has
  EXPECT_EQ(r.store(), grown);
  // Filling the whole capacity takes memory for all of it, and no more.
  std::vector<u8> big(r.space());
  EXPECT_EQ(r.append(big.data(), u32(big.size())), u32(big.size()));
  EXPECT_EQ(r.store(), r.cap());
  EXPECT_EQ(r.space(), 0u);
}

TEST(TcpRing, WrappedAtItsMemoryThenGrownKeepsEveryByteInPlace) {
  // Memory smaller than the capacity: the ring wraps at its memory; when
  // it grows, the contents and the out-of-order bytes past the tail keep
  // their offsets from the head.
  TcpRing r;
  ASSERT_TRUE(r.init(64 << 10).ok());
  const u32 first = r.store();
  std::vector<u8> src(first);
  for (usize i = 0; i < src.size(); ++i) src[i] = u8(i * 13 + 1);
  ASSERT_EQ(r.append(src.data(), first - 100), first - 100);
  r.consume(first - 300);                       // 200 bytes left near the end
  ASSERT_EQ(r.append(src.data(), 1000), 1000u);  // wraps at the memory
  EXPECT_EQ(r.store(), first);
  const u8 late[] = {'L', 'A', 'T', 'E'};
  ASSERT_TRUE(r.write_at(50, late, 4));  // past the tail, inside the memory
  // Now more than the memory holds: it grows, moving everything.
  ASSERT_EQ(r.append(src.data(), first), first);
  EXPECT_GT(r.store(), first);
  std::vector<u8> want;
  want.insert(want.end(), src.begin() + (first - 300), src.begin() + (first - 100));
  want.insert(want.end(), src.begin(), src.begin() + 1000);
  want.insert(want.end(), src.begin(), src.begin() + first);
  std::vector<u8> out(want.size());
  ASSERT_EQ(r.size(), want.size());
  r.copy_out(0, out.data(), u32(out.size()));
  EXPECT_EQ(out, want);
  // The appended bytes overwrote the out-of-order ones (they were never
  // committed), as a later in-order segment would: nothing else moved.
}

TEST(TcpRing, OutOfOrderBytesSurviveTheMemoryGrowing) {
  TcpRing r;
  ASSERT_TRUE(r.init(64 << 10).ok());
  const u8 head[] = {'a', 'b'}, far[] = {'y', 'z'};
  ASSERT_EQ(r.append(head, 2), 2u);
  r.consume(1);                              // head no longer at 0
  ASSERT_TRUE(r.write_at(100, far, 2));      // within the first memory
  ASSERT_TRUE(r.write_at(30000, far, 2));    // makes it grow
  EXPECT_GE(r.store(), 30003u);
  std::vector<u8> fill(30000);
  for (usize i = 0; i < fill.size(); ++i) fill[i] = u8('0' + i % 10);
  // The hole before the first late bytes, then commit up to them.
  ASSERT_TRUE(r.write_at(0, fill.data(), 100));
  r.commit(102);
  u8 out[103];
  r.copy_out(0, out, 103);
  EXPECT_EQ(out[0], 'b');
  EXPECT_EQ(memcmp(out + 1, fill.data(), 100), 0);
  EXPECT_EQ(out[101], 'y');
  EXPECT_EQ(out[102], 'z');
}

TEST(TcpRing, WithoutMemoryTheCapacityShrinksToWhatItHas) {
  TcpRing r;
  ASSERT_TRUE(r.init(128 << 10).ok());
  const u32 first = r.store();
  test::fail_allocations_over(first);  // nothing larger than the first memory
  std::vector<u8> a(10000, 7);
  EXPECT_EQ(r.append(a.data(), 10000), first);  // what the memory holds
  EXPECT_EQ(r.cap(), first);
  EXPECT_EQ(r.space(), 0u);
  r.consume(first);
  EXPECT_FALSE(r.write_at(first, a.data(), 1));  // beyond the capacity now: refused
  EXPECT_TRUE(r.write_at(first - 100, a.data(), 100));
  test::fail_allocations_over(0);
  // Memory again: a larger capacity is taken up as it is written.
  r.grow(64 << 10);
  EXPECT_EQ(r.cap(), 64u << 10);
  EXPECT_EQ(r.append(a.data(), 10000), 10000u);
  EXPECT_GE(r.store(), 10000u);
}

TEST(TcpReassembly, MergesAndAbsorbsRanges) {
  TcpReassembly q;
  EXPECT_TRUE(q.add(100, 110));
  EXPECT_TRUE(q.add(120, 130));
  EXPECT_TRUE(q.add(105, 121));  // bridges both
  ASSERT_EQ(q.count(), 1u);
  EXPECT_EQ(q.at(0).start, 100u);
  EXPECT_EQ(q.at(0).end, 130u);
  EXPECT_EQ(q.advance(90), 90u);  // a hole remains before 100
  EXPECT_EQ(q.advance(100), 130u);
  EXPECT_EQ(q.count(), 0u);
}

TEST(TcpReassembly, BoundedNumberOfRanges) {
  TcpReassembly q;
  for (u32 i = 0; i < TcpReassembly::kMax; ++i) EXPECT_TRUE(q.add(1000 + 10 * i, 1005 + 10 * i));
  EXPECT_FALSE(q.add(5000, 5001));  // a new disjoint range: refused
  EXPECT_TRUE(q.add(1003, 1008));   // extending an existing one is fine
  EXPECT_EQ(q.count(), TcpReassembly::kMax);
  // Ranges across the sequence wrap.
  TcpReassembly w;
  EXPECT_TRUE(w.add(0xfffffffa, 4));
  EXPECT_EQ(w.advance(0xfffffff0), 0xfffffff0u);
  EXPECT_EQ(w.advance(0xfffffffa), 4u);
}

TEST(TcpIsn, SipHashMatchesReferenceVector) {
  // SipHash-2-4 paper, appendix A: key 00..0f, empty message.
  TcpSecret k{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
  EXPECT_EQ(siphash24(k, nullptr, 0), 0x726fdb47dd0e0e31ull);
  // 15-byte message 00..0e (the reference vectors' 16th entry).
  u8 m[15];
  for (int i = 0; i < 15; ++i) m[i] = u8(i);
  EXPECT_EQ(siphash24(k, m, 15), 0xa129ca6149be45e5ull);
}

TEST(TcpIsn, DependsOnTupleKeyAndClock) {
  Endpoint l{kLocalIp, 40000}, r{kPeerIp, 80};
  u32 a = tcp_isn(kSecret, l, r, 0);
  EXPECT_EQ(tcp_isn(kSecret, l, r, 0), a);
  EXPECT_NE(tcp_isn(kSecret, Endpoint{kLocalIp, 40001}, r, 0), a);
  EXPECT_NE(tcp_isn(TcpSecret{1, 2}, l, r, 0), a);
  // The clock adds one every 4 us.
  EXPECT_EQ(tcp_isn(kSecret, l, r, 4000 * 10), a + 10);
}

}  // namespace
}  // namespace mote::net::tcptest
