// poll, ppoll, select, pselect6 over open files. Readiness comes from each
// file (File::poll_ready); a waiting thread sleeps on g_poll_queue, which
// files wake when their state changes, until its timeout or a signal. A
// wait forever that nothing could end (one thread, no timer) fails with
// EDEADLK instead (docs/compat.md).
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/fs/fdtable.h"
#include "kernel/mm/heap.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u64 kNs = 1000000000ull;
constexpr u64 kForever = ~u64(0);

struct PollFd {
  i32 fd;
  i16 events;
  i16 revents;
};

// Returns the count of ready entries, or -errno; fills revents.
i64 scan_poll(PollFd* p, u64 n) {
  i64 ready = 0;
  for (u64 i = 0; i < n; ++i) {
    p[i].revents = 0;
    if (p[i].fd < 0) continue;
    Ref<fs::File> f = fs::fds().get(p[i].fd);
    if (!f) {
      p[i].revents = i16(fs::kPollNval);
    } else {
      u32 ev = f->poll_ready();
      u32 want = u32(u16(p[i].events)) | fs::kPollErr | fs::kPollHup;
      p[i].revents = i16(ev & want);
    }
    if (p[i].revents) ++ready;
  }
  return ready;
}

// Waits for readiness to change, the deadline or a signal. Returns 0 to
// scan again, 1 when the deadline passed, or -errno (an ERESTART code when
// a signal came; EDEADLK when nothing could ever end a wait forever).
i64 wait_change(u64 deadline) {
  if (deadline != kForever && platform::monotonic_ns() >= deadline) return 1;
  if (deadline == kForever && !core::wake_possible()) return -EDEADLK;
  core::Wake w = core::wait_on(core::g_poll_queue, deadline, true);
  if (w == core::Wake::Interrupted) return -core::kErestartNoHand;
  return 0;
}

u64 deadline_from_ts(u64 addr, bool* bad) {
  if (!addr) return kForever;
  i64 ts[2];
  if (!copy_from_user(ts, addr, sizeof ts).ok()) {
    *bad = true;
    return 0;
  }
  if (ts[0] < 0 || ts[1] < 0 || ts[1] >= i64(kNs)) {
    *bad = true;
    return 0;
  }
  return platform::monotonic_ns() + u64(ts[0]) * kNs + u64(ts[1]);
}

i64 do_poll(u64 fds_addr, u64 n, u64 deadline) {
  if (n > nofile_limit()) return -EINVAL;
  constexpr u64 kMax = 1024;
  if (n > kMax) return -EINVAL;
  PollFd small[16];
  PollFd* p = small;
  if (n > 16) {
    p = static_cast<PollFd*>(mm::kalloc(n * sizeof(PollFd)));
    if (!p) return -ENOMEM;
  }
  struct Free {
    PollFd* p;
    PollFd* small;
    ~Free() {
      if (p != small) mm::kfree(p);
    }
  } release{p, small};
  if (n && !copy_from_user(p, fds_addr, n * sizeof(PollFd)).ok()) return -EFAULT;
  i64 ready;
  for (;;) {
    ready = scan_poll(p, n);
    if (ready) break;
    i64 w = wait_change(deadline);
    if (w < 0) return w;
    if (w == 1) break;
  }
  // revents only: the program's fd and events stay as they were.
  for (u64 i = 0; i < n; ++i)
    if (!copy_to_user(fds_addr + i * sizeof(PollFd) + 6, &p[i].revents, 2).ok()) return -EFAULT;
  return ready;
}

i64 do_select(i64 nfds, u64 rd, u64 wr, u64 ex, u64 deadline) {
  if (nfds < 0) return -EINVAL;
  if (u64(nfds) > nofile_limit()) nfds = i64(nofile_limit());
  constexpr u64 kWords = 1024 / 64;
  if (u64(nfds) > kWords * 64) return -EINVAL;
  u64 words = (u64(nfds) + 63) / 64;
  u64 in[3][kWords] = {}, out[3][kWords] = {};
  u64 addr[3] = {rd, wr, ex};
  for (int k = 0; k < 3; ++k)
    if (addr[k] && words && !copy_from_user(in[k], addr[k], words * 8).ok()) return -EFAULT;
  auto scan = [&]() -> i64 {
    i64 ready = 0;
    memset(out, 0, sizeof out);
    for (i64 fd = 0; fd < nfds; ++fd) {
      u64 bit = u64(1) << (fd % 64), w = u64(fd) / 64;
      bool any = (in[0][w] | in[1][w] | in[2][w]) & bit;
      if (!any) continue;
      Ref<fs::File> f = fs::fds().get(int(fd));
      if (!f) return -EBADF;
      u32 ev = f->poll_ready();
      if ((in[0][w] & bit) && (ev & (fs::kPollIn | fs::kPollHup | fs::kPollErr))) out[0][w] |= bit, ++ready;
      if ((in[1][w] & bit) && (ev & (fs::kPollOut | fs::kPollErr))) out[1][w] |= bit, ++ready;
      if ((in[2][w] & bit) && (ev & fs::kPollPri)) out[2][w] |= bit, ++ready;
    }
    return ready;
  };
  i64 ready;
  for (;;) {
    ready = scan();
    if (ready) break;
    i64 w = wait_change(deadline);
    if (w < 0) return w;
    if (w == 1) break;
  }
  if (ready < 0) return ready;
  for (int k = 0; k < 3; ++k)
    if (addr[k] && words && !copy_to_user(addr[k], out[k], words * 8).ok()) return -EFAULT;
  return ready;
}

}  // namespace

i64 sys_poll(const SysArgs& a) {
  i64 ms = i64(i32(a.u(2)));
  u64 deadline = ms < 0 ? kForever : platform::monotonic_ns() + u64(ms) * 1000000ull;
  return do_poll(a.u(0), a.u(1), deadline);
}

i64 sys_ppoll(const SysArgs& a) {
  bool bad = false;
  u64 deadline = deadline_from_ts(a.u(2), &bad);
  if (bad) return a.u(2) && !user_readable(a.u(2), 16) ? -EFAULT : -EINVAL;
  if (i64 e = core::set_call_sigmask(a.u(3), a.u(4))) return e;
  return do_poll(a.u(0), a.u(1), deadline);
}

i64 sys_select(const SysArgs& a) {
  u64 deadline = kForever;
  if (a.u(4)) {
    i64 tv[2];
    if (!copy_from_user(tv, a.u(4), sizeof tv).ok()) return -EFAULT;
    if (tv[0] < 0 || tv[1] < 0 || tv[1] >= 1000000) return -EINVAL;
    deadline = platform::monotonic_ns() + u64(tv[0]) * kNs + u64(tv[1]) * 1000;
  }
  i64 r = do_select(a.c_int(0), a.u(1), a.u(2), a.u(3), deadline);
  if (r >= 0 && a.u(4)) {
    i64 zero[2] = {0, 0};  // Linux updates the timeout with the time left
    u64 now = platform::monotonic_ns();
    if (deadline > now) zero[0] = i64((deadline - now) / kNs), zero[1] = i64((deadline - now) % kNs / 1000);
    (void)copy_to_user(a.u(4), zero, sizeof zero);
  }
  return r;
}

i64 sys_pselect6(const SysArgs& a) {
  bool bad = false;
  u64 deadline = deadline_from_ts(a.u(4), &bad);
  if (bad) return a.u(4) && !user_readable(a.u(4), 16) ? -EFAULT : -EINVAL;
  if (a.u(5)) {
    // struct { const sigset_t* ss; size_t ss_len; }
    u64 sig[2];
    if (!copy_from_user(sig, a.u(5), sizeof sig).ok()) return -EFAULT;
    if (i64 e = core::set_call_sigmask(sig[0], sig[1])) return e;
  }
  return do_select(a.c_int(0), a.u(1), a.u(2), a.u(3), deadline);
}

}  // namespace mote::linux
