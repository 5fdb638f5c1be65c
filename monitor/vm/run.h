// The run loop: KVM_RUN, hand each exit to the ExitDispatcher, until the
// guest exits or the monitor stops it with one clear line; one loop per
// vCPU.
#pragma once

#include <errno.h>
#include <stdint.h>

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/gdb/stub.h"
#include "monitor/vm/hypercalls.h"
#include "monitor/vm/vcpu.h"

namespace mote::vm {

struct RunResult {
  int status = 0;            // the guest's exit status, or kStopStatus
  std::string stop_message;  // empty when the guest exited by itself; else "VM stopped: ..."
  bool deadline = false;     // ended by BasicVcpuGroup::stop_all from the monitor's deadline
};

struct RunTimes {
  int64_t first_entry_ns = 0;  // CLOCK_MONOTONIC just before the first KVM_RUN
  int64_t first_exit_ns = 0;   // ... and when the first exit reached the monitor
  uint64_t exits = 0;          // exits handled
};

int64_t monotonic_ns();

// The status of a VM gdb killed (as SIGKILL would end a process).
inline constexpr int kKilledStatus = 137;

// --gdb: what the run loop asks of the debugger (monitor/vm/gdb/vcpus.h),
// by vCPU index.
class DebugHooks {
 public:
  // This exit is a debug stop: a Debug exit, or the kick of gdb's ^C.
  virtual bool is_stop(const VmExit& exit) = 0;
  // Every other vCPU is parked: serves gdb for vCPU `cpu`'s stop.
  virtual gdbstub::Verdict stop(size_t cpu, const VmExit& exit) = 0;
  // Before vCPU `cpu` enters the guest: brings its guest debug up to date.
  virtual void prepare(size_t cpu) = 0;

 protected:
  ~DebugHooks() = default;
};

// "VM stopped: <reason> at rip 0x..." (without rip when it cannot be read).
std::string stop_message(const std::string& reason, std::optional<uint64_t> rip);

// The vCPUs of a VM, each run by a thread of its own (vcpus[0], the boot
// CPU, by the thread that calls run()). The first to end the VM (an exit, a
// stop) decides the result and kicks the others out of KVM_RUN
// (Vcpu::kick), which end too. Exits are handled one at a time: the
// dispatcher and its UART are not thread-safe, and exits are rare (console,
// devices). A template over the vCPU type so that tests can drive it with
// scripted vCPUs (tests/vm/unit/vcpu_group_test.cc); the monitor's is
// VcpuGroup.
template <typename V>
class BasicVcpuGroup final : public CpuStarter {
 public:
  BasicVcpuGroup(std::vector<V>& vcpus, ExitDispatcher& dispatcher)
      : vcpus_(vcpus), dispatcher_(dispatcher), tids_(vcpus.size()), starts_(vcpus.size()) {}
  BasicVcpuGroup(const BasicVcpuGroup&) = delete;
  BasicVcpuGroup& operator=(const BasicVcpuGroup&) = delete;

  ~BasicVcpuGroup() {
    // Threads started but never run (the caller failed in between): release
    // them with the VM already over.
    done_ = true;
    go_ = true;
    go_.notify_all();
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
  }

  // Starts the threads of vcpus[1..]; when it returns they run their own
  // code (glibc's thread start-up, which makes calls no seccomp filter here
  // allows, is over) and wait for run(). Needs Vcpu::install_kick_handler.
  // Called by the thread that will call run(): its thread id (vCPU 0's, for
  // kicks) is read here too, before the run loop's filter, which has no
  // gettid.
  void start() {
    tids_[0] = gettid();
    for (size_t i = 1; i < vcpus_.size(); ++i) {
      threads_.emplace_back([this, i] {
        tids_[i] = gettid();
        started_.fetch_add(1);
        started_.notify_all();
        go_.wait(false);
        if (!done_) loop(i, nullptr);
      });
    }
    for (int n = started_.load(); n != int(threads_.size()); n = started_.load()) started_.wait(n);
  }

  // From any thread: ends the VM with `r` (unless it already ended), kicking
  // every vCPU out of KVM_RUN. The monitor's --timeout deadline uses it.
  void stop_all(RunResult r) { finish(vcpus_.size(), std::move(r)); }

  // --gdb, before start(): debug stops are all-stop. The vCPU that stops
  // kicks the others, which park (in this loop, outside KVM_RUN) until the
  // debugger resumes the VM; a debug exit of a vCPU that finds another
  // serving is dropped (an int3 hits again; gdb restarts a step).
  void attach_debugger(DebugHooks* hooks) { debug_ = hooks; }
  // StartCpu (application processors straight in 64-bit mode): `start`
  // runs on vCPU i's own thread, out of KVM_RUN (where an AP waiting for a
  // SIPI blocks), and sets its entry state at rip/rsp and makes it runnable.
  using ApStart = std::function<bool(V& vcpu, uint64_t rip, uint64_t rsp)>;
  void set_ap_start(ApStart start) { ap_start_ = std::move(start); }
  int64_t start_cpu(uint32_t index, uint64_t rip, uint64_t rsp) override {
    if (!ap_start_ || index == 0 || index >= vcpus_.size()) return -EINVAL;
    {
      std::lock_guard<std::mutex> g(start_mu_);
      if (starts_[index].asked) return -EBUSY;
      starts_[index] = Start{true, rip, rsp};
    }
    if (tids_[index]) vcpus_[index].kick(pid_, tids_[index]);
    return 0;
  }

  // From any thread (gdb's ^C): kicks vCPU `i` out of KVM_RUN.
  void kick(size_t i) {
    if (tids_[i]) vcpus_[i].kick(pid_, tids_[i]);
  }

  // Runs every vCPU until the VM ends; returns its result.
  RunResult run(RunTimes* times) {
    if (!tids_[0]) tids_[0] = gettid();  // start() was not called
    go_ = true;
    go_.notify_all();
    if (!done_) loop(0, times);  // stop_all may have come first
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    return result_;
  }

 private:
  void loop(size_t i, RunTimes* times) {
    RunTimes local;
    RunTimes& t = times ? *times : local;
    V& vcpu = vcpus_[i];
    t.first_entry_ns = monotonic_ns();
    for (;;) {
      if (debug_) debug_->prepare(i);
      auto exit = vcpu.run();
      if (t.exits++ == 0) t.first_exit_ns = monotonic_ns();
      if (done_) return;  // another vCPU ended the VM
      if (exit.ok() && exit->kind == ExitKind::Interrupted && i != 0 && take_start(i, &vcpu)) {
        if (done_) return;  // it could not start, and ended the VM
        continue;
      }
      if (debug_ && exit.ok()) {
        DebugOutcome d = debug_stop(i, *exit);
        if (d == DebugOutcome::Handled) continue;
        if (d == DebugOutcome::Kill) return finish(i, RunResult{kKilledStatus, {}});
        if (done_) return;
      }
      Action action;
      {
        std::lock_guard<std::mutex> g(exit_mu_);
        action = exit.ok() ? dispatcher_.handle(*exit) : Action::stop(exit.failure().message);
      }
      if (action.kind == Action::Kind::Resume) continue;
      if (action.kind == Action::Kind::Exit) return finish(i, RunResult{action.status, {}});
      auto regs = vcpu.regs();
      std::optional<uint64_t> rip;
      if (regs.ok()) rip = regs->rip;
      std::string reason = action.reason;
      if (vcpus_.size() > 1) reason += " (vCPU " + std::to_string(i) + ")";
      return finish(i, RunResult{kStopStatus, stop_message(reason, rip)});
    }
  }

  // A StartCpu for vCPU i (on its own thread): true when one was pending
  // and done; a start that fails ends the VM.
  bool take_start(size_t i, V* vcpu) {
    Start s;
    {
      std::lock_guard<std::mutex> g(start_mu_);
      if (!starts_[i].asked || starts_[i].done) return false;
      starts_[i].done = true;
      s = starts_[i];
    }
    if (!ap_start_(*vcpu, s.rip, s.rsp))
      finish(i, RunResult{kStopStatus, stop_message("vCPU " + std::to_string(i) + " could not be started "
                                                    "(StartCpu)", s.rip)});
    return true;
  }

  enum class DebugOutcome { NotMine, Handled, Kill };

  // All-stop (attach_debugger). Parked vCPUs wait on debug_cv_ until the
  // stop is over or the VM ended.
  DebugOutcome debug_stop(size_t i, const VmExit& exit) {
    std::unique_lock<std::mutex> l(debug_mu_);
    if (halting_) {
      park(l);
      return DebugOutcome::Handled;
    }
    if (!debug_->is_stop(exit)) return DebugOutcome::NotMine;
    halting_ = true;
    for (size_t j = 0; j < vcpus_.size(); ++j)
      if (j != i && tids_[j]) vcpus_[j].kick(pid_, tids_[j]);
    debug_cv_.wait(l, [&] { return parked_ + 1 == vcpus_.size() || done_; });
    if (done_) {
      halting_ = false;
      debug_cv_.notify_all();
      return DebugOutcome::Handled;
    }
    gdbstub::Verdict v = debug_->stop(i, exit);
    halting_ = false;
    debug_cv_.notify_all();
    return v == gdbstub::Verdict::Kill ? DebugOutcome::Kill : DebugOutcome::Handled;
  }

  void park(std::unique_lock<std::mutex>& l) {
    ++parked_;
    debug_cv_.notify_all();
    debug_cv_.wait(l, [&] { return !halting_ || done_; });
    --parked_;
  }

  void finish(size_t i, RunResult r) {
    end(i, std::move(r));
    // Wakes parked vCPUs and one waiting for them to park (after a stop
    // being served: a debugger holds the VM).
    std::lock_guard<std::mutex> g(debug_mu_);
    debug_cv_.notify_all();
  }

  void end(size_t i, RunResult r) {
    std::lock_guard<std::mutex> g(m_);
    if (done_) return;
    result_ = std::move(r);
    done_ = true;
    // KVM_RUN returns EINTR at once for a vCPU about to enter it, and for
    // one inside it when its thread gets the signal.
    // (A vCPU whose thread has not started yet, tid 0, sees done_ first.)
    for (size_t j = 0; j < vcpus_.size(); ++j)
      if (j != i && tids_[j]) vcpus_[j].kick(pid_, tids_[j]);
  }

  std::vector<V>& vcpus_;
  ExitDispatcher& dispatcher_;
  // For kicks (tgkill), read before the run loop's filter, which has no getpid.
  const pid_t pid_ = getpid();
  std::vector<std::atomic<pid_t>> tids_;
  std::vector<std::thread> threads_;
  std::mutex exit_mu_;  // one exit handled at a time
  std::mutex m_;        // result_, and kicking
  std::atomic<int> started_{0};
  std::atomic<bool> go_{false};
  std::atomic<bool> done_{false};
  RunResult result_;
  DebugHooks* debug_ = nullptr;
  struct Start {
    bool asked = false;
    uint64_t rip = 0, rsp = 0;
    bool done = false;
  };
  std::mutex start_mu_;
  std::vector<Start> starts_;
  ApStart ap_start_;
  std::mutex debug_mu_;
  std::condition_variable debug_cv_;
  bool halting_ = false;  // a vCPU serves gdb; the others park
  size_t parked_ = 0;
};

using VcpuGroup = BasicVcpuGroup<Vcpu>;

// A thread that calls `fire` once `deadline_ns` (CLOCK_MONOTONIC) has passed,
// unless cancel() (or the destructor) came first. start() returns once the
// thread runs its own code (see BasicVcpuGroup::start).
class Watchdog {
 public:
  Watchdog() = default;
  ~Watchdog() { cancel(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void start(int64_t deadline_ns, std::function<void()> fire) {
    thread_ = std::thread([this, deadline_ns, fire = std::move(fire)] {
      running_ = true;
      running_.notify_one();
      std::unique_lock<std::mutex> l(m_);
      // The condition variable's clock is CLOCK_MONOTONIC (steady_clock).
      auto until = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
      if (!cv_.wait_until(l, until, [this] { return cancelled_; })) fire();
    });
    running_.wait(false);
  }
  void cancel() {
    {
      std::lock_guard<std::mutex> g(m_);
      cancelled_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::atomic<bool> running_{false};
};

}  // namespace mote::vm
