// `mote run --platform kvm`: the kernel image booted on mote's own KVM
// monitor (monitor/vm) with the direct 64-bit entry, the program image in
// guest RAM, console and exit through hypercalls.
#pragma once

#include <string>

#include "monitor/cli/options.h"
#include "monitor/image/program.h"

namespace mote::kvmrun {

// Guest RAM beyond what the program may commit (kernel, page tables, the
// core's heap, the program image).
inline constexpr uint64_t kOverheadBytes = 32ull << 20;

// Runs the program and returns its exit status; -1 with *error (one line)
// when the VM could not run, *unavailable telling that KVM itself is missing.
int run(const cli::RunOptions& o, const image::Program& p, std::string* error, bool* unavailable);

}  // namespace mote::kvmrun
