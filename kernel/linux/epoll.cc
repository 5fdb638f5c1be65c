// epoll and eventfd.
//
// An epoll instance keeps its interest list (fd, file, events, data) and
// answers epoll_wait by asking each file for its readiness (poll_ready),
// sleeping on the core's poll queue, which every readiness change wakes,
// until something is ready, the timeout or a signal. Level-triggered
// entries report while ready; edge-triggered ones (EPOLLET) when readiness
// gains a bit or anything changed since they last reported (at worst a
// spurious event, which edge-triggered programs tolerate: they read until
// EAGAIN); EPOLLONESHOT disables an entry after one report. An entry whose
// fd was closed or now names another file is dropped, as Linux drops it
// when the file is released.
//
// eventfd: a 64-bit counter with blocking or non-blocking read and write,
// EFD_SEMAPHORE, and readiness for poll/epoll.
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/fs/fdtable.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/lib/vec.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u32 kEpollIn = 0x1, kEpollErr = 0x8, kEpollHup = 0x10;
constexpr u32 kEpollExclusive = 1u << 28, kEpollWakeup = 1u << 29, kEpollOneshot = 1u << 30;
constexpr u32 kEpollEt = 1u << 31;
constexpr int kCtlAdd = 1, kCtlDel = 2, kCtlMod = 3;
constexpr u64 kNs = 1000000000ull;
constexpr u32 kCloexec = 0x80000, kNonblock = 0x800, kSemaphore = 1;

fs::FileSystem g_anonfs{0, "anon_inodefs", 0x09041934, false, 1};

struct __attribute__((packed)) EpollEvent {
  u32 events;
  u64 data;
};
static_assert(sizeof(EpollEvent) == 12);

// core::g_poll_changes counts every readiness change of any file: lets
// edge-triggered entries tell that something happened since they reported.
u64& g_changes = core::g_poll_changes;

struct Interest {
  int fd;
  Ref<fs::File> file;
  u32 events;
  u64 data;
  bool disabled;  // EPOLLONESHOT, after its report
  u32 last;       // readiness at the last report (edge-triggered)
  u64 seen;       // g_changes at the last report
};

class EpollFile final : public fs::File {
 public:
  EpollFile(Ref<fs::Inode> node) : File(static_cast<Ref<fs::Inode>&&>(node), 2 /*O_RDWR*/) {}
  bool seekable() const override { return false; }
  bool is_epoll() const override { return true; }
  Result<usize> pread(void*, usize, u64) override { return err(EINVAL); }
  Result<usize> pwrite(const void*, usize, u64) override { return err(EINVAL); }
  Result<u64> seek(i64, int) override { return err(ESPIPE); }
  Result<i64> ioctl(u32, u64) override { return err(ENOTTY); }

  u32 poll_ready() override {
    for (usize i = 0; i < list.size(); ++i) {
      Interest& e = list[i];
      if (e.disabled || e.file.get() == this) continue;
      if (e.file->poll_ready() & (e.events | kEpollErr | kEpollHup)) return fs::kPollIn | fs::kPollRdnorm;
    }
    return 0;
  }

  Interest* find(int fd, fs::File* f) {
    for (usize i = 0; i < list.size(); ++i)
      if (list[i].fd == fd && list[i].file.get() == f) return &list[i];
    return nullptr;
  }

  // Collects up to `max` ready events.
  usize collect(EpollEvent* out, usize max) {
    usize n = 0;
    for (usize i = 0; i < list.size() && n < max;) {
      Interest& e = list[i];
      if (fs::fds().get(e.fd).get() != e.file.get()) {  // closed, or the fd reused
        list.erase(i);
        continue;
      }
      ++i;
      if (e.disabled) continue;
      u32 ready = e.file.get() == this ? 0 : e.file->poll_ready() & (e.events | kEpollErr | kEpollHup);
      if (!ready) {
        e.last = 0;
        continue;
      }
      if ((e.events & kEpollEt) && !(ready & ~e.last) && e.seen == g_changes) continue;
      e.last = ready;
      e.seen = g_changes;
      out[n++] = EpollEvent{ready, e.data};
      if (e.events & kEpollOneshot) e.disabled = true;
    }
    return n;
  }

  Vec<Interest> list;
};

EpollFile* epoll_of(Ref<fs::File>& f) {
  if (!f || !f->is_epoll()) return nullptr;
  return static_cast<EpollFile*>(f.get());
}

i64 create(u32 flags) {
  if (flags & ~kCloexec) return -EINVAL;
  auto node = anon_inode();
  if (!node) return -ENOMEM;
  auto f = make_ref<EpollFile>(node);
  if (!f) return -ENOMEM;
  auto fd = fs::fds().install(Ref<fs::File>(f), flags & kCloexec, 0, nofile_limit());
  return fd.ok() ? fd.value() : -fd.error();
}

i64 wait(int epfd, u64 events_addr, i64 max, u64 deadline) {
  if (max <= 0 || max > 65536) return -EINVAL;
  Ref<fs::File> ef = fs::fds().get(epfd);
  if (!ef) return -EBADF;
  EpollFile* ep = epoll_of(ef);
  if (!ep) return -EINVAL;
  if (!user_writable(events_addr, u64(max) * sizeof(EpollEvent))) return -EFAULT;
  EpollEvent small[64];
  usize cap = usize(max) < 64 ? usize(max) : 64;
  for (;;) {
    usize n = ep->collect(small, cap);
    if (n) {
      if (!copy_to_user(events_addr, small, n * sizeof(EpollEvent)).ok()) return -EFAULT;
      return i64(n);
    }
    if (deadline != core::kForever && platform::monotonic_ns() >= deadline) return 0;
    if (deadline == core::kForever && !core::wake_possible()) return -EDEADLK;
    if (core::wait_on(core::g_poll_queue, deadline, true) == core::Wake::Interrupted)
      return -EINTR;  // epoll_wait is never restarted (signal(7))
  }
}

u64 deadline_ms(i64 ms) {
  if (ms < 0) return core::kForever;
  return platform::monotonic_ns() + u64(ms) * 1000000ull;
}

// ---- eventfd ---------------------------------------------------------------------

class EventFd final : public AnonFile {
 public:
  EventFd(Ref<fs::Inode> node, u32 flags, u64 count, bool semaphore)
      : AnonFile(static_cast<Ref<fs::Inode>&&>(node), flags), count_(count), semaphore_(semaphore) {}

  Result<usize> pread(void* buf, usize len, u64) override {
    if (len < 8) return err(EINVAL);
    while (count_ == 0) {
      if (flags & fs::kONonblock) return err(EAGAIN);
      if (!core::wake_possible()) return err(EDEADLK);
      if (core::wait_on(changed_, core::kForever, true) == core::Wake::Interrupted)
        return err(core::kErestartSys);
    }
    u64 v = semaphore_ ? 1 : count_;
    count_ -= v;
    memcpy(buf, &v, 8);
    changed();
    return usize(8);
  }

  Result<usize> pwrite(const void* buf, usize len, u64) override {
    if (len < 8) return err(EINVAL);
    u64 v;
    memcpy(&v, buf, 8);
    if (v == ~u64(0)) return err(EINVAL);
    while (count_ > ~u64(0) - 1 - v) {
      if (flags & fs::kONonblock) return err(EAGAIN);
      if (!core::wake_possible()) return err(EDEADLK);
      if (core::wait_on(changed_, core::kForever, true) == core::Wake::Interrupted)
        return err(core::kErestartSys);
    }
    count_ += v;
    if (v) changed();
    return usize(8);
  }

  u32 poll_ready() override {
    u32 ev = 0;
    if (count_) ev |= fs::kPollIn | fs::kPollRdnorm;
    if (count_ < ~u64(0) - 1) ev |= fs::kPollOut | fs::kPollWrnorm;
    return ev;
  }

 private:
  void changed() {
    core::wake_all(changed_);
    core::notify_poll();
  }
  u64 count_;
  bool semaphore_;
  core::WaitQueue changed_;
};

}  // namespace

Ref<fs::Inode> anon_inode() {
  auto n = make_ref<fs::Inode>(&g_anonfs, g_anonfs.next_ino++, 0600);  // no file type, as Linux
  return Ref<fs::Inode>(n);
}

i64 sys_epoll_create(const SysArgs& a) {
  if (a.c_int(0) <= 0) return -EINVAL;
  return create(0);
}

i64 sys_epoll_create1(const SysArgs& a) { return create(u32(a.u(0))); }

i64 sys_epoll_ctl(const SysArgs& a) {
  int epfd = a.fd(0), op = int(a.u(1)), fd = a.fd(2);
  Ref<fs::File> ef = fs::fds().get(epfd);
  Ref<fs::File> tf = fs::fds().get(fd);
  if (!ef || !tf) return -EBADF;
  EpollFile* ep = epoll_of(ef);
  if (!ep || epfd == fd) return -EINVAL;
  // Files that are always ready (regular files, directories) cannot be
  // watched, as on Linux.
  if (tf->inode->is_reg()) return -EPERM;
  if (tf->inode->is_dir()) return -EPERM;
  EpollEvent ev{0, 0};
  if (op != kCtlDel && !copy_from_user(&ev, a.u(3), sizeof ev).ok()) return -EFAULT;
  Interest* e = ep->find(fd, tf.get());
  switch (op) {
    case kCtlAdd:
      if (e) return -EEXIST;
      if ((ev.events & kEpollExclusive) && (ev.events & kEpollOneshot)) return -EINVAL;
      {
        auto r = ep->list.push(Interest{fd, tf, ev.events & ~kEpollWakeup, ev.data, false, 0, 0});
        if (!r.ok()) return -ENOMEM;
      }
      core::notify_poll();  // a waiter in another thread looks again
      return 0;
    case kCtlMod:
      if (!e) return -ENOENT;
      if (ev.events & kEpollExclusive) return -EINVAL;
      e->events = ev.events & ~kEpollWakeup;
      e->data = ev.data;
      e->disabled = false;
      e->last = 0;
      core::notify_poll();
      return 0;
    case kCtlDel:
      if (!e) return -ENOENT;
      ep->list.erase(usize(e - ep->list.begin()));
      return 0;
    default:
      return -EINVAL;
  }
}

i64 sys_epoll_wait(const SysArgs& a) {
  return wait(a.fd(0), a.u(1), i64(i32(a.u(2))), deadline_ms(i64(i32(a.u(3)))));
}

i64 sys_epoll_pwait(const SysArgs& a) {
  if (i64 e = core::set_call_sigmask(a.u(4), a.u(5))) return e;
  return wait(a.fd(0), a.u(1), i64(i32(a.u(2))), deadline_ms(i64(i32(a.u(3)))));
}

i64 sys_epoll_pwait2(const SysArgs& a) {
  u64 deadline = core::kForever;
  if (a.u(3)) {
    i64 ts[2];
    if (!copy_from_user(ts, a.u(3), sizeof ts).ok()) return -EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= i64(kNs)) return -EINVAL;
    deadline = platform::monotonic_ns() + u64(ts[0]) * kNs + u64(ts[1]);
  }
  if (i64 e = core::set_call_sigmask(a.u(4), a.u(5))) return e;
  return wait(a.fd(0), a.u(1), i64(i32(a.u(2))), deadline);
}

i64 sys_eventfd2(const SysArgs& a) {
  u32 flags = u32(a.u(1));
  if (flags & ~(kCloexec | kNonblock | kSemaphore)) return -EINVAL;
  auto node = anon_inode();
  if (!node) return -ENOMEM;
  auto f = make_ref<EventFd>(node, 2 /*O_RDWR*/ | (flags & kNonblock), u64(u32(a.u(0))),
                             (flags & kSemaphore) != 0);
  if (!f) return -ENOMEM;
  auto fd = fs::fds().install(Ref<fs::File>(f), flags & kCloexec, 0, nofile_limit());
  return fd.ok() ? fd.value() : -fd.error();
}

i64 sys_eventfd(const SysArgs& a) {
  SysArgs b = a;
  b.a[1] = 0;
  return sys_eventfd2(b);
}

}  // namespace mote::linux
