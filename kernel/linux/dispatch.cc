// The system-call entry of the core: every platform funnels the program's
// syscalls here (the process platform from SIGSYS and from rewritten call
// sites, the VM platform from its LSTAR entry).
#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/strace.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::core {

namespace {

bool read_program_memory(u64 addr, void* buf, usize len) {
  return linux::copy_from_user(buf, addr, len).ok();
}

void trace(const SyscallFrame& f, bool done) {
  char line[512];
  TextBuffer out(line, sizeof line - 1);
  linux::format_syscall(out, f.nr, f.args, i64(f.ret), done, read_program_memory);
  out.append_raw("\n", 1);
  if (out.truncated()) {
    line[sizeof line - 2] = '\n';
    platform::console_write(2, line, sizeof line - 1);
  } else {
    platform::console_write(2, out.data(), out.size());
  }
}

}  // namespace

void on_syscall(SyscallFrame& f) {
  const linux::SyscallDesc& d = linux::syscall_desc(f.nr);
  if (g_proc.strace && d.ret == linux::Arg::Noreturn) trace(f, false);
  linux::SysArgs a{{f.args[0], f.args[1], f.args[2], f.args[3], f.args[4], f.args[5]}};
  f.ret = u64(d.handler ? d.handler(a) : -ENOSYS);
  if (g_proc.strace) trace(f, true);
}

}  // namespace mote::core
