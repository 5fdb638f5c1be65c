// Signals: pending sets per thread and per process, default actions, and the
// program's handlers run on Linux's x86-64 signal frame (rt_sigframe:
// ucontext with the full mcontext and FPU state, then siginfo), so handlers
// read and modify the interrupted registers and return through
// rt_sigreturn. Delivery happens where a thread returns to its code: after
// a system call, at a fault, or where the platform diverts a running thread
// (platform::thread_kick). Standard and real-time signals are not queued
// beyond one instance per number (docs/compat.md).
#pragma once

#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/lib/types.h"
#include "kernel/platform/platform.h"

namespace mote::core {

// Linux's siginfo_t: signo, errno, code, then a union; 128 bytes.
struct SigInfo {
  i32 signo, errno_, code, pad;
  u64 f[14];
};
static_assert(sizeof(SigInfo) == 128);

inline constexpr int kSigRtmin = 32;
inline constexpr int kSiUser = 0, kSiKernel = 0x80, kSiQueue = -1, kSiTimer = -2, kSiTkill = -6;
inline constexpr int kSigchld = 17;
inline constexpr int kCldExited = 1, kCldKilled = 2, kCldDumped = 3;  // SIGCHLD si_code
inline constexpr u64 sig_bit(int sig) { return u64(1) << (sig - 1); }
inline constexpr u64 kUnblockable = sig_bit(9) | sig_bit(19);  // SIGKILL, SIGSTOP

// Internal results of interrupted system calls (never seen by the program):
// settled by deliver_signals into a restart or -EINTR.
inline constexpr i64 kErestartSys = 512, kErestartNoIntr = 513, kErestartNoHand = 514,
                     kErestartBlock = 516;

// A siginfo for a signal sent by the program itself (kill: SI_USER, tkill:
// SI_TKILL) with its pid and uid.
SigInfo user_siginfo(int sig, int code);
// A siginfo for a signal sent to mote from outside: SI_USER, si_pid 0.
SigInfo host_siginfo(int sig);

// Sends `sig` to thread `t`, or to the process when t is null (any thread
// not blocking it takes it). Kernel lock held. Returns 0 or -errno.
i64 send_signal(Thread* t, int sig, const SigInfo& info);

// True when `t` has a pending signal it does not block (or waits for).
bool has_deliverable(const Thread* t);

// Takes one pending signal in `set` for `t` (its own first, then the
// process's): returns its number and fills *info, or 0.
int dequeue_signal(Thread* t, u64 set, SigInfo* info);

// %rsp is on t's alternate signal stack.
bool on_altstack(const Thread* t, u64 sp);

// ppoll, pselect6, epoll_pwait: the signal mask (sigset_t at mask_addr,
// size bytes; none when 0) held for the call, the old one back afterwards
// (by deliver_signals, after the handler of a signal it let through).
// Returns 0 or -errno.
i64 set_call_sigmask(u64 mask_addr, u64 size);

// Drops a thread's pending signals (it exits).
void forget_signals(Thread* t);

// The disposition of `sig` ignores it (SIG_IGN, or SIG_DFL whose default is
// to ignore).
bool signal_ignored(int sig);

// Runs rt_sigreturn for the current thread: the registers, FPU state,
// signal mask and alternate stack saved in the frame at `ctx`'s %rsp - 8.
// Returns the restored %rax, or -errno (then the program gets SIGSEGV).
// Kernel lock held.
i64 sigreturn(UserContext& ctx);

// Terminates as if killed by `sig` (exit status 128+sig), with a report line.
[[noreturn]] void die_by_signal(int sig, const char* why);

// signal_work() for a given thread (inline: the VM syscall path's check).
inline bool signal_work_of(const Thread* t) {
  if (!t) return false;
  return t->restart_ret || t->restore_mask ||
         ((__atomic_load_n(&t->pending, __ATOMIC_RELAXED) |
           __atomic_load_n(&g_proc.pending, __ATOMIC_RELAXED)) & ~t->sigmask);
}

// A signal the process sends itself (SIGPIPE, kill(getpid())). Kernel lock held.
i64 send_signal_to_self(int sig);

}  // namespace mote::core
