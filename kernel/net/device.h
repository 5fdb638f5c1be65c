// The stack's view of a network device: somewhere to put Ethernet frames.
// Received frames come the other way, through Stack::input_frame.
#pragma once

#include "kernel/lib/types.h"

namespace mote::net {

// Offloads on one outgoing frame (virtio 1.1 5.1.6.2):
// - checksum (NEEDS_CSUM): the device sums the bytes from `start` to the
//   frame's end and stores the folded complement at start + offset, where
//   the stack left the folded pseudo-header sum; offset 0: the frame's
//   checksums are complete;
// - segmentation (GSO_TCPV4, only with the checksum): a TCP segment larger
//   than the MTU, which the device cuts into segments of gso_size payload
//   bytes each, the first hdr_len bytes (Ethernet, IPv4, TCP with options)
//   repeated; gso_size 0: the frame goes as it is.
struct TxOffload {
  u16 start = 0, offset = 0;
  u16 gso_size = 0, hdr_len = 0;
};

// Where the stack's Ethernet frames go. send_frame copies or transmits the
// bytes before returning; the stack reuses the buffer.
class NetDevice {
 public:
  virtual void send_frame(const u8* frame, usize len, TxOffload off) = 0;
  // Whether send_frame completes a partial checksum (TxOffload); without, the
  // stack completes every checksum before the frame leaves.
  virtual bool tx_csum_offload() const { return false; }
  // Whether it also segments TCP (TxOffload::gso_size; needs the checksum
  // offload too).
  virtual bool tso() const { return false; }

 protected:
  ~NetDevice() = default;
};

}  // namespace mote::net
