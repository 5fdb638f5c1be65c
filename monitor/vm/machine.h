// One call to boot a kernel in a KVM VM and run it to the end: what
// `mote run --platform kvm` and the test driver (tests/vm) use.
//
// Order of the setup (each step's reason is at its call):
//   open /dev/kvm -> map guest RAM -> KVM_CREATE_VM, TSS, memory slot, irqchip
//   -> vCPU 0 -> TSC kHz -> CPUID (shape, set, read back) -> fill guest RAM
//   (GDT, page tables, kernel, boot info) -> entry registers -> run loop.
#pragma once

#include <stdint.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "monitor/vm/cpuid.h"
#include "monitor/vm/expected.h"
#include "monitor/vm/host_console.h"
#include "monitor/vm/run.h"

namespace mote::vm {

// As QEMU's launcher waits (monitor/qemu/launch.cc).
inline constexpr uint64_t kTimeoutGraceMs = 2000;

struct MachineConfig {
  std::span<const uint8_t> kernel_elf;
  std::span<const uint8_t> boot_blob;  // abi::BootInfo blob; ram_bytes and tsc_khz are filled in
  std::span<const uint8_t> program;    // the program's ELF, placed in guest RAM (may be empty)
  uint64_t ram_bytes = 64ull << 20;
  uint32_t cpus = 1;  // vCPUs (--cpus); the kernel starts the others by INIT/SIPI
  // --timeout: the kernel ends the run itself at its deadline (the boot
  // info's timeout_ns); the monitor stops the VM kTimeoutGraceMs later, for
  // a kernel that cannot (hung with interrupts off): RunResult::deadline.
  uint64_t timeout_ms = 0;
  HostConsole console;
  // The run loop's seccomp filter (monitor/util/seccomp_policies.h) goes in
  // before the first KVM_RUN; `mote run` sets it unless --no-sandbox.
  bool sandbox = false;
  // Devices (monitor/vm/virtio), at abi/boot_info.h's kMoteVirtio* places:
  // virtio-net on the frame fd `net_fd` (-1: none), and one virtio-9p
  // device per socket to a share server (share k: mount tag "mote<k>").
  // The fds stay the caller's.
  int net_fd = -1;
  uint8_t net_mac[6] = {};
  uint16_t net_mtu = 0;
  bool net_vnet_hdr = false;  // net_fd is a tap with virtio-net headers (monitor/net/tap.h)
  std::vector<int> share_fds;
  // --gdb (monitor/vm/gdb/stub.h): called once the VM is set up (so a host
  // without KVM fails before anyone waits for gdb), for the connection to
  // gdb (-1 with a message in *error: setup fails with it). The first stop
  // is the program's entry (the kernel's DebugProgram hypercall) when
  // gdb_at_program, else the VM's first instruction.
  std::function<int(std::string* error)> gdb_connect;
  bool gdb_at_program = false;
  // -t: the program's terminal mode changes reach the console's terminals,
  // whose modes are put back at the end (HostTerminal).
  bool tty = false;
};

// CLOCK_MONOTONIC when each setup step ended (for --timing and the bench).
struct SetupTimes {
  int64_t start = 0;         // run_machine() called
  int64_t kvm_opened = 0;    // /dev/kvm open, API version checked
  int64_t vm_created = 0;    // guest RAM mapped; VM, TSS, memory slot, irqchip
  int64_t vcpu_created = 0;  // vCPU 0 and its kvm_run mapping
  int64_t cpuid_set = 0;     // TSC kHz, CPUID shaped, set and read back
  int64_t guest_loaded = 0;  // GDT, page tables, kernel, boot info in guest RAM
  int64_t registers_set = 0; // entry state in the vCPU
};

struct MachineReport {
  RunResult result;
  RunTimes times;
  SetupTimes setup;
  uint32_t tsc_khz = 0;
  CpuidTable guest_cpuid;  // what the guest really sees (KVM_GET_CPUID2)
};

// Setup failures come back as a Failure (KvmUnavailable when there is no
// usable KVM); once the guest runs, every outcome is a MachineReport.
// The monitor ignores SIGPIPE from here on: a closed host stream is the
// guest's -EPIPE, not the monitor's death.
Expected<MachineReport> run_machine(const MachineConfig& config);

}  // namespace mote::vm
