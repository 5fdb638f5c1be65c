// The VM kernel's vDSO data page ("vvar"), mapped read-only one page below
// the vDSO image in every program: what the vDSO needs to read the clocks
// without a system call. Written once by the kernel when the TSC frequency is
// known (kernel/platform/kvm/clock.cc), then never changed; until then
// `ready` is 0 and the vDSO makes the system call, which calibrates.
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
};

// The kernel's clock and the vDSO compute time alike, so they never disagree.
inline uint64_t vdso_ns_since_boot(const VdsoData& d, uint64_t tsc) {
  return uint64_t((unsigned __int128)(tsc - d.tsc0) * d.mult >> d.shift);
}

}  // namespace mote::abi
