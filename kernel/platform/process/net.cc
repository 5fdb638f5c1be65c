// The process platform's network device: BootInfo.net_fd, a host fd on which
// one read is one received Ethernet frame and one write sends one -- the
// core's end of a SOCK_SEQPACKET socket to mote-net (--net user) or a tap
// device itself (--net tap:NAME). The monitor made it non-blocking; the
// seccomp filter lets read and write reach it (sandbox.cc).
//
// Arrivals, run to completion: a program thread that sleeps in the core
// (platform::thread_sleep) while no other does waits in ppoll on the device
// and on a kick eventfd instead of on its futex word -- it covers the
// device. A frame then wakes the very thread that takes it (and usually the
// one that waits for it), with no other thread in between; a wake-up of the
// covering thread writes the eventfd (thread_wake). When the core's lock is
// busy, the frames are posted to its holder, a thread that runs and takes
// them when it lets go; the covering thread then lets the device go and
// sleeps out the rest plainly (the holder covers when it next sleeps).
//
// The event thread is the backstop for when no program thread sleeps: it
// waits in ppoll for the fd to be readable and calls core::on_net_ready.
// Readiness is level-triggered, so it must not poll again until the core
// has taken what is there: it waits for net_receive to find the device
// empty (it bumps g.net_drained), then polls again. A frame that arrives
// after that empty read makes the fd readable again, so the next ppoll sees
// it. When the core does not drain (its lock was busy, it stopped at a
// budget) the thread notifies again after 1 ms, backing off to 64 ms while
// the frames stay.
//
// The two never wait in ppoll at once (both would wake for one frame). The
// event thread stands by while the device is covered or was moments ago
// (the program is busy and will sleep, and so look, again): it looks once a
// millisecond without blocking, reporting what it finds without waiting for
// it to be taken. A cover that lasts a whole millisecond means
// the program is idle: the event thread then waits until the cover is let
// go (which wakes it), so an idle program costs no wake-ups. After 2 ms
// with nobody covering (the program computes, or sleeps outside the core)
// it waits in ppoll itself, and hands back to the program's threads after
// the arrivals it reported, or at once when a thread about to sleep asks
// for the device through the kick eventfd.
#include <asm/unistd_64.h>
#include <linux/if_tun.h>
#include <linux/ioctl.h>

#include "abi/virtio.h"
#include "kernel/lib/errno.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::core {
// Until the core's socket layer defines it: frames wait in the socket.
[[gnu::weak]] void on_net_ready() {}
}  // namespace mote::core

namespace mote::process {

bool have_device() {
  return (g.boot->net_flags & abi::kNetDevice) && g.boot->net_fd >= 3;
}

bool vnet_hdr() { return g.boot->net_flags & abi::kNetVnetHdr; }

namespace {

constexpr short kPollIn = 0x1, kPollErr = 0x8, kPollHup = 0x10, kPollNval = 0x20;
constexpr u64 kMs = 1000000;
constexpr u64 kRenotifyMin = 1 * kMs, kRenotifyMax = 64 * kMs;
constexpr u64 kTick = 1 * kMs;        // the event thread's look while the program runs
constexpr u64 kUncovered = 2 * kMs;   // then it polls the device itself
constexpr long kEfdCloexec = 02000000, kEfdNonblock = 04000;

struct PollFd {
  i32 fd;
  i16 events, revents;
};

struct IoVec {
  const void* base;
  usize len;
};

void drained() {
  __atomic_add_fetch(&g.net_drained, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&g.net_waiting, __ATOMIC_SEQ_CST))
    platform::wake_word(&g.net_drained, ~u32(0) >> 1);
}

// Arrivals are reported (the device polled readable): the core takes them
// now, in this thread, when its lock is free, or else its lock's holder
// does when it lets go (core::post_work never loses them). Returns whether
// this thread found the device empty (took them); `seen` is net_drained
// from before.
bool report(u32* seen) {
  *seen = __atomic_load_n(&g.net_drained, __ATOMIC_ACQUIRE);
  __atomic_add_fetch(&g.net_notified, 1, __ATOMIC_RELEASE);
  if (g.net_selftest) platform::wake_word(&g.net_notified, 1);
  else core::on_net_ready();
  return __atomic_load_n(&g.net_drained, __ATOMIC_ACQUIRE) != *seen;
}

// report(), and then the caller waits until the device was found empty
// once (or `limit`), so that a blocking poll does not see the same frames
// again. Returns whether the device was drained.
bool report_arrivals(u64 limit) {
  u32 seen;
  if (report(&seen)) return true;
  __atomic_add_fetch(&g.net_waiting, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&g.net_drained, __ATOMIC_SEQ_CST) == seen)
    platform::wait_word(&g.net_drained, seen, limit);
  __atomic_sub_fetch(&g.net_waiting, 1, __ATOMIC_SEQ_CST);
  return __atomic_load_n(&g.net_drained, __ATOMIC_ACQUIRE) != seen;
}

bool device_failed(short revents) {
  return !(revents & kPollIn) && (revents & (kPollErr | kPollHup | kPollNval));
}

// ---- Covering: a program thread sleeps watching the device ------------------

// The kick eventfd: kick() makes it readable (waking whoever polls it),
// take_kick() reads it back to not readable.
void kick() {
  u64 one = 1;
  host::write(g.net_kick_fd, &one, sizeof one);
}

void take_kick() {
  u64 count;
  host::read(g.net_kick_fd, &count, sizeof count);
}

u64 g_uncovered_at;  // when the cover was last let go (monotonic ns)

bool take_cover(Cpu* c) {
  if (g.net_kick_fd < 0 || __atomic_load_n(&g.net_gone, __ATOMIC_ACQUIRE)) return false;
  if (__atomic_load_n(&g.net_ev_polling, __ATOMIC_SEQ_CST)) {
    // The event thread waits in ppoll (nobody covered for a while): the
    // kick eventfd asks it to stand back (one write, however many ask),
    // and it says so on net_ev_polling.
    if (!__atomic_exchange_n(&g.net_standdown, 1, __ATOMIC_SEQ_CST)) kick();
    platform::wait_word(&g.net_ev_polling, 1, platform::monotonic_ns() + kTick);
    if (__atomic_load_n(&g.net_ev_polling, __ATOMIC_SEQ_CST)) return false;  // this time not
  }
  Cpu* none = nullptr;
  if (!__atomic_compare_exchange_n(&g.net_poller, &none, c, false, __ATOMIC_SEQ_CST,
                                   __ATOMIC_RELAXED))
    return false;
  // The event thread sets net_ev_polling, then looks at net_poller: one of
  // the two sees the other and stands back.
  if (__atomic_load_n(&g.net_ev_polling, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(&g.net_poller, nullptr, __ATOMIC_SEQ_CST);
    return false;
  }
  __atomic_add_fetch(&g.net_cover, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&c->net_polling, 1, __ATOMIC_SEQ_CST);
  return true;
}

void leave_cover(Cpu* c) {
  __atomic_store_n(&c->net_polling, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_uncovered_at, platform::monotonic_ns(), __ATOMIC_RELAXED);
  __atomic_store_n(&g.net_poller, nullptr, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&g.net_cover, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&g.net_ev_parked, __ATOMIC_SEQ_CST)) platform::wake_word(&g.net_cover, 1);
}

// Sleeps like wait_word(word, 0, deadline) while covering the device.
// Returns false when the caller should sleep on for the rest without it:
// arrivals went to the kernel lock's holder, a program thread that runs
// (it takes them when it lets go, and covers the device itself when it
// next sleeps). Waiting here until it has, and polling again after, cost
// a pair of cross-CPU wake-ups per batch of frames: with a busy server
// thread and an idle one covering (redis' background threads), that
// waiting thread took 40% of a CPU from the client beside it.
bool covered_sleep(Cpu* c, const volatile u32* word, u64 deadline_ns) {
  const int fd = g.boot->net_fd;
  for (;;) {
    if (__atomic_load_n(word, __ATOMIC_SEQ_CST)) return true;
    // The backend is gone (a read saw end-of-file): the device polls
    // readable for ever; the caller sleeps on its word instead.
    if (__atomic_load_n(&g.net_gone, __ATOMIC_ACQUIRE)) return false;
    u64 now = platform::monotonic_ns();
    if (deadline_ns != ~u64(0) && now >= deadline_ns) return true;
    PollFd p[2] = {{fd, kPollIn, 0}, {g.net_kick_fd, kPollIn, 0}};
    host::Timespec rel = host::timespec_of(deadline_ns - now);  // (unused without a deadline)
    long r = host::syscall5(__NR_ppoll, long(p), 2, deadline_ns == ~u64(0) ? 0 : long(&rel), 0, 0);
    if (r == -EINTR) return true;  // a kick: the caller looks at what it is for
    if (host::failed(r) || device_failed(p[0].revents)) {
      // Nothing more will arrive (the backend is gone): sleep on the word.
      __atomic_store_n(&g.net_gone, 1, __ATOMIC_RELEASE);
      return false;
    }
    if (p[1].revents & kPollIn) take_kick();
    u32 seen;
    if ((p[0].revents & kPollIn) && !report(&seen)) return false;
  }
}

[[noreturn]] void park_forever() {
  static volatile u32 forever;
  for (;;) platform::wait_word(&forever, 0, ~u64(0));
}

// Waits in ppoll until the device is readable, reports it, and waits for
// the drain (backing off while the frames stay), or until a program thread
// asks to cover the device (the kick eventfd). False when the device
// failed.
bool poll_and_report(int fd, u64* renotify) {
  PollFd p[2] = {{fd, kPollIn, 0}, {g.net_kick_fd, kPollIn, 0}};
  long r = host::syscall5(__NR_ppoll, long(p), g.net_kick_fd >= 0 ? 2 : 1, 0, 0, 0);
  if (r == -EINTR) return true;
  if (host::failed(r) || device_failed(p[0].revents)) return false;
  if (p[1].revents & kPollIn) take_kick();
  if (!(p[0].revents & kPollIn)) return true;
  bool ok = report_arrivals(platform::monotonic_ns() + *renotify);
  *renotify = ok ? kRenotifyMin : *renotify < kRenotifyMax ? *renotify * 2 : *renotify;
  return true;
}

// The device readable now? (ppoll with a zero timeout.)
bool readable_now(int fd) {
  PollFd p{fd, kPollIn, 0};
  host::Timespec zero{};
  long r = host::syscall5(__NR_ppoll, long(&p), 1, long(&zero), 0, 0);
  return r == 1 && (p.revents & kPollIn);
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
    if (g.net_kick_fd < 0) {  // no covering (the self-test): the event thread alone
      if (!poll_and_report(fd, &renotify)) park_forever();
      continue;
    }
    u32 cover = __atomic_load_n(&g.net_cover, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&g.net_poller, __ATOMIC_SEQ_CST)) {
      // Covered. Still the same cover a tick later: the program is idle;
      // wait until it lets go.
      platform::wait_word(&g.net_cover, cover, platform::monotonic_ns() + kTick);
      if (__atomic_load_n(&g.net_cover, __ATOMIC_SEQ_CST) != cover) continue;
      __atomic_store_n(&g.net_ev_parked, 1, __ATOMIC_SEQ_CST);
      while (__atomic_load_n(&g.net_cover, __ATOMIC_SEQ_CST) == cover)
        platform::wait_word(&g.net_cover, cover, ~u64(0));
      __atomic_store_n(&g.net_ev_parked, 0, __ATOMIC_SEQ_CST);
      continue;
    }
    u64 now = platform::monotonic_ns();
    if (now - __atomic_load_n(&g_uncovered_at, __ATOMIC_RELAXED) < kUncovered) {
      // Let go moments ago: a look without blocking, then the next tick
      // (frames not taken by then are reported again: no harm, and no
      // waiting for the lock's holder to take them).
      u32 seen;
      if (readable_now(fd)) report(&seen);
      platform::wait_word(&g.net_cover, cover, now + kTick);
      continue;
    }
    // Nobody has covered it for a while: the event thread polls.
    __atomic_store_n(&g.net_ev_polling, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&g.net_poller, __ATOMIC_SEQ_CST)) {
      __atomic_store_n(&g.net_ev_polling, 0, __ATOMIC_SEQ_CST);
      continue;
    }
    bool ok = poll_and_report(fd, &renotify);
    // Arrivals wake the program, or a thread asked: the program's threads
    // may cover the device again.
    __atomic_store_n(&g_uncovered_at, platform::monotonic_ns(), __ATOMIC_RELAXED);
    __atomic_store_n(&g.net_ev_polling, 0, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&g.net_standdown, 0, __ATOMIC_SEQ_CST))
      platform::wake_word(&g.net_ev_polling, ~u32(0) >> 1);
    if (!ok) park_forever();
  }
}

}  // namespace

void release_net() {
  // The tap keeps its offloads after we close it; whoever reads it next
  // without virtio-net headers would get partial checksums (TUNSETOFFLOAD 0:
  // monitor/net/tap.h).
  if (g.boot && have_device() && vnet_hdr())
    host::syscall3(__NR_ioctl, g.boot->net_fd, TUNSETOFFLOAD, 0);
}

void prepare_net() {
  if (!have_device() || (g.boot->flags & abi::kBootSelftestNet)) return;
  long r = host::syscall2(__NR_eventfd2, 0, kEfdCloexec | kEfdNonblock);
  if (!host::failed(r)) g.net_kick_fd = int(r);  // else: the event thread alone
}

void start_net_thread() {
  if (!have_device() || g.net_cpu) return;
  g.net_cpu = start_service_thread(net_loop);
  if (!g.net_cpu) fatal("cannot start the network event thread");
}

}  // namespace mote::process

namespace mote::platform {

using process::g;

void thread_sleep(const volatile u32* word, u64 deadline_ns) {
  process::Cpu* c = process::cpu();
  if (!process::have_device() || !process::take_cover(c)) {
    wait_word(word, 0, deadline_ns);
    return;
  }
  bool covering = process::covered_sleep(c, word, deadline_ns);
  process::leave_cover(c);
  if (!covering) wait_word(word, 0, deadline_ns);
}

void thread_wake(void* thread_platform, const volatile u32* word) {
  auto* c = static_cast<process::Cpu*>(thread_platform);
  // The waker set the word; the sleeper set net_polling and then looks at
  // the word: one of the two sees the other's store.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (c && __atomic_load_n(&c->net_polling, __ATOMIC_SEQ_CST)) {
    process::kick();
    return;
  }
  wake_word(word, 1);
}

u32 net_offloads() {
  // The tap completes partial checksums (TUN_F_CSUM) and, with TUN_F_TSO4,
  // cuts up TCP segments and hands over uncut ones; mote-net's slirp wants
  // whole checksums and frames.
  if (!process::have_device() || !process::vnet_hdr()) return 0;
  return kNetTxCsum | (g.boot->net_flags & abi::kNetTso4 ? kNetTso4 | kNetRxGso : 0);
}

bool net_send(const void* frame, usize len, const NetTxOffload* off) {
  if (!process::have_device()) return false;
  long r;
  usize want = len;
  if (process::vnet_hdr()) {
    abi::virtio::NetHeader h{};
    if (off && off->csum_offset) {
      h.flags = abi::virtio::kNetHdrNeedsCsum;
      h.csum_start = off->csum_start;
      h.csum_offset = off->csum_offset;
      if (off->gso_size && (g.boot->net_flags & abi::kNetTso4)) {
        h.gso_type = abi::virtio::kNetGsoTcpv4;
        h.gso_size = off->gso_size;
        h.hdr_len = off->hdr_len;
      }
    }
    process::IoVec iov[2] = {{&h, sizeof h}, {frame, len}};
    want += sizeof h;
    do r = host::syscall3(__NR_writev, g.boot->net_fd, long(iov), 2);
    while (r == -EINTR);
  } else {
    do r = host::write(g.boot->net_fd, frame, len);
    while (r == -EINTR);
  }
  // EAGAIN: the queue to the backend is full; the frame is dropped, as a
  // NIC with a full ring would. Anything else (the backend is gone): too.
  return !host::failed(r) && usize(r) == want;
}

usize net_receive(void* buf, usize cap, bool* csum_ok) {
  if (csum_ok) *csum_ok = false;
  if (!process::have_device()) return 0;
  long r;
  abi::virtio::NetHeader h{};
  if (process::vnet_hdr()) {
    process::IoVec iov[2] = {{&h, sizeof h}, {buf, cap}};
    for (;;) {
      do r = host::syscall3(__NR_readv, g.boot->net_fd, long(iov), 2);
      while (r == -EINTR);
      if (host::failed(r) || r == 0) break;
      // Shorter than its header, or a segmentation offload never asked
      // for: not a frame this device takes (dropped; the next one then).
      // An uncut TCP segment (kNetTso4) is taken like any frame.
      bool gso_ok = h.gso_type == abi::virtio::kNetGsoNone ||
                    (h.gso_type == abi::virtio::kNetGsoTcpv4 && (g.boot->net_flags & abi::kNetTso4));
      if (usize(r) > sizeof h && gso_ok) {
        r -= long(sizeof h);
        if (csum_ok)
          *csum_ok = h.flags & (abi::virtio::kNetHdrNeedsCsum | abi::virtio::kNetHdrDataValid);
        break;
      }
    }
  } else {
    do r = host::read(g.boot->net_fd, buf, cap);
    while (r == -EINTR);
  }
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
