#include "monitor/vm/run.h"

#include <time.h>
#include <unistd.h>

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

}  // namespace mote::vm
