#include "monitor/vm/run.h"

#include <time.h>

#include "monitor/vm/hex.h"

namespace mote::vm {

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string stop_message(const std::string& reason, std::optional<uint64_t> rip) {
  std::string m = "VM stopped: " + reason;
  if (rip) m += " at rip " + hex(*rip);
  return m;
}

RunResult run_vcpu(Vcpu& vcpu, ExitDispatcher& dispatcher, RunTimes* times) {
  RunTimes local;
  RunTimes& t = times ? *times : local;
  t.first_entry_ns = monotonic_ns();
  for (;;) {
    auto exit = vcpu.run();
    if (t.exits++ == 0) t.first_exit_ns = monotonic_ns();
    Action action = exit.ok() ? dispatcher.handle(*exit) : Action::stop(exit.failure().message);
    if (action.kind == Action::Kind::Resume) continue;
    if (action.kind == Action::Kind::Exit) return RunResult{action.status, {}};
    auto regs = vcpu.regs();
    std::optional<uint64_t> rip;
    if (regs.ok()) rip = regs->rip;
    return RunResult{kStopStatus, stop_message(action.reason, rip)};
  }
}

}  // namespace mote::vm
