#include "monitor/vm/virtio/net.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mote::vm::virtio {

namespace {

// The largest frame either way: a 64 KiB IP packet in an Ethernet frame
// with a VLAN tag (the tap's MTU could be that large; slirp's is 1500).
constexpr size_t kMaxFrame = 65535 + 18;

}  // namespace

NetDevice::NetDevice(int frame_fd, const uint8_t mac[6], uint16_t mtu)
    : fd_(frame_fd), tx_buf_(kNetHeaderBytes + kMaxFrame), rx_buf_(kNetHeaderBytes + kMaxFrame) {
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

NetStats NetDevice::stats() const {
  return NetStats{sent_.load(), received_.load(), dropped_.load()};
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
  while (auto c = q->pop(&fault)) {
    any = true;
    // The frame follows the header; chains too short or too long are dropped.
    if (c->readable < kNetHeaderBytes || c->readable > tx_buf_.size()) {
      ++dropped_;
    } else {
      size_t n = c->read(std::span<uint8_t>(tx_buf_.data(), size_t(c->readable)));
      ssize_t w = backend_gone_ ? -1 : write(fd_, tx_buf_.data() + kNetHeaderBytes, n - kNetHeaderBytes);
      if (w < 0)
        ++dropped_;  // EAGAIN: the backend is full; or it is gone
      else
        ++sent_;
    }
    q->push(*c, 0);
  }
  if (!fault.empty()) return t.fault("transmit queue: " + fault);
  if (any) t.used_buffers(1);
}

bool NetDevice::receive(Transport& t, unsigned budget) {
  Queue* q = t.queue(0);
  if (!q) return true;
  bool any = false, stalled = false;
  for (unsigned i = 0; i < budget && !backend_gone_; ++i) {
    if (!q->has_available()) {
      stalled = true;
      break;
    }
    ssize_t n = read(fd_, rx_buf_.data() + kNetHeaderBytes, kMaxFrame);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    if (n <= 0) {
      backend_gone_ = true;  // end of file (mote-net ended) or an error: no more frames
      break;
    }
    std::string fault;
    auto c = q->pop(&fault);
    if (!c) {
      ++dropped_;
      if (!fault.empty()) t.fault("receive queue: " + fault);
      return true;
    }
    // 5.1.6.4: a zero header with num_buffers = 1 (no mergeable buffers).
    std::memset(rx_buf_.data(), 0, kNetHeaderBytes);
    rx_buf_[kNetHeaderBytes - 2] = 1;
    size_t total = kNetHeaderBytes + size_t(n);
    if (c->writable < total) {
      ++dropped_;
      q->push(*c, 0);
    } else {
      c->write(std::span<const uint8_t>(rx_buf_.data(), total));
      q->push(*c, uint32_t(total));
      ++received_;
    }
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
