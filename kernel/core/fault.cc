// The report printed when the program takes a hardware fault it has no
// handler for, and the exit with 128+signal.
#include "kernel/core/fork.h"
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/string.h"
#include "kernel/exec/loader.h"
#include "kernel/linux/strace.h"
#include "kernel/platform/platform.h"

namespace mote::core {

namespace {

const char* describe(int sig, int code) {
  switch (sig) {
    case 11:
      return code == 2 ? "invalid permissions for mapped memory" : "address not mapped";
    case 7: return code == 2 ? "nonexistent physical address" : "misaligned or truncated access";
    case 4: return "illegal instruction";
    case 8:
      switch (code) {
        case 1: return "integer divide by zero";
        case 2: return "integer overflow";
        default: return "floating-point exception";
      }
    case 5: return "trace/breakpoint trap";
    default: return "fault";
  }
}

}  // namespace

void on_fault(const FaultFrame& f, UserContext* ctx) {
  klock();
  Thread* t = current();
  const int sig = f.signal;
  const SigAction a = g_proc.actions[sig];
  // A synchronous fault the thread blocks or ignores cannot be held back:
  // Linux then forces the default action (force_sig_info), and so do we.
  bool blocked = t && (t->sigmask & sig_bit(sig));
  if (ctx && t && a.handler > 1 && !blocked) {
    SigInfo info;
    memset(&info, 0, sizeof info);
    info.signo = sig;
    info.code = f.code;
    info.f[0] = f.address;  // si_addr
    t->pending |= sig_bit(sig);
    memcpy(t->pending_info[sig - 1], &info, 32);
    // No system call is in flight at a fault.
    t->restart_ret = 0;
    kunlock();
    deliver_signals(ctx);
    return;
  }
  // A forked child's crash is its parent's to report (its wait status says
  // which signal), unless --verbose asks for every report.
  if (is_forked_child() && !(platform::boot_info().flags & abi::kBootVerbose))
    process_exit(f.signal);
  const char* name = linux::signal_name(f.signal);
  const u64* r = f.regs;
  char sym[128];
  u64 off = 0;
  u64 pc = r[16];
  const char* fn =
      g_proc.exe ? exec::symbolize(*g_proc.exe, pc, g_proc.load_bias, sym, sizeof sym, &off) : nullptr;
  console_printf("mote: program killed by %s (%s) at address 0x%lx\n", name ? name : "a signal",
                 describe(f.signal, f.code), (unsigned long)f.address);
  if (g_nthreads > 1 && t) console_printf("mote:   in thread %d of %d\n", t->tid, g_nthreads);
  if (fn) console_printf("mote:   pc %#lx <%s+%#lx> in %s\n", (unsigned long)pc, fn,
                         (unsigned long)off, g_proc.exe_path.data);
  else console_printf("mote:   pc %#lx in %s\n", (unsigned long)pc, g_proc.exe_path.data);
  console_printf("mote:   rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", r[0], r[1], r[2], r[3]);
  console_printf("mote:   rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n", r[4], r[5], r[6], r[7]);
  console_printf("mote:   r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n", r[8], r[9], r[10], r[11]);
  console_printf("mote:   r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", r[12], r[13], r[14],
                 r[15]);
  console_printf("mote:   rip %016lx rflags %08lx\n", r[16], r[17]);
  process_exit(f.signal);
}


}  // namespace mote::core
