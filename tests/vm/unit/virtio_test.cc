// The KVM monitor's virtio devices (monitor/vm/virtio): the virtio-mmio
// transport, the split virtqueue's checks against a hostile driver,
// virtio-net on a frame socket and virtio-9p in front of the share server.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/if_tun.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "abi/p9.h"
#include "monitor/share/server.h"
#include "monitor/util/seccomp.h"
#include "monitor/util/seccomp_policies.h"
#include "monitor/vm/vcpu.h"
#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/virtio/net.h"
#include "monitor/vm/virtio/p9.h"
#include "tests/vm/unit/console_pipe.h"
#include "tests/vm/unit/virtio_driver.h"

namespace mote::vmtest {
namespace {

constexpr uint8_t kMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr uint64_t kRam = 1ull << 20;
constexpr uint64_t kRxRing = 0x10000, kTxRing = 0x20000;

struct Irq {
  bool level = false;
  int raises = 0;
  std::function<void(bool)> line() {
    return [this](bool up) {
      if (up && !level) ++raises;
      level = up;
    };
  }
};

struct NetFixture {
  // vnet: the backend is a tap with virtio-net headers (here a socket the
  // test reads and writes with the 12-byte header before each frame).
  explicit NetFixture(bool vnet = false) : vnet_(vnet) {}
  bool vnet_;
  GuestMemory mem = std::move(GuestMemory::create(kRam).value());
  GuestFault fault;
  int sv[2] = {-1, -1};  // sv[0]: the device's frame fd; sv[1]: the backend's end
  NetDevice* dev = nullptr;
  std::unique_ptr<Transport> t;
  Irq irq;
  VirtioDriver d{*make(), mem};

  Transport* make() {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) abort();
    auto device = std::make_unique<NetDevice>(sv[0], kMac, 1500, vnet_);
    dev = device.get();
    t = std::make_unique<Transport>(mem, std::move(device), "virtio-net", fault);
    t->set_irq(irq.line());
    return t.get();
  }
  ~NetFixture() {
    t.reset();  // stops the receive thread before the fds go
    close(sv[0]);
    close(sv[1]);
  }
  void bring_up(uint64_t extra = 0) {
    ASSERT_TRUE(d.negotiate(kFeatureVersion1 | kNetFeatureMac | kNetFeatureMtu | extra));
    d.setup_queue(0, 8, kRxRing);
    d.setup_queue(1, 8, kTxRing);
    d.driver_ok();
    ASSERT_TRUE(d.read(Reg::Status) & kStatusDriverOk);
  }
  std::string fault_reason() { return fault.reason().value_or(""); }
};

std::vector<uint8_t> frame(size_t n, uint8_t seed) {
  std::vector<uint8_t> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = uint8_t(seed + i * 7);
  return f;
}

TEST(VirtioMmio, IdentifiesItselfAndOffersItsFeatures) {
  NetFixture f;
  EXPECT_EQ(f.d.read(Reg::Magic), kMagic);
  EXPECT_EQ(f.d.read(Reg::Version), 2u);
  EXPECT_EQ(f.d.read(Reg::DeviceId), kDeviceNet);
  EXPECT_EQ(f.d.read(Reg::VendorId), kVendorId);
  f.d.write(Reg::DeviceFeaturesSel, 0);
  EXPECT_EQ(f.d.read(Reg::DeviceFeatures),
            uint32_t(kNetFeatureMac | kNetFeatureMtu | kNetFeatureStatus | kFeatureIndirectDesc));
  f.d.write(Reg::DeviceFeaturesSel, 1);
  EXPECT_EQ(f.d.read(Reg::DeviceFeatures), 1u);  // VERSION_1 is bit 32
  f.d.write(Reg::DeviceFeaturesSel, 2);
  EXPECT_EQ(f.d.read(Reg::DeviceFeatures), 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f.d.config_byte(i), kMac[i]);
  EXPECT_EQ(f.d.config_byte(6), 1);     // status: link up
  EXPECT_EQ(f.d.config_byte(10), 1500 & 0xff);  // mtu
  EXPECT_EQ(f.d.config_byte(11), 1500 >> 8);
  EXPECT_EQ(f.d.config_byte(40), 0);    // past the configuration: zero
  f.d.write(Reg::QueueSel, 1);
  EXPECT_EQ(f.d.read(Reg::QueueNumMax), kNetQueueMax);
  f.d.write(Reg::QueueSel, 2);
  EXPECT_EQ(f.d.read(Reg::QueueNumMax), 0u);  // no third queue
  EXPECT_FALSE(f.fault.reason());
}

TEST(VirtioMmio, FeaturesOkOnlyForASubsetWithVersion1) {
  NetFixture f;
  EXPECT_FALSE(f.d.negotiate(kNetFeatureMac));                      // no VERSION_1
  EXPECT_FALSE(f.d.negotiate(kFeatureVersion1 | (1ull << 0)));      // CSUM: not offered
  EXPECT_TRUE(f.d.negotiate(kFeatureVersion1 | kNetFeatureStatus));
  // DRIVER_OK without FEATURES_OK does not take.
  f.d.write(Reg::Status, 0);
  f.d.write(Reg::Status, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_FALSE(f.d.read(Reg::Status) & kStatusDriverOk);
}

TEST(VirtioNet, TransmitsOneFramePerChainAndInterrupts) {
  NetFixture f;
  f.bring_up();
  auto fr = frame(60, 1);
  // Header and frame split over three descriptors, the frame across two.
  f.mem.copy_in(0x30000, std::vector<uint8_t>(kNetHeaderBytes, 0));
  f.mem.copy_in(0x31000, std::span<const uint8_t>(fr.data(), 20));
  f.mem.copy_in(0x32000, std::span<const uint8_t>(fr.data() + 20, 40));
  uint16_t head = f.d.post(1, {{0x30000, kNetHeaderBytes, false}, {0x31000, 20, false}, {0x32000, 40, false}});
  f.d.notify(1);
  uint8_t got[2000];
  ASSERT_EQ(recv(f.sv[1], got, sizeof got, MSG_DONTWAIT), 60);
  EXPECT_EQ(std::vector<uint8_t>(got, got + 60), fr);
  auto u = f.d.take_used(1);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id, head);
  EXPECT_EQ(u->len, 0u);
  EXPECT_TRUE(f.irq.level);
  EXPECT_EQ(f.d.read(Reg::InterruptStatus), 1u);
  f.d.write(Reg::InterruptAck, 1);
  EXPECT_FALSE(f.irq.level);
  EXPECT_EQ(f.dev->stats().sent, 1u);

  // With VIRTQ_AVAIL_F_NO_INTERRUPT the buffer comes back without one.
  f.d.set_avail_flags(1, kAvailNoInterrupt);
  f.d.post(1, {{0x30000, kNetHeaderBytes, false}, {0x31000, 20, false}});
  f.d.notify(1);
  EXPECT_EQ(recv(f.sv[1], got, sizeof got, MSG_DONTWAIT), 20);
  EXPECT_TRUE(f.d.take_used(1));
  EXPECT_FALSE(f.irq.level);
  EXPECT_EQ(f.irq.raises, 1);
  EXPECT_FALSE(f.fault.reason());
}

TEST(VirtioNet, ShortChainIsDroppedNotSent) {
  NetFixture f;
  f.bring_up();
  f.d.post(1, {{0x30000, 8, false}});  // less than the header
  f.d.notify(1);
  uint8_t got[64];
  EXPECT_LT(recv(f.sv[1], got, sizeof got, MSG_DONTWAIT), 0);
  EXPECT_TRUE(f.d.take_used(1));
  EXPECT_EQ(f.dev->stats().dropped, 1u);
}

TEST(VirtioNet, ReceivesIntoPostedBuffersWithTheHeader) {
  NetFixture f;
  f.bring_up();
  auto a = frame(98, 3), b = frame(1514, 9);
  ASSERT_EQ(send(f.sv[1], a.data(), a.size(), 0), ssize_t(a.size()));
  // No buffers yet: the device stalls and the frame stays with the backend.
  {
    auto lock = f.t->lock();
    EXPECT_TRUE(f.dev->receive(*f.t));
  }
  EXPECT_FALSE(f.d.take_used(0));
  ASSERT_EQ(send(f.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  uint16_t h1 = f.d.post(0, {{0x40000, 2048, true}});
  uint16_t h2 = f.d.post(0, {{0x41000, 12, true}, {0x42000, 2000, true}});  // header apart
  {
    auto lock = f.t->lock();
    EXPECT_TRUE(f.dev->receive(*f.t));  // both frames in, then out of buffers
  }
  auto u1 = f.d.take_used(0), u2 = f.d.take_used(0);
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ(u1->id, h1);
  EXPECT_EQ(u1->len, kNetHeaderBytes + a.size());
  EXPECT_EQ(u2->id, h2);
  EXPECT_EQ(u2->len, kNetHeaderBytes + b.size());
  uint8_t hdr[kNetHeaderBytes];
  std::memcpy(hdr, f.mem.at(0x40000, kNetHeaderBytes)->data(), kNetHeaderBytes);
  uint8_t want[kNetHeaderBytes] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};  // num_buffers = 1
  EXPECT_EQ(0, memcmp(hdr, want, sizeof hdr));
  EXPECT_EQ(0, memcmp(f.mem.at(0x40000 + kNetHeaderBytes, a.size())->data(), a.data(), a.size()));
  EXPECT_EQ(0, memcmp(f.mem.at(0x42000, b.size())->data(), b.data(), b.size()));
  EXPECT_TRUE(f.irq.level);
  EXPECT_EQ(f.dev->stats().received, 2u);
}

TEST(VirtioNet, FrameLargerThanItsBufferIsDropped) {
  NetFixture f;
  f.bring_up();
  auto big = frame(1000, 5);
  ASSERT_EQ(send(f.sv[1], big.data(), big.size(), 0), ssize_t(big.size()));
  f.d.post(0, {{0x40000, 512, true}});
  {
    auto lock = f.t->lock();
    f.dev->receive(*f.t);
  }
  auto u = f.d.take_used(0);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->len, 0u);
  EXPECT_EQ(f.dev->stats().dropped, 1u);
  EXPECT_EQ(f.dev->stats().received, 0u);
}

TEST(VirtioNet, ReceiveThreadDeliversWhenBuffersArePosted) {
  NetFixture f;
  f.bring_up();
  f.dev->start(*f.t);
  auto a = frame(64, 7);
  ASSERT_EQ(send(f.sv[1], a.data(), a.size(), 0), ssize_t(a.size()));
  // The frame waits (no buffers); posting one and notifying queue 0 lets it in.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    auto lock = f.t->lock();
    EXPECT_EQ(f.d.used_idx(0), 0);
  }
  {
    auto lock = f.t->lock();
    f.d.post(0, {{0x40000, 2048, true}});
  }
  f.d.notify(0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      auto lock = f.t->lock();
      if (f.d.used_idx(0) == 1) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto lock = f.t->lock();
  auto u = f.d.take_used(0);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->len, kNetHeaderBytes + a.size());
  EXPECT_EQ(0, memcmp(f.mem.at(0x40000 + kNetHeaderBytes, a.size())->data(), a.data(), a.size()));
  EXPECT_TRUE(f.irq.level);
}

// --- Checksum offload over a backend with virtio-net headers (a tap).

using abi::virtio::NetHeader;

// A UDP datagram 10.0.2.15:1000 -> 10.0.2.2:2000 in an Ethernet frame,
// its checksum field holding the pseudo-header sum (partial, as a stack
// offloading it leaves it): csum_start 34, csum_offset 6.
std::vector<uint8_t> partial_udp_frame(size_t payload) {
  std::vector<uint8_t> f(14 + 20 + 8 + payload, 0);
  f[12] = 0x08;
  uint8_t* ip = &f[14];
  ip[0] = 0x45, ip[8] = 64, ip[9] = 17;
  uint16_t total = uint16_t(20 + 8 + payload);
  ip[2] = uint8_t(total >> 8), ip[3] = uint8_t(total);
  const uint8_t src[4] = {10, 0, 2, 15}, dst[4] = {10, 0, 2, 2};
  memcpy(ip + 12, src, 4), memcpy(ip + 16, dst, 4);
  uint8_t* udp = &f[34];
  uint16_t ulen = uint16_t(8 + payload);
  udp[0] = 1000 >> 8, udp[1] = 1000 & 0xff, udp[2] = 2000 >> 8, udp[3] = 2000 & 0xff;
  udp[4] = uint8_t(ulen >> 8), udp[5] = uint8_t(ulen);
  for (size_t i = 0; i < payload; ++i) udp[8 + i] = uint8_t(i * 13 + 1);
  uint32_t sum = (10 << 8 | 0) + (2 << 8 | 15) + (10 << 8 | 0) + (2 << 8 | 2) + 17 + ulen;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  udp[6] = uint8_t(sum >> 8), udp[7] = uint8_t(sum);  // folded, not complemented
  return f;
}

// Whether the frame's UDP checksum (with the pseudo-header) verifies.
bool udp_checksum_ok(const std::vector<uint8_t>& f) {
  const uint8_t* ip = &f[14];
  uint16_t ulen = uint16_t(f[38] << 8 | f[39]);
  uint64_t sum = 17 + ulen;
  for (int i = 12; i < 20; i += 2) sum += uint32_t(ip[i] << 8 | ip[i + 1]);
  for (size_t i = 0; i < ulen; i += 2)
    sum += uint32_t(f[34 + i] << 8 | (i + 1 < ulen ? f[35 + i] : 0));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

std::vector<uint8_t> with_header(const NetHeader& h, const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> b(sizeof h);
  memcpy(b.data(), &h, sizeof h);
  b.insert(b.end(), frame.begin(), frame.end());
  return b;
}

NetHeader needs_csum(uint16_t start, uint16_t offset) {
  NetHeader h{};
  h.flags = abi::virtio::kNetHdrNeedsCsum;
  h.csum_start = start, h.csum_offset = offset;
  return h;
}

TEST(VirtioNet, OffersChecksumOffloadOnlyOverAVnetBackend) {
  NetFixture plain, tap(true);
  plain.d.write(Reg::DeviceFeaturesSel, 0);
  tap.d.write(Reg::DeviceFeaturesSel, 0);
  EXPECT_EQ(plain.d.read(Reg::DeviceFeatures) & 3u, 0u);
  EXPECT_EQ(tap.d.read(Reg::DeviceFeatures) & 3u, 3u);  // CSUM, GUEST_CSUM
  EXPECT_FALSE(plain.d.negotiate(kFeatureVersion1 | kNetFeatureCsum));
  EXPECT_TRUE(tap.d.negotiate(kFeatureVersion1 | kNetFeatureCsum | kNetFeatureGuestCsum));
}

TEST(VirtioNet, TransmitPassesNeedsCsumToTheTapAndNothingElse) {
  NetFixture f(true);
  f.bring_up(kNetFeatureCsum | kNetFeatureGuestCsum);
  auto fr = partial_udp_frame(100);
  auto send_with = [&](NetHeader h) {
    f.mem.copy_in(0x30000, with_header(h, fr));
    f.d.post(1, {{0x30000, uint32_t(kNetHeaderBytes + fr.size()), false}});
    f.d.notify(1);
    EXPECT_TRUE(f.d.take_used(1));
  };
  uint8_t got[2000];
  send_with(needs_csum(34, 6));
  ASSERT_EQ(recv(f.sv[1], got, sizeof got, MSG_DONTWAIT), ssize_t(kNetHeaderBytes + fr.size()));
  NetHeader h;
  memcpy(&h, got, sizeof h);
  EXPECT_EQ(h.flags, abi::virtio::kNetHdrNeedsCsum);
  EXPECT_EQ(h.csum_start, 34);
  EXPECT_EQ(h.csum_offset, 6);
  EXPECT_EQ(h.gso_type, 0);
  EXPECT_EQ(0, memcmp(got + kNetHeaderBytes, fr.data(), fr.size()));
  // DATA_VALID from a driver is not passed on (the host would trust it),
  // nor are the fields that go with no flag.
  NetHeader dv{};
  dv.flags = abi::virtio::kNetHdrDataValid;
  dv.csum_start = 34, dv.hdr_len = 42;
  send_with(dv);
  ASSERT_EQ(recv(f.sv[1], got, sizeof got, MSG_DONTWAIT), ssize_t(kNetHeaderBytes + fr.size()));
  memcpy(&h, got, sizeof h);
  EXPECT_EQ(h.flags, 0);
  EXPECT_EQ(h.csum_start, 0);
  EXPECT_EQ(h.hdr_len, 0);
  // A segment to cut, from a driver that did not take HOST_TSO4: dropped.
  NetHeader gso{};
  gso.gso_type = 1;  // VIRTIO_NET_HDR_GSO_TCPV4
  gso.gso_size = 1448;
  send_with(gso);
  EXPECT_LT(recv(f.sv[1], got, sizeof got, MSG_DONTWAIT), 0);
  EXPECT_EQ(f.dev->stats().dropped, 1u);
  EXPECT_EQ(f.dev->stats().sent, 2u);
  EXPECT_FALSE(f.fault.reason());
}

TEST(VirtioNet, OffersSegmentationOffloadOnlyOverAVnetBackend) {
  NetFixture plain, tap(true);
  EXPECT_FALSE(plain.d.negotiate(kFeatureVersion1 | kNetFeatureHostTso4));
  EXPECT_TRUE(tap.d.negotiate(kFeatureVersion1 | kNetFeatureCsum | kNetFeatureHostTso4 |
                              kFeatureIndirectDesc));
}

// A 64 KiB TCP segment in pages scattered over guest RAM, described by an
// indirect table on one ring entry (as the kernel's driver sends one): the
// tap gets it whole with its segmentation header.
TEST(VirtioNet, TransmitsASegmentToCutFromAnIndirectTable) {
  NetFixture f(true);
  f.bring_up(kNetFeatureCsum | kNetFeatureHostTso4 | kFeatureIndirectDesc);
  NetHeader h = needs_csum(34, 16);
  h.gso_type = abi::virtio::kNetGsoTcpv4;
  h.gso_size = 1448;
  h.hdr_len = 66;
  auto bytes = with_header(h, frame(14 + 65535, 9));
  const uint64_t table = 0x50000;
  const uint64_t pages[] = {0x60000, 0x41000, 0x70000, 0x43000, 0x80000, 0x62000, 0x90000,
                            0x45000, 0xa0000, 0x64000, 0xb0000, 0x47000, 0xc0000, 0x66000,
                            0xd0000, 0x49000, 0xe0000};
  uint16_t n = 0;
  for (size_t off = 0; off < bytes.size(); off += 4096, ++n) {
    size_t len = std::min<size_t>(4096, bytes.size() - off);
    f.mem.copy_in(pages[n], std::vector<uint8_t>(bytes.begin() + long(off), bytes.begin() + long(off + len)));
    bool last = off + len == bytes.size();
    f.mem.write(table + 16ull * n, Desc{pages[n], uint32_t(len), uint16_t(last ? 0 : kDescNext),
                                        uint16_t(last ? 0 : n + 1)});
  }
  ASSERT_EQ(n, 17);
  f.mem.write(f.d.ring(1).desc, Desc{table, 16u * n, kDescIndirect, 0});
  f.d.make_available(1, 0);
  f.d.notify(1);
  EXPECT_TRUE(f.d.take_used(1));
  std::vector<uint8_t> got(bytes.size() + 100);
  ASSERT_EQ(recv(f.sv[1], got.data(), got.size(), MSG_DONTWAIT), ssize_t(bytes.size()));
  NetHeader out;
  memcpy(&out, got.data(), sizeof out);
  EXPECT_EQ(out.flags, abi::virtio::kNetHdrNeedsCsum);
  EXPECT_EQ(out.gso_type, abi::virtio::kNetGsoTcpv4);
  EXPECT_EQ(out.gso_size, 1448);
  EXPECT_EQ(out.hdr_len, 66);
  EXPECT_EQ(out.csum_start, 34);
  EXPECT_EQ(out.csum_offset, 16);
  EXPECT_EQ(0, memcmp(got.data() + kNetHeaderBytes, bytes.data() + kNetHeaderBytes,
                      bytes.size() - kNetHeaderBytes));
  // Segments the tap must not be handed: not partial, no MSS, not TCPv4
  // (the ECN bit, UDP): each dropped.
  auto send_with = [&](NetHeader bad) {
    auto b = with_header(bad, frame(3000, 1));
    f.mem.copy_in(0x30000, b);
    f.d.post(1, {{0x30000, uint32_t(b.size()), false}});
    f.d.notify(1);
    EXPECT_TRUE(f.d.take_used(1));
  };
  NetHeader whole = h;
  whole.flags = 0;
  NetHeader no_mss = h;
  no_mss.gso_size = 0;
  NetHeader ecn = h;
  ecn.gso_type = 0x81;
  NetHeader udp = h;
  udp.gso_type = 3;
  for (const NetHeader& bad : {whole, no_mss, ecn, udp}) send_with(bad);
  EXPECT_LT(recv(f.sv[1], got.data(), got.size(), MSG_DONTWAIT), 0);
  EXPECT_EQ(f.dev->stats().sent, 1u);
  EXPECT_EQ(f.dev->stats().dropped, 4u);
  EXPECT_FALSE(f.fault.reason());
}

TEST(VirtioNet, NeedsCsumWithoutTheFeatureIsDropped) {
  NetFixture f(true);
  f.bring_up();  // neither CSUM nor GUEST_CSUM
  auto fr = partial_udp_frame(20);
  f.mem.copy_in(0x30000, with_header(needs_csum(34, 6), fr));
  f.d.post(1, {{0x30000, uint32_t(kNetHeaderBytes + fr.size()), false}});
  f.d.notify(1);
  uint8_t got[2000];
  EXPECT_LT(recv(f.sv[1], got, sizeof got, MSG_DONTWAIT), 0);
  EXPECT_EQ(f.dev->stats().dropped, 1u);
}

TEST(VirtioNet, ReceiveHandsTheTapsChecksumFlagsToAGuestCsumDriver) {
  NetFixture f(true);
  f.bring_up(kNetFeatureCsum | kNetFeatureGuestCsum);
  auto fr = partial_udp_frame(64);
  auto b = with_header(needs_csum(34, 6), fr);
  ASSERT_EQ(send(f.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  NetHeader dv{};
  dv.flags = abi::virtio::kNetHdrDataValid;
  auto c = with_header(dv, frame(60, 4));
  ASSERT_EQ(send(f.sv[1], c.data(), c.size(), 0), ssize_t(c.size()));
  f.d.post(0, {{0x40000, 2048, true}});
  f.d.post(0, {{0x41000, 2048, true}});
  {
    auto lock = f.t->lock();
    f.dev->receive(*f.t);
  }
  auto u1 = f.d.take_used(0), u2 = f.d.take_used(0);
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ(u1->len, kNetHeaderBytes + fr.size());
  NetHeader h;
  memcpy(&h, f.mem.at(0x40000, kNetHeaderBytes)->data(), sizeof h);
  EXPECT_EQ(h.flags, abi::virtio::kNetHdrNeedsCsum);
  EXPECT_EQ(h.csum_start, 34);
  EXPECT_EQ(h.csum_offset, 6);
  EXPECT_EQ(h.num_buffers, 1);
  EXPECT_EQ(0, memcmp(f.mem.at(0x40000 + kNetHeaderBytes, fr.size())->data(), fr.data(), fr.size()))
      << "left partial for the guest";
  memcpy(&h, f.mem.at(0x41000, kNetHeaderBytes)->data(), sizeof h);
  EXPECT_EQ(h.flags, abi::virtio::kNetHdrDataValid);
  EXPECT_EQ(f.dev->stats().csum_completed, 0u);
}

TEST(VirtioNet, ADriverWithoutGuestCsumGetsWholeChecksums) {
  NetFixture f(true);
  f.bring_up();
  auto fr = partial_udp_frame(333);  // odd length: the last byte pads
  ASSERT_FALSE(udp_checksum_ok(fr));
  auto b = with_header(needs_csum(34, 6), fr);
  ASSERT_EQ(send(f.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  auto bad = with_header(needs_csum(34, 400), fr);  // the field past the frame
  ASSERT_EQ(send(f.sv[1], bad.data(), bad.size(), 0), ssize_t(bad.size()));
  f.d.post(0, {{0x40000, 2048, true}});
  f.d.post(0, {{0x41000, 2048, true}});
  {
    auto lock = f.t->lock();
    f.dev->receive(*f.t);
  }
  auto u = f.d.take_used(0);
  ASSERT_TRUE(u);
  ASSERT_EQ(u->len, kNetHeaderBytes + fr.size());
  NetHeader h;
  memcpy(&h, f.mem.at(0x40000, kNetHeaderBytes)->data(), sizeof h);
  EXPECT_EQ(h.flags, 0);
  EXPECT_EQ(h.num_buffers, 1);
  const uint8_t* p = f.mem.at(0x40000 + kNetHeaderBytes, fr.size())->data();
  std::vector<uint8_t> got(p, p + fr.size());
  EXPECT_TRUE(udp_checksum_ok(got));
  got[40] = fr[40], got[41] = fr[41];
  EXPECT_EQ(got, fr) << "only the checksum field changes";
  EXPECT_FALSE(f.d.take_used(0)) << "the frame whose field lies outside it is dropped";
  EXPECT_EQ(f.dev->stats().csum_completed, 1u);
  EXPECT_EQ(f.dev->stats().dropped, 1u);
}

// ---- Receive segmentation over a tap (GUEST_TSO4, MRG_RXBUF) ----------------

constexpr uint64_t kRxGso = kNetFeatureCsum | kNetFeatureGuestCsum | kNetFeatureGuestTso4;

NetHeader tso_header(uint16_t mss) {
  NetHeader h = needs_csum(34, 16);
  h.gso_type = abi::virtio::kNetGsoTcpv4;
  h.gso_size = mss;
  h.hdr_len = 66;
  return h;
}

// The guest's bytes of a received frame, over the buffers it took.
std::vector<uint8_t> gather(NetFixture& f, std::initializer_list<std::pair<uint64_t, uint32_t>> bufs) {
  std::vector<uint8_t> out;
  for (auto [addr, len] : bufs) {
    const uint8_t* p = f.mem.at(addr, len)->data();
    out.insert(out.end(), p, p + len);
  }
  return out;
}

TEST(VirtioNet, OffersReceiveSegmentationOnlyOverAVnetBackend) {
  NetFixture plain, plain2, tap(true);
  EXPECT_FALSE(plain.d.negotiate(kFeatureVersion1 | kNetFeatureGuestCsum | kNetFeatureGuestTso4));
  EXPECT_FALSE(plain2.d.negotiate(kFeatureVersion1 | kNetFeatureMrgRxbuf));
  EXPECT_TRUE(tap.d.negotiate(kFeatureVersion1 | kRxGso | kNetFeatureMrgRxbuf));
}

// As QEMU does: the tap hands over uncut segments only once a driver took
// GUEST_TSO4 (with GUEST_CSUM), and cuts them up again after a reset.
TEST(VirtioNet, TheTapHandsOverSegmentsOnlyToADriverThatTakesThem) {
  NetFixture a(true), b(true);
  std::vector<unsigned long> ca, cb;
  a.dev->replace_offload_call([&](unsigned long o) { ca.push_back(o); return true; });
  b.dev->replace_offload_call([&](unsigned long o) { cb.push_back(o); return true; });
  a.bring_up(kRxGso | kNetFeatureMrgRxbuf);
  EXPECT_EQ(ca, (std::vector<unsigned long>{TUN_F_CSUM | TUN_F_TSO4}));
  a.d.write(Reg::Status, 0);  // the driver resets the device
  EXPECT_EQ(ca, (std::vector<unsigned long>{TUN_F_CSUM | TUN_F_TSO4, TUN_F_CSUM}));
  b.bring_up(kNetFeatureCsum | kNetFeatureGuestCsum | kNetFeatureMrgRxbuf);
  EXPECT_TRUE(cb.empty());
}

// A 5000-byte segment over three 2 KiB buffers: every one but the last
// full, num_buffers 3 in the first, the used index moved once for all.
TEST(VirtioNet, ASegmentSpreadsOverMergedBuffersPublishedTogether) {
  NetFixture f(true);
  f.dev->replace_offload_call([](unsigned long) { return true; });
  f.bring_up(kRxGso | kNetFeatureMrgRxbuf);
  auto seg = frame(5000, 3);
  auto b = with_header(tso_header(1448), seg);
  ASSERT_EQ(send(f.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  for (uint64_t a : {0x40000, 0x41000, 0x42000}) f.d.post(0, {{a, 2048, true}});
  {
    auto lock = f.t->lock();
    f.dev->receive(*f.t);
  }
  EXPECT_EQ(f.d.used_idx(0), 3);
  auto u1 = f.d.take_used(0), u2 = f.d.take_used(0), u3 = f.d.take_used(0);
  ASSERT_TRUE(u1 && u2 && u3);
  EXPECT_EQ(u1->len, 2048u);
  EXPECT_EQ(u2->len, 2048u);
  EXPECT_EQ(u3->len, kNetHeaderBytes + seg.size() - 4096);
  NetHeader h;
  memcpy(&h, f.mem.at(0x40000, kNetHeaderBytes)->data(), sizeof h);
  EXPECT_EQ(h.num_buffers, 3);
  EXPECT_EQ(h.gso_type, abi::virtio::kNetGsoTcpv4);
  EXPECT_EQ(h.gso_size, 1448);
  EXPECT_EQ(h.hdr_len, 66);
  EXPECT_EQ(h.flags, abi::virtio::kNetHdrNeedsCsum);
  EXPECT_EQ(h.csum_start, 34);
  EXPECT_EQ(h.csum_offset, 16);
  EXPECT_EQ(gather(f, {{0x40000 + kNetHeaderBytes, 2048 - kNetHeaderBytes}, {0x41000, 2048},
                       {0x42000, u3->len}}),
            seg);
  EXPECT_EQ(f.dev->stats().received, 1u);
  EXPECT_EQ(f.dev->stats().dropped, 0u);
}

// Too few buffers posted for the segment: it waits in the device (the
// buffers it looked at stay the driver's), and goes when more come; the
// frame behind it follows in order.
TEST(VirtioNet, ASegmentWaitsForBuffersEnough) {
  NetFixture f(true);
  f.dev->replace_offload_call([](unsigned long) { return true; });
  f.bring_up(kRxGso | kNetFeatureMrgRxbuf);
  auto seg = frame(5000, 5), small = frame(60, 6);
  auto b = with_header(tso_header(1448), seg);
  auto c = with_header(NetHeader{}, small);
  ASSERT_EQ(send(f.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  ASSERT_EQ(send(f.sv[1], c.data(), c.size(), 0), ssize_t(c.size()));
  f.d.post(0, {{0x40000, 2048, true}});
  f.d.post(0, {{0x41000, 2048, true}});
  {
    auto lock = f.t->lock();
    EXPECT_TRUE(f.dev->receive(*f.t)) << "stalled: only a notification helps";
  }
  EXPECT_EQ(f.d.used_idx(0), 0);
  for (uint64_t a : {0x42000, 0x43000}) f.d.post(0, {{a, 2048, true}});
  {
    auto lock = f.t->lock();
    f.dev->receive(*f.t);
  }
  EXPECT_EQ(f.d.used_idx(0), 4);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.d.take_used(0));
  auto u4 = f.d.take_used(0);
  ASSERT_TRUE(u4);
  EXPECT_EQ(u4->len, kNetHeaderBytes + small.size());
  EXPECT_EQ(gather(f, {{0x40000 + kNetHeaderBytes, 2048 - kNetHeaderBytes}, {0x41000, 2048},
                       {0x42000, uint32_t(kNetHeaderBytes + seg.size() - 4096)}}),
            seg);
  EXPECT_EQ(gather(f, {{0x43000 + kNetHeaderBytes, uint32_t(small.size())}}), small);
  EXPECT_EQ(f.dev->stats().received, 2u);
  EXPECT_EQ(f.dev->stats().dropped, 0u);
}

// Without MRG_RXBUF a segment must fit the one chain it gets; a ring too
// small for it as a whole drops it too (it could never go).
TEST(VirtioNet, ASegmentLargerThanItsRoomIsDropped) {
  NetFixture one(true), all(true);
  one.dev->replace_offload_call([](unsigned long) { return true; });
  all.dev->replace_offload_call([](unsigned long) { return true; });
  one.bring_up(kRxGso);
  all.bring_up(kRxGso | kNetFeatureMrgRxbuf);
  auto seg = frame(5000, 7);
  auto b = with_header(tso_header(1448), seg);
  ASSERT_EQ(send(one.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  ASSERT_EQ(send(one.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  one.d.post(0, {{0x40000, 2048, true}});
  one.d.post(0, {{0x48000, 8192, true}});
  {
    auto lock = one.t->lock();
    one.dev->receive(*one.t);
  }
  auto u1 = one.d.take_used(0), u2 = one.d.take_used(0);
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ(u1->len, 0u) << "too small: given back empty";
  EXPECT_EQ(u2->len, kNetHeaderBytes + seg.size());
  NetHeader h;
  memcpy(&h, one.mem.at(0x48000, kNetHeaderBytes)->data(), sizeof h);
  EXPECT_EQ(h.num_buffers, 1);
  EXPECT_EQ(h.gso_size, 1448);
  EXPECT_EQ(one.dev->stats().dropped, 1u);
  // The fixture's ring has 8 entries: 8 x 256 bytes hold no 5000-byte frame.
  ASSERT_EQ(send(all.sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
  for (uint64_t i = 0; i < 8; ++i) all.d.post(0, {{0x40000 + 0x1000 * i, 256, true}});
  {
    auto lock = all.t->lock();
    all.dev->receive(*all.t);
  }
  EXPECT_EQ(all.d.used_idx(0), 8);
  EXPECT_EQ(all.dev->stats().dropped, 1u);
  EXPECT_EQ(all.dev->stats().received, 0u);
}

// A segment to a driver that did not take GUEST_TSO4, or that took it on a
// tap that refused the offload, is not the guest's: dropped.
TEST(VirtioNet, SegmentsToADriverWithoutGuestTso4AreDropped) {
  NetFixture no(true), refused(true);
  no.dev->replace_offload_call([](unsigned long) { return true; });
  refused.dev->replace_offload_call([](unsigned long) { return false; });
  no.bring_up(kNetFeatureCsum | kNetFeatureGuestCsum | kNetFeatureMrgRxbuf);
  refused.bring_up(kRxGso | kNetFeatureMrgRxbuf);
  auto b = with_header(tso_header(1448), frame(3000, 8));
  for (NetFixture* f : {&no, &refused}) {
    ASSERT_EQ(send(f->sv[1], b.data(), b.size(), 0), ssize_t(b.size()));
    for (uint64_t a : {0x40000, 0x41000}) f->d.post(0, {{a, 2048, true}});
    {
      auto lock = f->t->lock();
      f->dev->receive(*f->t);
    }
    EXPECT_EQ(f->d.used_idx(0), 0);
    EXPECT_EQ(f->dev->stats().dropped, 1u);
  }
}

TEST(VirtioMmio, ResetDropsTheQueuesAndLowersTheLine) {
  NetFixture f;
  f.bring_up();
  f.d.post(1, {{0x30000, 20, false}});
  f.d.notify(1);
  EXPECT_TRUE(f.irq.level);
  f.d.write(Reg::Status, 0);
  EXPECT_EQ(f.d.read(Reg::Status), 0u);
  EXPECT_FALSE(f.irq.level);
  f.d.write(Reg::QueueSel, 1);
  EXPECT_EQ(f.d.read(Reg::QueueReady), 0u);
  EXPECT_FALSE(f.fault.reason());
}

// --- The hostile driver: each broken rule stops the guest with its reason.

struct Broken {
  NetFixture f;
  explicit Broken(uint64_t features = 0) { f.bring_up(features); }
  void desc(uint16_t i, Desc d) { f.mem.write(f.d.ring(1).desc + 16ull * i, d); }
  std::string notify_tx(uint16_t head) {
    f.d.make_available(1, head);
    f.d.notify(1);
    return f.fault_reason();
  }
};

TEST(VirtioQueue, DescriptorLoopStops) {
  Broken b;
  b.desc(0, Desc{0x30000, 16, kDescNext, 1});
  b.desc(1, Desc{0x30000, 16, kDescNext, 0});
  EXPECT_NE(b.notify_tx(0).find("longer than the queue (8): a loop"), std::string::npos) << b.f.fault_reason();
  // Nothing was sent, nothing returned, and the queue gives nothing more.
  uint8_t got[64];
  EXPECT_LT(recv(b.f.sv[1], got, sizeof got, MSG_DONTWAIT), 0);
  EXPECT_FALSE(b.f.d.take_used(1));
}

TEST(VirtioQueue, HeadOutsideTheTableStops) {
  Broken b;
  EXPECT_NE(b.notify_tx(8).find("names descriptor 8 of a table of 8"), std::string::npos) << b.f.fault_reason();
}

TEST(VirtioQueue, NextOutsideTheTableStops) {
  Broken b;
  b.desc(0, Desc{0x30000, 16, kDescNext, 200});
  EXPECT_NE(b.notify_tx(0).find("chains to 200"), std::string::npos) << b.f.fault_reason();
}

TEST(VirtioQueue, BufferBeyondRamStops) {
  Broken b;
  b.desc(0, Desc{kRam - 8, 16, 0, 0});
  EXPECT_NE(b.notify_tx(0).find("outside guest RAM"), std::string::npos) << b.f.fault_reason();
}

TEST(VirtioQueue, BufferWrappingTheAddressSpaceStops) {
  Broken b;
  b.desc(0, Desc{~0ull - 3, 16, 0, 0});
  EXPECT_NE(b.notify_tx(0).find("outside guest RAM"), std::string::npos) << b.f.fault_reason();
}

TEST(VirtioQueue, ReadableAfterWritableStops) {
  Broken b;
  b.desc(0, Desc{0x30000, 16, uint16_t(kDescWrite | kDescNext), 1});
  b.desc(1, Desc{0x31000, 16, 0, 0});
  EXPECT_NE(b.notify_tx(0).find("device-readable after a device-writable"), std::string::npos)
      << b.f.fault_reason();
}

TEST(VirtioQueue, IndirectDescriptorStops) {
  Broken b;
  b.desc(0, Desc{0x30000, 16, kDescIndirect, 0});
  EXPECT_NE(b.notify_tx(0).find("indirect"), std::string::npos) << b.f.fault_reason();
}

// With INDIRECT_DESC taken: every misuse of an indirect table (2.6.5.3).
TEST(VirtioQueue, BrokenIndirectTablesStop) {
  struct Case {
    const char* what;
    std::vector<std::pair<uint16_t, Desc>> ring;   // descriptors of the queue's table
    std::vector<std::pair<uint16_t, Desc>> table;  // entries of the table at 0x50000
    const char* reason;
  };
  const Case cases[] = {
      {"an indirect entry in a table", {{0, Desc{0x50000, 32, kDescIndirect, 0}}},
       {{0, Desc{0x30000, 16, kDescNext, 1}}, {1, Desc{0x50000, 16, kDescIndirect, 0}}},
       "indirect table entry 1 is indirect too"},
      {"indirect after a direct descriptor",
       {{0, Desc{0x30000, 16, kDescNext, 1}}, {1, Desc{0x50000, 16, kDescIndirect, 0}}},
       {{0, Desc{0x31000, 16, 0, 0}}},
       "descriptor 1 is indirect but not the chain's head"},
      {"indirect and chained", {{0, Desc{0x50000, 16, uint16_t(kDescIndirect | kDescNext), 1}}},
       {{0, Desc{0x31000, 16, 0, 0}}}, "is indirect and chained"},
      {"an empty table", {{0, Desc{0x50000, 0, kDescIndirect, 0}}}, {}, "indirect table of 0 bytes"},
      {"a table of 24 bytes", {{0, Desc{0x50000, 24, kDescIndirect, 0}}}, {},
       "indirect table of 24 bytes"},
      {"a table of 1025 entries", {{0, Desc{0x50000, 16 * 1025, kDescIndirect, 0}}}, {},
       "at most 1024 entries"},
      {"a table beyond RAM", {{0, Desc{kRam - 16, 32, kDescIndirect, 0}}}, {},
       "indirect table [0xffff0, +32) is outside guest RAM"},
      {"an entry chaining outside its table", {{0, Desc{0x50000, 32, kDescIndirect, 0}}},
       {{0, Desc{0x30000, 16, kDescNext, 2}}}, "indirect table entry 0 chains to 2 of a table of 2"},
      {"a loop in the table", {{0, Desc{0x50000, 32, kDescIndirect, 0}}},
       {{0, Desc{0x30000, 16, kDescNext, 1}}, {1, Desc{0x31000, 16, kDescNext, 0}}},
       "chains in a loop (more than its 2 entries)"},
      {"an entry beyond RAM", {{0, Desc{0x50000, 16, kDescIndirect, 0}}},
       {{0, Desc{kRam - 8, 16, 0, 0}}}, "indirect table entry 0 buffer"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Broken b(kFeatureIndirectDesc);
    for (auto& [i, d] : c.ring) b.desc(i, d);
    for (auto& [i, d] : c.table) b.f.mem.write(0x50000 + 16ull * i, d);
    EXPECT_NE(b.notify_tx(0).find(c.reason), std::string::npos) << b.f.fault_reason();
    uint8_t got[64];
    EXPECT_LT(recv(b.f.sv[1], got, sizeof got, MSG_DONTWAIT), 0);
    EXPECT_FALSE(b.f.d.take_used(1));
  }
}

TEST(VirtioQueue, AvailableIndexRunningAheadStops) {
  Broken b;
  b.f.mem.write<uint16_t>(b.f.d.ring(1).avail + 2, 9);  // 9 chains in a queue of 8
  b.f.d.notify(1);
  EXPECT_NE(b.f.fault_reason().find("9 entries ahead"), std::string::npos) << b.f.fault_reason();
}

TEST(VirtioQueue, BadLayoutsAreRefusedWhenMadeReady) {
  struct Case {
    uint16_t size;
    uint64_t desc, avail, used;
    const char* why;
  } cases[] = {
      {6, 0x10000, 0x11000, 0x12000, "power of 2"},
      {0, 0x10000, 0x11000, 0x12000, "power of 2"},
      {512, 0x10000, 0x11000, 0x12000, "power of 2 from 1 to 256"},
      {8, 0x10008, 0x11000, 0x12000, "descriptor table at 0x10008 is not 16-byte aligned"},
      {8, 0x10000, 0x11001, 0x12000, "available ring at 0x11001"},
      {8, 0x10000, 0x11000, 0x12002, "used ring at 0x12002"},
      {8, kRam - 64, 0x11000, 0x12000, "descriptor table [0xfffc0, +128) is outside guest RAM"},
      {8, 0x10000, 0x11000, kRam - 8, "used ring"},
  };
  for (const Case& c : cases) {
    NetFixture f;
    ASSERT_TRUE(f.d.negotiate(kFeatureVersion1));
    f.d.setup_queue(0, VirtioDriver::Ring{c.size, c.desc, c.avail, c.used});
    EXPECT_NE(f.fault_reason().find(c.why), std::string::npos) << f.fault_reason();
    f.d.write(Reg::QueueSel, 0);
    EXPECT_EQ(f.d.read(Reg::QueueReady), 0u);
  }
}

// The vCPU's MMIO exits reach the transports through the dispatcher; a fault
// becomes a stop, an access outside every window stays a stop.
TEST(VirtioMmio, DispatcherRoutesMmioExitsAndStopsOnFaults) {
  NetFixture f;
  ConsolePipes pipes;
  ExitDispatcher dispatcher(f.mem, pipes.console());
  MmioBus bus;
  bus.add(0xfeb00000, f.t.get());
  dispatcher.attach_devices(&bus, &f.fault);
  uint8_t data[8] = {};
  auto mmio = [&](uint64_t gpa, bool write, uint32_t len) {
    VmExit e;
    e.kind = ExitKind::Mmio;
    e.mmio = MmioAccess{gpa, write, len, std::span<uint8_t>(data, len)};
    return dispatcher.handle(e);
  };
  Action a = mmio(0xfeb00000, false, 4);
  EXPECT_EQ(a.kind, Action::Kind::Resume);
  uint32_t magic;
  std::memcpy(&magic, data, 4);
  EXPECT_EQ(magic, kMagic);
  a = mmio(0xfeb00100, false, 2);  // config: the MAC's first two bytes
  EXPECT_EQ(a.kind, Action::Kind::Resume);
  EXPECT_EQ(data[0], kMac[0]);
  EXPECT_EQ(data[1], kMac[1]);
  a = mmio(0xfeb00200, false, 4);  // just past the window: nothing there
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_NE(a.reason.find("unbacked"), std::string::npos) << a.reason;
  a = mmio(0xfeb001fc, false, 8);  // across the window's end
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_NE(a.reason.find("crosses the end"), std::string::npos) << a.reason;
  a = mmio(0xfeb00070, true, 2);  // a 16-bit write of Status
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_EQ(a.reason, "virtio: virtio-net: 2-byte write of register 0x70 (the registers are 32-bit words)");
  // Later exits see the fault too (a device thread may report one).
  VmExit intr;
  intr.kind = ExitKind::Interrupted;
  EXPECT_EQ(dispatcher.handle(intr).kind, Action::Kind::Stop);
}

TEST(VirtioMmio, InterruptedExitResumesWithoutAFault) {
  GuestMemory mem = std::move(GuestMemory::create(kRam).value());
  ConsolePipes pipes;
  ExitDispatcher dispatcher(mem, pipes.console());
  MmioBus bus;
  GuestFault fault;
  dispatcher.attach_devices(&bus, &fault);
  VmExit intr;
  intr.kind = ExitKind::Interrupted;
  EXPECT_EQ(dispatcher.handle(intr).kind, Action::Kind::Resume);
}

// --- virtio-9p in front of the real share server.

struct NineP {
  GuestMemory mem = std::move(GuestMemory::create(kRam).value());
  GuestFault fault;
  int sv[2] = {-1, -1};
  std::unique_ptr<Transport> t;
  VirtioDriver d{*make(), mem};

  Transport* make() {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) abort();
    t = std::make_unique<Transport>(mem, std::make_unique<NinePDevice>("mote0", sv[0]), "virtio-9p",
                                    fault);
    return t.get();
  }
  ~NineP() {
    close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
  }
  // Tversion through the device; the reply's bytes.
  std::vector<uint8_t> version() {
    std::vector<uint8_t> m(7 + 4 + 2 + 8);
    uint32_t size = uint32_t(m.size()), msize = p9::kMsize;
    uint16_t tag = p9::kNoTag, vlen = 8;
    std::memcpy(&m[0], &size, 4);
    m[4] = p9::kTversion;
    std::memcpy(&m[5], &tag, 2);
    std::memcpy(&m[7], &msize, 4);
    std::memcpy(&m[11], &vlen, 2);
    std::memcpy(&m[13], "9P2000.L", 8);
    mem.copy_in(0x30000, m);
    d.post(0, {{0x30000, uint32_t(m.size()), false}, {0x40000, 4096, true}});
    d.notify(0);
    auto u = d.take_used(0);
    if (!u) return {};
    auto bytes = mem.at(0x40000, u->len);
    return std::vector<uint8_t>(bytes->begin(), bytes->end());
  }
};

TEST(Virtio9p, CarriesMessagesToTheShareServer) {
  NineP f;
  char dir[] = "/tmp/mote-virtio9p-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  share::Server server;
  std::string error;
  ASSERT_TRUE(server.add_share(dir, true, &error)) << error;
  std::thread serving([&] { server.serve(f.sv[1]); });
  ASSERT_TRUE(f.d.negotiate(kFeatureVersion1 | k9pFeatureMountTag));
  std::string tag;
  uint16_t len = uint16_t(f.d.config_byte(0) | f.d.config_byte(1) << 8);
  for (uint16_t i = 0; i < len; ++i) tag += char(f.d.config_byte(2 + i));
  EXPECT_EQ(tag, "mote0");
  f.d.setup_queue(0, 4, kRxRing);
  f.d.driver_ok();
  auto reply = f.version();
  ASSERT_GE(reply.size(), 7u);
  EXPECT_EQ(reply[4], p9::kRversion);
  std::string v(reply.begin() + 13, reply.end());
  EXPECT_EQ(v, "9P2000.L");
  shutdown(f.sv[1], SHUT_RDWR);
  serving.join();
  rmdir(dir);
  EXPECT_FALSE(f.fault.reason());
}

TEST(Virtio9p, AnswersEioWhenTheServerIsGone) {
  NineP f;
  close(f.sv[1]);
  f.sv[1] = -1;
  ASSERT_TRUE(f.d.negotiate(kFeatureVersion1 | k9pFeatureMountTag));
  f.d.setup_queue(0, 4, kRxRing);
  f.d.driver_ok();
  auto reply = f.version();
  ASSERT_EQ(reply.size(), 11u);
  EXPECT_EQ(reply[4], p9::kRlerror);
  EXPECT_EQ(reply[5], 0xff);  // the request's tag (NOTAG)
  uint32_t ecode;
  std::memcpy(&ecode, &reply[7], 4);
  EXPECT_EQ(ecode, uint32_t(EIO));
}

}  // namespace
}  // namespace mote::vmtest

namespace mote::vmtest {
namespace {

// The devices' work under the KVM run loop's allowlist, as the monitor has
// it once the guest runs: the receive thread (started before the filter)
// takes frames, the vCPU's thread transmits and serves 9P, a device thread's
// fault kicks the vCPU thread (tgkill), and the receive thread ends (its
// exit and the join). Any call outside the list kills the child. The
// backend (mote-net, the share server) is this test's parent process.
TEST(VirtioSandbox, DevicesRunUnderTheKvmRunLoopAllowlist) {
  NetFixture f;
  f.bring_up();
  int share[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, share), 0);
  auto a = frame(80, 2);
  pid_t pid = fork();
  if (pid == 0) {
    Transport p9(f.mem, std::make_unique<NinePDevice>("mote0", share[0]), "virtio-9p", f.fault);
    static volatile sig_atomic_t kicked;
    struct sigaction sa {};
    sa.sa_handler = [](int) { kicked = 1; };
    sigaction(vm::Vcpu::kKickSignal, &sa, nullptr);
    pid_t self = getpid(), tid = gettid();
    f.fault.set_on_fault([self, tid] { syscall(SYS_tgkill, self, tid, vm::Vcpu::kKickSignal); });
    f.dev->start(*f.t);
    sandbox::KvmRunFds fds;
    fds.vcpus = {99};
    fds.vm = 98;
    fds.net = f.sv[0];
    fds.net_wake = f.dev->wake_fd();
    fds.shares = {share[0]};
    std::string error;
    if (!sandbox::install(sandbox::kvm_run_policy(fds), &error)) _exit(11);
    // Receive: the parent's frame lands in a posted buffer.
    {
      auto lock = f.t->lock();
      f.d.post(0, {{0x40000, 2048, true}});
    }
    f.d.notify(0);
    // Waits sleep in poll (the vCPU thread's only sleep here), 10 s at most.
    for (int ms = 0;; ++ms) {
      {
        auto lock = f.t->lock();
        if (f.d.used_idx(0) == 1) break;
      }
      if (ms == 10000) _exit(13);
      poll(nullptr, 0, 1);
    }
    if (memcmp(f.mem.at(0x40000 + kNetHeaderBytes, a.size())->data(), a.data(), a.size())) _exit(14);
    // 9P: the reply the parent queued.
    VirtioDriver d9(p9, f.mem);
    if (!d9.negotiate(kFeatureVersion1)) _exit(16);
    d9.setup_queue(0, 4, 0x50000);
    d9.driver_ok();
    uint8_t req[7] = {7, 0, 0, 0, p9::kTversion, 1, 0};
    f.mem.copy_in(0x60000, std::span<const uint8_t>(req, sizeof req));
    d9.post(0, {{0x60000, 7, false}, {0x61000, 64, true}});
    d9.notify(0);
    auto u = d9.take_used(0);
    if (!u || u->len != 11) _exit(17);
    // A broken receive ring (the available index far ahead) is found on the
    // receive thread when the parent's second frame comes; it kicks us.
    {
      auto lock = f.t->lock();
      f.mem.write<uint16_t>(f.d.ring(0).avail + 2, 100);
    }
    f.d.notify(0);
    // Transmit: the parent sends its second frame when it has this one.
    f.d.post(1, {{0x30000, kNetHeaderBytes + 20, false}});
    f.d.notify(1);
    for (int ms = 0; !kicked; ++ms) {
      if (ms == 10000) _exit(19);
      poll(nullptr, 0, 1);  // the kick interrupts it
    }
    if (!f.fault.reason()) _exit(20);
    f.dev->stop();
    _exit(0);
  }
  ASSERT_EQ(write(f.sv[1], a.data(), a.size()), ssize_t(a.size()));
  uint8_t reply[11] = {11, 0, 0, 0, p9::kRlerror, 1, 0, 2, 0, 0, 0};
  ASSERT_EQ(write(share[1], reply, sizeof reply), ssize_t(sizeof reply));
  uint8_t got[64];
  pollfd p{f.sv[1], POLLIN, 0};
  if (poll(&p, 1, 20000) == 1) {
    EXPECT_EQ(read(f.sv[1], got, sizeof got), 20);
    EXPECT_EQ(write(f.sv[1], a.data(), a.size()), ssize_t(a.size()));
  } else {
    ADD_FAILURE() << "no frame from the child";
    kill(pid, SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "status " << status << (WIFSIGNALED(status) ? " (signal)" : "");
  close(share[0]);
  close(share[1]);
}

// The tap's offload switches (FEATURES_OK with GUEST_TSO4, a reset, the
// end of the run) pass the KVM run loop's allowlist, which allows
// TUNSETOFFLOAD on the tap with exactly those values: another is fatal.
// (The "tap" is a socket here: the calls fail with ENOTTY once allowed.)
TEST(VirtioSandbox, TapOffloadSwitchesRunUnderTheKvmRunLoopAllowlist) {
  for (bool stray : {false, true}) {
    pid_t pid = fork();
    if (pid == 0) {
      NetFixture f(true);
      int calls = 0;
      f.dev->replace_offload_call([&](unsigned long o) {
        ++calls;
        return ioctl(f.sv[0], TUNSETOFFLOAD, o) == 0 || errno == ENOTTY || errno == EBADFD;
      });
      sandbox::KvmRunFds fds;
      fds.vcpus = {99};
      fds.vm = 98;
      fds.net = f.sv[0];
      fds.net_wake = f.dev->wake_fd();
      fds.net_tap_offload = true;
      std::string error;
      if (!sandbox::install(sandbox::kvm_run_policy(fds), &error)) _exit(11);
      f.bring_up(kRxGso | kNetFeatureMrgRxbuf);  // TUNSETOFFLOAD CSUM|TSO4
      f.d.write(Reg::Status, 0);                 // TUNSETOFFLOAD CSUM
      f.dev->release_tap_offloads();             // TUNSETOFFLOAD 0
      if (calls != 2) _exit(12);
      if (stray) (void)ioctl(f.sv[0], TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO6);
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (stray)
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == sandbox::kForbiddenStatus)
          << "another offload value must not pass: status " << status;
    else
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "status " << status << (WIFSIGNALED(status) ? " (signal)" : "");
  }
}

}  // namespace
}  // namespace mote::vmtest
