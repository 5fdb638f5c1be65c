// Application processors (smp.cc).
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

// The local APIC IDs of the machine's CPUs: from the ACPI MADT found through
// the RSDP at rsdp_phys, else 0..hint-1 (`cpus=N`). Returns how many.
u32 smp_find_cpus(u64 rsdp_phys, u32 hint, u32* ids, u32 cap);

// Starts every AP (INIT-SIPI-SIPI) and parks it. Runs on the boot page
// tables (identity-mapped low memory: the self-test stage). Returns the CPUs
// online, the BSP included; *problem says what went wrong, or "".
u32 smp_start_parked(u64 rsdp_phys, u32 hint, const char** problem);

}  // namespace mote::kvm
