#pragma once

namespace mote::kvm {
// Runs the VM platform's self-tests, printing one line each; returns failures.
int run_selftests();
}  // namespace mote::kvm
