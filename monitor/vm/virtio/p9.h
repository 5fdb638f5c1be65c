// virtio-9p (device type 9, "9P Transport" in the virtio 1.1 device list) on mote's
// KVM monitor: each -v share is one device with mount tag "mote<k>", whose
// requests go, one 9P message per descriptor chain (request readable, room
// for the reply writable), to the share server (monitor/share/server.h)
// over a SOCK_SEQPACKET socket, one message per packet. The server runs
// outside the monitor, in a process of its own with its own seccomp
// allowlist, and has one 9P session per device (fids are per channel).
//
// The kernel's driver (kernel/platform/kvm/share_virtio.cc) has one request
// in flight and polls, so the monitor serves a notification at once, on the
// vCPU's thread. A request the server cannot answer (it is gone, or the
// reply would not fit the chain) is answered by the device itself with
// Rlerror(EIO), so the guest sees an I/O error rather than waiting.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "monitor/vm/virtio/mmio.h"

namespace mote::vm::virtio {

inline constexpr uint16_t k9pQueueMax = 128;

class NinePDevice final : public Device {
 public:
  // `server_fd` stays the caller's (blocking SOCK_SEQPACKET).
  NinePDevice(const std::string& tag, int server_fd);

  uint32_t device_id() const override { return kDevice9p; }
  uint64_t features() const override { return k9pFeatureMountTag; }
  uint16_t queue_count() const override { return 1; }
  uint16_t queue_max() const override { return k9pQueueMax; }
  std::span<const uint8_t> config() const override { return config_; }
  void notify(Transport& t, uint16_t q) override;

 private:
  // The server's reply to req (into resp_), or 0 when there is none.
  size_t forward(size_t req_len);

  int fd_;
  std::vector<uint8_t> config_;  // le16 tag_len, tag
  std::vector<uint8_t> req_, resp_;
};

}  // namespace mote::vm::virtio
