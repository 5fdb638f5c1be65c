// Interval and POSIX timers (timer.cc), for core::on_timer.
#pragma once

namespace mote::linux {

// Fires every timer whose time has come and re-arms the platform timer for
// the next one. Kernel lock held.
void timers_expire();
// Some timer is armed (a blocked thread may yet be interrupted).
bool timers_armed();

}  // namespace mote::linux
