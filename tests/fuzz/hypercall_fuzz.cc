// libFuzzer target: the KVM monitor's hypercall dispatcher
// (monitor/vm/hypercalls.cc) and the port I/O exit handling in front of it
// (monitor/vm/exit_dispatch.cc, uart.cc), against a hostile guest that
// chooses the hypercall number, the struct's address and every byte of
// guest RAM. Input:
//   [mode u8] then
//   mode & 1 == 0: [number u16][struct gpa u64]       -> dispatch_hypercall
//   mode & 1 == 1: [port u16][size u8][count u32][data_len u16][data...]
//                  (out if mode & 2)                   -> ExitDispatcher::handle
//   the rest: guest RAM from GPA 0 (RAM is kRam bytes, zero past the input).
// Guest RAM sits between two PROT_NONE guard pages, so a host access past it
// faults; ASan guards the exit's data buffer (an exact-size heap copy).
// Beyond "no crash", every outcome is checked against a model of the
// contract (abi/hypercall.h): a call whose struct or buffer is not wholly
// inside RAM stops the VM and touches nothing; otherwise only the OUT field
// and (for ConsoleRead) the bytes read change in RAM, and what reaches the
// host console is exactly the guest's buffer.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "abi/hypercall.h"
#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/gdb/stub.h"
#include "monitor/vm/hypercalls.h"
#include "monitor/vm/memory.h"

using namespace mote;
using namespace mote::vm;

namespace {

constexpr uint64_t kRam = 16 * 1024;

// The harness's own checks are not instrumented: their comparisons would
// only lead the fuzzer away from the code under test (and cost ~1 ms a run).
#define NOT_FUZZED __attribute__((no_sanitize("coverage")))
constexpr size_t kStdinBytes = 4096;

struct Fixture {
  GuestMemory mem;
  HostConsole console;
  uint8_t* ram;
  std::unique_ptr<vm::gdbstub::Stub> stub;  // DebugProgram's listener (no gdb connected: fd -1)
};

int make_memfd(const char* name) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) abort();
  return fd;
}

uint8_t stdin_byte(size_t i) { return uint8_t(0x5a ^ (i * 7)); }

Fixture& fixture() {
  static Fixture* f = [] {
    // Guard pages on both sides: reserve RAM plus two pages, free the middle,
    // and let GuestMemory map its RAM there (the next mapping of that size
    // lands in that hole on Linux's top-down allocator; checked).
    auto* hole = static_cast<uint8_t*>(
        mmap(nullptr, kRam + 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (hole == MAP_FAILED || munmap(hole + 4096, kRam) != 0) abort();
    auto mem = GuestMemory::create(kRam);
    if (!mem.ok()) abort();
    auto* ram = static_cast<uint8_t*>(mem->host_mapping());
    if (ram != hole + 4096) fprintf(stderr, "hypercall_fuzz: guest RAM is not between guard pages\n");
    HostConsole c{make_memfd("stdin"), make_memfd("stdout"), make_memfd("stderr")};
    std::vector<uint8_t> in(kStdinBytes);
    for (size_t i = 0; i < in.size(); ++i) in[i] = stdin_byte(i);
    if (write(c.in, in.data(), in.size()) != ssize_t(in.size())) abort();
    auto* f = new Fixture{std::move(*mem), c, ram, nullptr};
    f->stub = std::make_unique<vm::gdbstub::Stub>(f->mem, -1);
    f->stub->expect_program_entry();  // each DebugProgram arms the entry breakpoint
    return f;
  }();
  return *f;
}

NOT_FUZZED bool in_ram(uint64_t gpa, uint64_t len) { return gpa <= kRam && len <= kRam - gpa; }

NOT_FUZZED std::vector<uint8_t> file_bytes(int fd) {
  off_t n = lseek(fd, 0, SEEK_END);
  std::vector<uint8_t> out(size_t(n < 0 ? 0 : n));
  if (!out.empty() && pread(fd, out.data(), out.size(), 0) != ssize_t(out.size())) abort();
  return out;
}

void reset_console(const HostConsole& c) {
  for (int fd : {c.out, c.err})
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) abort();
  if (lseek(c.in, 0, SEEK_SET) != 0) abort();
}

// RAM must equal `before` outside [a, a + alen) and [b, b + blen).
NOT_FUZZED void unchanged_except(const uint8_t* ram, const std::vector<uint8_t>& before, uint64_t a,
                      uint64_t alen, uint64_t b, uint64_t blen) {
  for (uint64_t i = 0; i < kRam; ++i) {
    bool allowed = (i >= a && i - a < alen) || (i >= b && i - b < blen);
    if (!allowed && ram[i] != before[i]) abort();
  }
}

NOT_FUZZED int64_t ret_at(const uint8_t* ram, uint64_t gpa) {
  int64_t v;
  memcpy(&v, ram + gpa, sizeof v);
  return v;
}

// The model of one hypercall's outcome, given RAM before the call.
NOT_FUZZED void check_call(const Fixture& f, uint16_t number, uint64_t gpa, const Action& act,
                const std::vector<uint8_t>& before) {
  const uint8_t* ram = f.ram;
  auto stopped_cleanly = [&] {
    if (act.kind != Action::Kind::Stop || act.reason.empty()) abort();
    unchanged_except(ram, before, 0, 0, 0, 0);
    if (!file_bytes(f.console.out).empty() || !file_bytes(f.console.err).empty()) abort();
  };
  if (number >= uint16_t(abi::Hypercall::Count)) return stopped_cleanly();
  switch (abi::Hypercall(number)) {
    case abi::Hypercall::ConsoleWrite: {
      abi::HcConsoleWrite c;
      if (!in_ram(gpa, sizeof c)) return stopped_cleanly();
      memcpy(&c, before.data() + gpa, sizeof c);
      if (!in_ram(c.buf_gpa, c.len)) return stopped_cleanly();
      if (act.kind != Action::Kind::Resume) abort();
      uint64_t ret_gpa = gpa + offsetof(abi::HcConsoleWrite, ret);
      unchanged_except(ram, before, ret_gpa, 8, 0, 0);
      int64_t ret = ret_at(ram, ret_gpa);
      auto out = file_bytes(f.console.out), err = file_bytes(f.console.err);
      if (c.stream != 1 && c.stream != 2) {
        if (ret != -EBADF || !out.empty() || !err.empty()) abort();
        return;
      }
      const auto& got = c.stream == 1 ? out : err;
      const auto& other = c.stream == 1 ? err : out;
      if (!other.empty() || ret < 0 || uint64_t(ret) != got.size() || got.size() > c.len) abort();
      if (!got.empty() && memcmp(got.data(), before.data() + c.buf_gpa, got.size()) != 0) abort();
      return;
    }
    case abi::Hypercall::ConsoleRead: {
      abi::HcConsoleRead c;
      if (!in_ram(gpa, sizeof c)) return stopped_cleanly();
      memcpy(&c, before.data() + gpa, sizeof c);
      if (!in_ram(c.buf_gpa, c.len)) return stopped_cleanly();
      if (act.kind != Action::Kind::Resume) abort();
      uint64_t ret_gpa = gpa + offsetof(abi::HcConsoleRead, ret);
      int64_t ret = ret_at(ram, ret_gpa);
      if (ret < 0 || uint64_t(ret) > c.len || uint64_t(ret) > kStdinBytes) abort();
      unchanged_except(ram, before, ret_gpa, 8, c.buf_gpa, uint64_t(ret));
      for (uint64_t i = 0; i < uint64_t(ret); ++i) {
        uint64_t at = c.buf_gpa + i;
        if (at >= ret_gpa && at - ret_gpa < 8) continue;  // overwritten by ret
        if (ram[at] != stdin_byte(i)) abort();
      }
      return;
    }
    case abi::Hypercall::Exit: {
      abi::HcExit c;
      if (!in_ram(gpa, sizeof c)) return stopped_cleanly();
      memcpy(&c, before.data() + gpa, sizeof c);
      if (act.kind != Action::Kind::Exit || act.status != (c.status & 0xff)) abort();
      unchanged_except(ram, before, 0, 0, 0, 0);
      return;
    }
    case abi::Hypercall::DebugProgram: {
      abi::HcDebugProgram c;
      if (!in_ram(gpa, sizeof c)) return stopped_cleanly();
      memcpy(&c, before.data() + gpa, sizeof c);
      if (act.kind != Action::Kind::Resume) abort();
      unchanged_except(ram, before, 0, 0, 0, 0);
      // The stub now stops at the program's entry.
      if (f.stub->debug_config(0).exec_breakpoint != c.rip) abort();
      return;
    }
    case abi::Hypercall::StartCpu: {
      // No vCPUs to start here: -ENOSYS in ret, nothing else touched.
      abi::HcStartCpu c;
      if (!in_ram(gpa, sizeof c)) return stopped_cleanly();
      if (act.kind != Action::Kind::Resume) abort();
      uint64_t ret_gpa = gpa + offsetof(abi::HcStartCpu, ret);
      unchanged_except(ram, before, ret_gpa, 8, 0, 0);
      if (ret_at(ram, ret_gpa) != -ENOSYS) abort();
      return;
    }
    case abi::Hypercall::ConsoleTermios: {
      // No terminal here (no -t): -ENOTTY in ret, nothing else touched.
      abi::HcConsoleTermios c;
      if (!in_ram(gpa, sizeof c)) return stopped_cleanly();
      if (act.kind != Action::Kind::Resume) abort();
      uint64_t ret_gpa = gpa + offsetof(abi::HcConsoleTermios, ret);
      unchanged_except(ram, before, ret_gpa, 8, 0, 0);
      if (ret_at(ram, ret_gpa) != -ENOTTY) abort();
      return;
    }
    case abi::Hypercall::Count:
      break;
  }
  abort();
}

struct Input {
  const uint8_t* p;
  size_t n;
  template <typename T>
  T take() {
    T v{};
    size_t k = n < sizeof v ? n : sizeof v;
    memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  Input in{data, size};
  uint8_t mode = in.take<uint8_t>();
  reset_console(f.console);

  if (!(mode & 1)) {
    uint16_t number = in.take<uint16_t>();
    uint64_t gpa = in.take<uint64_t>();
    memset(f.ram, 0, kRam);
    memcpy(f.ram, in.p, in.n < kRam ? in.n : kRam);
    std::vector<uint8_t> before(f.ram, f.ram + kRam);
    HypercallContext ctx{f.mem, f.console, f.stub.get()};
    Action act = dispatch_hypercall(ctx, number, gpa);
    check_call(f, number, gpa, act, before);
    return 0;
  }

  IoAccess io;
  io.out = mode & 2;
  io.port = in.take<uint16_t>();
  io.size = in.take<uint8_t>();
  io.count = in.take<uint32_t>();
  size_t data_len = in.take<uint16_t>();
  if (data_len > in.n) data_len = in.n;
  // Exact size on the heap: a read or write one byte past is an ASan report.
  auto* buf = static_cast<uint8_t*>(malloc(data_len ? data_len : 1));
  memcpy(buf, in.p, data_len);
  io.data = std::span<uint8_t>(buf, data_len);
  in.p += data_len;
  in.n -= data_len;
  memset(f.ram, 0, kRam);
  memcpy(f.ram, in.p, in.n < kRam ? in.n : kRam);
  std::vector<uint8_t> before(f.ram, f.ram + kRam);

  VmExit exit;
  exit.kind = ExitKind::Io;
  exit.io = io;
  ExitDispatcher dispatcher(f.mem, f.console);
  dispatcher.attach_debugger(f.stub.get());
  Action act = dispatcher.handle(exit);

  bool well_formed = (io.size == 1 || io.size == 2 || io.size == 4) && io.count > 0 &&
                     data_len == size_t(io.size) * io.count;
  bool hc_port = io.port >= abi::kHypercallPortBase &&
                 io.port - abi::kHypercallPortBase < uint16_t(abi::Hypercall::Count);
  if (!well_formed) {
    if (act.kind != Action::Kind::Stop) abort();
  } else if (hc_port) {
    if (io.out && io.size == 4 && io.count == 1) {
      uint32_t gpa;
      memcpy(&gpa, buf, 4);
      check_call(f, uint16_t(io.port - abi::kHypercallPortBase), gpa, act, before);
    } else if (act.kind != Action::Kind::Stop) {
      abort();
    }
  }
  free(buf);
  return 0;
}
