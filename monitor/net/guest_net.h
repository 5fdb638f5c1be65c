// The guest network of `--net user`, declared once for every platform: the
// process platform's and mote's KVM monitor's libslirp backend
// (slirp_backend.h), QEMU's own user networking (monitor/qemu) and the boot
// info the kernel configures its device from. The same numbers QEMU uses by
// default, so guides written for QEMU's user networking hold.
#pragma once

#include <cstdint>

namespace mote::net {

// IPv4 addresses in host byte order (as abi::BootInfo carries them).
inline constexpr uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d;
}

inline constexpr uint32_t kUserNetwork = ip4(10, 0, 2, 0);
inline constexpr uint32_t kUserPrefixLen = 24;
inline constexpr uint32_t kUserGateway = ip4(10, 0, 2, 2);  // the host, as slirp presents it
inline constexpr uint32_t kUserDns = ip4(10, 0, 2, 3);      // slirp's DNS forwarder
inline constexpr uint32_t kUserGuest = ip4(10, 0, 2, 15);
// A locally administered unicast address in QEMU's 52:54:00 range.
inline constexpr uint8_t kGuestMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
inline constexpr uint16_t kMtu = 1500;
// One Ethernet frame without FCS: MTU + 14-byte header (no VLAN tags).
inline constexpr uint32_t kMaxFrame = kMtu + 14;

}  // namespace mote::net
