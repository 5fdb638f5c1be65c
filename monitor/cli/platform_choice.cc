#include "monitor/cli/platform_choice.h"

#include <sys/stat.h>
#include <unistd.h>

namespace mote::cli {

namespace {
bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}
}  // namespace

PlatformChoice choose_platform(const std::string& sysfs, const std::string& dev) {
  if (!exists(dev + "/kvm")) return {Platform::Process, "no " + dev + "/kvm"};
  if (access((dev + "/kvm").c_str(), R_OK | W_OK) != 0)
    return {Platform::Process, dev + "/kvm is not accessible"};
  // kvm_pvm runs guest ring-0 code in an instruction emulator (thousands of
  // cycles per instruction, no SSE): not a platform for programs.
  if (exists(sysfs + "/module/kvm_pvm"))
    return {Platform::Process, "KVM here is kvm_pvm, which emulates ring-0 guest code"};
  if (exists(sysfs + "/module/kvm_intel")) return {Platform::Kvm, "hardware KVM (kvm_intel)"};
  if (exists(sysfs + "/module/kvm_amd")) return {Platform::Kvm, "hardware KVM (kvm_amd)"};
  return {Platform::Process, "KVM without kvm_intel/kvm_amd: not known to run ring-0 guests natively"};
}

}  // namespace mote::cli
