// The hypercall table (monitor/vm/hypercalls.h) against a hostile guest:
// every address in a call is checked; a bad one stops the VM, never the monitor.
#include "monitor/vm/hypercalls.h"

#include <errno.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <limits>

#include "tests/vm/unit/console_pipe.h"

namespace mote::vm {
namespace {

constexpr uint64_t kRam = 1ull << 20;
constexpr uint64_t kCall = 0x1000;
constexpr uint64_t kBuf = 0x2000;

struct Fixture {
  GuestMemory mem = std::move(GuestMemory::create(kRam).value());
  vmtest::ConsolePipes pipes;
  HostConsole console = pipes.console();
  HypercallContext ctx{mem, console};

  void put(uint64_t gpa, const std::string& s) {
    ASSERT_TRUE(mem.copy_in(gpa, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size())));
  }
  Action call(abi::Hypercall h, uint64_t gpa = kCall) { return dispatch_hypercall(ctx, uint16_t(h), gpa); }
};

TEST(VmHypercalls, TableHasOneNamedRowPerNumber) {
  for (uint16_t n = 0; n < uint16_t(abi::Hypercall::Count); ++n) {
    const HypercallEntry* e = find_hypercall(n);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(uint16_t(e->number), n);
    EXPECT_NE(e->name, nullptr);
  }
  EXPECT_EQ(find_hypercall(uint16_t(abi::Hypercall::Count)), nullptr);
  EXPECT_STREQ(find_hypercall(0)->name, "ConsoleWrite");
}

TEST(VmHypercalls, ConsoleWriteGoesToTheRightStreamAndReportsTheCount) {
  Fixture f;
  f.put(kBuf, "hello\n");
  f.mem.write(kCall, abi::HcConsoleWrite{kBuf, 6, 1, 0, -1});
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleWrite).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcConsoleWrite>(kCall)->ret, 6);
  f.mem.write(kCall, abi::HcConsoleWrite{kBuf, 5, 2, 0, -1});
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleWrite).kind, Action::Kind::Resume);
  EXPECT_EQ(f.pipes.out(), "hello\n");
  EXPECT_EQ(f.pipes.err(), "hello");
}

TEST(VmHypercalls, ConsoleWriteOfNothingIsFine) {
  Fixture f;
  f.mem.write(kCall, abi::HcConsoleWrite{kRam, 0, 1, 0, -1});  // empty range exactly at the end
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleWrite).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcConsoleWrite>(kCall)->ret, 0);
}

TEST(VmHypercalls, ConsoleWriteToAnUnknownStreamIsEbadf) {
  Fixture f;
  f.mem.write(kCall, abi::HcConsoleWrite{kBuf, 1, 7, 0, 0});
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleWrite).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcConsoleWrite>(kCall)->ret, -EBADF);
}

TEST(VmHypercalls, BufferOutsideRamStopsTheVm) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  struct Case {
    uint64_t gpa, len;
  } cases[] = {{kRam, 1}, {kRam - 1, 2}, {0x7f0000000000, 16}, {kBuf, max}, {max, 1}, {16, max - 15}};
  for (auto c : cases) {
    Fixture f;
    f.mem.write(kCall, abi::HcConsoleWrite{c.gpa, c.len, 1, 0, 77});
    Action a = f.call(abi::Hypercall::ConsoleWrite);
    EXPECT_EQ(a.kind, Action::Kind::Stop) << std::hex << c.gpa << " +" << c.len;
    EXPECT_EQ(a.status, kStopStatus);
    EXPECT_NE(a.reason.find("ConsoleWrite: buffer"), std::string::npos) << a.reason;
    EXPECT_NE(a.reason.find("outside guest RAM"), std::string::npos) << a.reason;
    EXPECT_EQ(f.mem.read<abi::HcConsoleWrite>(kCall)->ret, 77);  // nothing written back
    EXPECT_EQ(f.pipes.out(), "");
  }
}

TEST(VmHypercalls, StructOutsideRamStopsTheVm) {
  for (abi::Hypercall h : {abi::Hypercall::ConsoleWrite, abi::Hypercall::ConsoleRead, abi::Hypercall::Exit}) {
    for (uint64_t gpa : {kRam, kRam - 4, uint64_t(0xfffff000)}) {
      Fixture f;
      Action a = f.call(h, gpa);
      EXPECT_EQ(a.kind, Action::Kind::Stop);
      EXPECT_NE(a.reason.find("struct"), std::string::npos) << a.reason;
    }
  }
}

TEST(VmHypercalls, ConsoleReadFillsTheBufferAndReportsEndOfInput) {
  Fixture f;
  f.pipes.feed("ping\n");
  f.mem.write(kCall, abi::HcConsoleRead{kBuf, 64, -1});
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleRead).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcConsoleRead>(kCall)->ret, 5);
  auto bytes = f.mem.at(kBuf, 5);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes->data()), 5), "ping\n");
  f.pipes.close_input();
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleRead).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcConsoleRead>(kCall)->ret, 0);
}

TEST(VmHypercalls, ConsoleReadWithNothingYetIsEagainOnANonBlockingStream) {
  Fixture f;
  f.mem.write(kCall, abi::HcConsoleRead{kBuf, 64, 0});
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleRead).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcConsoleRead>(kCall)->ret, -EAGAIN);
}

TEST(VmHypercalls, ConsoleReadIntoAWrappingBufferStopsTheVm) {
  Fixture f;
  f.mem.write(kCall, abi::HcConsoleRead{~0ull - 2, 8, 0});
  Action a = f.call(abi::Hypercall::ConsoleRead);
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_NE(a.reason.find("ConsoleRead: buffer"), std::string::npos);
}

TEST(VmHypercalls, ExitKeepsTheLowEightBitsLikeExit2) {
  for (auto [in, out] : {std::pair{0, 0}, {42, 42}, {255, 255}, {256, 0}, {-1, 255}}) {
    Fixture f;
    f.mem.write(kCall, abi::HcExit{in, 0});
    Action a = f.call(abi::Hypercall::Exit);
    EXPECT_EQ(a.kind, Action::Kind::Exit);
    EXPECT_EQ(a.status, out) << in;
  }
}

TEST(VmHypercalls, StartCpuGoesToTheVcpusAndReportsTheirAnswer) {
  struct Cpus : CpuStarter {
    uint32_t index = 0;
    uint64_t rip = 0, rsp = 0;
    int64_t start_cpu(uint32_t i, uint64_t r, uint64_t s) override {
      index = i;
      rip = r;
      rsp = s;
      return i == 1 ? 0 : -EINVAL;
    }
  } cpus;
  Fixture f;
  f.mem.write(kCall, abi::HcStartCpu{1, 0, 0xffffffff80001000, 0xffffffff80200000, -1});
  EXPECT_EQ(f.call(abi::Hypercall::StartCpu).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcStartCpu>(kCall)->ret, -ENOSYS);  // one vCPU: nothing to start
  f.ctx.cpus = &cpus;
  EXPECT_EQ(f.call(abi::Hypercall::StartCpu).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcStartCpu>(kCall)->ret, 0);
  EXPECT_EQ(cpus.index, 1u);
  EXPECT_EQ(cpus.rip, 0xffffffff80001000u);
  EXPECT_EQ(cpus.rsp, 0xffffffff80200000u);
  f.mem.write(kCall, abi::HcStartCpu{7, 0, 0, 0, -1});
  f.call(abi::Hypercall::StartCpu);
  EXPECT_EQ(f.mem.read<abi::HcStartCpu>(kCall)->ret, -EINVAL);
  Action a = f.call(abi::Hypercall::StartCpu, kRam - 8);  // the struct runs past RAM
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_NE(a.reason.find("StartCpu: struct"), std::string::npos);
}

// -t: a pseudo-terminal stands for the user's terminal.
TEST(VmHypercalls, ConsoleTermiosSetsTheHostTerminalAndTheEndPutsItBack) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int tty = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(tty, 0);
  struct termios before;
  ASSERT_EQ(tcgetattr(tty, &before), 0);
  ASSERT_TRUE(before.c_lflag & ECHO);
  Fixture f;
  // Without -t: nothing is changed.
  struct termios raw = before;
  raw.c_lflag &= ~tcflag_t(ECHO | ICANON);
  abi::HcConsoleTermios call{0, TCSETS, {}, 0, -1};
  std::memcpy(call.termios, &raw, 36);
  f.mem.write(kCall, call);
  EXPECT_EQ(f.call(abi::Hypercall::ConsoleTermios).kind, Action::Kind::Resume);
  EXPECT_EQ(f.mem.read<abi::HcConsoleTermios>(kCall)->ret, -ENOTTY);
  {
    // stdin is the terminal; stdout is a pipe (the fixture's).
    HostTerminal terminal(HostConsole{tty, f.console.out, f.console.err});
    f.ctx.terminal = &terminal;
    EXPECT_EQ(f.call(abi::Hypercall::ConsoleTermios).kind, Action::Kind::Resume);
    EXPECT_EQ(f.mem.read<abi::HcConsoleTermios>(kCall)->ret, 0);
    struct termios now;
    ASSERT_EQ(tcgetattr(tty, &now), 0);
    EXPECT_FALSE(now.c_lflag & ECHO);
    EXPECT_FALSE(now.c_lflag & ICANON);
    call.stream = 1;  // a pipe
    f.mem.write(kCall, call);
    f.call(abi::Hypercall::ConsoleTermios);
    EXPECT_EQ(f.mem.read<abi::HcConsoleTermios>(kCall)->ret, -ENOTTY);
    call.stream = 0;
    call.cmd = TCGETS;  // not a mode change
    f.mem.write(kCall, call);
    f.call(abi::Hypercall::ConsoleTermios);
    EXPECT_EQ(f.mem.read<abi::HcConsoleTermios>(kCall)->ret, -EINVAL);
    f.ctx.terminal = nullptr;
  }  // the run's end: the modes come back
  struct termios after;
  ASSERT_EQ(tcgetattr(tty, &after), 0);
  EXPECT_TRUE(after.c_lflag & ECHO);
  EXPECT_TRUE(after.c_lflag & ICANON);
  close(tty);
  close(master);
}

TEST(VmHypercalls, UnknownNumberStops) {
  Fixture f;
  Action a = dispatch_hypercall(f.ctx, 99, kCall);
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_NE(a.reason.find("unknown hypercall 99"), std::string::npos);
}

}  // namespace
}  // namespace mote::vm
