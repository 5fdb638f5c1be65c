// Host signals of the process platform: SIGSYS from Syscall User Dispatch is
// the program's system call; SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP are its
// hardware faults (or, in the core's text, a core bug); kKickSignal diverts
// a thread to take the program's signals. All run on a per-thread signal
// stack, never on the program's stack (which may be tiny, or in use below
// %rsp: the red zone). Program signals are delivered by rewriting the host
// frame's registers (core::deliver_signals): the host's sigreturn then
// enters the program's handler.
#include <asm/unistd_64.h>

#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/gdb.h"
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

// Whether a thread interrupted at pc with stack pointer sp was in the core:
// in its text, or in the host vDSO it reads the clock with (clock.cc). The
// program's vDSO calls the host's too, on the program's stack; the core runs
// on this thread's fast-path stack or its signal stack, so the stack tells
// the two apart.
bool in_core(u64 pc, u64 sp) {
  if (pc >= g.text_start && pc < g.text_end) return true;
  if (pc < g.vdso_start || pc >= g.vdso_end) return false;
  const Cpu* c = cpu();
  return (sp >= c->kstack_base && sp < c->kernel_stack_top) ||
         (sp >= c->sigstack_base && sp < c->sigstack_top);
}

extern "C" char mote_fast_check[], mote_fast_popf[], mote_fast_mov[], mote_fast_ret[];
extern "C" char mote_fast_deliver_trap[];

// The program's register state in a host signal frame, for the core.
platform::UserContext user_context(UContext* uc) {
  platform::UserContext ctx{uc->gregs, reinterpret_cast<u8*>(uc->fpregs), 0};
  if (ctx.fpstate) {
    // struct _fpx_sw_bytes at 464: magic1, extended_size (the whole xsave
    // image with its trailing magic2), ...
    u32 magic1, ext;
    memcpy(&magic1, ctx.fpstate + 464, 4);
    memcpy(&ext, ctx.fpstate + 468, 4);
    ctx.fpstate_size = (magic1 == 0x46505853u && ext > 512 && ext < 65536) ? ext : 512;
  }
  return ctx;
}

// A rewritten call site's stub (rewrite.cc) after its `call`: `lea
// 0x80(%rsp),%rsp; jmp call_end`. Completes it by hand so the context is the
// one right after the original `syscall` instruction (what a restart needs).
void finish_stub(u64* r) {
  const u8* p = reinterpret_cast<const u8*>(r[RIP]);
  static const u8 lea_up[] = {0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};
  if (memcmp(p, lea_up, sizeof lea_up) != 0 || p[8] != 0xe9) return;
  i32 rel;
  memcpy(&rel, p + 9, 4);
  r[RSP] += 0x80;
  r[RIP] = u64(i64(r[RIP]) + 13 + rel);
}

// The fast path's `ret` into the stub, done by hand, then the stub.
void finish_fast_return(u64* r) {
  r[RIP] = *reinterpret_cast<const u64*>(r[RSP]);
  r[RSP] += 8;
  finish_stub(r);
}

void on_sigsys(int, SigInfo* si, UContext* uc) {
  u64* r = uc->gregs;
  if (si->code != kSysUserDispatch) fatal("unexpected SIGSYS");
  // The host's vDSO, called by the core, fell back to a system call
  // (clock.cc); this may be nested in another on_sigsys.
  const u64 vdso_args[2] = {r[RDI], r[RSI]};
  if (serve_vdso_syscall(u64(si->addr), r[RAX], vdso_args, &r[RAX])) {
    // Called by the program's vDSO, not the core: no system-call exit
    // follows to deliver a signal that came meanwhile, so look now.
    if (!in_core(r[RIP], r[RSP]) && core::signal_work()) {
      cpu()->sig_ready = 0;
      platform::UserContext ctx = user_context(uc);
      core::deliver_signals(&ctx);
    }
    return;
  }
  Cpu* c = cpu();
  // As the syscall instruction does: rcx = return address, r11 = rflags.
  r[RCX] = r[RIP];
  r[R11] = r[EFL];
  core::SyscallFrame f{r[RAX], {r[RDI], r[RSI], r[RDX], r[R10], r[R8], r[R9]}, 0, r[RIP]};
  const SiteRegs site{r[RAX], r[RSP], r[R9]};
  c->ctx = user_context(uc);
  c->ctx_valid = true;
  core::on_syscall(f);
  c->ctx_valid = false;
  r[RAX] = f.ret;
  if (c->return_rsp) {
    r[RSP] = c->return_rsp;
    c->return_rsp = 0;
  }
  if (c->exec_pending) {
    // execve: a fresh program image; only %rsp means anything at its entry.
    c->exec_pending = false;
    for (int k = R8; k <= RCX; ++k) r[k] = 0;
    r[RSP] = c->exec_rsp;
    r[RIP] = c->exec_rip;
    return;
  }
  if (core::signal_work()) core::deliver_signals(&c->ctx);  // the context made above
  c->sig_ready = 0;
  // A forked child rewrites too, into stub pages made before the fork only
  // (rewrite.cc find_slot).
  if (g.rewrite) {
    core::klock();
    maybe_rewrite(si->addr, site);
    core::kunlock();
  }
  if (gdb::halted()) {  // --gdb: another thread stopped the program
    platform::UserContext ctx = user_context(uc);
    gdb::park(r, ctx.fpstate, ctx.fpstate_size);
  }
}

void on_fault(int sig, SigInfo* si, UContext* uc) {
  u64* r = uc->gregs;
  if (r[RIP] == u64(mote_fast_deliver_trap)) {
    // The fast path's way out when signals wait (fast_entry.S).
    Cpu* c = cpu();
    c->sig_ready = 0;
    finish_fast_return(r);
    platform::UserContext ctx = user_context(uc);
    core::deliver_signals(&ctx);
    return;
  }
  if (in_core(r[RIP], r[RSP])) {
    char msg[160];
    format(msg, sizeof msg, "signal %d in the core at pc %#lx (core base %#lx), address %#lx", sig,
           (unsigned long)r[RIP], (unsigned long)g.base, (unsigned long)si->addr);
    fatal(msg);
  }
  if (sig == 11 && (r[ERR] & 0x10 /*instruction fetch*/)) {
    // Ran into a page another thread is rewriting (rewrite.cc): wait until
    // it is executable again, then run the instruction again.
    u64 page = page_down(si->addr);
    bool hit = false;
    while (u64 lo = __atomic_load_n(&g.patching, __ATOMIC_ACQUIRE)) {
      if (page < lo || page >= g.patching_end) break;
      hit = true;
      host::syscall0(__NR_sched_yield);
    }
    if (hit) return;
    // Or the rewrite ended just before we looked: the program's mappings
    // say whether the page is executable, and if it is, the fault was one.
    core::klock();
    const mm::Vma* v = core::g_proc.as.vmas().find(si->addr);
    bool exec = is_stub_page(page) ||
                (v && v->kind != mm::VmaKind::Reserved && (v->prot & platform::kProtExec));
    core::kunlock();
    if (exec) return;
  }
  if (gdb::enabled()) {
    // --gdb: gdb's breakpoints, single steps and first stop, and a look at
    // the program's faults before the core acts on them.
    platform::UserContext ctx = user_context(uc);
    if (gdb::on_stop(sig, si->code, r, ctx.fpstate, ctx.fpstate_size)) return;
  }
  core::FaultFrame f;
  f.signal = sig;
  f.code = si->code;
  f.address = si->addr;
  const int order[18] = {RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8, R9,
                         R10, R11, R12, R13, R14, R15, RIP, EFL};
  for (int i = 0; i < 18; ++i) f.regs[i] = r[order[i]];
  platform::UserContext ctx = user_context(uc);
  core::on_fault(f, &ctx);
}

// Another CPU wants this thread to take a signal (platform::thread_kick).
void on_kick(int, SigInfo*, UContext* uc) {
  u64* r = uc->gregs;
  u64 pc = r[RIP];
  if (pc >= u64(mote_fast_check) && pc <= u64(mote_fast_popf)) {
    r[RIP] = u64(mote_fast_check);  // the check runs again and sees the flag
    return;
  }
  if (pc == u64(mote_fast_mov)) {
    r[RSP] = cpu()->user_rsp;
    finish_fast_return(r);
  } else if (pc == u64(mote_fast_ret)) {
    finish_fast_return(r);
  } else if (in_core(pc, r[RSP])) {
    return;  // in a system call: it checks on its way out
  }
  if (gdb::halted()) {  // --gdb: all-stop holds this thread here
    platform::UserContext ctx = user_context(uc);
    gdb::park(r, ctx.fpstate, ctx.fpstate_size);
  }
  cpu()->sig_ready = 0;
  if (core::signal_work()) {
    platform::UserContext ctx = user_context(uc);
    core::deliver_signals(&ctx);
  }
}

// A signal from outside for the program (kill, Ctrl-C): noted for the
// timer thread, which hands it to the core. The host gives it to any thread
// that does not block it (the main thread first), so this may run anywhere:
// only atomics and a nudge (the timer thread looks at host_signals after it
// sets its timerfd, so a nudge before that is not lost).
void on_host_signal(int sig, SigInfo*, UContext*) {
  __atomic_or_fetch(&g.host_signals, u64(1) << (sig - 1), __ATOMIC_RELEASE);
  poke_timer_thread();
}

void handle(int sig, void (*fn)(int, SigInfo*, UContext*), u64 extra_flags, u64 mask) {
  KSigAction a{fn, kSaSiginfo | kSaOnstack | kSaRestorer | extra_flags, mote_sigreturn, mask};
  if (host::failed(host::syscall4(__NR_rt_sigaction, sig, long(&a), 0, 8)))
    fatal("rt_sigaction");
}

}  // namespace

void setup_signal_stack(Cpu* c) {
  u64 size = signal_stack_size();
  auto st = platform::map_core(size);
  if (!st.ok()) fatal("no memory for the signal stack");
  u64 ss[3] = {st.value(), 0, size};
  if (host::failed(host::syscall2(__NR_sigaltstack, long(ss), 0))) fatal("sigaltstack");
  c->sigstack_base = st.value();
  c->sigstack_top = st.value() + size;
}

void install_signal_handlers() {
  // While the core serves a syscall, asynchronous signals wait; synchronous
  // faults must always get through (a blocked fault signal kills outright).
  u64 sync = (1ull << (11 - 1)) | (1ull << (7 - 1)) | (1ull << (4 - 1)) | (1ull << (8 - 1)) |
             (1ull << (5 - 1)) | (1ull << (31 - 1));
  u64 async = ~sync;
  // SIGSYS is not blocked in its own handler: the core's clock read there
  // may raise one from the vDSO (clock.cc).
  handle(31, on_sigsys, kSaNodefer, async);  // SIGSYS
  handle(11, on_fault, kSaNodefer, async);   // SIGSEGV
  handle(7, on_fault, kSaNodefer, async);    // SIGBUS
  handle(4, on_fault, kSaNodefer, async);    // SIGILL
  handle(8, on_fault, kSaNodefer, async);    // SIGFPE
  handle(5, on_fault, kSaNodefer, async);    // SIGTRAP
  handle(kKickSignal, on_kick, 0, async);    // a signal for this thread
}

void install_host_signal_handlers() {
  for (int sig = 1; sig < 64; ++sig)
    if (kHostSignals & (u64(1) << (sig - 1))) handle(sig, on_host_signal, 0, ~u64(0));
}

}  // namespace mote::process
