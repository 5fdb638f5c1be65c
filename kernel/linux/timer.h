// Interval and POSIX timers (timer.cc), for core::on_timer.
#pragma once

#include "kernel/lib/types.h"

namespace mote::core {
struct SigInfo;
}

namespace mote::linux {

// Fires every timer whose time has come and re-arms the platform timer for
// the next one. Kernel lock held.
void timers_expire();
// A timer's signal (SI_TIMER) is being delivered: fills in its overrun
// count (si_overrun) and starts counting afresh (timer_getoverrun).
void timer_signal_taken(core::SigInfo* info);

// Arms the platform timer for the earliest of the program's timers and the
// network stack's deadline (inet.cc). Kernel lock held.
void timers_rearm();

// timerfd.cc: the earliest expiry of an armed timerfd (monotonic ns, 0:
// none), and counting the expirations that came, waking readers and
// pollers. Kernel lock held.
u64 timerfd_deadline();
void timerfd_expire();
bool timerfd_armed();

// time.cc: the monotonic time at which CLOCK_REALTIME reaches `wall` (now
// when it is past). The wall clock is read before the monotonic one, so the
// answer is never early by the time between the two reads: an absolute
// realtime deadline never fires before its time.
u64 monotonic_at_wall(u64 wall);

// Some timer is armed (a blocked thread may yet be interrupted).
bool timers_armed();

}  // namespace mote::linux
