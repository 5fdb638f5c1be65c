// Decides what every VM exit means: hypercall ports, the COM1 UART,
// isa-debug-exit, and a stop with one clear reason for anything else
// (an unknown port, MMIO to nowhere, a triple fault, an emulation failure).
#pragma once

#include "monitor/vm/action.h"
#include "monitor/vm/exit.h"
#include "monitor/vm/gdb/stub.h"
#include "monitor/vm/host_console.h"
#include "monitor/vm/hypercalls.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/uart.h"
#include "monitor/vm/virtio/mmio.h"

namespace mote::vm {

class ExitDispatcher {
 public:
  ExitDispatcher(const GuestMemory& mem, HostConsole console)
      : mem_(mem), console_(console), uart_(console.out) {}

  // The virtio-mmio transports (MMIO exits in their windows) and the fault
  // their devices report, also from the devices' own threads; both outlive
  // the dispatcher.
  void attach_devices(virtio::MmioBus* bus, virtio::GuestFault* fault) {
    bus_ = bus;
    fault_ = fault;
  }

  // --gdb: the stub the DebugProgram hypercall informs.
  void attach_debugger(gdbstub::Stub* stub) { debugger_ = stub; }
  // Several vCPUs: what StartCpu starts.
  void attach_cpu_starter(CpuStarter* cpus) { cpus_ = cpus; }
  // -t: where ConsoleTermios's mode changes go.
  void attach_terminal(HostTerminal* terminal) { terminal_ = terminal; }

  Action handle(const VmExit& exit);
  // A device thread's fault, when one was reported (the run loop asks after
  // KVM_RUN was interrupted).
  std::optional<Action> device_fault() const;

 private:
  Action handle_io(const VmExit& exit);

  const GuestMemory& mem_;
  HostConsole console_;
  Uart16550 uart_;
  virtio::MmioBus* bus_ = nullptr;
  virtio::GuestFault* fault_ = nullptr;
  gdbstub::Stub* debugger_ = nullptr;
  CpuStarter* cpus_ = nullptr;
  HostTerminal* terminal_ = nullptr;
};

}  // namespace mote::vm
