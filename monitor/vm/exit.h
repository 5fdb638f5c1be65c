// Why a vCPU stopped running guest code, as plain typed data. The KVM run
// loop translates struct kvm_run into this (KVM API doc 5. "The kvm_run
// structure"); an emulator can produce the same, so the exit handling is one
// piece of code, unit-testable without /dev/kvm.
#pragma once

#include <stdint.h>

#include <span>
#include <string>

namespace mote::vm {

enum class ExitKind {
  Io,             // KVM_EXIT_IO: in/out (or ins/outs) to a port nothing in the kernel serves
  Mmio,           // KVM_EXIT_MMIO: an access to a GPA no memory slot backs
  Hlt,            // KVM_EXIT_HLT (never with the in-kernel irqchip, which keeps hlt in KVM)
  Shutdown,       // KVM_EXIT_SHUTDOWN: triple fault
  InternalError,  // KVM_EXIT_INTERNAL_ERROR; code = suberror
  FailEntry,      // KVM_EXIT_FAIL_ENTRY; code = hardware entry failure reason
  Emulator,       // an emulator (tests) gave up; detail says why
  Interrupted,    // KVM_RUN returned EINTR after Vcpu::kick (a device thread has news)
  Debug,          // KVM_EXIT_DEBUG (--gdb's guest debug); code = exception (1 #DB, 3 #BP), dr6
  Other,          // any other KVM exit; code = the exit reason
};

struct IoAccess {
  bool out = false;
  uint16_t port = 0;
  uint8_t size = 0;          // bytes per access: 1, 2 or 4
  uint32_t count = 0;        // > 1 for rep ins/outs
  std::span<uint8_t> data;   // size * count bytes: the written bytes, or where read bytes go
};

struct MmioAccess {
  uint64_t gpa = 0;
  bool write = false;
  uint32_t len = 0;
  std::span<uint8_t> data;  // len bytes: the written value, or where a read's value goes
};

struct VmExit {
  ExitKind kind = ExitKind::Other;
  IoAccess io;        // kind == Io
  MmioAccess mmio;    // kind == Mmio
  uint64_t code = 0;  // see ExitKind
  uint64_t dr6 = 0;   // Debug: which #DB (bit 14 single step, bits 0-3 breakpoints)
  std::string detail; // Emulator: the emulator's message
};

// The reason part of "VM stopped: <reason> at rip 0x...", for every exit the
// monitor does not handle.
std::string describe(const VmExit& exit);

}  // namespace mote::vm
