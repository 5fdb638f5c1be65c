// Just enough of a 16550 UART at COM1 (0x3f8) for a kernel that prints the
// way it would under QEMU or Firecracker: bytes written to the transmit
// register go to the host's stdout; the line status always says "transmitter
// empty"; nothing is ever received. Register map: TI PC16550D datasheet,
// "Register Description" (offsets 0-7 from the base port).
#pragma once

#include <stdint.h>

#include "monitor/vm/action.h"
#include "monitor/vm/exit.h"

namespace mote::vm {

class Uart16550 {
 public:
  static constexpr uint16_t kBasePort = 0x3f8;
  static constexpr uint16_t kPorts = 8;

  explicit Uart16550(int out_fd) : out_fd_(out_fd) {}

  static bool claims(uint16_t port) { return port >= kBasePort && port < kBasePort + kPorts; }
  Action access(const IoAccess& io);

 private:
  int out_fd_;
  uint8_t lcr_ = 0;      // line control; bit 7 (DLAB) turns offsets 0-1 into the divisor latch
  uint8_t scratch_ = 0;  // offset 7, read back as written (a common presence probe)
};

}  // namespace mote::vm
