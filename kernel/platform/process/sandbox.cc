// The process platform's two walls, raised just before the program's first
// instruction:
//  1. Syscall User Dispatch: every syscall instruction outside the core's
//     text raises SIGSYS, which the core serves. This is how the program's
//     calls are caught; it is not a security boundary by itself.
//  2. seccomp-bpf: the host accepts only the few calls the core makes, only
//     from the core's text, with their arguments pinned where it matters, and
//     kills the whole process on anything else (core_filter.h). This is the
//     boundary.
#include <asm/unistd_64.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "kernel/platform/process/core_filter.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process {

namespace {

constexpr long kPrSetNoNewPrivs = 38;
constexpr long kPrSysDispatchOn = 1;

}  // namespace

void enable_syscall_dispatch() {
  // Selector NULL: always dispatch; the core's text is the allowed region.
  // The kernel tests the address after `syscall`, inside [start, end].
  long r = host::syscall5(__NR_prctl, kPrSetSyscallUserDispatch, kPrSysDispatchOn,
                          long(g.text_start), long(g.text_end - g.text_start), 0);
  if (host::failed(r)) fatal("Syscall User Dispatch is unavailable (Linux 5.11 or later needed)");
}

void install_seccomp() {
  CoreFilterInputs in;
  in.text_start = g.text_start;
  in.text_end = g.text_end;
  if (g.boot->share_count && g.boot->share_fd >= 3) in.share_fd = g.boot->share_fd;
  if (have_device()) {
    in.net_fd = g.boot->net_fd;
    in.vnet = vnet_hdr();
    in.net_kick_fd = g.net_kick_fd;
  }
  if ((g.boot->flags & abi::kBootGdb) && g.boot->gdb_fd >= 3) in.gdb_fd = g.boot->gdb_fd;
  in.timer_fd = g.timer_fd;
  in.shm_fd = g.shm_fd;
  in.host_pid = g.host_pid;
  Bpf f;
  if (const char* why = build_core_filter(in, f)) fatal(why);
  sock_fprog prog{u16(f.size()), f.data()};
  if (host::failed(host::syscall5(__NR_prctl, kPrSetNoNewPrivs, 1, 0, 0, 0)))
    fatal("prctl(PR_SET_NO_NEW_PRIVS)");
  if (host::failed(host::syscall3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, long(&prog))))
    fatal("seccomp filter refused");
}

}  // namespace mote::process
