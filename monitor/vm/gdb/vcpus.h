// --gdb on KVM: the stub (stub.h) over the VM's vCPUs, as the run loop's
// DebugHooks (run.h). Debug exits become stops: KVM_EXIT_DEBUG for an int3
// (#BP), a single step (#DB, DR6.BS) or the entry breakpoint (#DB, DR6.B0);
// gdb's ^C while the VM runs is seen by a watcher thread, which kicks vCPU 0
// out of KVM_RUN for an Interrupt stop. gdb closing the connection while
// the VM runs stops it the same way, and the stub then detaches.
#pragma once

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "monitor/vm/gdb/stub.h"
#include "monitor/vm/run.h"
#include "monitor/vm/vcpu.h"

namespace mote::vm::gdbstub {

class VcpuDebugger final : public DebugHooks, private Cpus {
 public:
  VcpuDebugger(Stub& stub, std::vector<Vcpu>& vcpus);
  ~VcpuDebugger();
  VcpuDebugger(const VcpuDebugger&) = delete;
  VcpuDebugger& operator=(const VcpuDebugger&) = delete;

  // Before the first KVM_RUN: unless the stub waits for the program's entry,
  // the first stop is vCPU 0's first instruction (served here, now).
  Verdict start();
  // Starts the ^C watcher (before the seccomp filter goes in); `kick`
  // interrupts vCPU 0.
  void watch(std::function<void()> kick);
  // Ends the watcher (before what `kick` uses goes away).
  void stop_watching();
  int wake_fd() const { return wake_; }

  bool is_stop(const VmExit& exit) override;
  Verdict stop(size_t cpu, const VmExit& exit) override;
  void prepare(size_t cpu) override;

 private:
  size_t count() const override { return vcpus_.size(); }
  bool load(size_t cpu, CpuState* out) override;
  bool store(size_t cpu, const CpuState& in) override;

  Stub& stub_;
  std::vector<Vcpu>& vcpus_;
  // The stub's config generation each vCPU's guest debug was set from.
  std::vector<uint64_t> applied_;
  std::atomic<bool> interrupt_{false};  // the watcher saw gdb's ^C (or gdb gone)
  std::atomic<bool> serving_{false};
  std::atomic<bool> quit_{false};
  std::thread watcher_;
  int wake_ = -1;  // eventfd: ends the watcher
};

}  // namespace mote::vm::gdbstub
