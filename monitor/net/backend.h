// The guest's network device, host side, for the platforms whose monitor
// provides it (process; mote's KVM monitor). QEMU brings its own backends
// (monitor/qemu/net_args.h).
//
//   --net user     a socketpair(SOCK_SEQPACKET): one end to mote-net
//                  (helper_main.cc, libslirp), the other is the device
//   --net tap:NAME the tap device's fd itself is the device
//
// Either way the device is one fd on which one read is one received
// Ethernet frame and one write sends one; non-blocking. The frame socket
// closes when the guest side's last copy does, and mote-net then exits.
#pragma once

#include <cstdint>
#include <string>

#include "monitor/cli/options.h"

namespace mote::net {

struct Device {
  int fd = -1;  // the guest side's frames; close-on-exec (the caller clears it to pass it on)
  // What the boot info tells the kernel (abi::BootInfo's net_* fields).
  uint32_t addr = 0;        // 0: ask DHCP (tap: the network is the administrator's)
  uint32_t prefix_len = 0;
  uint32_t gateway = 0;
  uint32_t dns = 0;
  uint8_t mac[6] = {};
  uint16_t mtu = 0;
  // A tap with virtio-net headers and checksum offload (tap.h): each frame
  // read or written on fd follows a 12-byte abi/virtio.h NetHeader.
  bool vnet_hdr = false;
  // With vnet_hdr: TCP segmentation offload both ways (TUN_F_TSO4; the
  // process platform's core asks for it, mote's virtio-net does not offer it).
  bool tso4 = false;
};

// Opens the device --net asks for; false with a one-line reason ("-p
// 8080:80: cannot listen on ...", "--net tap:t0: no such network interface")
// when it cannot be had. o.net.mode must not be None.
// `tso4`: ask a tap for segmentation offload too (Device::tso4).
bool open_device(const cli::RunOptions& o, Device* out, std::string* error, bool tso4 = false);

}  // namespace mote::net
