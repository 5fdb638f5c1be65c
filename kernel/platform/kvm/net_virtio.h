// The VM platforms' virtio-net driver (net_virtio.cc), seen from the rest of
// the platform: platform::net_send / net_receive are its interface to the
// core; these are for boot and the self-test.
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

struct NetDevice;
// The first virtio-net device, set up on first use (receive ring filled);
// null when there is none or it failed.
NetDevice* net_device();
// Whether its interrupt is routed, and how many it has taken (self-test).
bool net_device_has_interrupt();
u32 net_device_interrupts();
// Its MAC address (VIRTIO_NET_F_MAC); false without a device.
bool net_device_mac(u8 out[6]);
// Self-test (kernel command line word `selftest-net`, QEMU user
// network): ARP for 10.0.2.2 from 10.0.2.15 and back, polled, then again
// with the CPU halted until the device's interrupt wakes it. Prints a line each;
// returns failures (0 when there is no device: nothing to test).
int net_selftest();

}  // namespace mote::kvm
