#include "monitor/vm/machine.h"

#include <linux/kvm.h>
#include <signal.h>

#include "monitor/boot/entry.h"
#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/kvm.h"
#include "monitor/vm/memory.h"
#include "monitor/util/seccomp.h"
#include "monitor/util/seccomp_policies.h"

namespace mote::vm {

Expected<MachineReport> run_machine(const MachineConfig& config) {
  MachineReport report;
  SetupTimes& t = report.setup;
  t.start = monotonic_ns();
  auto kvm = Kvm::open();
  if (!kvm.ok()) return kvm.failure();
  t.kvm_opened = monotonic_ns();
  // Declared before the Vm so it is unmapped only after the VM is gone.
  auto mem = GuestMemory::create(config.ram_bytes);
  if (!mem.ok()) return mem.failure();
  auto vm = Vm::create(*kvm, *mem);
  if (!vm.ok()) return vm.failure();
  t.vm_created = monotonic_ns();
  auto vcpu = vm->create_vcpu(*kvm, 0);
  if (!vcpu.ok()) return vcpu.failure();
  t.vcpu_created = monotonic_ns();

  if (kvm->check_extension(KVM_CAP_GET_TSC_KHZ)) {
    auto khz = vcpu->tsc_khz();
    if (khz.ok()) report.tsc_khz = *khz;
  }

  auto supported = kvm->supported_cpuid();
  if (!supported.ok()) return supported.failure();
  CpuidPolicy policy;
  policy.tsc_khz = report.tsc_khz;
  policy.tsc_deadline = kvm->check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  policy.apic_id = vcpu->id();
  auto set = vcpu->set_cpuid(shape_cpuid(*supported, policy));
  if (!set.ok()) return set.failure();
  auto seen = vcpu->cpuid();
  if (!seen.ok()) return seen.failure();
  report.guest_cpuid = std::move(*seen);
  t.cpuid_set = monotonic_ns();

  boot::DirectBoot boot;
  boot.kernel_elf = config.kernel_elf;
  boot.boot_blob = config.boot_blob;
  boot.program = config.program;
  boot.tsc_khz = report.tsc_khz;
  boot.cpu = features_of(report.guest_cpuid);
  auto entry = boot::prepare_direct_boot(*mem, boot);
  if (!entry.ok()) return entry.failure();
  t.guest_loaded = monotonic_ns();
  auto regs = vcpu->set_entry_state(*entry);
  if (!regs.ok()) return regs.failure();
  t.registers_set = monotonic_ns();

  signal(SIGPIPE, SIG_IGN);
  ExitDispatcher dispatcher(*mem, config.console);
  // From the first KVM_RUN on, the guest drives this loop: KVM_RUN and
  // KVM_GET_REGS on the vCPU, the console, memory, exit (docs/security.md).
  if (config.sandbox) {
    std::string error;
    auto policy = sandbox::kvm_run_policy({vcpu->fd()}, config.console.in, config.console.out,
                                          config.console.err);
    if (!sandbox::install(policy, &error)) return fail(error);
    sandbox::test_escape_if_asked("kvm");
  }
  report.result = run_vcpu(*vcpu, dispatcher, &report.times);
  return report;
}

}  // namespace mote::vm
