// Decides what every VM exit means: hypercall ports, the COM1 UART,
// isa-debug-exit, and a stop with one clear reason for anything else
// (an unknown port, MMIO to nowhere, a triple fault, an emulation failure).
#pragma once

#include "monitor/vm/action.h"
#include "monitor/vm/exit.h"
#include "monitor/vm/host_console.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/uart.h"

namespace mote::vm {

class ExitDispatcher {
 public:
  ExitDispatcher(const GuestMemory& mem, HostConsole console)
      : mem_(mem), console_(console), uart_(console.out) {}

  Action handle(const VmExit& exit);

 private:
  Action handle_io(const VmExit& exit);

  const GuestMemory& mem_;
  HostConsole console_;
  Uart16550 uart_;
};

}  // namespace mote::vm
