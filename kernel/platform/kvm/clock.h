// Time on the VM platform: the TSC (invariant on the hosts mote targets),
// its frequency from the monitor's boot info, CPUID or a PIT calibration, and
// the wall clock from the boot info or the CMOS RTC.
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

// tsc_khz: from the boot info, 0 when unknown; wall_ns: likewise.
void clock_init(u64 tsc_khz, u64 wall_ns);
// CLOCK_MONOTONIC's value at boot (default 0): the launcher passes the
// host's (clock0=), so the program sees the host's monotonic clock, as on
// the process platform.
void clock_set_monotonic_base(u64 ns);
u64 clock_monotonic_ns();
u64 clock_wall_ns();
u64 clock_tsc_khz();            // calibrates on first use
u64 clock_tsc_khz_if_known();   // 0 until known (never calibrates)
u64 clock_boot_wall_ns();       // the wall clock at boot
// TSC value at monotonic time `ns`.
u64 clock_tsc_at(u64 ns);

}  // namespace mote::kvm
