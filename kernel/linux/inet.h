// The kernel's one IPv4 network: the stack (kernel/net/) over the platform's
// network device (or loopback alone), its timers, and frame arrival. The
// AF_INET sockets (inet_socket.cc) use it; everything runs under the kernel
// lock.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"

namespace mote::net {
class Stack;
class Tcp;
}  // namespace mote::net

namespace mote::linux {

struct Inet {
  net::Stack* stack;
  net::Tcp* tcp;
};

// The device's addresses: the boot info's, or those DHCP leased at boot
// (net_config_boot). Everything that describes the network reads them: the
// stack, the interface ioctls, route netlink, /etc/hosts and resolv.conf.
struct NetConfig {
  bool device = false;  // a network device (else loopback alone)
  net::Mac mac;
  net::Ipv4 addr;       // any(): none (DHCP found no server)
  u8 prefix_len = 24;
  net::Ipv4 gateway;
  net::Ipv4 dns;
  u16 mtu = 1500;
};
const NetConfig& net_config();
// At boot, before the filesystem: a device whose address the monitor left
// to DHCP (net_addr 0: --net user:dhcp, --net tap:NAME:dhcp, or net=dhcp on
// a VM's command line) gets one (kernel/net/dhcp.h), waiting at most
// kDhcpTimeoutNs; without an answer the run goes on without an address,
// after one line saying so.
inline constexpr u64 kDhcpTimeoutNs = 15ull * 1000 * 1000 * 1000;
void net_config_boot();
// The leased address's renewal, after boot (kernel lock held; called by the
// network's timer work): its next deadline (0: none), the work due by
// `now` (a REQUEST sent, a new lease taken into net_config()), and a
// received frame, which it takes (true) when it is the DHCP reply it waits
// for, before the stack sees it.
u64 dhcp_deadline();
void dhcp_work(u64 now);
bool dhcp_input(const u8* frame, usize len, u64 now, bool csum_ok);
// The stack, if made already, takes net_config() again.
void inet_reconfigure();

// The network, made on first use from net_config(); null on ENOMEM.
Inet* inet();
// The stack's clock (monotonic ns).
u64 inet_now();
// After anything that may have queued work (a send, a close): delivers
// loopback datagrams and re-arms the stack's timer.
void inet_kick();

// For core::on_timer: frames that arrived, then the stack's timers when due.
void inet_timer_work();
// The stack's next deadline (0: none), folded into the platform timer by
// linux/timer.cc.
u64 inet_deadline();
// Something outside the program could still wake a sleeping thread: frames
// from a device, or the stack's own timers (retransmissions, a connection
// being closed).
bool inet_wake_possible();

// The program's end (core::process_exit, the last process, kernel lock
// held): its TCP sockets are closed as Linux closes an exiting process's
// files, and the run lasts until what they still had to send -- data and
// FINs -- is acknowledged, as Linux's orphan sockets go on sending after
// their process. Bounded: it gives up after kExitLingerIdleNs without any
// acknowledgement, and after kExitLingerMaxNs in all. Nothing to wait for
// without a network device (loopback peers end with the program).
inline constexpr u64 kExitLingerIdleNs = 3ull * 1000 * 1000 * 1000;
inline constexpr u64 kExitLingerMaxNs = 30ull * 1000 * 1000 * 1000;
void inet_exit();

// The interfaces there are: "lo" (index 1, 127.0.0.1/8) and, with a
// network device, "eth0" (index 2, the boot info's address, MAC and MTU).
// The ioctls below and route netlink (netlink.cc) describe them.
inline constexpr int kMaxNetIfaces = 2;
// linux/if.h flags, linux/if_arp.h types.
inline constexpr u16 kIffUp = 0x1, kIffLoopback = 0x8, kIffRunning = 0x40,
                     kIffMulticast = 0x1000;
inline constexpr u16 kArphrdEther = 1, kArphrdLoopback = 772;
struct NetIface {
  const char* name;
  int index;
  net::Ipv4 addr;
  u32 prefix;
  u16 flags, hwtype;  // IFF_*, ARPHRD_*
  u32 mtu;            // the IP MTU
  u8 mac[6];
};
int net_interfaces(NetIface out[kMaxNetIfaces]);

// The network interface ioctls (SIOCGIFCONF, SIOCGIFADDR, ...; netdevice(7),
// inet_ioctl.cc), which Linux answers on a socket of any family; ENOTTY
// for other commands.
Result<i64> netdevice_ioctl(u32 cmd, u64 arg);

// Registers AF_INET with the socket layer (boot).
void inet_register();
// Registers AF_NETLINK (NETLINK_ROUTE; netlink.cc) with the socket layer.
void netlink_register();

}  // namespace mote::linux
