// The stack's view of a network device: somewhere to put Ethernet frames.
// Received frames come the other way, through Stack::input_frame.
#pragma once

#include "kernel/lib/types.h"

namespace mote::net {

// Checksum offload on one outgoing frame (virtio 1.1 5.1.6.2, NEEDS_CSUM):
// the device sums the bytes from `start` to the frame's end and stores the
// folded complement at start + offset, where the stack left the folded
// pseudo-header sum. offset 0: the frame's checksums are complete.
struct TxCsum {
  u16 start = 0, offset = 0;
};

// Where the stack's Ethernet frames go. send_frame copies or transmits the
// bytes before returning; the stack reuses the buffer.
class NetDevice {
 public:
  virtual void send_frame(const u8* frame, usize len, TxCsum csum) = 0;
  // Whether send_frame completes a partial checksum (TxCsum); without, the
  // stack completes every checksum before the frame leaves.
  virtual bool tx_csum_offload() const { return false; }

 protected:
  ~NetDevice() = default;
};

}  // namespace mote::net
