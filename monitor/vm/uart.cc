#include "monitor/vm/uart.h"

#include <unistd.h>

#include <cstring>
#include <vector>

namespace mote::vm {

namespace {

constexpr uint16_t kData = 0;          // THR (write) / RBR (read), DLAB = 0
constexpr uint16_t kInterruptId = 2;   // IIR (read)
constexpr uint16_t kLineControl = 3;   // LCR
constexpr uint16_t kLineStatus = 5;    // LSR
constexpr uint16_t kScratch = 7;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLsrThrEmpty = 0x20, kLsrTransmitterEmpty = 0x40;
constexpr uint8_t kIirNoInterrupt = 0x01;

}  // namespace

Action Uart16550::access(const IoAccess& io) {
  uint16_t reg = io.port - kBasePort;
  if (io.out) {
    if (reg == kData && !(lcr_ & kLcrDlab)) {
      // Each access carries one byte (the low byte for a wider out); one host write per exit.
      std::vector<uint8_t> bytes(io.count);
      for (uint32_t i = 0; i < io.count; ++i) bytes[i] = io.data[size_t(i) * io.size];
      if (::write(out_fd_, bytes.data(), bytes.size()) < 0) {
        // The host stream is gone (closed pipe): drop the output, as a UART would.
      }
    } else if (reg == kLineControl) {
      lcr_ = io.data[0];
    } else if (reg == kScratch) {
      scratch_ = io.data[0];
    }
    return Action::resume();  // other registers (IER, FCR, MCR, divisor) have no effect here
  }
  uint8_t value = 0;
  if (reg == kLineStatus) value = kLsrThrEmpty | kLsrTransmitterEmpty;
  else if (reg == kInterruptId) value = kIirNoInterrupt;
  else if (reg == kLineControl) value = lcr_;
  else if (reg == kScratch) value = scratch_;
  std::memset(io.data.data(), 0, io.data.size());
  for (uint32_t i = 0; i < io.count; ++i) io.data[size_t(i) * io.size] = value;
  return Action::resume();
}

}  // namespace mote::vm
