// Several vCPUs (monitor/vm/run.h BasicVcpuGroup) with scripted vCPUs in
// place of KVM's: the first vCPU to end the VM decides the result, the
// others are kicked out and end, and a group never run still ends its
// threads.
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "abi/hypercall.h"
#include "monitor/util/seccomp.h"
#include "monitor/util/seccomp_policies.h"
#include "monitor/vm/run.h"
#include "tests/vm/unit/console_pipe.h"

namespace mote::vmtest {
namespace {

using namespace mote::vm;

// Returns its script's exits, then blocks as a vCPU waiting for a SIPI that
// never comes, until kicked (an Interrupted exit, as Vcpu::run gives).
struct ScriptedVcpu {
  std::deque<VmExit> script;
  std::mutex m;
  std::condition_variable cv;
  bool kicked = false;
  int kicks = 0;
  int ignore_kicks = 0;  // this many kicks find it deaf (a vCPU stuck in KVM_RUN)
  uint64_t rip = 0;
  std::vector<uint8_t> data;  // the I/O data of the exits (stable storage)

  Expected<VmExit> run() {
    std::unique_lock<std::mutex> l(m);
    if (!script.empty()) {
      VmExit e = script.front();
      script.pop_front();
      return e;
    }
    cv.wait(l, [&] { return kicked; });
    kicked = false;
    VmExit e;
    e.kind = ExitKind::Interrupted;
    return e;
  }
  Expected<kvm_regs> regs() const {
    kvm_regs r{};
    r.rip = rip;
    return r;
  }
  void kick(pid_t, pid_t) {
    std::lock_guard<std::mutex> g(m);
    ++kicks;
    if (ignore_kicks > 0) {
      --ignore_kicks;
      return;
    }
    kicked = true;
    cv.notify_all();
  }
  // One `out` of `value` (1 byte) to `port`.
  void out(uint16_t port, uint8_t value, size_t times = 1) {
    data.resize(4096);
    for (size_t i = 0; i < times; ++i) {
      VmExit e;
      e.kind = ExitKind::Io;
      data[script.size() % data.size()] = value;
      e.io = IoAccess{true, port, 1, 1, std::span<uint8_t>(&data[script.size() % data.size()], 1)};
      script.push_back(e);
    }
  }
};

struct Fixture {
  GuestMemory mem = std::move(GuestMemory::create(1ull << 20).value());
  ConsolePipes pipes;
  ExitDispatcher dispatcher{mem, pipes.console()};
};

TEST(VcpuGroup, AnApplicationProcessorEndsTheVmAndTheBootCpuIsKicked) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(3);
  vcpus[1].out(abi::kIsaDebugExitPort, 7);  // vCPU 1: exit status 7; 0 and 2 wait
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.start();
  RunResult r = group.run(nullptr);
  EXPECT_EQ(r.status, 7);
  EXPECT_TRUE(r.stop_message.empty());
  EXPECT_EQ(vcpus[0].kicks, 1);
  EXPECT_EQ(vcpus[1].kicks, 0);
  EXPECT_EQ(vcpus[2].kicks, 1);
}

TEST(VcpuGroup, TheBootCpusStopNamesItsVcpu) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(2);
  VmExit triple;
  triple.kind = ExitKind::Shutdown;
  vcpus[0].script.push_back(triple);
  vcpus[0].rip = 0xffffffff80001234;
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.start();
  RunResult r = group.run(nullptr);
  EXPECT_EQ(r.status, kStopStatus);
  EXPECT_EQ(r.stop_message,
            "VM stopped: triple fault (KVM_EXIT_SHUTDOWN) (vCPU 0) at rip 0xffffffff80001234");
  EXPECT_EQ(vcpus[1].kicks, 1);
}

TEST(VcpuGroup, AGroupNeverRunEndsItsThreads) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(4);
  for (auto& v : vcpus) v.out(0x3f8, 'x');
  {
    BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
    group.start();
  }  // the destructor joins, and no thread ran its vCPU
  for (auto& v : vcpus) EXPECT_EQ(v.script.size(), 1u);
  EXPECT_EQ(f.pipes.out(), "");
}

TEST(VcpuGroup, StopAllEndsAGroupWhoseVcpusAllWait) {
  // The monitor's --timeout deadline: every vCPU hung (here: waiting), the
  // watchdog's stop_all ends them all with its result.
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(2);
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.start();
  Watchdog watchdog;
  const int64_t start = monotonic_ns();
  watchdog.start(start + 50 * 1000000, [&group] {
    RunResult r;
    r.status = 124;
    r.deadline = true;
    group.stop_all(r);
  });
  RunResult r = group.run(nullptr);
  EXPECT_GE(monotonic_ns() - start, 50 * 1000000);
  EXPECT_EQ(r.status, 124);
  EXPECT_TRUE(r.deadline);
  EXPECT_EQ(vcpus[0].kicks, 1);
  EXPECT_EQ(vcpus[1].kicks, 1);
}

TEST(VcpuGroup, StopAllBeforeRunEndsAtOnce) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(3);
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.start();
  RunResult stop;
  stop.status = 124;
  stop.deadline = true;
  group.stop_all(stop);
  RunResult r = group.run(nullptr);  // must not block: the VM is over
  EXPECT_TRUE(r.deadline);
}

// --gdb's all-stop (BasicVcpuGroup::attach_debugger) with scripted hooks.
struct ScriptedDebugger : DebugHooks {
  std::vector<ScriptedVcpu>* vcpus = nullptr;
  gdbstub::Verdict verdict = gdbstub::Verdict::Resume;
  std::mutex m;
  std::vector<size_t> stops;  // the vCPU of each stop served
  std::vector<int> kicks_seen;  // at each stop: how many vCPUs had been kicked
  std::atomic<int> prepares{0};
  bool is_stop(const VmExit& e) override { return e.kind == ExitKind::Debug; }
  gdbstub::Verdict stop(size_t cpu, const VmExit&) override {
    std::lock_guard<std::mutex> g(m);
    stops.push_back(cpu);
    int kicked = 0;
    for (auto& v : *vcpus) kicked += v.kicks > 0;
    kicks_seen.push_back(kicked);
    return verdict;
  }
  void prepare(size_t) override { ++prepares; }
};

VmExit debug_exit(uint64_t vector) {
  VmExit e;
  e.kind = ExitKind::Debug;
  e.code = vector;
  return e;
}

TEST(VcpuGroup, ADebugStopIsServedWithTheOtherVcpusParkedThenTheVmGoesOn) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(3);
  vcpus[1].script.push_back(debug_exit(3));      // vCPU 1 hits an int3,
  vcpus[1].out(abi::kIsaDebugExitPort, 9);       // then, resumed, exits 9
  ScriptedDebugger dbg;
  dbg.vcpus = &vcpus;
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.attach_debugger(&dbg);
  group.start();
  RunResult r = group.run(nullptr);
  EXPECT_EQ(r.status, 9);
  ASSERT_EQ(dbg.stops.size(), 1u);
  EXPECT_EQ(dbg.stops[0], 1u);
  // Served only once vCPUs 0 and 2 were kicked out and parked.
  EXPECT_EQ(dbg.kicks_seen[0], 2);
  // Each vCPU brings its guest debug up to date before every entry.
  EXPECT_GE(dbg.prepares.load(), 4);
}

TEST(VcpuGroup, GdbsKillEndsTheVmWith137) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(2);
  vcpus[0].script.push_back(debug_exit(1));
  vcpus[0].out(abi::kIsaDebugExitPort, 9);  // never reached
  ScriptedDebugger dbg;
  dbg.vcpus = &vcpus;
  dbg.verdict = gdbstub::Verdict::Kill;
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.attach_debugger(&dbg);
  group.start();
  RunResult r = group.run(nullptr);
  EXPECT_EQ(r.status, kKilledStatus);
  EXPECT_TRUE(r.stop_message.empty());
  EXPECT_EQ(vcpus[0].script.size(), 1u);
}

TEST(VcpuGroup, DebugExitsOnEveryVcpuAtOnceNeitherDeadlockNorLeaveOneParked) {
  // Each vCPU stops; one may find another serving and be dropped (its int3
  // would hit again). Either way the VM goes on to its exit.
  for (int round = 0; round < 50; ++round) {
    Fixture f;
    std::vector<ScriptedVcpu> vcpus(4);
    for (auto& v : vcpus) v.script.push_back(debug_exit(3));
    vcpus[2].out(abi::kIsaDebugExitPort, 5);
    ScriptedDebugger dbg;
    dbg.vcpus = &vcpus;
    BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
    group.attach_debugger(&dbg);
    group.start();
    RunResult r = group.run(nullptr);
    EXPECT_EQ(r.status, 5);
    EXPECT_GE(dbg.stops.size(), 1u);
    EXPECT_LE(dbg.stops.size(), 4u);
  }
}

TEST(VcpuGroup, AStopAllWhileAVcpuWaitsForOthersToParkEndsTheVm) {
  // vCPU 1 does not leave KVM_RUN when kicked, so vCPU 0's stop waits for it
  // to park: the deadline still ends the VM, and the stop is not served.
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(2);
  vcpus[0].script.push_back(debug_exit(3));
  vcpus[1].ignore_kicks = 1;
  ScriptedDebugger dbg;
  dbg.vcpus = &vcpus;
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.attach_debugger(&dbg);
  group.start();
  Watchdog watchdog;
  watchdog.start(monotonic_ns() + 50 * 1000000, [&group] {
    RunResult r;
    r.status = 124;
    r.deadline = true;
    group.stop_all(r);
  });
  RunResult r = group.run(nullptr);
  EXPECT_EQ(r.status, 124);
  EXPECT_TRUE(r.deadline);
  EXPECT_EQ(dbg.stops.size(), 0u);
}

// StartCpu: application processors started straight in 64-bit mode.
TEST(VcpuGroup, StartCpuStartsTheApOnItsOwnThreadAtTheGivenRipAndRsp) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(2);
  // vCPU 0: the StartCpu hypercall (one outl of its struct's GPA), then it
  // waits; vCPU 1 waits, as for a SIPI, until started.
  constexpr uint64_t kGpa = 0x1000;
  ASSERT_TRUE(f.mem.write(kGpa, abi::HcStartCpu{1, 0, 0xffffffff80123456, 0xffffffff80200000, -1}));
  uint32_t gpa32 = kGpa;
  vcpus[0].data.resize(4);
  std::memcpy(vcpus[0].data.data(), &gpa32, 4);
  VmExit hc;
  hc.kind = ExitKind::Io;
  hc.io = IoAccess{true, abi::hypercall_port(abi::Hypercall::StartCpu), 4, 1,
                   std::span<uint8_t>(vcpus[0].data.data(), 4)};
  vcpus[0].script.push_back(hc);
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  std::atomic<pid_t> started_on{0};
  uint64_t rip = 0, rsp = 0;
  group.set_ap_start([&](ScriptedVcpu& v, uint64_t r, uint64_t s) {
    started_on = gettid();
    rip = r;
    rsp = s;
    v.out(abi::kIsaDebugExitPort, 7);  // the started AP ends the VM with 7
    return true;
  });
  f.dispatcher.attach_cpu_starter(&group);
  group.start();
  RunResult r = group.run(nullptr);
  EXPECT_EQ(r.status, 7);
  EXPECT_EQ(rip, 0xffffffff80123456u);
  EXPECT_EQ(rsp, 0xffffffff80200000u);
  EXPECT_NE(started_on.load(), 0);
  EXPECT_NE(started_on.load(), gettid());  // not the boot CPU's (this) thread
  auto call = f.mem.read<abi::HcStartCpu>(kGpa);
  ASSERT_TRUE(call);
  EXPECT_EQ(call->ret, 0);
}

TEST(VcpuGroup, StartCpuRefusesVcpu0AnUnknownOneAndASecondStart) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(3);
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  EXPECT_EQ(group.start_cpu(1, 0x1000, 0x2000), -EINVAL);  // no way to start one yet
  group.set_ap_start([](ScriptedVcpu& v, uint64_t, uint64_t) {
    v.out(abi::kIsaDebugExitPort, 3);
    return true;
  });
  EXPECT_EQ(group.start_cpu(0, 0x1000, 0x2000), -EINVAL);
  EXPECT_EQ(group.start_cpu(3, 0x1000, 0x2000), -EINVAL);
  group.start();
  EXPECT_EQ(group.start_cpu(2, 0x1000, 0x2000), 0);
  EXPECT_EQ(group.start_cpu(2, 0x1000, 0x2000), -EBUSY);
  EXPECT_EQ(group.run(nullptr).status, 3);
}

TEST(VcpuGroup, AnApThatCannotBeStartedStopsTheVm) {
  Fixture f;
  std::vector<ScriptedVcpu> vcpus(2);
  BasicVcpuGroup<ScriptedVcpu> group(vcpus, f.dispatcher);
  group.set_ap_start([](ScriptedVcpu&, uint64_t, uint64_t) { return false; });
  group.start();
  EXPECT_EQ(group.start_cpu(1, 0xffffffff80001000, 0), 0);
  RunResult r = group.run(nullptr);
  EXPECT_EQ(r.status, kStopStatus);
  EXPECT_EQ(r.stop_message, "VM stopped: vCPU 1 could not be started (StartCpu) at rip 0xffffffff80001000");
}

TEST(Watchdog, CancelComesFirstAndNothingFires) {
  std::atomic<int> fired{0};
  {
    Watchdog w;
    w.start(monotonic_ns() + 60ll * 1000000000, [&fired] { ++fired; });
    w.cancel();
  }
  EXPECT_EQ(fired.load(), 0);
  Watchdog w;
  w.start(monotonic_ns() + 1000000, [&fired] { ++fired; });
  for (int i = 0; i < 5000 && !fired; ++i) usleep(1000);
  EXPECT_EQ(fired.load(), 1);
}

// The watchdog under the KVM run loop's allowlist (with `threads`): its wait,
// the kick it sends, its end. Any other call kills the child.
TEST(Watchdog, RunsUnderTheKvmRunLoopAllowlist) {
  pid_t pid = fork();
  if (pid == 0) {
    Vcpu::install_kick_handler();
    static volatile sig_atomic_t kicked;
    struct sigaction sa {};
    sa.sa_handler = [](int) { kicked = 1; };
    sigaction(Vcpu::kKickSignal, &sa, nullptr);
    pid_t self = getpid(), tid = gettid();
    Watchdog w;
    w.start(monotonic_ns() + 20 * 1000000,
            [self, tid] { syscall(SYS_tgkill, self, tid, Vcpu::kKickSignal); });
    sandbox::KvmRunFds fds;
    fds.vcpus = {99};
    fds.threads = true;
    std::string error;
    if (!sandbox::install(sandbox::kvm_run_policy(fds), &error)) _exit(11);
    const int64_t give_up = monotonic_ns() + 10ll * 1000000000;  // clock_gettime: allowed
    while (!kicked)
      if (monotonic_ns() > give_up) _exit(12);
    w.cancel();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
}  // namespace mote::vmtest
