#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {
// Runs the VM platform's self-tests, printing one line each; returns failures.
int run_selftests();
// The self-tests that need memory_init (`selftest-mem`): core memory reuse.
int run_memory_selftests();
// What the smp self-test starts from: the ACPI RSDP (0: none) and `cpus=N`.
extern u64 g_selftest_rsdp;
extern u32 g_selftest_cpus;
}  // namespace mote::kvm
