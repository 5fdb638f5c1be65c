// `mote run` without the C++ monitor: when the mote binary itself is started
// with a command line (not by the monitor with a boot-info fd), the common
// case -- a valid static program on the process platform with the usual
// options -- is prepared right here, freestanding, and booted in the same
// process: no glibc start-up (its CPUID probing alone costs ~1 ms on these
// VMs) and no second exec. Everything else -- other commands, other
// platforms, any error to report -- goes to the C++ monitor, `mote-monitor`
// beside this binary, with the same arguments, so there is one source of
// truth for behaviour and messages.
#pragma once

#include "kernel/lib/types.h"

namespace mote::process {

// Builds the boot-info blob for argv (a `mote run ...` command line) in
// fresh host memory. Returns its address, or 0 when the monitor must handle
// this command line.
u64 launch_from_cli(int argc, char** argv, char** envp, u64* blob_size);

// Replaces this process with mote-monitor (same argv and environment).
[[noreturn]] void exec_monitor(char** argv, char** envp);

}  // namespace mote::process
