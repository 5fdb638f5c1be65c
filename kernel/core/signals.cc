// Signals (signals.h): queueing, default actions, handler frames and
// rt_sigreturn, in Linux's x86-64 layouts (arch/x86/kernel/signal.c is the
// behaviour reference; the code is ours).
#include "kernel/core/signals.h"

#include "kernel/core/fork.h"
#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/strace.h"
#include "kernel/linux/timer.h"
#include "kernel/linux/user.h"
#include "kernel/mm/heap.h"

namespace mote::core {

namespace {

// Signals that came from the host: a death by one of them is what the user
// asked for (kill, Ctrl-C), so it passes without a note, as natively.
u64 g_from_host;

constexpr u64 kSigDfl = 0, kSigIgn = 1;
constexpr u64 kSaSiginfo = 4, kSaOnstack = 0x08000000, kSaRestart = 0x10000000;
constexpr u64 kSaNodefer = 0x40000000, kSaResethand = 0x80000000, kSaRestorer = 0x04000000;
constexpr u64 kSsOnstack = 1, kSsDisable = 2, kSsAutodisarm = 1ull << 31;
constexpr u64 kUcFpXstate = 1, kUcSigcontextSs = 2, kUcStrictRestoreSs = 4;

// Linux mcontext gregs indexes.
enum { R8, R9, R10, R11, R12, R13, R14, R15, RDI, RSI, RBP, RBX, RDX, RAX, RCX, RSP, RIP, EFL,
       CSGSFS, ERR, TRAPNO, OLDMASK, CR2, NGREG };

// struct rt_sigframe (x86-64): pretcode, then struct ucontext, then siginfo.
struct UContext {
  u64 flags;
  u64 link;
  u64 stack[3];      // ss_sp, ss_flags, ss_size
  u64 gregs[NGREG];  // struct sigcontext up to cr2
  u64 fpstate;
  u64 reserved[8];
  u64 sigmask;
};
static_assert(sizeof(UContext) == 304);
struct SigFrame {
  u64 pretcode;
  UContext uc;
  SigInfo info;
};
static_assert(sizeof(SigFrame) == 440);

// EFLAGS bits a handler's frame may change (Linux FIX_EFLAGS).
constexpr u64 kFixEflags = 0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 |
                           0x10000;
constexpr u64 kEflagsTf = 0x100, kEflagsDf = 0x400, kEflagsRf = 0x10000;

enum class Default { Term, Core, Ignore, Stop };

Default default_action(int sig) {
  switch (sig) {
    case 3: case 4: case 5: case 6: case 7: case 8: case 11: case 24: case 25: case 31:
      return Default::Core;  // SIGQUIT ILL TRAP ABRT BUS FPE SEGV XCPU XFSZ SYS
    case 17: case 18: case 23: case 28:
      return Default::Ignore;  // SIGCHLD CONT URG WINCH
    case 19: case 20: case 21: case 22:
      return Default::Stop;  // STOP TSTP TTIN TTOU: no job control here, ignored
    default:
      return Default::Term;
  }
}

// Pending-signal info of the process (process-directed signals).
u8 g_shared_info[kNumSignals][32];
SigNode* g_shared_rt;
usize g_rt_queued;  // all queued real-time instances (RLIMIT_SIGPENDING)
constexpr usize kMaxRtQueued = 4096;

// Real-time signals queue every instance, in order (signal(7)).
bool queue_rt(SigNode** q, const SigInfo& info) {
  if (g_rt_queued >= kMaxRtQueued) return false;
  auto* n = static_cast<SigNode*>(mm::kalloc(sizeof(SigNode)));
  if (!n) return false;
  n->next = nullptr;
  memcpy(n->info, &info, sizeof n->info);
  while (*q) q = &(*q)->next;
  *q = n;
  ++g_rt_queued;
  return true;
}

// The oldest instance of `sig`; returns whether more of it remain.
bool unqueue_rt(SigNode** q, int sig, SigInfo* info) {
  memset(info, 0, sizeof *info);
  info->signo = sig;
  bool found = false, more = false;
  for (SigNode** p = q; *p;) {
    SigNode* n = *p;
    i32 s;
    memcpy(&s, n->info, 4);
    if (s != sig) {
      p = &n->next;
      continue;
    }
    if (found) {
      more = true;
      break;
    }
    memcpy(info, n->info, sizeof n->info);
    *p = n->next;
    mm::kfree(n);
    --g_rt_queued;
    found = true;
  }
  return more;
}

void store_info(u8 (*slots)[32], int sig, const SigInfo& info) {
  memcpy(slots[sig - 1], &info, 32);
}

void load_info(const u8 (*slots)[32], int sig, SigInfo* info) {
  memset(info, 0, sizeof *info);
  memcpy(info, slots[sig - 1], 32);
}

int lowest(u64 set) {
  // Synchronous faults first, as Linux does, then by number.
  constexpr u64 sync = sig_bit(11) | sig_bit(7) | sig_bit(4) | sig_bit(5) | sig_bit(8) |
                       sig_bit(31);
  if (set & sync) set &= sync;
  return set ? __builtin_ctzll(set) + 1 : 0;
}

// Which thread takes a process-directed signal: one waiting for it in
// sigtimedwait, else the current thread, else any that does not block it.
Thread* pick_thread(int sig) {
  for (Thread* t = g_threads; t; t = t->next)
    if (t->waiting_for & sig_bit(sig)) return t;
  Thread* self = current();
  if (self && !(self->sigmask & sig_bit(sig))) return self;
  for (Thread* t = g_threads; t; t = t->next)
    if (!(t->sigmask & sig_bit(sig))) return t;
  return nullptr;
}


// Builds the frame for `sig` on the program's stack and points `ctx` at the
// handler. False when the frame cannot be written (the caller kills).
bool setup_frame(Thread* t, UserContext& ctx, int sig, const SigAction& a, const SigInfo& info,
                 u64 old_mask) {
  u64* r = ctx.gregs;
  u64 sp = r[RSP];
  bool was_on = on_altstack(t, sp);
  u64 ss[3] = {t->altstack[0], t->altstack[2] ? (was_on ? kSsOnstack : 0) : kSsDisable,
               t->altstack[2]};
  if (t->altstack[1] & kSsAutodisarm) ss[1] |= kSsAutodisarm;
  if ((a.flags & kSaOnstack) && t->altstack[2] && !was_on) {
    sp = t->altstack[0] + t->altstack[2];
    if (t->altstack[1] & kSsAutodisarm) t->altstack[0] = t->altstack[1] = t->altstack[2] = 0;
  } else {
    sp -= 128;  // the interrupted code's red zone
  }
  u64 fp = 0;
  if (ctx.fpstate && ctx.fpstate_size) {
    sp -= ctx.fpstate_size;
    sp &= ~u64(63);
    fp = sp;
    if (!linux::copy_to_user(fp, ctx.fpstate, ctx.fpstate_size).ok()) return false;
  }
  sp -= sizeof(SigFrame);
  sp = (sp & ~u64(15)) - 8;  // as after a call: (%rsp + 8) is 16-byte aligned
  if (!(a.flags & kSaRestorer)) return false;  // x86-64 handlers need a restorer

  SigFrame f;
  memset(&f, 0, sizeof f);
  f.pretcode = a.restorer;
  f.uc.flags = kUcSigcontextSs | kUcStrictRestoreSs |
               (ctx.fpstate_size > 512 ? kUcFpXstate : 0);
  memcpy(f.uc.stack, ss, sizeof ss);
  memcpy(f.uc.gregs, r, sizeof f.uc.gregs);
  f.uc.gregs[OLDMASK] = old_mask;
  f.uc.fpstate = fp;
  f.uc.sigmask = old_mask;
  f.info = info;
  if (!linux::copy_to_user(sp, &f, sizeof f).ok()) return false;

  r[RSP] = sp;
  r[RIP] = a.handler;
  r[RDI] = u64(sig);
  r[RSI] = sp + offsetof(SigFrame, info);
  r[RDX] = sp + offsetof(SigFrame, uc);
  r[RAX] = 0;
  r[EFL] &= ~(kEflagsTf | kEflagsDf | kEflagsRf);
  return true;
}

// The interrupted system call: restart it, or fail it with EINTR.
void settle_restart(Thread* t, UserContext& ctx, const SigAction* a) {
  if (!t->restart_ret) return;
  i64 ret = t->restart_ret;
  bool restart;
  if (!a) {
    restart = true;  // no handler ran: every ERESTART* restarts
  } else {
    restart = ret == -kErestartNoIntr || (ret == -kErestartSys && (a->flags & kSaRestart));
  }
  if (restart) {
    ctx.gregs[RAX] = t->restart_nr;
    ctx.gregs[RIP] -= 2;  // back onto the `syscall` instruction
  } else {
    ctx.gregs[RAX] = u64(-EINTR);
  }
  t->restart_ret = 0;
}

[[noreturn]] void die_default(int sig) {
  if (g_from_host & sig_bit(sig)) process_exit(sig);
  die_by_signal(sig, "not handled");
}

}  // namespace

bool on_altstack(const Thread* t, u64 sp) {
  return t->altstack[2] && sp > t->altstack[0] && sp <= t->altstack[0] + t->altstack[2];
}

i64 set_call_sigmask(u64 mask_addr, u64 size) {
  if (!mask_addr) return 0;
  if (size != 8) return -EINVAL;
  u64 mask;
  if (!linux::copy_from_user(&mask, mask_addr, 8).ok()) return -EFAULT;
  Thread* t = current();
  t->saved_mask = t->sigmask;
  t->restore_mask = true;
  t->sigmask = mask & ~kUnblockable;
  return 0;
}

u64 on_host_signals(u64 set) {
  if (!g_threads) return 0;  // no program yet
  if (!klock_try()) return set;
  g_from_host |= set;
  note_host_signals(set);
  for (int sig = 1; sig <= 64; ++sig)
    if (set & sig_bit(sig)) (void)send_signal(nullptr, sig, host_siginfo(sig));
  kunlock();
  return 0;
}

SigInfo host_siginfo(int sig) {
  SigInfo info;
  memset(&info, 0, sizeof info);
  info.signo = sig;
  info.code = kSiUser;  // from outside the unikernel: si_pid 0, si_uid 0
  return info;
}

SigInfo user_siginfo(int sig, int code) {
  SigInfo info;
  memset(&info, 0, sizeof info);
  info.signo = sig;
  info.code = code;
  info.f[0] = u64(u32(g_proc.pid));  // si_pid, si_uid = 0
  return info;
}

bool signal_ignored(int sig) {
  const SigAction& a = g_proc.actions[sig];
  if (sig == 9 || sig == 19) return false;
  if (a.handler == kSigIgn) return true;
  if (a.handler == kSigDfl) {
    Default d = default_action(sig);
    return d == Default::Ignore || d == Default::Stop;
  }
  return false;
}

bool has_deliverable(const Thread* t) {
  return ((t->pending | g_proc.pending) & (~t->sigmask | t->waiting_for)) != 0;
}

i64 send_signal(Thread* t, int sig, const SigInfo& info) {
  if (sig < 0 || sig > kNumSignals) return -EINVAL;
  if (sig == 0) return 0;
  // Ignored, and neither blocked (its disposition may change before it is
  // unblocked) nor waited for: dropped at once, as Linux does.
  if (signal_ignored(sig)) {
    bool keep = false;
    for (Thread* w = t ? t : g_threads; w; w = t ? nullptr : w->next)
      keep |= ((w->sigmask | w->waiting_for) & sig_bit(sig)) != 0;
    if (!keep) return 0;
  }
  if (sig == 9) die_by_signal(9, "SIGKILL");
  if (t) {
    if (sig >= kSigRtmin) {
      if (!queue_rt(&t->rt_queue, info)) return -EAGAIN;
    } else if (!(t->pending & sig_bit(sig))) {
      store_info(t->pending_info, sig, info);
    }
    t->pending |= sig_bit(sig);
  } else {
    if (sig >= kSigRtmin) {
      if (!queue_rt(&g_shared_rt, info)) return -EAGAIN;
    } else if (!(g_proc.pending & sig_bit(sig))) {
      store_info(g_shared_info, sig, info);
    }
    g_proc.pending |= sig_bit(sig);
  }
  // signalfd readers and pollers (signalfd.cc) look at the pending sets.
  notify_poll();
  if (!t) {
    t = pick_thread(sig);
    if (!t) return 0;  // every thread blocks it: it waits
  }
  if ((t->sigmask & sig_bit(sig)) && !(t->waiting_for & sig_bit(sig))) return 0;
  interrupt(t);
  return 0;
}

namespace {

// Takes `sig` off a pending set: a standard signal's one instance, or the
// oldest queued instance of a real-time one (the bit stays while more wait).
void take(u64* pending, u8 (*slots)[32], SigNode** rt, int sig, SigInfo* info) {
  if (sig < kSigRtmin) {
    *pending &= ~sig_bit(sig);
    load_info(slots, sig, info);
  } else {
    bool more = unqueue_rt(rt, sig, info);
    if (!more) *pending &= ~sig_bit(sig);
  }
  if (info->code == kSiTimer) linux::timer_signal_taken(info);
}

}  // namespace

int dequeue_signal(Thread* t, u64 set, SigInfo* info) {
  int sig = lowest(t->pending & set);
  if (sig) {
    take(&t->pending, t->pending_info, &t->rt_queue, sig, info);
    return sig;
  }
  sig = lowest(g_proc.pending & set);
  if (sig) take(&g_proc.pending, g_shared_info, &g_shared_rt, sig, info);
  return sig;
}

void forget_signals(Thread* t) {
  while (t->rt_queue) {
    SigNode* n = t->rt_queue;
    t->rt_queue = n->next;
    mm::kfree(n);
  }
  t->pending = 0;
}

bool signal_work() { return signal_work_of(current()); }

void deliver_signals(UserContext* ctxp) {
  KLockGuard lock;
  Thread* t = current();
  bool ran_handler = false;
  for (;;) {
    SigInfo info;
    int sig = dequeue_signal(t, ~t->sigmask, &info);
    if (!sig) break;
    const SigAction a = g_proc.actions[sig];
    if (signal_ignored(sig)) continue;
    if (a.handler == kSigDfl) die_default(sig);  // the lock goes with the process
    if (!ctxp) {
      const char* name = linux::signal_name(sig);
      console_printf("mote: the program's handler for %s cannot run on this platform yet; "
                     "taking the default action\n", name ? name : "a signal");
      if (default_action(sig) == Default::Ignore || default_action(sig) == Default::Stop) continue;
      die_default(sig);
    }
    UserContext& ctx = *ctxp;
    settle_restart(t, ctx, &a);
    u64 old_mask = t->restore_mask ? t->saved_mask : t->sigmask;
    t->restore_mask = false;
    if (!setup_frame(t, ctx, sig, a, info, old_mask))
      die_by_signal(11, "its signal frame could not be written");
    ran_handler = true;
    t->sigmask = old_mask | a.mask | ((a.flags & kSaNodefer) ? 0 : sig_bit(sig));
    t->sigmask &= ~kUnblockable;
    if (a.flags & kSaResethand) {
      g_proc.actions[sig].handler = kSigDfl;
      g_proc.actions[sig].flags &= ~kSaSiginfo;
    }
  }
  if (!ran_handler) {
    if (ctxp) settle_restart(t, *ctxp, nullptr);
    else t->restart_ret = 0;  // the call already returned -EINTR
  }
  if (t->restore_mask) {
    t->sigmask = t->saved_mask;
    t->restore_mask = false;
  }
}

i64 sigreturn(UserContext& ctx) {
  Thread* t = current();
  u64 frame = ctx.gregs[RSP] - 8;
  SigFrame f;
  if (!linux::copy_from_user(&f, frame, sizeof f).ok()) return -EFAULT;
  u64* r = ctx.gregs;
  for (int k = R8; k <= RIP; ++k) r[k] = f.uc.gregs[k];
  r[EFL] = (r[EFL] & ~kFixEflags) | (f.uc.gregs[EFL] & kFixEflags);
  if (ctx.fpstate && ctx.fpstate_size) {
    if (f.uc.fpstate) {
      // The program's copy, but the format words stay ours: the platform's
      // restore must accept what it gets back.
      u8 sw[48];
      memcpy(sw, ctx.fpstate + 464, sizeof sw);
      u32 magic2 = 0;
      if (ctx.fpstate_size > 512) memcpy(&magic2, ctx.fpstate + ctx.fpstate_size - 4, 4);
      if (!linux::copy_from_user(ctx.fpstate, f.uc.fpstate, ctx.fpstate_size).ok())
        return -EFAULT;
      memcpy(ctx.fpstate + 464, sw, sizeof sw);
      if (ctx.fpstate_size > 512) memcpy(ctx.fpstate + ctx.fpstate_size - 4, &magic2, 4);
      u32 mxcsr;
      memcpy(&mxcsr, ctx.fpstate + 24, 4);
      mxcsr &= 0xffff;
      memcpy(ctx.fpstate + 24, &mxcsr, 4);
    }
  }
  t->sigmask = f.uc.sigmask & ~kUnblockable;
  // The alternate stack as it was (sigaltstack semantics; errors ignored).
  if (f.uc.stack[1] & kSsDisable) {
    t->altstack[0] = t->altstack[1] = t->altstack[2] = 0;
  } else if (f.uc.stack[2] >= 2048 && !on_altstack(t, r[RSP])) {
    t->altstack[0] = f.uc.stack[0];
    t->altstack[1] = f.uc.stack[1] & kSsAutodisarm;
    t->altstack[2] = f.uc.stack[2];
  }
  return i64(r[RAX]);
}

void die_by_signal(int sig, const char* why) {
  // A forked child's death is its parent's to report (as a shell does).
  if (is_forked_child()) process_exit(sig);
  const char* name = linux::signal_name(sig);
  if (name) console_printf("mote: program killed by %s (%s)\n", name, why);
  else console_printf("mote: program killed by signal %d (%s)\n", sig, why);
  process_exit(sig);
}

i64 send_signal_to_self(int sig) {
  return send_signal(nullptr, sig, user_siginfo(sig, kSiUser));
}

}  // namespace mote::core
