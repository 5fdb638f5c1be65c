// Interval and POSIX timers (timer.cc), for core::on_timer.
#pragma once

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

// Some timer is armed (a blocked thread may yet be interrupted).
bool timers_armed();

}  // namespace mote::linux
