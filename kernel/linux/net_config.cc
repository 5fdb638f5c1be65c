// The device's addresses (inet.h NetConfig), and DHCP at boot.
#include "abi/boot_info.h"
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/lib/string.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/timer.h"
#include "kernel/mm/heap.h"
#include "kernel/net/dhcp.h"
#include "kernel/platform/platform.h"

#include <new>

namespace mote::linux {

namespace {

NetConfig g_config;
bool g_loaded;

// After boot: the client that holds the lease, renewing it (dhcp.h), and
// the buffer its REQUESTs are built in.
net::DhcpClient* g_dhcp;
u8* g_dhcp_tx;
u32 g_dhcp_leases;  // the client's leases() net_config() has
u32 g_dhcp_losses;  // and its losses() said
u64 g_dhcp_next;    // its next poll (~0: none)

void load_from_boot() {
  const abi::BootInfo& b = platform::boot_info();
  NetConfig c;
  c.device = b.net_flags & abi::kNetDevice;
  if (c.device) {
    for (int i = 0; i < 6; ++i) c.mac.b[i] = b.net_mac[i];
    c.addr = net::Ipv4(b.net_addr);
    c.prefix_len = u8(b.net_prefix_len <= 32 ? b.net_prefix_len : 24);
    c.gateway = net::Ipv4(b.net_gateway);
    c.dns = net::Ipv4(b.net_dns);
    c.mtu = b.net_mtu ? b.net_mtu : 1500;
  }
  g_config = c;
  g_loaded = true;
}

void print_addr(const char* what, net::Ipv4 a) {
  core::console_printf("%s%u.%u.%u.%u", what, a.v >> 24, (a.v >> 16) & 255, (a.v >> 8) & 255,
                       a.v & 255);
}

// A lease (at boot, or renewed) becomes net_config(), and the stack's.
void take_lease(const net::DhcpLease& l) {
  g_config.addr = l.addr;
  g_config.prefix_len = l.prefix_len;
  g_config.gateway = l.gateway;
  g_config.dns = l.dns;
  if (l.mtu >= 576 && l.mtu < g_config.mtu) g_config.mtu = l.mtu;
  core::klock();
  inet_reconfigure();
  core::kunlock();
}

}  // namespace

u64 dhcp_deadline() { return g_dhcp && g_dhcp_next != ~0ull ? g_dhcp_next : 0; }

void dhcp_work(u64 now) {
  if (!g_dhcp || now < g_dhcp_next) return;
  u64 next;
  usize n = g_dhcp->poll(now, g_dhcp_tx, &next);
  if (n) platform::net_send(g_dhcp_tx, n);
  g_dhcp_next = next;
  if (g_dhcp->losses() != g_dhcp_losses) {
    // The address stays in use until a new lease comes (dhcp.h).
    g_dhcp_losses = g_dhcp->losses();
    print_addr("mote: DHCP: the lease of ", g_config.addr);
    core::console_printf(" was not renewed; asking the network again\n");
  }
}

bool dhcp_input(const u8* frame, usize len, u64 now, bool csum_ok) {
  if (!g_dhcp || (g_dhcp->bound() && !g_dhcp->renewing())) return false;
  if (!g_dhcp->input(frame, len, now, csum_ok)) return false;
  if (g_dhcp->leases() != g_dhcp_leases) {
    // Renewed (or a new lease after a lost one): the addresses may differ.
    g_dhcp_leases = g_dhcp->leases();
    const net::DhcpLease& l = g_dhcp->lease();
    g_config.addr = l.addr;
    g_config.prefix_len = l.prefix_len;
    g_config.gateway = l.gateway;
    g_config.dns = l.dns;
    inet_reconfigure();
    if (platform::boot_info().flags & abi::kBootVerbose) {
      print_addr("mote: DHCP: renewed ", l.addr);
      core::console_printf(" (lease %lu s)\n", (unsigned long)l.lease_s);
    }
  }
  // What it sends next, and when.
  dhcp_work(now);
  return true;
}

const NetConfig& net_config() {
  if (!g_loaded) load_from_boot();
  return g_config;
}

void net_config_boot() {
  const NetConfig& c = net_config();
  if (!c.device || !c.addr.any()) return;
  const bool verbose = platform::boot_info().flags & abi::kBootVerbose;
  const u64 start = platform::monotonic_ns();
  u32 xid;
  core::g_rng.fill(reinterpret_cast<u8*>(&xid), sizeof xid);
  StrView host = core::g_proc.hostname;
  net::DhcpClient client(c.mac, xid, host.data, host.size);
  const usize cap = usize(c.mtu) + 14;
  u8* rx = static_cast<u8*>(mm::kalloc(cap));
  u8* tx = static_cast<u8*>(mm::kalloc(net::DhcpClient::kFrameCap));
  if (!rx || !tx) {
    mm::kfree(rx);
    mm::kfree(tx);
    core::console_printf("mote: DHCP: out of memory\n");
    return;
  }
  // The kernel lock keeps the frames ours: with it held, an arrival the
  // platform reports (core::on_net_ready) waits as posted work instead of
  // being drained into the stack.
  core::klock();
  static const volatile u32 never = 0;
  for (;;) {
    u64 now = platform::monotonic_ns();
    if (now - start >= kDhcpTimeoutNs) break;
    u64 next;
    usize n = client.poll(now, tx, &next);
    if (n) platform::net_send(tx, n);
    usize m;
    bool csum_ok;
    while (!client.bound() && (m = platform::net_receive(rx, cap, &csum_ok)) > 0)
      client.input(rx, m, platform::monotonic_ns(), csum_ok);  // anything else is dropped: no stack yet
    if (client.bound()) break;
    // Until the next retransmission, looking for replies every millisecond
    // (a device interrupt ends the wait early on the VM platforms).
    u64 until = now + 1000000;
    if (next < until) until = next;
    platform::wait_word(&never, 0, until);
  }
  core::kunlock();
  mm::kfree(rx);
  if (!client.bound()) {
    mm::kfree(tx);
    core::console_printf("mote: DHCP: no answer on the network in %lu s; the program runs "
                         "without an address\n", (unsigned long)(kDhcpTimeoutNs / 1000000000));
    return;
  }
  const net::DhcpLease& l = client.lease();
  take_lease(l);
  // The client lives on to renew the lease (dhcp_work).
  if (void* mem = mm::kalloc(sizeof(net::DhcpClient))) {
    g_dhcp = new (mem) net::DhcpClient(client);
    g_dhcp_tx = tx;
    g_dhcp_leases = client.leases();
    u64 next;
    core::klock();
    g_dhcp->poll(platform::monotonic_ns(), tx, &next);  // nothing due yet: it says when
    g_dhcp_next = next;
    timers_rearm();
    core::kunlock();
  } else {
    mm::kfree(tx);
  }
  if (verbose) {
    print_addr("mote: DHCP: ", l.addr);
    core::console_printf("/%u", unsigned(l.prefix_len));
    print_addr(", gateway ", l.gateway);
    print_addr(", DNS ", l.dns);
    print_addr(", from ", l.server);
    core::console_printf(" (lease %lu s) in %lu ms\n", (unsigned long)l.lease_s,
                         (unsigned long)((platform::monotonic_ns() - start) / 1000000));
  }
}

}  // namespace mote::linux
