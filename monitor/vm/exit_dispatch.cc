#include "monitor/vm/exit_dispatch.h"

#include <cstring>

#include "abi/hypercall.h"
#include "monitor/vm/hex.h"
#include "monitor/vm/hypercalls.h"

namespace mote::vm {

namespace {

constexpr uint16_t kHypercallPorts = uint16_t(abi::Hypercall::Count);

bool is_hypercall_port(uint16_t port) {
  return port >= abi::kHypercallPortBase && port - abi::kHypercallPortBase < kHypercallPorts;
}

uint32_t low_bytes(const IoAccess& io) {
  uint32_t v = 0;
  std::memcpy(&v, io.data.data(), io.size);  // x86 is little-endian
  return v;
}

}  // namespace

Action ExitDispatcher::handle(const VmExit& exit) {
  if (exit.kind == ExitKind::Io) return handle_io(exit);
  if (exit.kind == ExitKind::Interrupted) return device_fault().value_or(Action::resume());
  if (exit.kind == ExitKind::Mmio && bus_) {
    if (exit.mmio.data.size() != exit.mmio.len)
      return Action::stop("malformed MMIO exit (" + describe(exit) + ")");
    if (auto a = bus_->handle(exit.mmio, *fault_)) return *a;
  }
  return Action::stop(describe(exit));
}

std::optional<Action> ExitDispatcher::device_fault() const {
  if (!fault_) return std::nullopt;
  if (auto why = fault_->reason()) return Action::stop("virtio: " + *why);
  return std::nullopt;
}

Action ExitDispatcher::handle_io(const VmExit& exit) {
  const IoAccess& io = exit.io;
  bool well_formed = (io.size == 1 || io.size == 2 || io.size == 4) && io.count > 0 &&
                     io.data.size() == size_t(io.size) * io.count;
  if (!well_formed) return Action::stop("malformed port I/O exit (" + describe(exit) + ")");

  if (is_hypercall_port(io.port)) {
    // The contract (abi/hypercall.h): one `outl` of the struct's 32-bit GPA.
    if (!io.out || io.size != 4 || io.count != 1)
      return Action::stop("hypercall port " + hex(io.port) + " needs one 4-byte out (" + describe(exit) + ")");
    HypercallContext ctx{mem_, console_, debugger_, cpus_, terminal_};
    return dispatch_hypercall(ctx, uint16_t(io.port - abi::kHypercallPortBase), low_bytes(io));
  }
  if (Uart16550::claims(io.port)) return uart_.access(io);
  if (io.port == abi::kIsaDebugExitPort && io.out && io.count == 1)
    return Action::exit(int(low_bytes(io) & 0xff));  // QEMU compatibility; status = value
  return Action::stop(describe(exit));
}

}  // namespace mote::vm
