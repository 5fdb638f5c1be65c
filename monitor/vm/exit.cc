#include "monitor/vm/exit.h"

#include "monitor/vm/hex.h"

namespace mote::vm {

namespace {

std::string describe_internal_error(uint64_t suberror) {
  // KVM API doc 5. "KVM_EXIT_INTERNAL_ERROR"; suberrors from <linux/kvm.h>.
  switch (suberror) {
    case 1:
      return "KVM could not emulate an instruction (KVM_EXIT_INTERNAL_ERROR, emulation failure; "
             "a KVM that emulates ring-0 code, like kvm_pvm, fails on SSE/x87 this way)";
    case 2: return "exception while KVM was emulating an exception (KVM_EXIT_INTERNAL_ERROR)";
    case 3: return "VM exit during event delivery (KVM_EXIT_INTERNAL_ERROR)";
    case 4: return "unexpected hardware exit reason (KVM_EXIT_INTERNAL_ERROR)";
    default: return "KVM internal error, suberror " + std::to_string(suberror);
  }
}

}  // namespace

std::string describe(const VmExit& e) {
  switch (e.kind) {
    case ExitKind::Io: {
      std::string what = e.io.out ? "out of " : "in of ";
      what += std::to_string(e.io.size) + (e.io.size == 1 ? " byte" : " bytes");
      if (e.io.count > 1) what += " x" + std::to_string(e.io.count);
      return "unexpected port I/O: " + what + (e.io.out ? " to port " : " from port ") + hex(e.io.port);
    }
    case ExitKind::Mmio:
      return std::string("access to unbacked guest-physical memory: ") + (e.mmio.write ? "write" : "read") +
             " of " + std::to_string(e.mmio.len) + " bytes at gpa " + hex(e.mmio.gpa);
    case ExitKind::Hlt: return "hlt with interrupts off";
    case ExitKind::Shutdown: return "triple fault (KVM_EXIT_SHUTDOWN)";
    case ExitKind::InternalError: return describe_internal_error(e.code);
    case ExitKind::FailEntry:
      return "VM entry failed (KVM_EXIT_FAIL_ENTRY), hardware reason " + hex(e.code);
    case ExitKind::Emulator: return "emulator: " + e.detail;
    case ExitKind::Interrupted: return "KVM_RUN interrupted";
    case ExitKind::Debug: return "debug exception " + std::to_string(e.code) + " with no debugger";
    case ExitKind::Other: return "unexpected KVM exit reason " + std::to_string(e.code);
  }
  return "unknown exit";
}

}  // namespace mote::vm
