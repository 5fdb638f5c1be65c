// Signals, first part: dispositions and the mask are recorded (rt_sigaction,
// rt_sigprocmask, sigaltstack); a signal the program sends itself is acted on
// with its default action (terminate, or ignore). Running program handlers
// comes with signal delivery in a later issue; until then a caught signal is
// treated as its default action and says so on stderr.
#pragma once

#include "kernel/lib/types.h"

namespace mote::core {

// kill/tkill/tgkill to the program itself. Returns 0 or -errno; may not return.
i64 send_signal_to_self(int sig);

// Called after the mask changes: acts on pending signals now unblocked.
void deliver_pending();

// Terminates as if killed by `sig` (exit status 128+sig), with a report line.
[[noreturn]] void die_by_signal(int sig, const char* why);

}  // namespace mote::core
