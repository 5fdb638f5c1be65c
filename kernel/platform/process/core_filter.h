// The process platform's seccomp filter, built from what the core has open
// (sandbox.cc installs it). Header-only, as bpf.h is, so the unit tests build
// the largest filter any run can ask for and have the host kernel run it in
// a child process (tests/unit/core_filter_test.cc).
//
// The host accepts only the calls the core makes, only from the core's text,
// with their arguments pinned where it matters, and kills the whole process
// on anything else (docs/security.md).
#pragma once

#include <asm/unistd_64.h>
#include <linux/audit.h>
#include <linux/if_tun.h>
#include <linux/ioctl.h>

#include "kernel/platform/process/bpf.h"

namespace mote::process {

// What the filter admits, besides the fixed calls. An fd below 3 means none.
struct CoreFilterInputs {
  // The core's text: the address after each of its syscall instructions
  // lies in [text_start, text_end] (as Syscall User Dispatch tests it).
  u64 text_start = 0, text_end = 0;
  int share_fd = -1;     // -v shares: the 9P socket (platform share.cc)
  int net_fd = -1;       // the network device (net.cc)
  bool vnet = false;     // ... a tap with virtio-net headers (readv/writev, TUNSETOFFLOAD)
  int net_kick_fd = -1;  // ... the eventfd that wakes a covering thread
  int gdb_fd = -1;       // --gdb: the connection to gdb (gdb.cc)
  int timer_fd = -1;     // the timer thread's timerfd (threads.cc)
  int shm_fd = -1;       // the shared-page memfd, sized once (ftruncate)
  int host_pid = 0;      // tgkill only to this process's own threads
};

// The host clone flags of every core thread (threads.cc), the only ones the
// filter admits: one process, shared everything; the host zeroes the
// thread's word (Cpu::alive) when it is gone.
inline constexpr u64 kCoreThreadCloneFlags =
    0x100 /*VM*/ | 0x200 /*FS*/ | 0x400 /*FILES*/ | 0x800 /*SIGHAND*/ | 0x10000 /*THREAD*/ |
    0x40000 /*SYSVSEM*/ | 0x200000 /*CHILD_CLEARTID*/;
inline constexpr long kPrSetSyscallUserDispatch = 59;

// Builds the filter into `f` (empty). Returns null, or why it cannot be
// built: the program is then unusable.
inline const char* build_core_filter(const CoreFilterInputs& in, Bpf& f) {
  struct Rule {
    int nr;
    int arg = -1;  // argument whose low 32 bits must be one of `values`
    u32 values[8] = {};
    int nvalues = 0;
  };
  constexpr u32 kKill = SECCOMP_RET_KILL_PROCESS;
  constexpr u32 kAllow = SECCOMP_RET_ALLOW;
  auto arg_lo = [](int i) { return 16 + 8 * u32(i); };  // seccomp_data.args[i], low word

  const bool net = in.net_fd >= 3;
  const bool vnet = net && in.vnet;
  const u32 net_fd = net ? u32(in.net_fd) : 0;
  // read and write: the console, and the fds above that the core has.
  u32 io_fds[8] = {0, 1, 2};
  int nio = 3;
  const int extra_fds[] = {in.share_fd, in.net_fd, net ? in.net_kick_fd : -1, in.gdb_fd,
                           in.timer_fd};
  for (int fd : extra_fds)
    if (fd >= 3) io_fds[nio++] = u32(fd);
  const bool timer = in.timer_fd >= 3;
  const Rule rules[] = {
      {__NR_read, 0, {io_fds[0], io_fds[1], io_fds[2], io_fds[3], io_fds[4], io_fds[5], io_fds[6],
                      io_fds[7]}, nio},
      {__NR_write, 0, {io_fds[0], io_fds[1], io_fds[2], io_fds[3], io_fds[4], io_fds[5],
                       io_fds[6], io_fds[7]}, nio},
      // The network device: ppoll of one fd (the event thread) or of both
      // (a program thread covering the device); without a device, never.
      {__NR_ppoll, 1, {1, 2}, net ? 2 : 0},
      // A tap with virtio-net headers: header and frame in one call.
      {__NR_readv, 0, {net_fd}, vnet ? 1 : 0},
      {__NR_writev, 0, {net_fd}, vnet ? 1 : 0},
      {__NR_mmap},  // program memory; the boot images
      {__NR_munmap},
      {__NR_mprotect},
      {__NR_mremap},
      {__NR_madvise},
      {__NR_ftruncate, 0, {u32(in.shm_fd)}, in.shm_fd >= 0 ? 1 : 0},
      // TCSETS(W/F) for -t (fds 0-2 only, by use); TUNSETOFFLOAD on the tap
      // only at exit (net.cc release_net).
      {__NR_ioctl, 1, {0x5402, 0x5403, 0x5404, u32(TUNSETOFFLOAD)}, vnet ? 4 : 3},
      {__NR_clock_gettime},
      {__NR_clock_nanosleep},
      {__NR_timerfd_settime, 0, {u32(in.timer_fd)}, timer ? 1 : 0},
      {__NR_arch_prctl, 0, {0x1002 /*ARCH_SET_FS*/, 0x1001 /*ARCH_SET_GS*/}, 2},
      {__NR_rt_sigreturn},
      {__NR_exit_group},
      {__NR_exit},
      // Threads (threads.cc): new host threads of this process only, the
      // futex waits and wakes of the core's own words, a kick to a thread of
      // this process, Syscall User Dispatch in each new thread.
      {__NR_clone, 0, {u32(kCoreThreadCloneFlags)}, 1},
      {__NR_futex, 1, {9 | 128 /*WAIT_BITSET_PRIVATE*/, 1 | 128 /*WAKE_PRIVATE*/}, 2},
      {__NR_tgkill, 0, {u32(in.host_pid)}, 1},
      {__NR_gettid},
      {__NR_getcpu},
      {__NR_sched_yield},
      {__NR_sched_setaffinity, 0, {0}, 1},
      {__NR_rt_sigprocmask},
      {__NR_prctl, 0, {u32(kPrSetSyscallUserDispatch)}, 1},
  };
  constexpr int kRules = sizeof rules / sizeof rules[0];

  // Only x86-64 syscalls (no x32, no int 0x80 i386 ABI).
  f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffArch);
  f.jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f.stmt(BPF_RET | BPF_K, kKill);
  // clock_gettime from anywhere: the host's vDSO makes it when its clock
  // source has no user-mode read, and the core's service threads call the
  // vDSO without Syscall User Dispatch (clock.cc). Program threads never get
  // here from outside the core's text: dispatch turns such a call into
  // SIGSYS first. It only reads a clock.
  f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffNr);
  f.jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, 0, 1);
  f.stmt(BPF_RET | BPF_K, kAllow);
  // Only from the core's text: the program cannot reach the host even by
  // jumping to a syscall instruction elsewhere.
  if (!bpf_ip_in_range(f, in.text_start, in.text_end, kKill))
    return "core text spans 4 GiB";
  f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffNr);
  // Dispatch: one JEQ per rule to its block; blocks follow the final KILL.
  usize block_size[kRules];
  for (int i = 0; i < kRules; ++i)
    block_size[i] = rules[i].arg < 0 ? 1 : usize(1 + rules[i].nvalues + 2);
  usize before = 0;
  for (int i = 0; i < kRules; ++i) {
    usize target = usize(kRules - i - 1) + 1 + before;  // skip remaining JEQs and the KILL
    if (target > 255) return "seccomp filter jump too far";
    f.jump(BPF_JMP | BPF_JEQ | BPF_K, u32(rules[i].nr), u8(target), 0);
    before += block_size[i];
  }
  f.stmt(BPF_RET | BPF_K, kKill);
  for (int i = 0; i < kRules; ++i) {
    const Rule& r = rules[i];
    if (r.arg < 0) {
      f.stmt(BPF_RET | BPF_K, kAllow);
      continue;
    }
    f.stmt(BPF_LD | BPF_W | BPF_ABS, arg_lo(r.arg));
    for (int v = 0; v < r.nvalues; ++v)
      f.jump(BPF_JMP | BPF_JEQ | BPF_K, r.values[v], u8(r.nvalues - v - 1 + 1), 0);
    f.stmt(BPF_RET | BPF_K, kKill);
    f.stmt(BPF_RET | BPF_K, kAllow);
  }
  return f.ok() ? nullptr : "seccomp filter too long";
}

}  // namespace mote::process
