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

// Starts up to `want` CPUs in all (0: every one) for the program's threads:
// each sets itself up (cpu_setup_ap) and joins the scheduler. On the
// kernel's page tables, after sched_init. Returns the CPUs online.
u32 smp_start(u64 rsdp_phys, u32 hint, u32 want);

// An AP's per-CPU setup (platform.cc): descriptor tables, LAPIC, syscall
// MSRs, FPU.
struct Cpu;
void cpu_setup_ap(Cpu* c);

}  // namespace mote::kvm
