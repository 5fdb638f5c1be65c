// monitor/net/slirp_backend.h: the --net user backend, driven through its
// frame socket as the guest drives it -- crafted Ethernet frames in, slirp's
// answers out -- with host sockets on the published ports' side.
#include "monitor/net/slirp_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "monitor/net/guest_net.h"

namespace mote::net {
namespace {

using Bytes = std::vector<uint8_t>;

const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
uint16_t get16(const Bytes& b, size_t at) { return uint16_t(b[at] << 8 | b[at + 1]); }
uint32_t get32(const Bytes& b, size_t at) { return uint32_t(get16(b, at)) << 16 | get16(b, at + 2); }

uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

Bytes ethernet(const uint8_t* dst, uint16_t type) {
  Bytes f(dst, dst + 6);
  f.insert(f.end(), kGuestMac, kGuestMac + 6);
  put16(f, type);
  return f;
}

Bytes ipv4(const uint8_t* dst_mac, uint32_t dst, uint8_t proto, const Bytes& payload) {
  Bytes f = ethernet(dst_mac, 0x0800);
  size_t ip = f.size();
  put16(f, 0x4500);
  put16(f, uint16_t(20 + payload.size()));
  put32(f, 0x12344000);  // id, don't fragment
  f.push_back(64);
  f.push_back(proto);
  put16(f, 0);
  put32(f, kUserGuest);
  put32(f, dst);
  uint16_t c = checksum(f.data() + ip, 20);
  f[ip + 10] = uint8_t(c >> 8);
  f[ip + 11] = uint8_t(c);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

// TCP/UDP checksum over the pseudo header (RFC 793/768).
void l4_checksum(Bytes& seg, uint32_t src, uint32_t dst, uint8_t proto, size_t at) {
  uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto +
                 uint32_t(seg.size());
  seg[at] = seg[at + 1] = 0;
  uint16_t c = checksum(seg.data(), seg.size(), sum);
  seg[at] = uint8_t(c >> 8);
  seg[at + 1] = uint8_t(c);
}

class SlirpBackendTest : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& publish = {}) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv_), 0);
    std::vector<cli::PortMapping> ports;
    for (const auto& p : publish) {
      std::string e;
      auto m = cli::parse_publish(p, &e);
      ASSERT_TRUE(m) << e;
      ports.push_back(*m);
    }
    std::string error;
    ASSERT_TRUE(backend_.start(sv_[1], ports, publish, "mote", &error)) << error;
    loop_ = std::thread([this] { backend_.run(); });
  }
  void TearDown() override {
    if (loop_.joinable()) {
      backend_.stop();
      loop_.join();
    }
    for (int fd : sv_)
      if (fd >= 0) close(fd);
  }
  void send_frame(const Bytes& f) {
    ASSERT_EQ(send(sv_[0], f.data(), f.size(), 0), ssize_t(f.size()));
  }
  // The next frame from slirp that `want` accepts (others are skipped, ARP
  // requests for the guest answered); empty after `ms` (5 s).
  Bytes expect_frame(const std::function<bool(const Bytes&)>& want, int ms = 5000) {
    for (int spins = 0; spins < ms / 10; ++spins) {
      pollfd p{sv_[0], POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      Bytes f(65536);
      ssize_t n = recv(sv_[0], f.data(), f.size(), 0);
      if (n <= 0) return {};
      f.resize(size_t(n));
      if (f.size() >= 42 && get16(f, 12) == 0x0806 && get16(f, 20) == 1 && get32(f, 38) == kUserGuest)
        answer_arp(f);
      if (want(f)) return f;
    }
    return {};
  }
  void answer_arp(const Bytes& req) {
    Bytes r = ethernet(req.data() + 6, 0x0806);
    put16(r, 1);
    put16(r, 0x0800);
    r.push_back(6);
    r.push_back(4);
    put16(r, 2);
    r.insert(r.end(), kGuestMac, kGuestMac + 6);
    put32(r, kUserGuest);
    r.insert(r.end(), req.begin() + 22, req.begin() + 32);  // their MAC and IP
    send_frame(r);
  }
  // The gateway's MAC, learned by ARP.
  Bytes gateway_mac() {
    Bytes req = ethernet(kBroadcast, 0x0806);
    put16(req, 1);
    put16(req, 0x0800);
    req.push_back(6);
    req.push_back(4);
    put16(req, 1);  // request
    req.insert(req.end(), kGuestMac, kGuestMac + 6);
    put32(req, kUserGuest);
    req.insert(req.end(), 6, 0);
    put32(req, kUserGateway);
    send_frame(req);
    Bytes reply = expect_frame([](const Bytes& f) {
      return f.size() >= 42 && get16(f, 12) == 0x0806 && get16(f, 20) == 2;
    });
    if (reply.empty()) return {};
    EXPECT_EQ(get32(reply, 28), kUserGateway);  // sender IP
    EXPECT_EQ(Bytes(reply.begin() + 32, reply.begin() + 38), Bytes(kGuestMac, kGuestMac + 6));
    EXPECT_EQ(get32(reply, 38), kUserGuest);
    return Bytes(reply.begin() + 22, reply.begin() + 28);
  }
  // A TCP socket listening on an ephemeral port of 127.0.0.1 (*port), with
  // SO_RCVBUF `rcvbuf` (for the connections it accepts) unless 0.
  static int listen_on_loopback(uint16_t* port, int rcvbuf = 0) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf) {
      EXPECT_EQ(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(l, 1), 0);
    socklen_t len = sizeof a;
    getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
    return l;
  }
  static uint16_t free_port(int type) {
    int s = socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    close(s);
    return ntohs(a.sin_port);
  }

  SlirpBackend backend_;
  std::thread loop_;
  int sv_[2] = {-1, -1};
};

TEST_F(SlirpBackendTest, AnswersArpForTheGateway) {
  start();
  Bytes mac = gateway_mac();
  ASSERT_EQ(mac.size(), 6u) << "no ARP reply from slirp";
}

TEST_F(SlirpBackendTest, AnswersPingToTheGateway) {
  start();
  Bytes mac = gateway_mac();
  ASSERT_EQ(mac.size(), 6u);
  Bytes icmp = {8, 0, 0, 0};
  put16(icmp, 0x4d4f);  // id
  put16(icmp, 1);       // sequence
  for (char c : std::string("mote ping")) icmp.push_back(uint8_t(c));
  uint16_t c = checksum(icmp.data(), icmp.size());
  icmp[2] = uint8_t(c >> 8);
  icmp[3] = uint8_t(c);
  send_frame(ipv4(mac.data(), kUserGateway, 1, icmp));
  Bytes reply = expect_frame([](const Bytes& f) {
    return f.size() >= 42 && get16(f, 12) == 0x0800 && f[23] == 1 && f[34] == 0 /*echo reply*/;
  });
  ASSERT_FALSE(reply.empty()) << "no echo reply";
  EXPECT_EQ(get32(reply, 26), kUserGateway);
  EXPECT_EQ(get32(reply, 30), kUserGuest);
  EXPECT_EQ(get16(reply, 38), 0x4d4f);
  EXPECT_EQ(std::string(reply.begin() + 42, reply.end()), "mote ping");
  EXPECT_GE(backend_.frames_in(), 2u);
}

// -p HOSTPORT:80: a host connection becomes a SYN to 10.0.2.15:80, and once
// the guest's side completes the handshake the host's bytes arrive in order.
TEST_F(SlirpBackendTest, PublishedTcpPortReachesTheGuest) {
  uint16_t port = free_port(SOCK_STREAM);
  start({"127.0.0.1:" + std::to_string(port) + ":80"});
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
  Bytes syn = expect_frame([](const Bytes& f) {
    return f.size() >= 54 && get16(f, 12) == 0x0800 && f[23] == 6 && (f[47] & 0x02);
  });
  ASSERT_FALSE(syn.empty()) << "no SYN for the guest";
  EXPECT_EQ(get32(syn, 30), kUserGuest);
  EXPECT_EQ(get16(syn, 36), 80);
  uint16_t sport = get16(syn, 34);
  uint32_t their_seq = get32(syn, 38);
  // SYN-ACK from the guest.
  Bytes tcp;
  put16(tcp, 80);
  put16(tcp, sport);
  put32(tcp, 1000);            // our ISN
  put32(tcp, their_seq + 1);
  put16(tcp, 0x5012);          // 20-byte header, SYN|ACK
  put16(tcp, 65535);
  put32(tcp, 0);
  uint32_t src_ip = get32(syn, 26);
  l4_checksum(tcp, kUserGuest, src_ip, 6, 16);
  send_frame(ipv4(syn.data() + 6, src_ip, 6, tcp));
  ASSERT_EQ(write(c, "hello guest", 11), 11);
  Bytes data = expect_frame([](const Bytes& f) {
    return f.size() > 54 && get16(f, 12) == 0x0800 && f[23] == 6;
  });
  ASSERT_FALSE(data.empty()) << "the host's bytes did not reach the guest";
  size_t off = 34 + size_t(data[46] >> 4) * 4;
  EXPECT_EQ(std::string(data.begin() + long(off), data.end()), "hello guest");
  EXPECT_EQ(get32(data, 38), their_seq + 1);
  close(c);
}

TEST_F(SlirpBackendTest, PublishedUdpPortReachesTheGuest) {
  uint16_t port = free_port(SOCK_DGRAM);
  start({"127.0.0.1:" + std::to_string(port) + ":53/udp"});
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(sendto(s, "dns?", 4, 0, reinterpret_cast<sockaddr*>(&a), sizeof a), 4);
  Bytes dgram = expect_frame([](const Bytes& f) {
    return f.size() >= 42 && get16(f, 12) == 0x0800 && f[23] == 17;
  });
  ASSERT_FALSE(dgram.empty()) << "no datagram for the guest";
  EXPECT_EQ(get32(dgram, 30), kUserGuest);
  EXPECT_EQ(get16(dgram, 36), 53);
  EXPECT_EQ(std::string(dgram.begin() + 42, dgram.end()), "dns?");
  close(s);
}

TEST_F(SlirpBackendTest, PortInUseIsAOneLineError) {
  uint16_t port;
  int busy = listen_on_loopback(&port);
  std::string spec = "127.0.0.1:" + std::to_string(port) + ":80";
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv_), 0);
  std::string e;
  auto m = cli::parse_publish(spec, &e);
  ASSERT_TRUE(m);
  EXPECT_FALSE(backend_.start(sv_[1], {*m}, {spec}, "mote", &e));
  EXPECT_EQ(e.rfind("-p " + spec + ": cannot listen on 127.0.0.1:", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  close(busy);
}

// A TCP segment from the guest (20-byte header, no options), checksummed.
Bytes guest_tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                uint32_t dst, const uint8_t* data = nullptr, size_t len = 0) {
  Bytes tcp;
  put16(tcp, sport);
  put16(tcp, dport);
  put32(tcp, seq);
  put32(tcp, ack);
  put16(tcp, uint16_t(0x5000 | flags));
  put16(tcp, 65535);
  put32(tcp, 0);
  if (data) tcp.insert(tcp.end(), data, data + len);
  l4_checksum(tcp, kUserGuest, dst, 6, 16);
  return tcp;
}

uint8_t pattern(size_t i) { return uint8_t(i * 7 + (i >> 9)); }

// A guest that ends while slirp still holds what it sent: the host, slow
// to read, has let slirp's socket buffer fill, and slirp had acknowledged
// the rest (which a guest's TCP takes as delivered). Once the guest's side
// closes, the loop first writes that out as the host reads, then returns.
TEST_F(SlirpBackendTest, WhatTheGuestSentReachesTheHostAfterItEnds) {
  // The host holds little (a small receive buffer): slirp has to hold the rest.
  uint16_t hport;
  int l = listen_on_loopback(&hport, 4096);
  const uint16_t gport = 40000;
  start();
  Bytes mac = gateway_mac();
  ASSERT_EQ(mac.size(), 6u);
  auto from_slirp = [&](const Bytes& f) {
    return f.size() >= 54 && get16(f, 12) == 0x0800 && f[23] == 6 && get16(f, 36) == gport;
  };
  const uint32_t iss = 77000;
  send_frame(ipv4(mac.data(), kUserGateway, 6, guest_tcp(gport, hport, iss, 0, 0x02, kUserGateway)));
  Bytes synack = expect_frame(from_slirp);
  ASSERT_FALSE(synack.empty()) << "no SYN-ACK from slirp";
  ASSERT_EQ(synack[47] & 0x12, 0x12);
  uint32_t rcv = get32(synack, 38) + 1;
  uint32_t una = iss + 1, nxt = iss + 1, wnd = get16(synack, 48);
  send_frame(ipv4(mac.data(), kUserGateway, 6, guest_tcp(gport, hport, nxt, rcv, 0x10, kUserGateway)));
  int h = accept(l, nullptr, nullptr);
  ASSERT_GE(h, 0);
  // Send within slirp's window until it is all acknowledged and the window
  // is shut: the host's buffers are full and slirp holds the rest.
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(una == nxt && wnd == 0)) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << "slirp's window never shut";
    ASSERT_LT(nxt - iss, 64u << 20);
    while (nxt - una < wnd) {
      size_t len = std::min<size_t>(1400, wnd - (nxt - una));
      uint8_t buf[1400];
      for (size_t i = 0; i < len; ++i) buf[i] = pattern(nxt - iss - 1 + i);
      send_frame(ipv4(mac.data(), kUserGateway, 6,
                      guest_tcp(gport, hport, nxt, rcv, 0x18, kUserGateway, buf, len)));
      nxt += uint32_t(len);
    }
    Bytes ack = expect_frame(from_slirp, 300);
    if (ack.empty()) {
      // Lost in slirp's delayed ACK: send the last byte again to ask.
      if (una != nxt) {
        uint8_t b = pattern(nxt - iss - 2);
        send_frame(ipv4(mac.data(), kUserGateway, 6,
                        guest_tcp(gport, hport, nxt - 1, rcv, 0x18, kUserGateway, &b, 1)));
      }
      continue;
    }
    uint32_t acked = get32(ack, 42);
    if (int32_t(acked - una) >= 0 && int32_t(nxt - acked) >= 0) {
      una = acked;
      wnd = get16(ack, 48);
    }
  }
  const size_t total = nxt - iss - 1;
  // The guest ends. A loop that returned at once would leave slirp's part
  // unwritten; the host reads only once the end could have been taken.
  close(sv_[0]);
  sv_[0] = -1;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Bytes got;
  for (;;) {
    pollfd p{h, POLLIN, 0};
    if (poll(&p, 1, 3000) <= 0) break;
    uint8_t buf[65536];
    ssize_t n = read(h, buf, sizeof buf);
    if (n <= 0) break;
    got.insert(got.end(), buf, buf + n);
    if (got.size() >= total) break;
  }
  ASSERT_EQ(got.size(), total) << "of " << total << " bytes slirp acknowledged";
  for (size_t i = 0; i < total; ++i) ASSERT_EQ(got[i], pattern(i)) << "at byte " << i;
  loop_.join();  // the drain ends once slirp holds nothing, without stop()
  close(h);
  close(l);
}

// The guest side closing ends the loop (mote-net exits with the guest).
TEST_F(SlirpBackendTest, LoopEndsWhenTheGuestCloses) {
  start();
  close(sv_[0]);
  sv_[0] = -1;
  loop_.join();  // returns without stop()
}

}  // namespace
}  // namespace mote::net
