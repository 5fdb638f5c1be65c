// Starts the kernel core on the process platform: the mote process becomes
// the hosted core (execveat of the embedded core image), so exit status and
// signals pass straight through and nothing of the monitor stays mapped.
#pragma once

#include <string>

#include "monitor/cli/options.h"
#include "monitor/image/program.h"

namespace mote::launch {

// Only returns on failure, with a one-line message in *error.
void exec_process_platform(const cli::RunOptions& o, const image::Program& p, std::string* error);

}  // namespace mote::launch
