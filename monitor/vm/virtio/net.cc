#include "monitor/vm/virtio/net.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace mote::vm::virtio {

namespace {

// The largest frame either way: a 64 KiB IP packet in an Ethernet frame
// with a VLAN tag (the tap's MTU could be that large; slirp's is 1500).
constexpr size_t kMaxFrame = 65535 + 18;

static_assert(sizeof(abi::virtio::NetHeader) == kNetHeaderBytes);

abi::virtio::NetHeader header_at(const uint8_t* p) {
  abi::virtio::NetHeader h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

// Completes a partial checksum (NEEDS_CSUM) in `frame`: the Internet
// checksum (RFC 1071) of the bytes from `start` to the end, whose field at
// start + offset holds the pseudo-header sum, goes into that field. False
// when the field is not inside the frame.
bool complete_checksum(uint8_t* frame, size_t len, size_t start, size_t offset) {
  if (start > len || offset + 2 > len - start) return false;
  uint64_t sum = 0;
  const uint8_t* p = frame + start;
  size_t n = len - start;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = uint16_t(~sum);
  if (c == 0) c = 0xffff;  // as Linux's skb_checksum_help (UDP's 0 means none)
  frame[start + offset] = uint8_t(c >> 8);
  frame[start + offset + 1] = uint8_t(c);
  return true;
}

}  // namespace

NetDevice::NetDevice(int frame_fd, const uint8_t mac[6], uint16_t mtu, bool vnet_hdr)
    : fd_(frame_fd),
      vnet_hdr_(vnet_hdr),
      tx_buf_(kNetHeaderBytes + kMaxFrame),
      rx_buf_(kNetHeaderBytes + kMaxFrame) {
  int flags = fcntl(fd_, F_GETFL);
  if (flags >= 0) fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  // 5.1.4: mac[6], status, max_virtqueue_pairs, mtu (little-endian).
  std::memcpy(config_.data(), mac, 6);
  uint16_t fields[3] = {1 /* VIRTIO_NET_S_LINK_UP */, 1, mtu ? mtu : uint16_t(1500)};
  std::memcpy(config_.data() + 6, fields, sizeof fields);
}

NetDevice::~NetDevice() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void NetDevice::release_tap_offloads() {
  // A failure means the device is gone: nothing to switch off.
  if (vnet_hdr_) (void)ioctl(fd_, TUNSETOFFLOAD, 0ul);
}

void NetDevice::set_tap_segmentation(bool on) {
  if (!vnet_hdr_ || on == rx_gso_) return;
  unsigned long offloads = TUN_F_CSUM | (on ? TUN_F_TSO4 : 0);
  // Refused (the device is gone): the tap keeps cutting segments up, and
  // frames up to the MTU need nothing from the driver.
  if (offload_call_ ? offload_call_(offloads) : ioctl(fd_, TUNSETOFFLOAD, offloads) == 0)
    rx_gso_ = on;
}

void NetDevice::features_ok(uint64_t driver_features) {
  // As QEMU tells its tap: uncut TCP segments only for a driver that takes
  // them (GUEST_TSO4, which needs GUEST_CSUM: 5.1.3.1).
  set_tap_segmentation((driver_features & kNetFeatureGuestTso4) &&
                       (driver_features & kNetFeatureGuestCsum));
}

void NetDevice::reset() {
  held_ = 0;
  set_tap_segmentation(false);
}

NetStats NetDevice::stats() const {
  return NetStats{sent_.load(), received_.load(), dropped_.load(), csum_completed_.load()};
}

void NetDevice::wake() {
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
    // EAGAIN: the counter is already far from zero, so the thread will look.
  }
}

void NetDevice::notify(Transport& t, uint16_t q) {
  if (q == 1) return transmit(t);
  if (q == 0) wake();  // buffers posted: the receive thread may go on
}

void NetDevice::transmit(Transport& t) {
  Queue* q = t.queue(1);
  if (!q) return;
  bool any = false;
  std::string fault;
  const bool csum = t.driver_features() & kNetFeatureCsum;
  const bool tso = csum && (t.driver_features() & kNetFeatureHostTso4);
  while (auto c = q->pop(&fault)) {
    any = true;
    // The frame follows the header; chains too short or too long are dropped.
    if (c->readable <= kNetHeaderBytes || c->readable > tx_buf_.size()) {
      ++dropped_;
      q->push(*c, 0);
      continue;
    }
    size_t n = c->read(std::span<uint8_t>(tx_buf_.data(), size_t(c->readable)));
    abi::virtio::NetHeader h = header_at(tx_buf_.data());
    // 5.1.6.2: NEEDS_CSUM only with CSUM (and DATA_VALID never from a
    // driver: the host must not trust the guest's word for a checksum); a
    // segment to cut only with HOST_TSO4, TCPv4 (no ECN bit), partial, with
    // its MSS. The tap checks the rest against the frame itself.
    bool partial = h.flags & abi::virtio::kNetHdrNeedsCsum;
    bool gso = h.gso_type != abi::virtio::kNetGsoNone;
    if ((gso && !(tso && h.gso_type == abi::virtio::kNetGsoTcpv4 && partial && h.gso_size)) ||
        (partial && !csum)) {
      ++dropped_;
      q->push(*c, 0);
      continue;
    }
    ssize_t w = -1;
    if (backend_gone_) {
    } else if (vnet_hdr_) {
      // The tap checks csum_start and csum_offset against the frame itself.
      abi::virtio::NetHeader out{};
      if (partial) {
        out.flags = abi::virtio::kNetHdrNeedsCsum;
        out.csum_start = h.csum_start;
        out.csum_offset = h.csum_offset;
      }
      if (gso) {
        out.gso_type = h.gso_type;
        out.gso_size = h.gso_size;
        out.hdr_len = h.hdr_len;
      }
      std::memcpy(tx_buf_.data(), &out, sizeof out);
      w = write(fd_, tx_buf_.data(), n);
    } else {
      w = write(fd_, tx_buf_.data() + kNetHeaderBytes, n - kNetHeaderBytes);
    }
    if (w < 0)
      ++dropped_;  // EAGAIN: the backend is full (or refused the header); or it is gone
    else
      ++sent_;
    q->push(*c, 0);
  }
  if (!fault.empty()) return t.fault("transmit queue: " + fault);
  if (any) t.used_buffers(1);
}

bool NetDevice::receive(Transport& t, unsigned budget) {
  Queue* q = t.queue(0);
  if (!q) return true;
  bool any = false, stalled = false;
  const uint64_t features = t.driver_features();
  const bool guest_csum = features & kNetFeatureGuestCsum;
  const bool merge = features & kNetFeatureMrgRxbuf;
  std::vector<Chain>& chains = rx_chains_;
  for (unsigned i = 0; i < budget && !backend_gone_; ++i) {
    if (!q->has_available()) {
      stalled = true;
      break;
    }
    if (!held_) {
      ssize_t n;
      abi::virtio::NetHeader h{};
      if (vnet_hdr_) {
        n = read(fd_, rx_buf_.data(), kNetHeaderBytes + kMaxFrame);
        if (n >= 0 && size_t(n) <= kNetHeaderBytes) {
          if (n == 0) {
            backend_gone_ = true;
            break;
          }
          ++dropped_;  // no frame after the header: not for the guest
          continue;
        }
        if (n > 0) {
          h = header_at(rx_buf_.data());
          n -= ssize_t(kNetHeaderBytes);
        }
      } else {
        n = read(fd_, rx_buf_.data() + kNetHeaderBytes, kMaxFrame);
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n <= 0) {
        backend_gone_ = true;  // end of file (mote-net ended) or an error: no more frames
        break;
      }
      // What the guest is told (5.1.6.4): the tap's checksum flags when it
      // took GUEST_CSUM, else a whole frame (a partial checksum completed
      // here) and no flags. An uncut TCP segment only to a driver that took
      // GUEST_TSO4 (the tap hands them over only then: features_ok), and
      // partial, as the host's stack leaves it.
      const bool gso = h.gso_type != abi::virtio::kNetGsoNone;
      if (gso && !(rx_gso_ && guest_csum && h.gso_type == abi::virtio::kNetGsoTcpv4 &&
                   (h.flags & abi::virtio::kNetHdrNeedsCsum) && h.gso_size)) {
        ++dropped_;
        continue;
      }
      abi::virtio::NetHeader out{};
      if (guest_csum) {
        out.flags = h.flags & (abi::virtio::kNetHdrNeedsCsum | abi::virtio::kNetHdrDataValid);
        if (out.flags & abi::virtio::kNetHdrNeedsCsum)
          out.csum_start = h.csum_start, out.csum_offset = h.csum_offset;
      } else if (h.flags & abi::virtio::kNetHdrNeedsCsum) {
        if (!complete_checksum(rx_buf_.data() + kNetHeaderBytes, size_t(n), h.csum_start,
                               h.csum_offset)) {
          ++dropped_;
          continue;
        }
        ++csum_completed_;
      }
      if (gso) {
        out.gso_type = h.gso_type;
        out.gso_size = h.gso_size;
        out.hdr_len = h.hdr_len;
      }
      std::memcpy(rx_buf_.data(), &out, sizeof out);
      held_ = kNetHeaderBytes + size_t(n);
    }
    // Into the guest's buffers: one chain, or with MRG_RXBUF as many as the
    // frame needs, every one but the last filled (5.1.6.4), and published
    // together.
    std::string fault;
    chains.clear();
    uint64_t room = 0;
    while (room < held_) {
      auto c = q->pop(&fault);
      if (!c) break;
      room += c->writable;
      chains.push_back(std::move(*c));
      if (!merge) break;
    }
    if (!fault.empty()) {
      ++dropped_;
      held_ = 0;
      t.fault("receive queue: " + fault);
      return true;
    }
    if (room < held_) {
      if (merge && chains.size() < q->layout().size) {
        // Not buffers enough yet: the frame waits for the driver to post more.
        q->unpop(uint16_t(chains.size()));
        stalled = true;
        break;
      }
      // Larger than its buffer (or than the whole ring): dropped.
      ++dropped_;
      held_ = 0;
      for (const Chain& c : chains) q->push(c, 0, false);
      q->publish();
      any = true;
      continue;
    }
    const uint16_t buffers = uint16_t(chains.size());
    std::memcpy(rx_buf_.data() + offsetof(abi::virtio::NetHeader, num_buffers), &buffers,
                sizeof buffers);
    size_t at = 0;
    for (const Chain& c : chains) {
      size_t w = c.write(std::span<const uint8_t>(rx_buf_.data() + at, held_ - at));
      q->push(c, uint32_t(w), false);
      at += w;
    }
    q->publish();
    held_ = 0;
    ++received_;
    any = true;
  }
  if (any) t.used_buffers(0);
  return stalled;
}

void NetDevice::start(Transport& t) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, &t] { receive_loop(&t); });
  // Until the thread runs its own code, glibc is still setting it up
  // (robust list, rseq, its signal mask: calls no sandbox allows), so the
  // caller's seccomp filter must wait for this.
  running_.wait(false);
}

void NetDevice::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
}

void NetDevice::receive_loop(Transport* t) {
  running_ = true;
  running_.notify_one();
  bool want_frames = false;  // the guest has buffers: poll the backend too
  for (;;) {
    pollfd p[2] = {{wake_fd_, POLLIN, 0}, {fd_, short(want_frames ? POLLIN : 0), 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[0].revents & POLLIN) {
      uint64_t count;
      if (read(wake_fd_, &count, sizeof count) < 0) {
        // EAGAIN: another read took it
      }
    }
    if (stopping_) return;
    if (p[1].revents & (POLLERR | POLLNVAL)) want_frames = false;
    auto lock = t->lock();
    bool stalled = receive(*t);
    want_frames = !stalled && !backend_gone_;
  }
}

}  // namespace mote::vm::virtio
