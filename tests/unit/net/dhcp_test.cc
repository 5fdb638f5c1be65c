// The DHCP client (kernel/net/dhcp.h) against a server written here from
// RFC 2131/2132: the DISCOVER/REQUEST it sends (every field a server reads),
// the exchange to BOUND, NAK, retransmission and its back-off, and replies
// it must ignore (other clients, other servers, broken frames).
#include "kernel/net/dhcp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/net/wire.h"

namespace mote::net {
namespace {

constexpr u64 kSec = 1000000000ull;
const Mac kMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const Mac kServerMac{{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}};
const Ipv4 kServer = Ipv4::of(10, 0, 2, 2);
const Ipv4 kOffered = Ipv4::of(10, 0, 2, 15);
constexpr u32 kXid = 0x1234abcd;

// A received message, decoded independently of the client's code.
struct Sent {
  Mac eth_src, eth_dst;
  Ipv4 ip_src, ip_dst;
  u16 sport = 0, dport = 0;
  u8 op = 0;
  u32 xid = 0;
  u16 flags = 0;
  Ipv4 ciaddr;
  Mac chaddr;
  std::vector<std::pair<u8, std::vector<u8>>> options;
  usize bootp_len = 0;
  const std::vector<u8>* option(u8 code) const {
    for (auto& o : options)
      if (o.first == code) return &o.second;
    return nullptr;
  }
};

Sent decode(const u8* f, usize n) {
  Sent s;
  EXPECT_GE(n, 14u + 20 + 8 + 240);
  memcpy(s.eth_dst.b, f, 6);
  memcpy(s.eth_src.b, f + 6, 6);
  EXPECT_EQ(load_be16(f + 12), 0x0800);
  const u8* ip = f + 14;
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(ip[9], 17);
  EXPECT_EQ(csum_fold(csum_add(0, ip, 20)), 0);  // the header checksum holds
  s.ip_src = Ipv4(load_be32(ip + 12));
  s.ip_dst = Ipv4(load_be32(ip + 16));
  const u8* udp = ip + 20;
  s.sport = load_be16(udp);
  s.dport = load_be16(udp + 2);
  u16 ulen = load_be16(udp + 4);
  EXPECT_EQ(csum_fold(csum_add(csum_pseudo(s.ip_src, s.ip_dst, 17, ulen), udp, ulen)), 0);
  const u8* m = udp + 8;
  s.bootp_len = ulen - 8u;
  s.op = m[0];
  s.xid = load_be32(m + 4);
  s.flags = load_be16(m + 10);
  s.ciaddr = Ipv4(load_be32(m + 12));
  memcpy(s.chaddr.b, m + 28, 6);
  const u8 cookie[4] = {99, 130, 83, 99};
  EXPECT_EQ(memcmp(m + 236, cookie, 4), 0);
  for (usize i = 240; i < s.bootp_len;) {
    u8 code = m[i++];
    if (code == 0) continue;
    if (code == 255) break;
    u8 len = m[i++];
    s.options.push_back({code, std::vector<u8>(m + i, m + i + len)});
    i += len;
  }
  return s;
}

struct ReplyOptions {
  u8 type = 2;
  u32 xid = kXid;
  Mac chaddr = kMac;
  Ipv4 yiaddr = kOffered;
  Ipv4 server_id = kServer;
  u32 mask = 0xffffff00;
  Ipv4 router = kServer;
  Ipv4 dns = Ipv4::of(10, 0, 2, 3);
  u32 lease = 86400;
  u16 mtu = 0;
  u16 dport = 68;
  bool udp_checksum = true;
};

// The server's reply, as a DHCP server (slirp, dnsmasq) broadcasts it.
std::vector<u8> reply(const ReplyOptions& o) {
  std::vector<u8> m(240, 0);
  m[0] = 2, m[1] = 1, m[2] = 6;
  store_be32(&m[4], o.xid);
  store_be16(&m[10], 0x8000);
  store_be32(&m[16], o.yiaddr.v);
  store_be32(&m[20], o.server_id.v);
  memcpy(&m[28], o.chaddr.b, 6);
  m[236] = 99, m[237] = 130, m[238] = 83, m[239] = 99;
  auto opt = [&](u8 code, std::vector<u8> v) {
    m.push_back(code);
    m.push_back(u8(v.size()));
    m.insert(m.end(), v.begin(), v.end());
  };
  auto be32 = [](u32 v) { return std::vector<u8>{u8(v >> 24), u8(v >> 16), u8(v >> 8), u8(v)}; };
  if (o.type) opt(53, {o.type});
  opt(54, be32(o.server_id.v));
  opt(1, be32(o.mask));
  opt(3, be32(o.router.v));
  opt(6, be32(o.dns.v));
  opt(51, be32(o.lease));
  if (o.mtu) opt(26, {u8(o.mtu >> 8), u8(o.mtu)});
  m.push_back(0);  // a pad, then the end
  m.push_back(255);
  std::vector<u8> f(14 + 20 + 8 + m.size());
  memset(&f[0], 0xff, 6);
  memcpy(&f[6], kServerMac.b, 6);
  store_be16(&f[12], 0x0800);
  UdpHeader uh;
  uh.src_port = 67;
  uh.dst_port = o.dport;
  uh.length = u16(8 + m.size());
  uh.write(&f[34]);
  memcpy(&f[42], m.data(), m.size());
  if (o.udp_checksum) {
    u16 c = csum_fold(csum_add(csum_pseudo(kServer, Ipv4(0xffffffffu), 17, uh.length), &f[34],
                               uh.length));
    store_be16(&f[40], c ? c : 0xffff);
  }
  Ipv4Header ih;
  ih.total_len = u16(20 + uh.length);
  ih.proto = 17;
  ih.src = kServer;
  ih.dst = Ipv4(0xffffffffu);
  ih.write(&f[14]);
  return f;
}

struct Exchange {
  DhcpClient c{kMac, kXid, "myhost", 6};
  u8 buf[DhcpClient::kFrameCap];
  u64 next = 0;
  Sent send(u64 now) {
    usize n = c.poll(now, buf, &next);
    EXPECT_GT(n, 0u);
    return decode(buf, n);
  }
};

TEST(NetDhcp, DiscoverIsABroadcastFromNowhereWithEverythingAServerReads) {
  Exchange x;
  Sent d = x.send(kSec);
  EXPECT_TRUE(d.eth_dst.broadcast());
  EXPECT_EQ(d.eth_src, kMac);
  EXPECT_TRUE(d.ip_src.any());
  EXPECT_TRUE(d.ip_dst.broadcast());
  EXPECT_EQ(d.sport, 68);
  EXPECT_EQ(d.dport, 67);
  EXPECT_EQ(d.op, 1);
  EXPECT_EQ(d.xid, kXid);
  EXPECT_EQ(d.flags, 0x8000);  // BROADCAST: we cannot receive unicast yet
  EXPECT_EQ(d.chaddr, kMac);
  EXPECT_GE(d.bootp_len, 300u);
  ASSERT_TRUE(d.option(53));
  EXPECT_EQ(*d.option(53), std::vector<u8>{1});  // DISCOVER
  ASSERT_TRUE(d.option(12));
  EXPECT_EQ(std::string(d.option(12)->begin(), d.option(12)->end()), "myhost");
  ASSERT_TRUE(d.option(55));
  for (u8 want : {1, 3, 6, 51})
    EXPECT_NE(std::find(d.option(55)->begin(), d.option(55)->end(), want), d.option(55)->end());
  EXPECT_EQ(d.option(50), nullptr);  // no requested address yet
}

TEST(NetDhcp, OfferRequestAckEndsBoundWithTheLease) {
  Exchange x;
  x.send(kSec);
  ReplyOptions o;
  o.mtu = 1400;
  auto offer = reply(o);
  EXPECT_TRUE(x.c.input(offer.data(), offer.size(), kSec + 1000));
  Sent r = x.send(kSec + 2000);
  EXPECT_EQ(*r.option(53), std::vector<u8>{3});  // REQUEST
  ASSERT_TRUE(r.option(50) && r.option(54));
  EXPECT_EQ(load_be32(r.option(50)->data()), kOffered.v);
  EXPECT_EQ(load_be32(r.option(54)->data()), kServer.v);
  EXPECT_TRUE(r.ip_src.any());
  EXPECT_EQ(r.xid, kXid);
  o.type = 5;  // ACK
  auto ack = reply(o);
  EXPECT_TRUE(x.c.input(ack.data(), ack.size(), kSec + 3000));
  ASSERT_TRUE(x.c.bound());
  const DhcpLease& l = x.c.lease();
  EXPECT_EQ(l.addr, kOffered);
  EXPECT_EQ(l.prefix_len, 24);
  EXPECT_EQ(l.gateway, kServer);
  EXPECT_EQ(l.dns, Ipv4::of(10, 0, 2, 3));
  EXPECT_EQ(l.server, kServer);
  EXPECT_EQ(l.lease_s, 86400u);
  EXPECT_EQ(l.mtu, 1400);
  u64 next;
  EXPECT_EQ(x.c.poll(kSec * 100, x.buf, &next), 0u);  // bound: nothing more to send
}

TEST(NetDhcp, NakSendsTheClientBackToDiscover) {
  Exchange x;
  x.send(kSec);
  auto offer = reply({});
  ASSERT_TRUE(x.c.input(offer.data(), offer.size(), kSec));
  x.send(kSec);  // REQUEST
  ReplyOptions o;
  o.type = 6;  // NAK
  auto nak = reply(o);
  EXPECT_TRUE(x.c.input(nak.data(), nak.size(), kSec));
  EXPECT_FALSE(x.c.bound());
  Sent d = x.send(kSec);
  EXPECT_EQ(*d.option(53), std::vector<u8>{1});
}

TEST(NetDhcp, RetransmitsWithBackOff) {
  Exchange x;
  x.send(0);
  EXPECT_EQ(x.next, kSec);
  u64 next;
  EXPECT_EQ(x.c.poll(kSec - 1, x.buf, &next), 0u);  // not yet
  EXPECT_EQ(next, kSec);
  x.send(kSec);
  EXPECT_EQ(x.next, 3 * kSec);  // then 2 s
  x.send(3 * kSec);
  EXPECT_EQ(x.next, 7 * kSec);  // 4 s
  x.send(7 * kSec);
  EXPECT_EQ(x.next, 15 * kSec);  // 8 s, and 8 s from then on
  x.send(15 * kSec);
  EXPECT_EQ(x.next, 23 * kSec);
  EXPECT_EQ(x.c.transmissions(), 5u);
}

TEST(NetDhcp, UnansweredRequestsGoBackToDiscover) {
  Exchange x;
  x.send(0);
  auto offer = reply({});
  ASSERT_TRUE(x.c.input(offer.data(), offer.size(), 0));
  u64 t = 0;
  for (int i = 0; i < 4; ++i) {
    Sent r = x.send(t);
    EXPECT_EQ(*r.option(53), std::vector<u8>{3});
    t = x.next;
  }
  Sent d = x.send(t);
  EXPECT_EQ(*d.option(53), std::vector<u8>{1});
}

TEST(NetDhcp, RepliesForOthersOrBrokenAreIgnored) {
  Exchange x;
  x.send(kSec);
  auto ignored = [&](ReplyOptions o) {
    auto f = reply(o);
    return !x.c.input(f.data(), f.size(), kSec);
  };
  ReplyOptions o;
  o.xid = kXid + 1;
  EXPECT_TRUE(ignored(o));  // another exchange
  o = {};
  o.chaddr = kServerMac;
  EXPECT_TRUE(ignored(o));  // another client
  o = {};
  o.type = 0;
  EXPECT_TRUE(ignored(o));  // BOOTP, no message type
  o = {};
  o.type = 5;
  EXPECT_TRUE(ignored(o));  // an ACK while selecting
  o = {};
  o.dport = 69;
  EXPECT_TRUE(ignored(o));
  o = {};
  o.yiaddr = Ipv4();
  EXPECT_TRUE(ignored(o));  // an offer of nothing
  // A corrupted checksum, and every truncation of a good offer.
  auto f = reply({});
  f[f.size() - 5] ^= 0x40;
  EXPECT_FALSE(x.c.input(f.data(), f.size(), kSec));
  auto good = reply({});
  for (usize n = 0; n < good.size(); ++n) EXPECT_FALSE(x.c.input(good.data(), n, kSec)) << n;
  // An option running past the end of the message (no UDP checksum, so
  // only the option is wrong): the pad before the end becomes an option
  // whose length is the end marker's 255.
  o = {};
  o.udp_checksum = false;
  auto unchecked = reply(o);
  auto bad = unchecked;
  bad[bad.size() - 2] = 53;
  EXPECT_FALSE(x.c.input(bad.data(), bad.size(), kSec));
  EXPECT_TRUE(x.c.input(unchecked.data(), unchecked.size(), kSec));  // a good one still works
}

TEST(NetDhcp, APartialChecksumIsTakenOnlyWhenTheDeviceVouchesForIt) {
  // A DHCP server on the tap's own host hands its reply over with the UDP
  // sum left partial (NEEDS_CSUM): only the pseudo-header part is there.
  Exchange x;
  x.send(kSec);
  ReplyOptions o;
  o.udp_checksum = false;
  auto f = reply(o);
  store_be16(&f[40], csum_partial_field(csum_pseudo(kServer, Ipv4(0xffffffffu), 17,
                                                    u16(f.size() - 34))));
  EXPECT_FALSE(x.c.input(f.data(), f.size(), kSec));
  EXPECT_TRUE(x.c.input(f.data(), f.size(), kSec, true));
}

TEST(NetDhcp, AckFromAnotherServerIsIgnored) {
  Exchange x;
  x.send(kSec);
  auto offer = reply({});
  ASSERT_TRUE(x.c.input(offer.data(), offer.size(), kSec));
  x.send(kSec);
  ReplyOptions o;
  o.type = 5;
  o.server_id = Ipv4::of(10, 0, 2, 9);
  auto ack = reply(o);
  EXPECT_FALSE(x.c.input(ack.data(), ack.size(), kSec));
  EXPECT_FALSE(x.c.bound());
}

TEST(NetDhcp, SubnetMaskBecomesAPrefixOnlyWhenContiguous) {
  for (auto [mask, want] : std::vector<std::pair<u32, u8>>{
           {0xffff0000u, 16}, {0xfffffffcu, 30}, {0xff00ff00u, 24 /* the default */}}) {
    Exchange x;
    x.send(0);
    ReplyOptions o;
    o.mask = mask;
    auto offer = reply(o);
    ASSERT_TRUE(x.c.input(offer.data(), offer.size(), 0));
    x.send(0);
    o.type = 5;
    auto ack = reply(o);
    ASSERT_TRUE(x.c.input(ack.data(), ack.size(), 0));
    EXPECT_EQ(x.c.lease().prefix_len, want) << std::hex << mask;
  }
}

// Renewal (RFC 2131 4.4.5): a client bound at t0 with a 100 s lease.
struct Bound : Exchange {
  u64 t0 = 10 * kSec;
  explicit Bound(u32 lease_s = 100) {
    send(0);
    ReplyOptions o;
    o.lease = lease_s;
    auto offer = reply(o);
    EXPECT_TRUE(c.input(offer.data(), offer.size(), kSec));
    send(kSec);
    o.type = 5;
    auto ack = reply(o);
    EXPECT_TRUE(c.input(ack.data(), ack.size(), t0));
    EXPECT_TRUE(c.bound());
    EXPECT_EQ(c.leases(), 1u);
  }
  // The server's answer to the renewal exchange (xid + 1).
  std::vector<u8> answer(u8 type, u32 lease_s = 100, Ipv4 server = kServer) {
    ReplyOptions o;
    o.type = type;
    o.xid = kXid + 1;
    o.lease = lease_s;
    o.server_id = server;
    return reply(o);
  }
};

TEST(NetDhcp, RenewsAtT1FromItsAddressAndAnAckExtendsTheLease) {
  Bound x;
  u64 next;
  EXPECT_EQ(x.c.poll(x.t0 + 49 * kSec, x.buf, &next), 0u);
  EXPECT_EQ(next, x.t0 + 50 * kSec);  // T1: half the lease
  Sent r = x.send(x.t0 + 50 * kSec);
  EXPECT_EQ(*r.option(53), std::vector<u8>{3});  // REQUEST
  EXPECT_EQ(r.ciaddr, kOffered);                 // from the address it holds
  EXPECT_EQ(r.ip_src, kOffered);
  EXPECT_EQ(r.option(50), nullptr);  // no requested address, no server id (4.3.2)
  EXPECT_EQ(r.option(54), nullptr);
  EXPECT_EQ(r.flags, 0);  // answered at ciaddr, not broadcast
  EXPECT_EQ(r.xid, kXid + 1);  // a new exchange
  EXPECT_TRUE(x.c.bound());  // still holding the lease meanwhile
  auto ack = x.answer(5, 200);
  EXPECT_TRUE(x.c.input(ack.data(), ack.size(), x.t0 + 51 * kSec));
  EXPECT_EQ(x.c.leases(), 2u);
  EXPECT_EQ(x.c.lease().lease_s, 200u);
  EXPECT_EQ(x.c.poll(x.t0 + 150 * kSec, x.buf, &next), 0u);
  EXPECT_EQ(next, x.t0 + 151 * kSec);  // T1 of the new lease
  EXPECT_EQ(x.c.losses(), 0u);
}

TEST(NetDhcp, RenewalRetransmitsAfterHalfTheTimeLeftThenRebindsWithAnyServer) {
  Bound x;
  x.send(x.t0 + 50 * kSec);
  EXPECT_EQ(x.next, x.t0 + 50 * kSec + 18750000000ull);  // (T2 - now) / 2 = 18.75 s
  u64 next;
  EXPECT_EQ(x.c.poll(x.t0 + 60 * kSec, x.buf, &next), 0u);
  x.send(x.t0 + 69 * kSec);  // RENEWING again
  // Another server's ACK counts only when rebinding.
  const Ipv4 other = Ipv4::of(10, 0, 2, 9);
  auto foreign = x.answer(5, 100, other);
  EXPECT_FALSE(x.c.input(foreign.data(), foreign.size(), x.t0 + 70 * kSec));
  Sent r = x.send(x.t0 + 88 * kSec);  // past T2 (87.5 s): REBINDING
  EXPECT_EQ(r.ciaddr, kOffered);
  EXPECT_TRUE(r.ip_dst.broadcast());
  EXPECT_TRUE(x.c.input(foreign.data(), foreign.size(), x.t0 + 89 * kSec));
  EXPECT_EQ(x.c.leases(), 2u);
  EXPECT_EQ(x.c.lease().server, other);
}

TEST(NetDhcp, ALeaseThatRunsOutOrANakStartsAgainFromDiscover) {
  {
    Bound x;
    x.send(x.t0 + 50 * kSec);
    u64 next;
    for (u64 t = 51; t < 100; ++t) x.c.poll(x.t0 + t * kSec, x.buf, &next);  // unanswered
    EXPECT_TRUE(x.c.bound());
    EXPECT_EQ(x.c.losses(), 0u);
    Sent d = x.send(x.t0 + 100 * kSec);  // the lease's end
    EXPECT_EQ(*d.option(53), std::vector<u8>{1});  // DISCOVER
    EXPECT_TRUE(d.ip_src.any());
    EXPECT_FALSE(x.c.bound());
    EXPECT_EQ(x.c.losses(), 1u);
  }
  {
    Bound x;
    x.send(x.t0 + 50 * kSec);
    auto nak = x.answer(6);
    EXPECT_TRUE(x.c.input(nak.data(), nak.size(), x.t0 + 51 * kSec));
    EXPECT_FALSE(x.c.bound());
    EXPECT_EQ(x.c.losses(), 1u);
    Sent d = x.send(x.t0 + 51 * kSec);
    EXPECT_EQ(*d.option(53), std::vector<u8>{1});
  }
}

TEST(NetDhcp, AnInfiniteLeaseIsNeverRenewed) {
  Bound x(0xffffffffu);
  u64 next;
  EXPECT_EQ(x.c.poll(x.t0 + 1000000 * kSec, x.buf, &next), 0u);
  EXPECT_EQ(next, ~0ull);
  EXPECT_TRUE(x.c.bound());
}

}  // namespace
}  // namespace mote::net
