// What every kind of VM exit means (monitor/vm/exit_dispatch.h).
#include "monitor/vm/exit_dispatch.h"

#include <gtest/gtest.h>

#include <cstring>

#include "abi/hypercall.h"
#include "tests/vm/unit/console_pipe.h"

namespace mote::vm {
namespace {

struct Fixture {
  GuestMemory mem = std::move(GuestMemory::create(1ull << 20).value());
  vmtest::ConsolePipes pipes;
  ExitDispatcher dispatcher{mem, pipes.console()};
  uint8_t data[8] = {};

  Action io(bool out, uint16_t port, uint8_t size, uint32_t value, uint32_t count = 1) {
    std::memcpy(data, &value, sizeof value);
    VmExit e;
    e.kind = ExitKind::Io;
    e.io = IoAccess{out, port, size, count, std::span<uint8_t>(data, size_t(size) * count)};
    return dispatcher.handle(e);
  }
  Action other(ExitKind k, uint64_t code = 0) {
    VmExit e;
    e.kind = k;
    e.code = code;
    return dispatcher.handle(e);
  }
};

TEST(VmExitDispatch, HypercallPortTakesTheStructGpaFromOutl) {
  Fixture f;
  f.mem.write(0x3000, abi::HcExit{42, 0});
  Action a = f.io(true, abi::hypercall_port(abi::Hypercall::Exit), 4, 0x3000);
  EXPECT_EQ(a.kind, Action::Kind::Exit);
  EXPECT_EQ(a.status, 42);
}

TEST(VmExitDispatch, HypercallPortNeedsOneFourByteOut) {
  uint16_t port = abi::hypercall_port(abi::Hypercall::ConsoleWrite);
  Fixture f;
  for (Action a : {f.io(true, port, 1, 0x3000), f.io(true, port, 2, 0x3000), f.io(false, port, 4, 0),
                   f.io(true, port, 4, 0x3000, 2)}) {
    EXPECT_EQ(a.kind, Action::Kind::Stop);
    EXPECT_NE(a.reason.find("needs one 4-byte out"), std::string::npos) << a.reason;
  }
}

TEST(VmExitDispatch, UnknownPortStopsWithThePort) {
  Fixture f;
  Action a = f.io(true, 0x80, 1, 0);
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_EQ(a.reason, "unexpected port I/O: out of 1 byte to port 0x80");
  a = f.io(false, 0x2f8, 1, 0);
  EXPECT_EQ(a.reason, "unexpected port I/O: in of 1 byte from port 0x2f8");
  // The port just past the hypercall range is not a hypercall.
  a = f.io(true, abi::kHypercallPortBase + uint16_t(abi::Hypercall::Count), 4, 0);
  EXPECT_NE(a.reason.find("unexpected port I/O"), std::string::npos);
}

TEST(VmExitDispatch, MalformedIoExitStops) {
  Fixture f;
  VmExit e;
  e.kind = ExitKind::Io;
  e.io = IoAccess{true, 0x3f8, 4, 2, std::span<uint8_t>(f.data, 4)};  // data too short for 2 x 4
  EXPECT_EQ(f.dispatcher.handle(e).kind, Action::Kind::Stop);
  e.io = IoAccess{true, 0x3f8, 3, 1, std::span<uint8_t>(f.data, 3)};
  EXPECT_EQ(f.dispatcher.handle(e).kind, Action::Kind::Stop);
}

TEST(VmExitDispatch, UartEchoesTransmittedBytesToStdout) {
  Fixture f;
  for (char c : std::string("hi\n")) EXPECT_EQ(f.io(true, 0x3f8, 1, uint8_t(c)).kind, Action::Kind::Resume);
  EXPECT_EQ(f.pipes.out(), "hi\n");
}

TEST(VmExitDispatch, UartRepOutsbIsOneWrite) {
  Fixture f;
  std::memcpy(f.data, "abcd", 4);
  VmExit e;
  e.kind = ExitKind::Io;
  e.io = IoAccess{true, 0x3f8, 1, 4, std::span<uint8_t>(f.data, 4)};
  EXPECT_EQ(f.dispatcher.handle(e).kind, Action::Kind::Resume);
  EXPECT_EQ(f.pipes.out(), "abcd");
}

TEST(VmExitDispatch, UartLineStatusSaysReadyAndDivisorWritesAreNotOutput) {
  Fixture f;
  EXPECT_EQ(f.io(false, 0x3fd, 1, 0).kind, Action::Kind::Resume);
  EXPECT_EQ(f.data[0] & 0x60, 0x60);
  f.io(true, 0x3fb, 1, 0x80);  // DLAB on
  f.io(true, 0x3f8, 1, 0x01);  // divisor low byte, not a character
  f.io(true, 0x3fb, 1, 0x03);  // 8N1, DLAB off
  f.io(true, 0x3f8, 1, 'x');
  EXPECT_EQ(f.pipes.out(), "x");
  f.io(true, 0x3ff, 1, 0x5a);
  f.io(false, 0x3ff, 1, 0);
  EXPECT_EQ(f.data[0], 0x5a);  // scratch register reads back
}

TEST(VmExitDispatch, IsaDebugExitEndsWithTheValue) {
  Fixture f;
  Action a = f.io(true, abi::kIsaDebugExitPort, 1, 7);
  EXPECT_EQ(a.kind, Action::Kind::Exit);
  EXPECT_EQ(a.status, 7);
  a = f.io(true, abi::kIsaDebugExitPort, 4, 0x1ff);
  EXPECT_EQ(a.status, 0xff);
}

TEST(VmExitDispatch, EveryOtherExitStopsWithAClearReason) {
  Fixture f;
  EXPECT_EQ(f.other(ExitKind::Shutdown).reason, "triple fault (KVM_EXIT_SHUTDOWN)");
  EXPECT_NE(f.other(ExitKind::InternalError, 1).reason.find("could not emulate"), std::string::npos);
  EXPECT_NE(f.other(ExitKind::FailEntry, 0x21).reason.find("hardware reason 0x21"), std::string::npos);
  EXPECT_NE(f.other(ExitKind::Hlt).reason.find("hlt"), std::string::npos);
  EXPECT_EQ(f.other(ExitKind::Other, 24).reason, "unexpected KVM exit reason 24");
  VmExit m;
  m.kind = ExitKind::Mmio;
  m.mmio = MmioAccess{0xd0000000, true, 4, std::span<uint8_t>(f.data, 4)};
  Action a = f.dispatcher.handle(m);
  EXPECT_EQ(a.kind, Action::Kind::Stop);
  EXPECT_EQ(a.reason, "access to unbacked guest-physical memory: write of 4 bytes at gpa 0xd0000000");
}

}  // namespace
}  // namespace mote::vm
