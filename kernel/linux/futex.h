// The futex wait queues, for the core's own use (futex.cc).
#pragma once

#include "kernel/lib/types.h"

namespace mote::core {
struct Thread;
}

namespace mote::linux {

// Wakes up to n waiters on the futex at uaddr (CLONE_CHILD_CLEARTID, robust
// lists). Kernel lock held. Returns how many were woken.
i64 futex_wake(u64 uaddr, i64 n);
// Takes an exiting thread off any futex queue.
void futex_forget(core::Thread* t);

}  // namespace mote::linux
