// The virtio-net self-test (net_virtio.h): with QEMU's user network behind
// the device, an ARP request for the gateway 10.0.2.2 from 10.0.2.15 goes
// out through the transmit queue and slirp's reply comes back through the
// receive queue -- the driver end to end, below the core's stack. Then the
// interrupt: another request, and the CPU halts (sti; hlt) with the timer
// far away; the reply's interrupt through the I/O APIC must wake it.
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/net_virtio.h"
#include "kernel/platform/platform.h"

namespace mote::kvm {

namespace {

int interrupt_selftest(const u8* request, usize len) {
  if (!net_device_has_interrupt()) {
    kprintf("selftest virtio-net interrupt: FAIL (no interrupt line routed)\n");
    return 1;
  }
  u8 buf[2048];
  while (platform::net_receive(buf, sizeof buf)) {
  }
  u32 before = net_device_interrupts();
  u64 start = platform::monotonic_ns();
  u32 halts = 0;
  // Up to 5 s of halts, each of up to 1 s, and the request sent again after each
  // (slirp answers every one).
  while (net_device_interrupts() == before && platform::monotonic_ns() - start < 5000000000ull) {
    platform::net_send(request, len);
    platform::idle_until(platform::monotonic_ns() + 1000000000ull);
    ++halts;
  }
  u32 got = net_device_interrupts() - before;
  u64 us = (platform::monotonic_ns() - start) / 1000;
  bool ok = got && us < 1000000;  // woken by the interrupt, not by a 1 s timer
  u32 frames = 0;
  while (platform::net_receive(buf, sizeof buf)) ++frames;
  kprintf("selftest virtio-net interrupt: %s (%u interrupts, %u halts, %u frames, woken after %lu us)\n",
          ok ? "ok" : "FAIL", got, halts, frames, (unsigned long)us);
  return ok ? 0 : 1;
}

}  // namespace

int net_selftest() {
  u8 mac[6];
  if (!net_device_mac(mac)) return 0;  // no device: nothing to test
  constexpr u8 kGuest[4] = {10, 0, 2, 15}, kGateway[4] = {10, 0, 2, 2};
  u8 f[60] = {};
  memset(f, 0xff, 6);
  memcpy(f + 6, mac, 6);
  f[12] = 0x08, f[13] = 0x06;  // ARP (RFC 826)
  f[15] = 1;                   // Ethernet
  f[16] = 0x08, f[17] = 0x00;  // IPv4
  f[18] = 6, f[19] = 4, f[21] = 1;  // request
  memcpy(f + 22, mac, 6);
  memcpy(f + 28, kGuest, 4);
  memcpy(f + 38, kGateway, 4);
  u64 start = platform::monotonic_ns();
  bool sent = false, answered = false;
  u32 frames = 0;
  u8 buf[2048];
  // Again every 100 ms (slirp may drop the first while it starts), 5 s in all.
  for (u64 next = start; !answered && platform::monotonic_ns() - start < 5000000000ull;) {
    if (platform::monotonic_ns() >= next) {
      sent = platform::net_send(f, sizeof f) || sent;
      next += 100000000ull;
    }
    while (usize n = platform::net_receive(buf, sizeof buf)) {
      ++frames;
      if (n >= 42 && buf[12] == 0x08 && buf[13] == 0x06 && buf[21] == 2 &&
          memcmp(buf + 28, kGateway, 4) == 0 && memcmp(buf + 32, mac, 6) == 0)
        answered = true;
    }
  }
  u64 us = (platform::monotonic_ns() - start) / 1000;
  kprintf("selftest virtio-net: %s (mac %02x:%02x:%02x:%02x:%02x:%02x, %s, %u frames in %lu us)\n",
          answered ? "ok" : "FAIL", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
          answered ? "ARP reply from 10.0.2.2" : sent ? "no ARP reply" : "could not send", frames,
          (unsigned long)us);
  return (answered ? 0 : 1) + interrupt_selftest(f, sizeof f);
}

}  // namespace mote::kvm
