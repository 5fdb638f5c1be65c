// Several vCPUs (monitor/vm/run.h BasicVcpuGroup) with scripted vCPUs in
// place of KVM's: the first vCPU to end the VM decides the result, the
// others are kicked out and end, and a group never run still ends its
// threads.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "abi/hypercall.h"
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
    kicked = true;
    ++kicks;
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

}  // namespace
}  // namespace mote::vmtest
