// virtio-net (virtio 1.1, 5.1 "Network Device") on mote's KVM monitor,
// over the same frame fd the process platform's core gets
// (monitor/net/backend.h: mote-net's socket for --net user, or a tap): one
// read is one received Ethernet frame, one write sends one.
//
// Features: VERSION_1, MAC, MTU, STATUS (link up). No offloads: no checksum,
// no segmentation, no mergeable buffers, so every frame is one chain and the
// 12-byte header (struct virtio_net_hdr_v1) is zero but for num_buffers = 1.
// Queue 0 receives, queue 1 transmits (5.1.2).
//
// Transmit runs on the vCPU's thread at the notification: each chain's
// frame is one write (a full backend drops it, as a full NIC ring would).
// Receive runs on the device's own thread (start()): it waits in poll for
// frames while the guest has posted buffers, and for the guest's
// notification when it has not, so a frame never waits on a busy guest and
// an idle one costs no wake-ups. Frames that do not fit the buffer they are
// given (the driver posts smaller buffers than MTU + 26 bytes) are dropped.
#pragma once

#include <stdint.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "monitor/vm/virtio/mmio.h"

namespace mote::vm::virtio {

inline constexpr size_t kNetHeaderBytes = 12;             // struct virtio_net_hdr_v1
inline constexpr uint16_t kNetQueueMax = 256;

struct NetStats {
  uint64_t sent = 0;      // frames written to the backend
  uint64_t received = 0;  // frames put into the guest's buffers
  uint64_t dropped = 0;   // frames lost: backend full, buffer too small, no header
};

class NetDevice final : public Device {
 public:
  // `frame_fd` stays the caller's; it is made non-blocking.
  NetDevice(int frame_fd, const uint8_t mac[6], uint16_t mtu);
  ~NetDevice() override;

  uint32_t device_id() const override { return kDeviceNet; }
  uint64_t features() const override { return kNetFeatureMtu | kNetFeatureMac | kNetFeatureStatus; }
  uint16_t queue_count() const override { return 2; }
  uint16_t queue_max() const override { return kNetQueueMax; }
  std::span<const uint8_t> config() const override { return config_; }
  void notify(Transport& t, uint16_t q) override;

  // Moves frames waiting on the fd into the receive queue's buffers, at
  // most `budget` of them, with t's lock held. True when it stopped for want
  // of buffers (or of a live queue): then only a notification helps.
  bool receive(Transport& t, unsigned budget = 64);

  // Starts the receive thread for the device behind `t` (once), returning
  // when it runs: from then on it needs no system call outside
  // kvm_run_policy's (monitor/util/seccomp_policies.h).
  void start(Transport& t);
  // Ends the receive thread (the destructor does it too).
  void stop();

  NetStats stats() const;
  // The eventfd the receive thread waits on (for the sandbox policy).
  int wake_fd() const { return wake_fd_; }
  int frame_fd() const { return fd_; }

 private:
  void transmit(Transport& t);
  void wake();
  void receive_loop(Transport* t);

  int fd_;
  int wake_fd_ = -1;
  std::array<uint8_t, 12> config_{};
  std::vector<uint8_t> tx_buf_, rx_buf_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  bool backend_gone_ = false;  // the frame fd reached end of file or failed
  std::atomic<uint64_t> sent_{0}, received_{0}, dropped_{0};
};

}  // namespace mote::vm::virtio
