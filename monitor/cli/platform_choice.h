// Which platform `mote run` uses when none is forced: kvm when this host's
// KVM runs a ring-0 guest natively (hardware VMX/SVM), else process. A few
// stat() calls, well under the 2 ms budget: no VM is created to find out.
#pragma once

#include <string>

#include "monitor/cli/options.h"

namespace mote::cli {

struct PlatformChoice {
  Platform platform;
  std::string reason;  // for --verbose
};

// `sysfs` and `dev` are roots for tests ("/sys", "/dev" normally).
PlatformChoice choose_platform(const std::string& sysfs = "/sys", const std::string& dev = "/dev");

}  // namespace mote::cli
