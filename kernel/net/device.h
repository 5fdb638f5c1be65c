// The stack's view of a network device: somewhere to put Ethernet frames.
// Received frames come the other way, through Stack::input_frame.
#pragma once

#include "kernel/lib/types.h"

namespace mote::net {

// Where the stack's Ethernet frames go. send_frame copies or transmits the
// bytes before returning; the stack reuses the buffer.
class NetDevice {
 public:
  virtual void send_frame(const u8* frame, usize len) = 0;

 protected:
  ~NetDevice() = default;
};

}  // namespace mote::net
