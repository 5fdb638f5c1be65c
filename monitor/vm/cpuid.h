// The CPUID the guest sees, set deliberately (pure logic, unit-tested).
//
// Start from KVM_GET_SUPPORTED_CPUID, hide what the guest must not use, add
// mote's hypervisor leaves, then (kvm.cc) KVM_SET_CPUID2 and read back with
// KVM_GET_CPUID2: some KVMs (kvm_pvm, machine-notes.md) rewrite leaves 1, 7
// and 0xD with host values, so only the read-back table is the truth.
// References: KVM API doc (Documentation/virt/kvm/api.rst) "KVM_GET_SUPPORTED_CPUID",
// "KVM_SET_CPUID2", "KVM_GET_CPUID2" and 9.1 "KVM_GET_SUPPORTED_CPUID issues";
// Intel SDM Vol. 2A "CPUID".
#pragma once

#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>

#include <memory>
#include <vector>

#include "monitor/boot/entry.h"

namespace mote::vm {

using CpuidTable = std::vector<kvm_cpuid_entry2>;

// mote's hypervisor leaves. 0x40000000: max leaf in EAX, "MoteMoteMote" in
// EBX:ECX:EDX. 0x40000010 (the timing-leaf convention VMware introduced and
// other hypervisors follow): EAX = TSC kHz, EBX = local APIC timer kHz.
inline constexpr uint32_t kLeafHypervisor = 0x40000000;
inline constexpr uint32_t kLeafTiming = 0x40000010;
inline constexpr char kHypervisorSignature[13] = "MoteMoteMote";
// KVM's in-kernel LAPIC timer counts at 1 GHz (one bus cycle per ns).
inline constexpr uint32_t kLapicTimerKhz = 1000000;

struct CpuidPolicy {
  uint32_t tsc_khz = 0;        // KVM_GET_TSC_KHZ; 0 when unknown
  bool tsc_deadline = false;   // KVM_CAP_TSC_DEADLINE_TIMER: the LAPIC's TSC-deadline mode works
  uint32_t apic_id = 0;        // this vCPU's (x2)APIC ID
};

// The argument of KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2 and KVM_GET_CPUID2:
// struct kvm_cpuid2 as the kernel lays it out, nent and padding, then the
// entries at offset 8. Not the header's struct: newer <linux/kvm.h>
// (linux-libc-dev 6.1.187) declares `entries` with __DECLARE_FLEX_ARRAY,
// whose empty struct has size 1 in C++, putting the entries at offset 12
// and making sizeof 12 -- and the three ioctl numbers encode that size, so
// the kernel refuses them with EINVAL. The numbers below use the C size.
struct KvmCpuidHeader {
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(KvmCpuidHeader) == 8 && sizeof(kvm_cpuid_entry2) == 40);
inline constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmCpuidHeader);
inline constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmCpuidHeader);
inline constexpr unsigned long kKvmGetCpuid2 = _IOWR(KVMIO, 0x91, KvmCpuidHeader);

class KvmCpuidBuffer {
 public:
  // Room for n entries, nent = n.
  explicit KvmCpuidBuffer(size_t n)
      : bytes_(sizeof(KvmCpuidHeader) + n * sizeof(kvm_cpuid_entry2)),
        data_(std::make_unique<uint8_t[]>(bytes_)) {
    memset(data_.get(), 0, bytes_);
    header()->nent = uint32_t(n);
  }
  void* arg() { return data_.get(); }
  KvmCpuidHeader* header() { return reinterpret_cast<KvmCpuidHeader*>(data_.get()); }
  kvm_cpuid_entry2* entries() {
    return reinterpret_cast<kvm_cpuid_entry2*>(data_.get() + sizeof(KvmCpuidHeader));
  }
  // The entries the kernel filled in (nent of them).
  CpuidTable table() { return CpuidTable(entries(), entries() + header()->nent); }

 private:
  size_t bytes_;
  std::unique_ptr<uint8_t[]> data_;
};

// The table to hand to KVM_SET_CPUID2 for one vCPU.
CpuidTable shape_cpuid(const CpuidTable& supported, const CpuidPolicy& policy);

// The entry for (function, index), or nullptr.
const kvm_cpuid_entry2* find_leaf(const CpuidTable& table, uint32_t function, uint32_t index = 0);

// What the boot code needs to know, from the table the guest really sees.
boot::CpuFeatures features_of(const CpuidTable& table);

}  // namespace mote::vm
