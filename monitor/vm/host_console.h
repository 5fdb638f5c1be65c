// The host file descriptors behind the guest's console (hypercalls, UART).
#pragma once

namespace mote::vm {

struct HostConsole {
  int in = 0;
  int out = 1;
  int err = 2;
};

}  // namespace mote::vm
