#include "kernel/core/signals.h"

#include "kernel/core/fork.h"

#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/strace.h"
#include "kernel/platform/platform.h"

namespace mote::core {

namespace {

constexpr u64 kSigDfl = 0, kSigIgn = 1;
u64 g_pending;

u64 bit(int sig) { return u64(1) << (sig - 1); }

// Default action "ignore" (signal(7)); job-control stops are ignored too: a
// unikernel has no job control to stop it.
bool default_ignored(int sig) {
  switch (sig) {
    case 17:  // SIGCHLD
    case 18:  // SIGCONT
    case 23:  // SIGURG
    case 28:  // SIGWINCH
    case 19: case 20: case 21: case 22:  // SIGSTOP SIGTSTP SIGTTIN SIGTTOU
      return true;
    default:
      return false;
  }
}

void act(int sig) {
  const SigAction& a = g_proc.actions[sig];
  if (a.handler == kSigIgn && sig != 9) return;
  if (default_ignored(sig) && (a.handler == kSigDfl || sig == 19)) return;
  if (a.handler != kSigDfl && sig != 9) {
    console_printf("mote: the program's handler for %s was not run (signal delivery is not "
                   "supported yet); taking the default action\n",
                   linux::signal_name(sig) ? linux::signal_name(sig) : "a signal");
    if (default_ignored(sig)) return;
  }
  die_by_signal(sig, "sent by the program to itself");
}

}  // namespace

i64 send_signal_to_self(int sig) {
  if (sig < 0 || sig > kNumSignals) return -EINVAL;
  if (sig == 0) return 0;
  if ((g_proc.sigmask & bit(sig)) && sig != 9 && sig != 19) {
    g_pending |= bit(sig);
    return 0;
  }
  act(sig);
  return 0;
}

void deliver_pending() {
  u64 ready = g_pending & ~g_proc.sigmask;
  for (int sig = 1; ready && sig <= kNumSignals; ++sig) {
    if (!(ready & bit(sig))) continue;
    g_pending &= ~bit(sig);
    ready &= ~bit(sig);
    act(sig);
  }
}

void die_by_signal(int sig, const char* why) {
  // A forked child's death is its parent's to report (as a shell does).
  if (is_forked_child()) process_exit(sig);
  const char* name = linux::signal_name(sig);
  if (name) console_printf("mote: program killed by %s (%s)\n", name, why);
  else console_printf("mote: program killed by signal %d (%s)\n", sig, why);
  process_exit(sig);
}

}  // namespace mote::core
