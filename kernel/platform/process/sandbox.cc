// The process platform's two walls, raised just before the program's first
// instruction:
//  1. Syscall User Dispatch: every syscall instruction outside the core's
//     text raises SIGSYS, which the core serves. This is how the program's
//     calls are caught; it is not a security boundary by itself.
//  2. seccomp-bpf: the host accepts only the few calls the core makes, only
//     from the core's text, with their arguments pinned where it matters, and
//     kills the whole process on anything else. This is the boundary.
#include <asm/unistd_64.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/ioctl.h>
#include <linux/seccomp.h>

#include "kernel/platform/process/bpf.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process {

namespace {

constexpr long kPrSetNoNewPrivs = 38;
constexpr long kPrSetSyscallUserDispatch = 59;
constexpr long kPrSysDispatchOn = 1;
// threads.cc's host clone flags (VM FS FILES SIGHAND THREAD SYSVSEM CHILD_CLEARTID).
constexpr u64 kThreadCloneFlags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x200000;

constexpr u32 arg_lo(int i) { return 16 + 8 * u32(i); }  // seccomp_data.args[i], low word

struct Rule {
  int nr;
  int arg = -1;          // argument whose low 32 bits must be one of `values`
  u32 values[8] = {};
  int nvalues = 0;
};

constexpr u32 kKill = SECCOMP_RET_KILL_PROCESS;
constexpr u32 kAllow = SECCOMP_RET_ALLOW;

}  // namespace

void enable_syscall_dispatch() {
  // Selector NULL: always dispatch; the core's text is the allowed region.
  // The kernel tests the address after `syscall`, inside [start, end].
  long r = host::syscall5(__NR_prctl, kPrSetSyscallUserDispatch, kPrSysDispatchOn,
                          long(g.text_start), long(g.text_end - g.text_start), 0);
  if (host::failed(r)) fatal("Syscall User Dispatch is unavailable (Linux 5.11 or later needed)");
}

void install_seccomp() {
  // -v shares: read and write also on the share socket (platform share.cc).
  const bool share = g.boot->share_count && g.boot->share_fd >= 3;
  const u32 share_fd = share ? u32(g.boot->share_fd) : 0;
  // The network device (net.cc): read and write on its fd and on the kick
  // eventfd, and ppoll of one fd (the event thread) or of both (a program
  // thread covering the device).
  const bool net = (g.boot->net_flags & abi::kNetDevice) && g.boot->net_fd >= 3;
  const u32 net_fd = net ? u32(g.boot->net_fd) : 0;
  const bool vnet = net && (g.boot->net_flags & abi::kNetVnetHdr);
  // --gdb: read and write on the connection to gdb (gdb.cc).
  const bool gdb = (g.boot->flags & abi::kBootGdb) && g.boot->gdb_fd >= 3;
  u32 io_fds[8] = {0, 1, 2};
  int nio = 3;
  if (share) io_fds[nio++] = share_fd;
  if (net) io_fds[nio++] = net_fd;
  if (net && g.net_kick_fd >= 3) io_fds[nio++] = u32(g.net_kick_fd);
  if (gdb) io_fds[nio++] = u32(g.boot->gdb_fd);
  const Rule rules[] = {
      {__NR_read, 0, {io_fds[0], io_fds[1], io_fds[2], io_fds[3], io_fds[4], io_fds[5], io_fds[6],
                      io_fds[7]}, nio},
      {__NR_write, 0, {io_fds[0], io_fds[1], io_fds[2], io_fds[3], io_fds[4], io_fds[5],
                       io_fds[6], io_fds[7]}, nio},
      {__NR_ppoll, 1, {1, 2}, net ? 2 : 0},  // nfds 1 or 2; without a device: never
      // A tap with virtio-net headers: header and frame in one call.
      {__NR_readv, 0, {net_fd}, vnet ? 1 : 0},
      {__NR_writev, 0, {net_fd}, vnet ? 1 : 0},
      {__NR_mmap},                              // program memory; the boot images
      {__NR_munmap},
      {__NR_mprotect},
      {__NR_mremap},
      {__NR_madvise},
      {__NR_ftruncate, 0, {u32(g.shm_fd)}, 1},  // sizing the shared-page memfd, once
      // TCSETS(W/F) for -t (fds 0-2 only, by use); TUNSETOFFLOAD on the tap
      // only at exit (net.cc release_net).
      {__NR_ioctl, 1, {0x5402, 0x5403, 0x5404, u32(TUNSETOFFLOAD)}, vnet ? 4 : 3},
      {__NR_clock_gettime},
      {__NR_clock_nanosleep},
      {__NR_arch_prctl, 0, {0x1002 /*ARCH_SET_FS*/, 0x1001 /*ARCH_SET_GS*/}, 2},
      {__NR_rt_sigreturn},
      {__NR_exit_group},
      {__NR_exit},
      // Threads (threads.cc): new host threads of this process only, the
      // futex waits and wakes of the core's own words, a kick to a thread of
      // this process, Syscall User Dispatch in each new thread.
      {__NR_clone, 0, {u32(kThreadCloneFlags)}, 1},
      {__NR_futex, 1, {9 | 128 /*WAIT_BITSET_PRIVATE*/, 1 | 128 /*WAKE_PRIVATE*/}, 2},
      {__NR_tgkill, 0, {u32(g.host_pid)}, 1},
      {__NR_gettid},
      {__NR_getcpu},
      {__NR_sched_yield},
      {__NR_sched_setaffinity, 0, {0}, 1},
      {__NR_rt_sigprocmask},
      {__NR_prctl, 0, {u32(kPrSetSyscallUserDispatch)}, 1},
  };
  constexpr int kRules = sizeof rules / sizeof rules[0];

  Bpf f;
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
  if (!bpf_ip_in_range(f, g.text_start, g.text_end, kKill)) fatal("core text spans 4 GiB");
  f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffNr);
  // Dispatch: one JEQ per rule to its block; blocks follow the final KILL.
  usize block_size[kRules];
  for (int i = 0; i < kRules; ++i)
    block_size[i] = rules[i].arg < 0 ? 1 : usize(1 + rules[i].nvalues + 2);
  usize before = 0;
  for (int i = 0; i < kRules; ++i) {
    usize target = usize(kRules - i - 1) + 1 + before;  // skip remaining JEQs and the KILL
    if (target > 255) fatal("seccomp filter jump too far");
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

  if (!f.ok()) fatal("seccomp filter too long");
  sock_fprog prog{u16(f.size()), f.data()};
  if (host::failed(host::syscall5(__NR_prctl, kPrSetNoNewPrivs, 1, 0, 0, 0)))
    fatal("prctl(PR_SET_NO_NEW_PRIVS)");
  if (host::failed(host::syscall3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, long(&prog))))
    fatal("seccomp filter refused");
}

}  // namespace mote::process
