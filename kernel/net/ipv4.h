// IPv4 addressing, routing and output fragmentation (RFC 791, RFC 1122 3.3).
// One Ethernet interface (address, prefix, gateway, MTU) plus loopback:
// 127.0.0.0/8 and our own address are delivered locally, the subnet on-link,
// everything else through the gateway. Pure functions of the configuration;
// the stack (stack.h) does the sending.
#pragma once

#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"
#include "kernel/net/wire.h"

namespace mote::net {

inline constexpr u16 kLoopbackMtu = 65535;
inline constexpr u8 kDefaultTtl = 64;  // Linux's net.ipv4.ip_default_ttl

struct InterfaceConfig {
  Mac mac;
  Ipv4 addr;           // any(): not configured (only loopback works)
  u8 prefix_len = 24;  // 0..32
  Ipv4 gateway;        // any(): no default route
  u16 mtu = 1500;

  u32 netmask() const { return prefix_len ? ~u32(0) << (32 - prefix_len) : 0; }
  bool on_link(Ipv4 a) const { return !addr.any() && (a.v & netmask()) == (addr.v & netmask()); }
  // The subnet's directed broadcast (RFC 919); none for /31 and /32.
  bool subnet_broadcast(Ipv4 a) const {
    return prefix_len < 31 && !addr.any() && on_link(a) && (a.v | netmask()) == ~u32(0);
  }
};

enum class RouteKind : u8 {
  None,      // unreachable
  Loopback,  // delivered back to our own input
  Ethernet,  // out of the interface
};

struct Route {
  RouteKind kind = RouteKind::None;
  Ipv4 src;       // the address to send from
  Ipv4 next_hop;  // Ethernet: who to ARP for (dst or the gateway)
  u16 mtu = 0;
  bool broadcast = false;  // Ethernet: to ff:ff:ff:ff:ff:ff, no ARP
  bool multicast = false;  // Ethernet: to the RFC 1112 group MAC, no ARP
};

// True for addresses this host answers to as unicast: 127/8 and our address.
bool is_local_address(const InterfaceConfig& cfg, Ipv4 a);
Route route_for(const InterfaceConfig& cfg, Ipv4 dst);

// Splits one datagram (header `base`, payload of len bytes) into fragments of
// at most `mtu` bytes each (RFC 791 3.2 "fragmentation"), returned as a
// Packet list linked through ->next, each holding a complete IP datagram
// (header written, checksum filled in) with headroom for Ethernet. base's
// fragment fields may already say MF/offset (a fragment being refragmented).
// Null on ENOMEM (nothing leaks) or if mtu leaves no room for 8 data bytes.
Packet* ip_fragment(const Ipv4Header& base, const u8* payload, usize len, u16 mtu);

}  // namespace mote::net
