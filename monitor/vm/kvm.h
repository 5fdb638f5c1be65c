// /dev/kvm and one VM: the system and VM ioctls of the KVM API
// (Documentation/virt/kvm/api.rst; section names cited at each call).
#pragma once

#include <stdint.h>

#include "monitor/vm/cpuid.h"
#include "monitor/vm/expected.h"
#include "monitor/vm/fd.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/vcpu.h"

namespace mote::vm {

// The KVM subsystem (/dev/kvm). Failures here are FailureKind::KvmUnavailable.
class Kvm {
 public:
  // Opens /dev/kvm and checks KVM_GET_API_VERSION == 12.
  static Expected<Kvm> open();

  // KVM_CHECK_EXTENSION: 0 when the capability is absent, else a positive value.
  int check_extension(long capability) const;
  // KVM_GET_SUPPORTED_CPUID.
  Expected<CpuidTable> supported_cpuid() const;
  // KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's kvm_run mapping.
  Expected<size_t> vcpu_mmap_size() const;

  int fd() const { return fd_.get(); }

 private:
  explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// One VM: guest RAM in memory slot 0 and the in-kernel irqchip (LAPIC per
// vCPU, IOAPIC, PIC). The GuestMemory must outlive the Vm.
class Vm {
 public:
  // KVM_CREATE_VM, KVM_SET_TSS_ADDR, KVM_SET_USER_MEMORY_REGION, KVM_CREATE_IRQCHIP,
  // in that order: memory before the irqchip (machine-notes.md: 0.05 ms instead of 5-9 ms).
  static Expected<Vm> create(const Kvm& kvm, const GuestMemory& mem);

  // KVM_CREATE_VCPU with `id` (also its APIC ID), and its kvm_run mapping.
  Expected<Vcpu> create_vcpu(const Kvm& kvm, uint32_t id) const;

  // KVM_IRQ_LINE: the level of input `gsi` of the in-kernel irqchip (its
  // I/O APIC pin, and the PIC's for GSIs below 16). Safe from any thread.
  bool irq_line(uint32_t gsi, bool level) const;

  int fd() const { return fd_.get(); }

 private:
  explicit Vm(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace mote::vm
