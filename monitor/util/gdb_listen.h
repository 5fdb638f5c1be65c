// --gdb PORT, for every platform that serves gdb itself (process, kvm) and
// the monitor's test drivers.
#pragma once

#include <stdint.h>

#include <string>

namespace mote::launch {

// Listens on 127.0.0.1:PORT, says so on stderr and waits for one
// connection (gdb's `target remote :PORT`). Returns the connected socket
// (close-on-exec), or -1 with a one-line message in *error.
int accept_gdb(uint16_t port, std::string* error);

}  // namespace mote::launch
