// virtio-net (virtio 1.1, 5.1 "Network Device") on mote's KVM monitor,
// over the same frame fd the process platform's core gets
// (monitor/net/backend.h: mote-net's socket for --net user, or a tap): one
// read is one received Ethernet frame, one write sends one.
//
// Features: VERSION_1, MAC, MTU, STATUS (link up), and on a backend with
// virtio-net headers (a tap opened with IFF_VNET_HDR and TUN_F_CSUM,
// monitor/net/tap.h) the checksum offloads CSUM and GUEST_CSUM, which the
// tap really does both ways: the 12-byte header (struct virtio_net_hdr_v1)
// then travels between guest and tap, checked on the way (from the guest
// only NEEDS_CSUM, and only with CSUM, and with HOST_TSO4 a TCPv4
// segment to cut: GSO_TCPV4 with NEEDS_CSUM and a gso_size, which the tap
// takes with any header, whatever offloads it was set to hand over). A
// guest that did not take GUEST_CSUM gets whole checksums: the device
// completes a partial one itself. On mote-net's socket (libslirp wants
// whole checksums) no offload is offered and the header is zero but for
// num_buffers = 1. INDIRECT_DESC is offered (a 64 KiB segment in many
// pages on one ring entry: queue.h checks the table). Receive segmentation
// over such a tap: GUEST_TSO4 and MRG_RXBUF are offered; when the driver
// takes GUEST_TSO4 (with GUEST_CSUM) the device tells the tap at
// FEATURES_OK (TUNSETOFFLOAD CSUM|TSO4, as QEMU does; back to CSUM at a
// reset), and uncut TCP segments of up to 64 KiB go to the guest with
// their GSO_TCPV4 header. With MRG_RXBUF a frame spreads over as many
// chains as it needs (num_buffers), published together; a frame waits in
// the device until the driver has posted enough. Queue 0 receives, queue
// 1 transmits (5.1.2).
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
#include <functional>
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
  uint64_t csum_completed = 0;  // partial checksums the device completed for the guest
};

class NetDevice final : public Device {
 public:
  // `frame_fd` stays the caller's; it is made non-blocking. vnet_hdr: every
  // frame on it follows a 12-byte virtio-net header (a tap with
  // IFF_VNET_HDR, header size 12, TUN_F_CSUM).
  NetDevice(int frame_fd, const uint8_t mac[6], uint16_t mtu, bool vnet_hdr = false);
  ~NetDevice() override;

  uint32_t device_id() const override { return kDeviceNet; }
  uint64_t features() const override {
    return kNetFeatureMtu | kNetFeatureMac | kNetFeatureStatus | kFeatureIndirectDesc |
           (vnet_hdr_ ? kNetFeatureCsum | kNetFeatureGuestCsum | kNetFeatureHostTso4 |
                            kNetFeatureGuestTso4 | kNetFeatureMrgRxbuf
                      : 0);
  }
  void features_ok(uint64_t driver_features) override;
  void reset() override;
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

  // Over a tap with headers: switches its offloads off (TUNSETOFFLOAD 0) for
  // whoever opens it next (monitor/net/tap.h), as the VM ends.
  void release_tap_offloads();
  // Tests (whose "tap" is a socket): what the device calls instead of
  // ioctl(fd, TUNSETOFFLOAD, offloads) to switch segmentation; true: done.
  void replace_offload_call(std::function<bool(unsigned long offloads)> call) {
    offload_call_ = std::move(call);
  }

  NetStats stats() const;
  // The eventfd the receive thread waits on (for the sandbox policy).
  int wake_fd() const { return wake_fd_; }
  int frame_fd() const { return fd_; }

 private:
  void transmit(Transport& t);
  void wake();
  // The tap's offloads: CSUM, and TSO4 with `on` (rx_gso_ says which).
  void set_tap_segmentation(bool on);
  void receive_loop(Transport* t);

  int fd_;
  bool vnet_hdr_;
  int wake_fd_ = -1;
  std::array<uint8_t, 12> config_{};
  std::vector<uint8_t> tx_buf_, rx_buf_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  bool backend_gone_ = false;  // the frame fd reached end of file or failed
  bool rx_gso_ = false;        // the tap hands over uncut TCP segments (TUN_F_TSO4)
  size_t held_ = 0;            // a frame (header and all) in rx_buf_ waiting for buffers
  std::vector<Chain> rx_chains_;  // the chains one frame goes into (kept for their room)
  std::function<bool(unsigned long)> offload_call_;
  std::atomic<uint64_t> sent_{0}, received_{0}, dropped_{0}, csum_completed_{0};
};

}  // namespace mote::vm::virtio
