#include "monitor/vm/cpuid.h"

#include <algorithm>
#include <cstring>

namespace mote::vm {

namespace {

// Intel SDM Vol. 2A, CPUID, "Feature Information" (leaf 1) and leaf 80000001H.
namespace leaf1_ecx {
constexpr uint32_t kMonitor = 1u << 3;
constexpr uint32_t kVmx = 1u << 5;
constexpr uint32_t kSmx = 1u << 6;
constexpr uint32_t kTscDeadline = 1u << 24;
constexpr uint32_t kHypervisor = 1u << 31;
}  // namespace leaf1_ecx
namespace leaf1_edx {
constexpr uint32_t kFxsr = 1u << 24;
constexpr uint32_t kSse = 1u << 25;
}  // namespace leaf1_edx
namespace ext1_ecx {
constexpr uint32_t kSvm = 1u << 2;
}  // namespace ext1_ecx
namespace ext1_edx {
constexpr uint32_t kSyscall = 1u << 11;
constexpr uint32_t kNx = 1u << 20;
constexpr uint32_t kPage1G = 1u << 26;
}  // namespace ext1_edx

bool is_hypervisor_leaf(uint32_t function) { return (function & 0xf0000000u) == kLeafHypervisor; }

uint32_t signature_word(int i) {
  uint32_t w;
  std::memcpy(&w, kHypervisorSignature + 4 * i, 4);
  return w;
}

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

}  // namespace

CpuidTable shape_cpuid(const CpuidTable& supported, const CpuidPolicy& policy) {
  CpuidTable out;
  for (kvm_cpuid_entry2 e : supported) {
    // KVM's own paravirtual leaves (signature "KVMKVMKVM", kvmclock...) give
    // way to mote's: the kernel gets its TSC rate from kLeafTiming instead.
    if (is_hypervisor_leaf(e.function)) continue;
    switch (e.function) {
      case 1:
        // No nested virtualization, no SMX, no monitor/mwait; we are a guest.
        e.ecx &= ~(leaf1_ecx::kVmx | leaf1_ecx::kSmx | leaf1_ecx::kMonitor);
        e.ecx |= leaf1_ecx::kHypervisor;
        // TSC-deadline mode is emulated by the in-kernel LAPIC, but older KVMs
        // do not report it: offer it exactly when KVM says it works (API doc 9.1).
        // x2APIC (ECX[21]) is left as reported: valid with KVM_CREATE_IRQCHIP.
        if (policy.tsc_deadline) e.ecx |= leaf1_ecx::kTscDeadline;
        else e.ecx &= ~leaf1_ecx::kTscDeadline;
        e.ebx = (e.ebx & 0x00ffffffu) | (policy.apic_id << 24);  // initial APIC ID
        break;
      case 0xb:   // extended topology: EDX = x2APIC ID on every subleaf
      case 0x1f:
        e.edx = policy.apic_id;
        break;
      case 0x80000001:
        e.ecx &= ~ext1_ecx::kSvm;
        break;
      default:
        break;
    }
    out.push_back(e);
  }
  out.push_back(leaf(kLeafHypervisor, kLeafTiming, signature_word(0), signature_word(1), signature_word(2)));
  out.push_back(leaf(kLeafTiming, policy.tsc_khz, kLapicTimerKhz, 0, 0));
  return out;
}

const kvm_cpuid_entry2* find_leaf(const CpuidTable& table, uint32_t function, uint32_t index) {
  auto it = std::find_if(table.begin(), table.end(), [&](const kvm_cpuid_entry2& e) {
    bool indexed = e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    return e.function == function && (!indexed || e.index == index);
  });
  return it == table.end() ? nullptr : &*it;
}

boot::CpuFeatures features_of(const CpuidTable& table) {
  boot::CpuFeatures f;
  if (const auto* l1 = find_leaf(table, 1)) {
    f.fxsr = l1->edx & leaf1_edx::kFxsr;
    f.sse = l1->edx & leaf1_edx::kSse;
  }
  if (const auto* e1 = find_leaf(table, 0x80000001)) {
    f.syscall = e1->edx & ext1_edx::kSyscall;
    f.nx = e1->edx & ext1_edx::kNx;
    f.page_1g = e1->edx & ext1_edx::kPage1G;
  }
  return f;
}

}  // namespace mote::vm
