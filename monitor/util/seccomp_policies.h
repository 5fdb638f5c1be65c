// The allowlist of each monitor-side process (seccomp.h), declared in one
// place so the unit tests count them and docs/security.md quotes the
// figures: what each loop calls once its setup is done, and nothing more.
#pragma once

#include <sys/types.h>

#include <vector>

#include "monitor/util/seccomp.h"

namespace mote::sandbox {

// The 9P share server (monitor/share/server.cc): host file calls (the paths
// are confined by openat2, not here; every open is openat2), the
// SOCK_SEQPACKET socket `sock` only. A process of its own (process
// platform: a child of `mote`; kvm: one per share).
Policy share_server_policy(int sock);

// `mote` on the process platform with -v, once it forked the core and the
// share server: it waits for them, passes signals on to the core, ends
// with the core's status (or the server's, when the server failed).
Policy supervisor_policy(pid_t core, pid_t server, pid_t self);

// mote-net (monitor/net/helper_main.cc, libslirp): the frame socket, NAT
// sockets (IPv4 only), read-only opens (slirp rereads /etc/resolv.conf), and
// its one line on `status_fd`.
Policy net_helper_policy(int status_fd);

// mote's KVM run loop (monitor/vm/machine.cc): KVM_RUN and KVM_GET_REGS on
// the vCPU fds (with several, KVM_SET_REGS and KVM_SET_MP_STATE for
// StartCpu), the console fds; with devices (monitor/vm/virtio), what
// they need on their own fds only: the frame fd and the receive thread's
// eventfd (read, write, poll), KVM_IRQ_LINE on the VM fd, each share
// server's socket (send, recv); with threads (several vCPUs, or the
// network's receive thread), their own calls (futex for the locks, tgkill
// to kick a vCPU thread, and what glibc's thread end makes); with --gdb,
// the debug ioctls on the vCPU fds (registers, FPU, guest debug), the
// connection to gdb and the ^C watcher's eventfd (read, write, poll); with
// -t, the terminal mode ioctls on the console fds.
struct KvmRunFds {
  std::vector<int> vcpus;
  int in = 0, out = 1, err = 2;
  int vm = -1;          // with a device that interrupts
  int net = -1;         // the frame fd
  int net_wake = -1;    // the receive thread's eventfd
  bool net_tap_offload = false;  // net is a tap with offloads to switch off at the end
  std::vector<int> shares;
  int gdb = -1;         // --gdb: the connection to gdb
  int gdb_wake = -1;    // and the ^C watcher's eventfd
  bool tty = false;     // -t: TCSETS, TCSETSW, TCSETSF on the console fds
  bool threads = false;  // threads besides the vCPUs' and the network's (--timeout's watchdog)
};
Policy kvm_run_policy(const KvmRunFds& fds);

}  // namespace mote::sandbox
