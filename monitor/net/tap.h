// `--net tap:NAME`: the guest's Ethernet frames go to an existing tap device
// (made by the administrator, e.g. `ip tuntap add dev NAME mode tap user
// $USER`, and bridged or routed as they like). mote never creates one.
#pragma once

#include <string>

namespace mote::net {

// Opens tap device NAME (IFF_TAP | IFF_NO_PI: one read or write is one whole
// Ethernet frame), non-blocking and close-on-exec. -1 with a one-line reason
// in *error: missing, not a tap device, not permitted, busy.
int open_tap(const std::string& name, std::string* error);

}  // namespace mote::net
