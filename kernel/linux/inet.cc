// The kernel's IPv4 network (inet.h): one net::Stack with TCP, over the
// platform's Ethernet device when the monitor gave one (boot info
// kNetDevice), else loopback alone.
//
// Events: the platform calls core::on_net_ready when frames arrive (an
// interrupt, the process platform's event thread). It only marks them
// pending and, when the kernel lock is free, takes them at once; otherwise
// the lock's holder takes them as it lets go (core::post_work). The stack's own deadlines (retransmissions, delayed
// ACKs, TIME_WAIT, ARP retries) are folded into the platform timer by
// linux/timer.cc (inet_deadline).
#include "kernel/linux/inet.h"

#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/linux/timer.h"
#include "kernel/mm/heap.h"
#include "kernel/net/stack.h"
#include "kernel/net/tcp.h"
#include "kernel/platform/platform.h"

#include <new>

// A platform without a network device links these: nothing to send on,
// nothing arrives (the boot info never says kNetDevice there).
namespace mote::platform {
[[gnu::weak]] bool net_send(const void*, usize, const NetTxOffload*) { return false; }
[[gnu::weak]] usize net_receive(void*, usize, bool*) { return 0; }
[[gnu::weak]] u32 net_offloads() { return 0; }
}  // namespace mote::platform

namespace mote::linux {

namespace {

class PlatformDevice final : public net::NetDevice {
 public:
  void send_frame(const u8* frame, usize len, net::TxOffload o) override {
    // A full transmit queue drops the frame, as a NIC would; TCP resends.
    platform::NetTxOffload p{o.start, o.offset, o.gso_size, o.hdr_len};
    platform::net_send(frame, len, o.offset ? &p : nullptr);
  }
  bool tx_csum_offload() const override { return offloads_ & platform::kNetTxCsum; }
  bool tso() const override { return offloads_ & platform::kNetTso4; }

  u32 offloads_ = platform::net_offloads();
};

// TCP as the stack's protocol-6 handler.
class TcpTransport final : public net::TransportHandler {
 public:
  explicit TcpTransport(net::Tcp& tcp) : tcp_(tcp) {}
  void input(const net::IpInfo& ip, const u8* seg, usize len, u64 now) override {
    tcp_.input(ip, seg, len, now);
  }
  void icmp_error(const net::IcmpError& e, u64 now) override {
    tcp_.icmp_error(e.src, e.dst, e.type, e.code, e.mtu, e.transport, e.transport_len, now);
  }
  void tick(u64 now) override { tcp_.tick(now); }
  u64 next_deadline() override { return tcp_.next_deadline(); }

 private:
  net::Tcp& tcp_;
};

struct State {
  PlatformDevice device;
  net::Stack stack;
  net::Tcp tcp;
  TcpTransport transport;
  Inet inet;
  u8* rx_buf;
  usize rx_cap;
  State(const net::InterfaceConfig& cfg, const net::TcpSecret& secret)
      : stack(device, cfg), tcp(stack, secret, tcp_config()), transport(tcp), inet{&stack, &tcp} {}

  // TCP's buffers together grow no further than a sixteenth of the memory
  // limit (tcp_autotune.cc), 8 MiB at least.
  static net::TcpConfig tcp_config() {
    net::TcpConfig c;
    u64 part = core::g_proc.as.limit() / 16;
    c.grown_max = part < (8u << 20) ? (8u << 20) : part;
    return c;
  }
};

State* g_state;
volatile bool g_rx_pending;  // set by on_net_ready, cleared by whoever drains
bool g_device;

u64 g_folded_deadline;  // what inet_deadline() last gave linux/timer.cc's rearm()

// inet_exit's wait: on_net_ready sets the word and wakes it (the exiting
// thread holds the kernel lock, so posted work would never run).
volatile u32 g_exit_waiting;
volatile u32 g_exit_word;

// The stack's next deadline for the platform timer: 0 none, 1 at once.
// Frames waiting once the program runs are posted work (on_net_ready,
// inet_timer_work), not a deadline: the kernel lock's holder takes them.
// Before that only a timer takes them.
u64 stack_deadline() {
  if (g_rx_pending && !core::g_threads) return 1;
  u64 dhcp = dhcp_deadline();  // the lease's renewal, with or without a stack
  if (!g_state) return dhcp;
  u64 d = g_state->stack.next_deadline();
  if (d == net::kNoDeadline) return dhcp;
  if (!d) d = 1;
  return dhcp && dhcp < d ? dhcp : d;
}

// Frames taken per run: a flood cannot hold the kernel lock for long; the
// rest are posted work again (core::post_work), taken after the lock was
// let go once.
constexpr int kRxBudget = 256;

net::InterfaceConfig stack_config() {
  const NetConfig& c = net_config();
  net::InterfaceConfig cfg;
  if (!c.device) return cfg;  // loopback only
  cfg.mac = c.mac;
  cfg.addr = c.addr;
  cfg.prefix_len = c.prefix_len;
  cfg.gateway = c.gateway;
  cfg.mtu = c.mtu;
  return cfg;
}

}  // namespace

Inet* inet() {
  if (g_state) return &g_state->inet;
  net::InterfaceConfig cfg = stack_config();
  g_device = net_config().device;
  net::TcpSecret secret;
  core::g_rng.fill(reinterpret_cast<u8*>(&secret), sizeof secret);
  void* mem = mm::kzalloc(sizeof(State));
  // A whole 64 KiB TCP segment when the host may hand one over (kNetRxGso).
  usize cap = platform::net_offloads() & platform::kNetRxGso ? 65535 + 14 : usize(cfg.mtu) + 14;
  u8* buf = g_device ? static_cast<u8*>(mm::kalloc(cap)) : nullptr;
  if (!mem || (g_device && !buf)) {
    mm::kfree(mem);
    mm::kfree(buf);
    return nullptr;
  }
  auto* s = new (mem) State(cfg, secret);
  s->stack.set_transport(net::kProtoTcp, &s->transport);
  s->rx_buf = buf;
  s->rx_cap = cap;
  g_state = s;
  return &s->inet;
}

void inet_reconfigure() {
  // A stack made before DHCP answered (a frame arrived while boot waited:
  // the VM platforms' timer takes it) learns the lease.
  if (g_state) g_state->stack.configure(stack_config());
}

u64 inet_now() { return platform::monotonic_ns(); }

void inet_kick() {
  if (!g_state) return;
  g_state->stack.run_pending(inet_now());
  // The platform timer already covers the deadline rearm() last folded in;
  // re-arming costs the process platform a wake-up of its timer thread, so
  // only a changed deadline does it (a send or receive usually changes none).
  if (stack_deadline() != g_folded_deadline) timers_rearm();
}

void inet_timer_work() {
  dhcp_work(inet_now());
  if (g_rx_pending && !g_state) inet();  // frames before any socket: ARP, ping
  if (!g_state) return;
  net::Stack& st = g_state->stack;
  if (g_rx_pending && g_state->rx_buf) {
    g_rx_pending = false;  // an arrival while draining sets it again
    int n = 0;
    for (; n < kRxBudget; ++n) {
      bool csum_ok;
      usize len = platform::net_receive(g_state->rx_buf, g_state->rx_cap, &csum_ok);
      if (!len) break;
      if (dhcp_input(g_state->rx_buf, len, inet_now(), csum_ok)) continue;  // the lease's renewal
      st.input_frame(g_state->rx_buf, len, inet_now(), csum_ok);
    }
    if (n == kRxBudget) {  // more may wait: next round
      g_rx_pending = true;
      if (core::g_threads) core::post_work(core::kWorkNet);
    }
  }
  u64 now = inet_now();
  u64 d = st.next_deadline();
  if (d != net::kNoDeadline && d <= now) st.tick(now);
  st.run_pending(now);
}

u64 inet_deadline() {
  g_folded_deadline = stack_deadline();
  return g_folded_deadline;
}

bool inet_wake_possible() {
  if (g_device) return true;
  return g_state && g_state->stack.next_deadline() != net::kNoDeadline;
}

void inet_exit() {
  if (!g_state) return;
  if (!core::klock_mine()) core::klock();
  net::Tcp& tcp = g_state->tcp;
  u64 start = inet_now();
  tcp.close_all(start);
  if (!g_device) return;
  g_state->stack.run_pending(start);
  u64 left = tcp.unacked(), since = start;
  while (left) {
    u64 now = inet_now();
    u64 until = since + kExitLingerIdleNs;
    if (start + kExitLingerMaxNs < until) until = start + kExitLingerMaxNs;
    if (now >= until) break;
    u64 d = g_state->stack.next_deadline();
    if (d > until) d = until;
    // This thread holds the kernel lock for good: posted work (arrivals,
    // the platform timer's) never runs, so frames and the stack's timers
    // are this loop's to take.
    __atomic_store_n(&g_exit_word, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_exit_waiting, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&g_rx_pending, __ATOMIC_SEQ_CST) && d > now)
      platform::wait_word(&g_exit_word, 0, d);
    __atomic_store_n(&g_exit_waiting, 0, __ATOMIC_SEQ_CST);
    inet_timer_work();
    u64 l = tcp.unacked();
    if (l < left) since = inet_now();
    left = l;
  }
}

}  // namespace mote::linux

namespace mote::core {

void on_net_ready() {
  // Sequentially consistent, against inet_exit's look at it after saying it waits.
  __atomic_store_n(&linux::g_rx_pending, true, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&linux::g_exit_waiting, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(&linux::g_exit_word, 1, __ATOMIC_SEQ_CST);
    platform::wake_word(&linux::g_exit_word, 1);
    return;
  }
  if (!g_threads) return;  // before the program: taken with the first timer
  // Called where sleeping is not allowed: with the kernel lock busy, its
  // holder takes the frames when it lets go (core/thread.cc post_work).
  post_work(kWorkNet);
  run_posted_work();
}

}  // namespace mote::core
