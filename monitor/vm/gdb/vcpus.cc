#include "monitor/vm/gdb/vcpus.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <limits>

namespace mote::vm::gdbstub {

namespace {

// DR6 (SDM 3B 18.2.3): B0 (DR0 hit), BS (single step).
constexpr uint64_t kDr6B0 = 1u << 0;
constexpr int kVectorBreakpoint = 3;  // #BP: an int3

}  // namespace

VcpuDebugger::VcpuDebugger(Stub& stub, std::vector<Vcpu>& vcpus)
    : stub_(stub), vcpus_(vcpus), applied_(vcpus.size(), std::numeric_limits<uint64_t>::max()) {}

VcpuDebugger::~VcpuDebugger() {
  stop_watching();
  if (wake_ >= 0) close(wake_);
}

void VcpuDebugger::stop_watching() {
  quit_ = true;
  if (wake_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }
  if (watcher_.joinable()) watcher_.join();
}

Verdict VcpuDebugger::start() {
  if (stub_.waiting_for_entry()) return Verdict::Resume;
  return stub_.on_stop(*this, 0, StopKind::Start);
}

void VcpuDebugger::watch(std::function<void()> kick) {
  wake_ = eventfd(0, EFD_CLOEXEC);
  if (wake_ < 0) return;  // no ^C then; breakpoints and steps still work
  std::atomic<bool> running{false};
  watcher_ = std::thread([this, kick = std::move(kick), &running] {
    running = true;
    running.notify_one();
    while (!quit_ && stub_.attached()) {
      // While a stop is served or one is on its way, the packets are the
      // stub's: only wait (or be woken to end).
      bool busy = serving_ || interrupt_;
      pollfd p[2] = {{wake_, POLLIN, 0}, {stub_.fd(), POLLIN, 0}};
      int n = poll(p, busy ? 1 : 2, busy ? 20 : 200);
      if (quit_) return;
      if (n > 0 && !busy && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !serving_) {
        interrupt_ = true;
        kick();
      }
    }
  });
  running.wait(false);
}

bool VcpuDebugger::is_stop(const VmExit& exit) {
  if (exit.kind == ExitKind::Debug) return stub_.attached();
  return exit.kind == ExitKind::Interrupted && interrupt_;
}

Verdict VcpuDebugger::stop(size_t cpu, const VmExit& exit) {
  StopKind kind = StopKind::Interrupt;
  if (exit.kind == ExitKind::Debug) {
    if (exit.code == kVectorBreakpoint) kind = StopKind::Breakpoint;
    else if (exit.dr6 & kDr6B0) kind = StopKind::Entry;
    else kind = StopKind::Step;
  }
  serving_ = true;
  interrupt_ = false;
  Verdict v = stub_.on_stop(*this, cpu, kind);
  serving_ = false;
  return v;
}

void VcpuDebugger::prepare(size_t cpu) {
  uint64_t gen = stub_.config_generation();
  if (applied_[cpu] == gen) return;
  applied_[cpu] = gen;
  auto r = stub_.attached() ? vcpus_[cpu].set_guest_debug(stub_.debug_config(cpu))
                            : vcpus_[cpu].clear_guest_debug();
  if (!r.ok()) std::fprintf(stderr, "mote: gdb: vCPU %zu: %s\n", cpu, r.failure().message.c_str());
}

bool VcpuDebugger::load(size_t cpu, CpuState* out) { return vcpus_[cpu].load_debug_state(out).ok(); }

bool VcpuDebugger::store(size_t cpu, const CpuState& in) { return vcpus_[cpu].store_debug_state(in).ok(); }

}  // namespace mote::vm::gdbstub
