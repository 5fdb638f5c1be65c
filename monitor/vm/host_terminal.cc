#include "monitor/vm/host_terminal.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <cstring>

namespace mote::vm {

HostTerminal::HostTerminal(const HostConsole& console) : fd_{console.in, console.out, console.err} {
  for (int k = 0; k < 3; ++k) tty_[k] = ioctl(fd_[k], TCGETS, saved_[k]) == 0;
}

int64_t HostTerminal::set(uint32_t stream, uint32_t cmd, const uint8_t* termios) {
  if (stream > 2 || !tty_[stream]) return -ENOTTY;
  if (cmd != TCSETS && cmd != TCSETSW && cmd != TCSETSF) return -EINVAL;
  unsigned char t[60];
  std::memcpy(t, saved_[stream], sizeof t);
  std::memcpy(t, termios, 36);
  if (ioctl(fd_[stream], cmd, t) != 0) return -int64_t(errno);
  changed_[stream] = true;
  return 0;
}

void HostTerminal::restore() {
  for (int k = 0; k < 3; ++k) {
    if (!changed_[k]) continue;
    ioctl(fd_[k], TCSETS, saved_[k]);
    changed_[k] = false;
  }
}

}  // namespace mote::vm
