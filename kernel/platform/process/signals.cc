// Host signals of the process platform: SIGSYS from Syscall User Dispatch is
// the program's system call; SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP are its
// hardware faults (or, in the core's text, a core bug); SIGALRM is the
// one-shot timer. All run on a per-thread signal stack, never on the
// program's stack (which may be tiny, or in use below %rsp: the red zone).
#include <asm/unistd_64.h>

#include "kernel/lib/format.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

extern "C" void mote_sigreturn();

namespace mote::process {

u64 signal_stack_size();

namespace {

// Kernel ABI layouts (include/uapi/asm-generic/siginfo.h, arch/x86 ucontext).
struct SigInfo {
  i32 signo, errno_, code, pad;
  u64 addr;      // si_addr, or si_call_addr for SIGSYS
  i32 syscall;   // SIGSYS: the syscall number
  u32 arch;
};

enum Greg {
  R8, R9, R10, R11, R12, R13, R14, R15, RDI, RSI, RBP, RBX, RDX, RAX, RCX, RSP, RIP, EFL,
  CSGSFS, ERR, TRAPNO, OLDMASK, CR2, NGREG
};

struct UContext {
  u64 flags;
  u64 link;
  u64 stack[3];
  u64 gregs[NGREG];
  u64 fpregs;
  u64 reserved[8];
  u64 sigmask;
};

struct KSigAction {
  void (*handler)(int, SigInfo*, UContext*);
  u64 flags;
  void (*restorer)();
  u64 mask;
};

constexpr u64 kSaSiginfo = 4, kSaOnstack = 0x08000000, kSaRestorer = 0x04000000;
constexpr u64 kSaNodefer = 0x40000000;
constexpr int kSysUserDispatch = 2;  // si_code of SIGSYS from SUD

bool in_core_text(u64 pc) { return pc >= g.text_start && pc < g.text_end; }

void on_sigsys(int, SigInfo* si, UContext* uc) {
  u64* r = uc->gregs;
  if (si->code != kSysUserDispatch) fatal("unexpected SIGSYS");
  core::SyscallFrame f{r[RAX], {r[RDI], r[RSI], r[RDX], r[R10], r[R8], r[R9]}, 0, r[RIP]};
  const SiteRegs site{r[RAX], r[RSP], r[R9]};
  core::on_syscall(f);
  r[RAX] = f.ret;
  // As the syscall instruction would: rcx = return address, r11 = rflags.
  r[RCX] = r[RIP];
  r[R11] = r[EFL];
  if (g.return_rsp) {
    r[RSP] = g.return_rsp;
    g.return_rsp = 0;
  }
  if (g.exec_pending) {
    // execve: a fresh program image; only %rsp means anything at its entry.
    g.exec_pending = false;
    for (int k = R8; k <= RCX; ++k) r[k] = 0;
    r[RSP] = g.exec_rsp;
    r[RIP] = g.exec_rip;
    return;
  }
  // A forked child's stubs would land in its parent's address space, which
  // comes back from a snapshot when the child ends: children take SIGSYS.
  if (g.rewrite && g.fork_depth == 0) maybe_rewrite(si->addr, site);
}

void on_fault(int sig, SigInfo* si, UContext* uc) {
  u64* r = uc->gregs;
  if (in_core_text(r[RIP])) {
    char msg[160];
    format(msg, sizeof msg, "signal %d in the core at pc %#lx (core base %#lx), address %#lx", sig,
           (unsigned long)r[RIP], (unsigned long)g.base, (unsigned long)si->addr);
    fatal(msg);
  }
  core::FaultFrame f;
  f.signal = sig;
  f.code = si->code;
  f.address = si->addr;
  const int order[18] = {RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8, R9,
                         R10, R11, R12, R13, R14, R15, RIP, EFL};
  for (int i = 0; i < 18; ++i) f.regs[i] = r[order[i]];
  core::on_fault(f);
}

void on_alarm(int, SigInfo*, UContext*) { core::on_timer(); }

void handle(int sig, void (*fn)(int, SigInfo*, UContext*), u64 extra_flags, u64 mask) {
  KSigAction a{fn, kSaSiginfo | kSaOnstack | kSaRestorer | extra_flags, mote_sigreturn, mask};
  if (host::failed(host::syscall4(__NR_rt_sigaction, sig, long(&a), 0, 8)))
    fatal("rt_sigaction");
}

}  // namespace

void install_signal_handlers() {
  u64 size = signal_stack_size();
  auto st = platform::map_core(size);
  if (!st.ok()) fatal("no memory for the signal stack");
  u64 ss[3] = {st.value(), 0, size};
  if (host::failed(host::syscall2(__NR_sigaltstack, long(ss), 0))) fatal("sigaltstack");
  g.sigstack_top = st.value() + size;

  // While the core serves a syscall, asynchronous signals wait; synchronous
  // faults must always get through (a blocked fault signal kills outright).
  u64 sync = (1ull << (11 - 1)) | (1ull << (7 - 1)) | (1ull << (4 - 1)) | (1ull << (8 - 1)) |
             (1ull << (5 - 1)) | (1ull << (31 - 1));
  u64 async = ~sync;
  handle(31, on_sigsys, 0, async);           // SIGSYS
  handle(11, on_fault, kSaNodefer, async);   // SIGSEGV
  handle(7, on_fault, kSaNodefer, async);    // SIGBUS
  handle(4, on_fault, kSaNodefer, async);    // SIGILL
  handle(8, on_fault, kSaNodefer, async);    // SIGFPE
  handle(5, on_fault, kSaNodefer, async);    // SIGTRAP
  handle(14, on_alarm, 0, ~u64(0));          // SIGALRM: the one-shot timer

  // The timer signals this thread (SIGEV_THREAD_ID) at its deadline.
  struct {
    u64 value;
    i32 signo, notify;
    i32 tid;
    i32 pad[11];
  } sev{0, 14, 4 /*SIGEV_THREAD_ID*/, int(host::syscall0(__NR_gettid)), {}};
  int id = -1;
  if (host::failed(host::syscall3(__NR_timer_create, 1 /*CLOCK_MONOTONIC*/, long(&sev), long(&id))))
    fatal("timer_create");
  g.timer_id = id;
}

}  // namespace mote::process
