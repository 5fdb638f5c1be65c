// The monitor-side allowlists (seccomp_policies.h).
#include "monitor/util/seccomp_policies.h"

#include <asm/unistd_64.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/mman.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mote::sandbox {

namespace {

uint32_t u(long v) { return uint32_t(v); }

// O_TMPFILE's own bit (glibc's __O_TMPFILE includes O_DIRECTORY).
constexpr uint32_t kTmpfileBit = 020000000;

// What every policy needs: the SIGSYS handler's message and exit, and
// returning from a signal handler.
void add_base(Policy& p) {
  p.rules.push_back({__NR_write, {{0, {2}}}});
  p.rules.push_back({__NR_exit_group, {}});
  p.rules.push_back({__NR_rt_sigreturn, {}});
}

// malloc: the heap and large blocks, never an executable mapping.
void add_memory(Policy& p) {
  p.rules.push_back({__NR_brk, {}});
  p.rules.push_back({__NR_mmap, {{2, {0}, u(PROT_EXEC)}}});
  p.rules.push_back({__NR_munmap, {}});
}

}  // namespace

Policy share_server_policy(int sock) {
  Policy p;
  p.who = "the share server";
  add_base(p);
  add_memory(p);
  // One request in, one reply out, on the core's socket only.
  p.rules.push_back({__NR_recvfrom, {{0, {u(sock)}}}});
  p.rules.push_back({__NR_sendto, {{0, {u(sock)}}}});
  // Every open is openat2: walking and creating with RESOLVE_BENEATH from a
  // share root, opening for I/O, truncating and second handles (clones) by
  // reopening an fd through /proc/self/fd. No openat, no truncate, no fcntl.
  p.rules.push_back({__NR_openat2, {}});
  p.rules.push_back({__NR_close, {}});
  for (long nr : {__NR_newfstatat, __NR_fstatfs, __NR_fchownat, __NR_fchmodat, __NR_ftruncate,
                  __NR_utimensat, __NR_pread64, __NR_pwrite64, __NR_lseek, __NR_getdents64,
                  __NR_mkdirat, __NR_symlinkat, __NR_mknodat, __NR_readlinkat, __NR_unlinkat,
                  __NR_renameat, __NR_linkat, __NR_fsync})
    p.rules.push_back({int(nr), {}});
  return p;
}

Policy supervisor_policy(pid_t core, pid_t server, pid_t self) {
  Policy p;
  p.who = "mote (waiting for the core)";
  add_base(p);
  add_memory(p);
  // Waits for either child (-1), passes signals on to the core, ends the
  // server if the core dies first, and dies by the core's signal.
  p.rules.push_back({__NR_wait4, {{0, {u(-1), u(core), u(server)}}}});
  p.rules.push_back({__NR_kill, {{0, {u(core), u(server), u(self)}}}});
  p.rules.push_back({__NR_rt_sigaction, {}});
  p.rules.push_back({__NR_close, {}});  // the shares' root fds, as main() returns
  return p;
}

Policy net_helper_policy(int status_fd) {
  Policy p;
  p.who = "mote-net";
  add_base(p);
  add_memory(p);
  p.rules.push_back({__NR_poll, {}});
  p.rules.push_back({__NR_close, {}});
  // The guest's frames (frame_fd) and the NAT's own sockets.
  for (long nr : {__NR_recvfrom, __NR_sendto, __NR_recvmsg, __NR_connect, __NR_accept, __NR_shutdown,
                  __NR_getsockname, __NR_getpeername, __NR_setsockopt, __NR_getsockopt,
                  __NR_read})
    p.rules.push_back({int(nr), {}});
  p.rules.push_back({__NR_write, {{0, {u(status_fd)}}}});
  // IPv4 sockets only (the guest's stack is IPv4; no unix, netlink, packet).
  p.rules.push_back({__NR_socket, {{0, {u(AF_INET)}}}});
  p.rules.push_back({__NR_fcntl, {{1, {u(F_GETFL), u(F_SETFL), u(F_GETFD), u(F_SETFD)}}}});
  p.rules.push_back({__NR_ioctl, {{1, {u(FIONREAD), u(FIONBIO)}}}});
  // slirp rereads /etc/resolv.conf when it changes: read-only opens.
  p.rules.push_back({__NR_newfstatat, {}});
  p.rules.push_back({__NR_openat, {{2, {0}, u(O_ACCMODE | O_CREAT | O_TRUNC | kTmpfileBit)}}});
  return p;
}

Policy kvm_run_policy(const KvmRunFds& fds) {
  Policy p;
  p.who = "the KVM run loop";
  add_base(p);
  add_memory(p);
  std::vector<uint32_t> vcpus;
  for (int fd : fds.vcpus) vcpus.push_back(u(fd));
  // Several vCPUs: StartCpu sets an application processor's rip/rsp and
  // makes it runnable (its other registers were set before the filter).
  std::vector<uint32_t> vcpu_calls{u(KVM_RUN), u(KVM_GET_REGS)};
  if (fds.vcpus.size() > 1) {
    vcpu_calls.push_back(u(KVM_SET_REGS));
    vcpu_calls.push_back(u(KVM_SET_MP_STATE));
  }
  p.rules.push_back({__NR_ioctl, {{0, vcpus}, {1, vcpu_calls}}});
  std::vector<uint32_t> readable{u(fds.in)}, writable{u(fds.out), u(fds.err)};
  if (fds.gdb >= 0) {
    p.rules.push_back({__NR_ioctl, {{0, vcpus},
                                    {1, {u(KVM_GET_SREGS), u(KVM_GET_FPU), u(KVM_SET_REGS), u(KVM_SET_FPU),
                                         u(KVM_SET_GUEST_DEBUG)}}}});
    for (int fd : {fds.gdb, fds.gdb_wake}) {
      if (fd < 0) continue;
      readable.push_back(u(fd));
      writable.push_back(u(fd));
    }
  }
  if (fds.net >= 0) {
    for (int fd : {fds.net, fds.net_wake}) {
      readable.push_back(u(fd));
      writable.push_back(u(fd));
    }
  }
  if (fds.net >= 0 || fds.gdb >= 0) p.rules.push_back({__NR_poll, {}});
  // The tap's offloads: segmentation on and off as the driver takes
  // GUEST_TSO4 or resets (vm/virtio/net.h), everything off as the VM ends
  // (tap.h).
  if (fds.net >= 0 && fds.net_tap_offload)
    p.rules.push_back({__NR_ioctl, {{0, {u(fds.net)}}, {1, {u(TUNSETOFFLOAD)}},
                                    {2, {0, u(TUN_F_CSUM), u(TUN_F_CSUM | TUN_F_TSO4)}}}});
  p.rules.push_back({__NR_read, {{0, readable}}});
  p.rules.push_back({__NR_write, {{0, writable}}});
  p.rules.push_back({__NR_clock_gettime, {}});
  p.rules.push_back({__NR_close, {}});
  if (fds.vm >= 0) p.rules.push_back({__NR_ioctl, {{0, {u(fds.vm)}}, {1, {u(KVM_IRQ_LINE)}}}});
  if (fds.tty)
    p.rules.push_back({__NR_ioctl, {{0, {u(fds.in), u(fds.out), u(fds.err)}},
                                    {1, {u(TCSETS), u(TCSETSW), u(TCSETSF)}}}});
  if (!fds.shares.empty()) {
    std::vector<uint32_t> socks;
    for (int fd : fds.shares) socks.push_back(u(fd));
    p.rules.push_back({__NR_sendto, {{0, socks}}});
    p.rules.push_back({__NR_recvfrom, {{0, socks}}});
  }
  if (fds.net >= 0 || fds.vcpus.size() > 1 || fds.threads || fds.gdb >= 0) {
    // Threads: locks, the vCPUs' kick (to this process only) and the
    // threads' end.
    p.rules.push_back({__NR_futex, {}});
    p.rules.push_back({__NR_tgkill, {{0, {u(getpid())}}}});
    p.rules.push_back({__NR_exit, {}});
    p.rules.push_back({__NR_madvise, {{2, {u(MADV_DONTNEED)}}}});
    // glibc's thread exit blocks every signal first.
    p.rules.push_back({__NR_rt_sigprocmask, {{0, {u(SIG_BLOCK)}}}});
    // malloc on the receive thread grows its own arena (never executable).
    p.rules.push_back({__NR_mprotect, {{2, {0}, u(PROT_EXEC)}}});
  }
  return p;
}

}  // namespace mote::sandbox
