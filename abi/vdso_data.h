// The vDSO's data page ("vvar"), mapped read-only one page below the vDSO
// image in every program: what the vDSO needs to read the clocks without a
// system call.
//  - The VM kernel writes the TSC fields once, when the TSC frequency is
//    known (kernel/platform/kvm/clock.cc), then never changes them; until
//    then `ready` is 0 and the vDSO makes the system call, which calibrates.
//  - The process platform leaves `ready` 0 and sets `host_clock` instead
//    (kernel/platform/process/clock.cc): the vDSO calls the host's own
//    vDSO clock_gettime, which the core reads its clocks with too.
#pragma once

#include <stdint.h>

namespace mote::abi {

struct VdsoData {
  uint32_t ready;      // 1 once the fields below are set (store-release)
  uint32_t shift;      // ns since boot = ((tsc - tsc0) * mult) >> shift
  uint64_t tsc0;       // the TSC at boot
  uint64_t mult;
  uint64_t mono_base;  // CLOCK_MONOTONIC at boot
  uint64_t wall0;      // CLOCK_REALTIME at boot
  // The process platform: the address of the core's pointer to the host's
  // __vdso_clock_gettime, read on every call (the core clears it when that
  // function turns out to make system calls); 0 on the VM.
  // The host's clocks are taken as they are: the core's CLOCK_MONOTONIC is the
  // host's (no offset), else host_clock stays 0.
  uint64_t host_clock;
};

// The kernel's clock and the vDSO compute time alike, so they never disagree.
inline uint64_t vdso_ns_since_boot(const VdsoData& d, uint64_t tsc) {
  return uint64_t((unsigned __int128)(tsc - d.tsc0) * d.mult >> d.shift);
}

}  // namespace mote::abi
