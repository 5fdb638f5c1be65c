// The process platform's network device: BootInfo.net_fd, a host fd on which
// one read is one received Ethernet frame and one write sends one -- the
// core's end of a SOCK_SEQPACKET socket to mote-net (--net user) or a tap
// device itself (--net tap:NAME). The monitor made it non-blocking; the
// seccomp filter lets read and write reach it (sandbox.cc).
//
// Arrivals: an event thread of the platform waits in ppoll for the fd to be
// readable and calls core::on_net_ready. Readiness is level-triggered, so
// the thread must not poll again until the core has taken what is there:
// it waits for net_receive to find the device empty (it bumps
// g.net_drained), then polls again. A frame that arrives after that empty
// read makes the fd readable again, so the next ppoll sees it: no frame is
// left behind, and an idle device costs a thread asleep in ppoll. When the
// core does not drain (its lock was busy, it stopped at a budget) the thread
// notifies again after 1 ms, backing off to 64 ms while the frames stay.
#include <asm/unistd_64.h>

#include "kernel/lib/errno.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::core {
// Until the core's socket layer defines it: frames wait in the socket.
[[gnu::weak]] void on_net_ready() {}
}  // namespace mote::core

namespace mote::process {

namespace {

constexpr short kPollIn = 0x1, kPollErr = 0x8, kPollHup = 0x10, kPollNval = 0x20;
constexpr u64 kMs = 1000000;
constexpr u64 kRenotifyMin = 1 * kMs, kRenotifyMax = 64 * kMs;

struct PollFd {
  i32 fd;
  i16 events, revents;
};

bool have_device() {
  return (g.boot->net_flags & abi::kNetDevice) && g.boot->net_fd >= 3;
}

void drained() {
  __atomic_add_fetch(&g.net_drained, 1, __ATOMIC_RELEASE);
  if (__atomic_load_n(&g.net_waiting, __ATOMIC_ACQUIRE)) platform::wake_word(&g.net_drained, 1);
}

[[noreturn]] void park_forever() {
  static volatile u32 forever;
  for (;;) platform::wait_word(&forever, 0, ~u64(0));
}

void net_loop() {
  const int fd = g.boot->net_fd;
  u64 renotify = kRenotifyMin;
  for (;;) {
    // The backend is gone (mote-net ended, the tap vanished): nothing will
    // arrive any more; sends fail and TCP gives up in its own time. (The
    // socket then polls readable for ever, its end-of-file: polling on
    // would spin.)
    if (__atomic_load_n(&g.net_gone, __ATOMIC_ACQUIRE)) park_forever();
    PollFd p{fd, kPollIn, 0};
    long r = host::syscall5(__NR_ppoll, long(&p), 1, 0, 0, 0);
    if (r == -EINTR) continue;
    if (host::failed(r) || (!(p.revents & kPollIn) && (p.revents & (kPollErr | kPollHup | kPollNval))))
      park_forever();
    u32 seen = __atomic_load_n(&g.net_drained, __ATOMIC_ACQUIRE);
    __atomic_add_fetch(&g.net_notified, 1, __ATOMIC_RELEASE);
    if (g.net_selftest) platform::wake_word(&g.net_notified, 1);
    else core::on_net_ready();
    __atomic_store_n(&g.net_waiting, 1, __ATOMIC_RELEASE);
    platform::wait_word(&g.net_drained, seen, platform::monotonic_ns() + renotify);
    __atomic_store_n(&g.net_waiting, 0, __ATOMIC_RELEASE);
    if (__atomic_load_n(&g.net_drained, __ATOMIC_ACQUIRE) != seen) renotify = kRenotifyMin;
    else if (renotify < kRenotifyMax) renotify *= 2;
  }
}

}  // namespace

void start_net_thread() {
  if (!have_device() || g.net_cpu) return;
  g.net_cpu = start_service_thread(net_loop);
  if (!g.net_cpu) fatal("cannot start the network event thread");
}

}  // namespace mote::process

namespace mote::platform {

using process::g;

bool net_send(const void* frame, usize len) {
  if (!process::have_device()) return false;
  long r;
  do r = host::write(g.boot->net_fd, frame, len);
  while (r == -EINTR);
  // EAGAIN: the queue to the backend is full; the frame is dropped, as a
  // NIC with a full ring would. Anything else (the backend is gone): too.
  return !host::failed(r) && usize(r) == len;
}

usize net_receive(void* buf, usize cap) {
  if (!process::have_device()) return 0;
  long r;
  do r = host::read(g.boot->net_fd, buf, cap);
  while (r == -EINTR);
  if (host::failed(r) || r == 0) {
    // Empty (EAGAIN), or the backend is gone (0): the event thread may look
    // again (and, when gone, stops looking).
    if (r == 0) __atomic_store_n(&g.net_gone, 1, __ATOMIC_RELEASE);
    process::drained();
    return 0;
  }
  return usize(r);
}

}  // namespace mote::platform
