// The run loop: KVM_RUN, hand each exit to the ExitDispatcher, until the
// guest exits or the monitor stops it with one clear line.
#pragma once

#include <stdint.h>

#include <optional>
#include <string>

#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/vcpu.h"

namespace mote::vm {

struct RunResult {
  int status = 0;            // the guest's exit status, or kStopStatus
  std::string stop_message;  // empty when the guest exited by itself; else "VM stopped: ..."
};

struct RunTimes {
  int64_t first_entry_ns = 0;  // CLOCK_MONOTONIC just before the first KVM_RUN
  int64_t first_exit_ns = 0;   // ... and when the first exit reached the monitor
  uint64_t exits = 0;          // exits handled
};

int64_t monotonic_ns();

// "VM stopped: <reason> at rip 0x..." (without rip when it cannot be read).
std::string stop_message(const std::string& reason, std::optional<uint64_t> rip);

RunResult run_vcpu(Vcpu& vcpu, ExitDispatcher& dispatcher, RunTimes* times);

}  // namespace mote::vm
