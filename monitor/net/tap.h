// `--net tap:NAME`: the guest's Ethernet frames go to an existing tap device
// (made by the administrator, e.g. `ip tuntap add dev NAME mode tap user
// $USER`, and bridged or routed as they like). mote never creates one.
#pragma once

#include <string>

namespace mote::net {

// Opens tap device NAME (IFF_TAP | IFF_NO_PI: one read or write is one whole
// Ethernet frame), non-blocking and close-on-exec. -1 with a one-line reason
// in *error: missing, not a tap device, not permitted, busy.
//
// With *vnet_hdr true it asks for virtio-net headers too (IFF_VNET_HDR,
// header size 12: abi/virtio.h NetHeader before every frame, both ways)
// and checksum offload (TUNSETOFFLOAD TUN_F_CSUM: the host's stack may hand
// over frames with the checksum left partial, NEEDS_CSUM, and takes such
// frames); when the kernel refuses either, the device is opened plainly
// and *vnet_hdr says false. With *tso4 true as well it asks for TUN_F_TSO4:
// the host's stack may then hand over TCP segments of up to 64 KiB uncut
// (GSO_TCPV4; it takes such segments to cut up either way); *tso4 says
// whether it got it.
int open_tap(const std::string& name, bool* vnet_hdr, bool* tso4, std::string* error);
//
// The device keeps its offloads after our fd closes, and a reader without
// virtio-net headers would then get frames whose checksums are partial: the
// platforms switch them off as the run ends (TUNSETOFFLOAD 0: mote's
// monitor in vm/virtio/net.h release_tap_offloads, the process platform's
// core as it exits). A run killed outright leaves them on.

}  // namespace mote::net
