// -t on mote's monitor: the program's terminal mode changes reach the host
// terminal (hypercall ConsoleTermios), and the modes the run began with come
// back when it ends, whatever ended it.
#pragma once

#include <stdint.h>

#include "monitor/vm/host_console.h"

namespace mote::vm {

class HostTerminal {
 public:
  // Records the modes of each console fd that is a terminal (TCGETS), before
  // the run loop's filter goes in.
  explicit HostTerminal(const HostConsole& console);
  ~HostTerminal() { restore(); }
  HostTerminal(const HostTerminal&) = delete;
  HostTerminal& operator=(const HostTerminal&) = delete;

  // TCSETS, TCSETSW or TCSETSF of `termios` (the kernel's struct termios, 36
  // bytes) on console stream `stream`: 0, -ENOTTY (no such stream, or not a
  // terminal), -EINVAL (another command) or the ioctl's -errno.
  int64_t set(uint32_t stream, uint32_t cmd, const uint8_t* termios);
  // Puts back the recorded modes of every stream set() changed.
  void restore();

 private:
  int fd_[3];
  bool tty_[3] = {};
  bool changed_[3] = {};
  unsigned char saved_[3][60] = {};  // TCGETS's struct termios (36 bytes used), with room
};

}  // namespace mote::vm
