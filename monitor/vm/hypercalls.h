// The hypercall table: one row per abi::Hypercall, indexed by its number
// (abi/hypercall.h is the contract). Each handler gets the GPA of its
// IN/OUT struct, reads the struct once through the checked accessor, checks
// every address in it the same way, and writes only its OUT fields back.
#pragma once

#include <stdint.h>

#include "abi/hypercall.h"
#include "monitor/vm/action.h"
#include "monitor/vm/host_console.h"
#include "monitor/vm/host_terminal.h"
#include "monitor/vm/memory.h"

namespace mote::vm {

namespace gdbstub {
class Stub;
}

// StartCpu's other end: the vCPUs (VcpuGroup).
class CpuStarter {
 public:
  // Starts vCPU `index` at rip/rsp in the direct entry's 64-bit state;
  // 0, -EINVAL (no such vCPU, or vCPU 0) or -EBUSY (started already).
  virtual int64_t start_cpu(uint32_t index, uint64_t rip, uint64_t rsp) = 0;

 protected:
  ~CpuStarter() = default;
};

struct HypercallContext {
  const GuestMemory& mem;
  const HostConsole& console;
  gdbstub::Stub* debugger = nullptr;  // --gdb
  CpuStarter* cpus = nullptr;         // several vCPUs (else StartCpu is -ENOSYS)
  HostTerminal* terminal = nullptr;   // -t (else ConsoleTermios is -ENOTTY)
};

using HypercallHandler = Action (*)(const HypercallContext& ctx, uint64_t struct_gpa);

struct HypercallEntry {
  abi::Hypercall number;
  const char* name;
  HypercallHandler handler;
};

// The row for `number`, or nullptr if there is no such hypercall.
const HypercallEntry* find_hypercall(uint16_t number);

// Runs hypercall `number` with its struct at `struct_gpa`.
Action dispatch_hypercall(const HypercallContext& ctx, uint16_t number, uint64_t struct_gpa);

}  // namespace mote::vm
