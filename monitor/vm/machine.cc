#include "monitor/vm/machine.h"

#include <linux/kvm.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "abi/boot_info.h"

#include "monitor/boot/entry.h"
#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/gdb/vcpus.h"
#include "monitor/vm/kvm.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/virtio/net.h"
#include "monitor/vm/virtio/p9.h"
#include "monitor/util/seccomp.h"
#include "monitor/util/seccomp_policies.h"

namespace mote::vm {

namespace {

// The VM's virtio devices and the bus their windows are on.
struct Devices {
  virtio::GuestFault fault;
  virtio::MmioBus bus;
  std::vector<std::unique_ptr<virtio::Transport>> transports;
  virtio::NetDevice* net = nullptr;
  virtio::Transport* net_transport = nullptr;

  Devices(const GuestMemory& mem, const Vm& vm, const MachineConfig& c) {
    auto slot = [](uint64_t k) { return abi::kMoteVirtioBase + k * abi::kMoteVirtioStride; };
    if (c.net_fd >= 0) {
      auto dev = std::make_unique<virtio::NetDevice>(c.net_fd, c.net_mac, c.net_mtu, c.net_vnet_hdr);
      net = dev.get();
      auto t = std::make_unique<virtio::Transport>(mem, std::move(dev), "virtio-net", fault);
      const Vm* v = &vm;
      t->set_irq([v](bool up) { v->irq_line(abi::kMoteVirtioNetGsi, up); });
      net_transport = t.get();
      bus.add(slot(0), t.get());
      transports.push_back(std::move(t));
    }
    for (size_t k = 0; k < c.share_fds.size(); ++k) {
      auto dev = std::make_unique<virtio::NinePDevice>("mote" + std::to_string(k), c.share_fds[k]);
      auto t = std::make_unique<virtio::Transport>(mem, std::move(dev), "virtio-9p", fault);
      bus.add(slot(1 + k), t.get());
      transports.push_back(std::move(t));
    }
  }
};

}  // namespace

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
  // vCPU 0 boots (the direct entry below); the others wait, as on QEMU and
  // Firecracker, for the kernel's INIT and SIPI, which KVM's in-kernel LAPIC
  // delivers (kernel/platform/kvm/smp.cc). APIC ID = vCPU id.
  std::vector<Vcpu> vcpus;
  for (uint32_t id = 0; id < std::max<uint32_t>(config.cpus, 1); ++id) {
    auto vcpu = vm->create_vcpu(*kvm, id);
    if (!vcpu.ok()) return vcpu.failure();
    vcpus.push_back(std::move(*vcpu));
  }
  Vcpu* vcpu = &vcpus[0];
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
  for (Vcpu& v : vcpus) {
    policy.apic_id = v.id();
    auto set = v.set_cpuid(shape_cpuid(*supported, policy));
    if (!set.ok()) return set.failure();
  }
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
  // The application processors get the same 64-bit state now (the run loop's
  // filter has no KVM_SET_SREGS); StartCpu later sets rip/rsp and makes one
  // runnable. Until then each waits in KVM_RUN as for a SIPI.
  for (Vcpu& v : vcpus) {
    auto regs = v.set_entry_state(*entry);
    if (!regs.ok()) return regs.failure();
  }
  t.registers_set = monotonic_ns();

  signal(SIGPIPE, SIG_IGN);
  ExitDispatcher dispatcher(*mem, config.console);
  Devices devices(*mem, *vm, config);
  dispatcher.attach_devices(&devices.bus, &devices.fault);
  std::unique_ptr<HostTerminal> terminal;  // restores the modes as run_machine returns
  if (config.tty) {
    terminal = std::make_unique<HostTerminal>(config.console);
    dispatcher.attach_terminal(terminal.get());
  }
  std::unique_ptr<gdbstub::Stub> stub;
  std::unique_ptr<gdbstub::VcpuDebugger> debugger;
  if (config.gdb_connect) {
    std::string error;
    int fd = config.gdb_connect(&error);
    if (fd < 0) return fail(error);
    stub = std::make_unique<gdbstub::Stub>(*mem, fd);
    if (config.gdb_at_program) stub->expect_program_entry();
    dispatcher.attach_debugger(stub.get());
    debugger = std::make_unique<gdbstub::VcpuDebugger>(*stub, vcpus);
  }
  // Threads (vCPUs after the first, virtio-net's receive side, gdb's ^C
  // watcher) are started and running before the filter goes in
  // (VcpuGroup::start).
  const bool threads = vcpus.size() > 1 || devices.net || config.timeout_ms || debugger;
  if (threads) Vcpu::install_kick_handler();
  VcpuGroup group(vcpus, dispatcher);
  if (debugger) group.attach_debugger(debugger.get());
  if (vcpus.size() > 1) {
    group.set_ap_start([](Vcpu& v, uint64_t rip, uint64_t rsp) { return v.start_at(rip, rsp).ok(); });
    dispatcher.attach_cpu_starter(&group);
  }
  group.start();
  if (debugger) debugger->watch([&group] { group.kick(0); });
  // The watcher kicks through the group: it ends first, however we leave.
  struct WatcherEnd {
    gdbstub::VcpuDebugger* d;
    ~WatcherEnd() {
      if (d) d->stop_watching();
    }
  } watcher_end{debugger.get()};
  Watchdog watchdog;
  if (config.timeout_ms) {
    int64_t deadline = monotonic_ns() + int64_t(config.timeout_ms + kTimeoutGraceMs) * 1000000;
    watchdog.start(deadline, [&group] {
      RunResult r;
      r.status = abi::kTimeoutStatus;
      r.deadline = true;
      group.stop_all(std::move(r));
    });
  }
  if (devices.net) {
    // A device thread's fault must reach the vCPU even while it runs guest
    // code: the boot CPU's KVM_RUN is interrupted (Vcpu::kick) and its loop
    // stops the VM (the others with it).
    pid_t pid = getpid(), tid = gettid();
    devices.fault.set_on_fault([vcpu, pid, tid] { vcpu->kick(pid, tid); });
    devices.net->start(*devices.net_transport);
  }
  // From the first KVM_RUN on, the guest drives this loop: KVM_RUN and
  // KVM_GET_REGS on the vCPU, the console, memory, exit (docs/security.md).
  if (config.sandbox) {
    std::string error;
    sandbox::KvmRunFds fds;
    for (const Vcpu& v : vcpus) fds.vcpus.push_back(v.fd());
    fds.in = config.console.in;
    fds.out = config.console.out;
    fds.err = config.console.err;
    if (devices.net) {
      fds.vm = vm->fd();
      fds.net = config.net_fd;
      fds.net_wake = devices.net->wake_fd();
      fds.net_tap_offload = config.net_vnet_hdr;
    }
    fds.shares = config.share_fds;
    fds.threads = threads;
    fds.tty = config.tty;
    if (stub) {
      fds.gdb = stub->fd();
      fds.gdb_wake = debugger->wake_fd();
    }
    if (!sandbox::install(sandbox::kvm_run_policy(fds), &error)) return fail(error);
    sandbox::test_escape_if_asked("kvm");
  }
  if (debugger && debugger->start() == gdbstub::Verdict::Kill) {
    group.stop_all(RunResult{kKilledStatus, {}});
  }
  report.result = group.run(&report.times);
  if (devices.net) devices.net->release_tap_offloads();
  watchdog.cancel();
  // gdb hears how it ended (unless it ended it: kill).
  if (stub && report.result.status != kKilledStatus) stub->on_exit(report.result.status);
  if (devices.net) devices.net->stop();  // before the vCPUs and RAM go
  return report;
}

}  // namespace mote::vm
