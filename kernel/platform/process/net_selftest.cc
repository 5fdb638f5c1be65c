// `mote run --net user --selftest net` (kBootSelftestNet): the process
// platform's network device end to end, below the core's stack, with the
// sandbox up. Through platform::net_send / net_receive and the event thread
// (net.cc) it
//  1. sends an ARP request for the gateway and gets slirp's reply, told of
//     it by the event thread;
//  2. after draining the device, sends an ICMP echo to the gateway and gets
//     the reply: the event thread looked again after the drain;
//  3. checks the event thread costs ~no CPU while the device is idle.
// Prints "mote: selftest net: ok (...)" and exits 0, or says what failed
// and exits 1.
#include <asm/unistd_64.h>

#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process {

namespace {

constexpr u64 kMs = 1000000;

void put16(u8* p, u16 v) {
  p[0] = u8(v >> 8);
  p[1] = u8(v);
}
void put32(u8* p, u32 v) {
  put16(p, u16(v >> 16));
  put16(p + 2, u16(v));
}
u16 get16(const u8* p) { return u16(p[0] << 8 | p[1]); }
u32 get32(const u8* p) { return u32(get16(p)) << 16 | get16(p + 2); }

u16 checksum(const u8* p, usize n) {
  u32 sum = 0;
  for (usize i = 0; i + 1 < n; i += 2) sum += u32(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += u32(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return u16(~sum);
}

// Waits until the event thread has reported arrivals since `seen` (or 5 s
// pass), then takes frames until `want` accepts one; false on timeout.
template <typename Want>
bool await_frame(u32 seen, u8* buf, usize cap, usize* len, Want want) {
  u64 deadline = platform::monotonic_ns() + 5000 * kMs;
  for (;;) {
    while (__atomic_load_n(&g.net_notified, __ATOMIC_ACQUIRE) == seen) {
      if (platform::monotonic_ns() >= deadline) return false;
      platform::wait_word(&g.net_notified, seen, deadline);
    }
    seen = __atomic_load_n(&g.net_notified, __ATOMIC_ACQUIRE);
    while (usize n = platform::net_receive(buf, cap)) {
      if (want(buf, n)) {
        *len = n;
        return true;
      }
    }
  }
}

u64 thread_cpu_ns(int tid) {
  struct {
    i64 s, ns;
  } ts{};
  long clock = long((~u64(tid)) << 3) | 6;  // the host thread's CPU clock
  host::syscall2(__NR_clock_gettime, clock, long(&ts));
  return u64(ts.s) * 1000000000ull + u64(ts.ns);
}

[[noreturn]] void fail(const char* what) {
  char msg[160];
  usize n = format(msg, sizeof msg, "mote: selftest net: FAIL: %s\n", what);
  host::write(2, msg, n);
  platform::exit(1);
}

}  // namespace

void net_selftest() {
  const abi::BootInfo& b = *g.boot;
  if (!(b.net_flags & abi::kNetDevice) || !g.net_cpu) fail("no network device");
  const u8* mac = b.net_mac;
  u8 frame[1514] = {};
  u8 buf[2048];
  usize len = 0;

  // 1. ARP: who has the gateway? (RFC 826)
  memset(frame, 0xff, 6);
  memcpy(frame + 6, mac, 6);
  put16(frame + 12, 0x0806);
  put16(frame + 14, 1);
  put16(frame + 16, 0x0800);
  frame[18] = 6;
  frame[19] = 4;
  put16(frame + 20, 1);
  memcpy(frame + 22, mac, 6);
  put32(frame + 28, b.net_addr);
  put32(frame + 38, b.net_gateway);
  u32 seen = __atomic_load_n(&g.net_notified, __ATOMIC_ACQUIRE);
  u64 t0 = platform::monotonic_ns();
  if (!platform::net_send(frame, 60)) fail("net_send of the ARP request");
  const u32 gw = b.net_gateway;
  bool got = await_frame(seen, buf, sizeof buf, &len, [&](const u8* f, usize n) {
    return n >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2 && get32(f + 28) == gw &&
           memcmp(f + 32, mac, 6) == 0;
  });
  if (!got) fail("no ARP reply from the gateway");
  u64 arp_us = (platform::monotonic_ns() - t0) / 1000;
  u8 gw_mac[6];
  memcpy(gw_mac, buf + 22, 6);
  // Drain: the event thread then waits in ppoll again.
  while (platform::net_receive(buf, sizeof buf)) {
  }

  // 2. ICMP echo to the gateway (RFC 792).
  memcpy(frame, gw_mac, 6);
  put16(frame + 12, 0x0800);
  u8* ip = frame + 14;
  const char payload[] = "mote net selftest";
  const usize icmp_len = 8 + sizeof payload;
  memset(ip, 0, 20 + icmp_len);
  put16(ip, 0x4500);
  put16(ip + 2, u16(20 + icmp_len));
  put16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 1;
  put32(ip + 12, b.net_addr);
  put32(ip + 16, gw);
  put16(ip + 10, checksum(ip, 20));
  u8* icmp = ip + 20;
  icmp[0] = 8;
  put16(icmp + 4, 0x6d6f);
  put16(icmp + 6, 1);
  memcpy(icmp + 8, payload, sizeof payload);
  put16(icmp + 2, checksum(icmp, icmp_len));
  seen = __atomic_load_n(&g.net_notified, __ATOMIC_ACQUIRE);
  t0 = platform::monotonic_ns();
  if (!platform::net_send(frame, 14 + 20 + icmp_len)) fail("net_send of the echo request");
  got = await_frame(seen, buf, sizeof buf, &len, [&](const u8* f, usize n) {
    return n >= 42 + sizeof payload && get16(f + 12) == 0x0800 && f[23] == 1 && f[34] == 0 &&
           get32(f + 26) == gw && memcmp(f + 42, payload, sizeof payload) == 0;
  });
  if (!got) fail("no echo reply from the gateway after a drain");
  u64 ping_us = (platform::monotonic_ns() - t0) / 1000;
  while (platform::net_receive(buf, sizeof buf)) {
  }

  // 3. Idle: the event thread sleeps in ppoll.
  u64 cpu0 = thread_cpu_ns(g.net_cpu->host_tid);
  u64 start = platform::monotonic_ns();
  static volatile u32 never;
  platform::wait_word(&never, 0, start + 200 * kMs);
  u64 idle_cpu = thread_cpu_ns(g.net_cpu->host_tid) - cpu0;
  if (idle_cpu > 5 * kMs) fail("the event thread used CPU while the device was idle");

  char msg[200];
  usize n = format(msg, sizeof msg,
                   "mote: selftest net: ok (arp %lu us, ping %lu us, %u notifications, "
                   "idle event thread %lu us CPU in 200 ms)\n",
                   (unsigned long)arp_us, (unsigned long)ping_us, g.net_notified,
                   (unsigned long)(idle_cpu / 1000));
  host::write(2, msg, n);
  platform::exit(0);
}

}  // namespace mote::process
