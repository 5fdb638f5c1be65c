// signalfd: pending signals read as files (signalfd, signalfd4). Reading
// takes pending signals in the file's mask from the reading thread's own
// pending set, then the process's (as sigtimedwait does), and returns one
// struct signalfd_siginfo (128 bytes) per signal, as many as fit; it blocks
// while none is pending (EAGAIN with SFD_NONBLOCK). The program must block
// the signals itself, as on Linux: an unblocked one is delivered first.
// poll/epoll see the file readable while a signal in its mask is pending
// for the polling thread or the process; send_signal (signals.cc) wakes
// pollers and readers when a signal becomes pending.
//
// SIGKILL and SIGSTOP in the mask are ignored, as on Linux.
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/fs/fdtable.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/listed.h"
#include "kernel/lib/string.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"

namespace mote::linux {

namespace {

constexpr u32 kCloexec = 0x80000, kNonblock = 0x800;  // SFD_CLOEXEC, SFD_NONBLOCK

// struct signalfd_siginfo (<linux/signalfd.h>): 128 bytes.
struct SignalfdSiginfo {
  u32 signo;
  i32 errno_;
  i32 code;
  u32 pid, uid;
  i32 fd;
  u32 tid, band, overrun, trapno;
  i32 status, int_;
  u64 ptr, utime, stime, addr;
  u16 addr_lsb;
  u16 pad2;
  i32 syscall;
  u64 call_addr;
  u32 arch;
  u8 pad[28];
};
static_assert(sizeof(SignalfdSiginfo) == 128);

u32 lo(u64 v) { return u32(v); }
u32 hi(u64 v) { return u32(v >> 32); }

// Fills a signalfd_siginfo from a siginfo by its layout (Linux's
// siginfo_layout: which union member the code and signal select).
SignalfdSiginfo convert(const core::SigInfo& in) {
  SignalfdSiginfo out;
  memset(&out, 0, sizeof out);
  out.signo = u32(in.signo);
  out.errno_ = in.errno_;
  out.code = in.code;
  int sig = in.signo, code = in.code;
  if (code > core::kSiUser && code < core::kSiKernel) {  // kernel codes per signal
    switch (sig) {
      case 4: case 5: case 7: case 8: case 11:  // SIGILL TRAP BUS FPE SEGV: a fault
        out.addr = in.f[0];
        return out;
      case 17:  // SIGCHLD: pid, uid, status, utime, stime
        out.pid = lo(in.f[0]);
        out.uid = hi(in.f[0]);
        out.status = i32(lo(in.f[1]));
        out.utime = in.f[2];
        out.stime = in.f[3];
        return out;
      case 29:  // SIGPOLL: band, fd
        out.band = u32(in.f[0]);
        out.fd = i32(lo(in.f[1]));
        return out;
      default:
        break;
    }
  } else if (code == core::kSiTimer) {  // tid, overrun, sigval
    out.tid = lo(in.f[0]);
    out.overrun = hi(in.f[0]);
    out.ptr = in.f[1];
    out.int_ = i32(lo(in.f[1]));
    return out;
  } else if (code < 0 && code != -5 /*SI_SIGIO*/) {  // SI_QUEUE, SI_TKILL...: pid, uid, sigval
    out.pid = lo(in.f[0]);
    out.uid = hi(in.f[0]);
    out.ptr = in.f[1];
    out.int_ = i32(lo(in.f[1]));
    return out;
  }
  out.pid = lo(in.f[0]);  // SI_USER, SI_KERNEL and the rest: pid, uid
  out.uid = hi(in.f[0]);
  return out;
}

// Every open signalfd is listed (signalfd4 on an fd checks it is one).
class SignalFd final : public AnonFile, public Listed<SignalFd> {
 public:
  SignalFd(Ref<fs::Inode> node, u32 flags, u64 mask)
      : AnonFile(static_cast<Ref<fs::Inode>&&>(node), flags), mask(mask) {}

  Result<usize> pread(void* buf, usize len, u64) override {
    if (len < sizeof(SignalfdSiginfo)) return err(EINVAL);
    core::Thread* t = core::current();
    for (;;) {
      usize n = 0;
      while (n + sizeof(SignalfdSiginfo) <= len) {
        core::SigInfo info;
        if (!core::dequeue_signal(t, mask, &info)) break;
        SignalfdSiginfo s = convert(info);
        memcpy(static_cast<u8*>(buf) + n, &s, sizeof s);
        n += sizeof s;
      }
      if (n) {
        core::notify_poll();  // readiness may have gone
        return n;
      }
      if (flags & fs::kONonblock) return err(EAGAIN);
      if (!core::wake_possible()) return err(EDEADLK);
      // send_signal wakes the poll queue when a signal becomes pending.
      if (core::wait_on(core::g_poll_queue, core::kForever, true) == core::Wake::Interrupted)
        return err(core::kErestartSys);
    }
  }

  u32 poll_ready() override {
    core::Thread* t = core::current();
    u64 pending = core::g_proc.pending | (t ? t->pending : 0);
    return (pending & mask) ? fs::kPollIn | fs::kPollRdnorm : 0;
  }

  u64 mask;  // the signals it reads
};

i64 signalfd(int fd, u64 mask_addr, u64 size, u32 flags) {
  if (flags & ~(kCloexec | kNonblock)) return -EINVAL;
  if (size != 8) return -EINVAL;
  u64 mask;
  if (!get_user(&mask, mask_addr).ok()) return -EFAULT;
  mask &= ~core::kUnblockable;
  if (fd != -1) {  // a new mask for an existing signalfd
    Ref<fs::File> f = fs::fds().get(fd);
    if (!f) return -EBADF;
    for (SignalFd* s = Listed<SignalFd>::first(); s; s = s->next_listed()) {
      if (s != f.get()) continue;
      s->mask = mask;
      core::notify_poll();  // readiness may have changed
      return fd;
    }
    return -EINVAL;
  }
  auto node = anon_inode();
  if (!node) return -ENOMEM;
  auto f = make_ref<SignalFd>(node, 2 /*O_RDWR*/ | (flags & kNonblock), mask);
  if (!f) return -ENOMEM;
  auto r = fs::fds().install(Ref<fs::File>(f), flags & kCloexec, 0, nofile_limit());
  return r.ok() ? r.value() : -r.error();
}

}  // namespace

i64 sys_signalfd(const SysArgs& a) { return signalfd(a.fd(0), a.u(1), a.u(2), 0); }

i64 sys_signalfd4(const SysArgs& a) {
  return signalfd(a.fd(0), a.u(1), a.u(2), u32(a.u(3)));
}

}  // namespace mote::linux
