// The process platform's seccomp test of the syscall's address
// (kernel/platform/process/bpf.h), run by the host kernel: a child maps code
// around the 4 GiB line, installs the filter for a range, and makes a system
// call whose next instruction is at a chosen address. Inside the range the
// call runs; outside, the host kills the child with SIGSYS. The core is a
// static PIE placed by the host's ASLR, so its text can straddle the line.
#include "kernel/platform/process/bpf.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace mote::process {
namespace {

constexpr u64 kMap = 0xFFFFE000;  // four pages: two below 4 GiB, two above
constexpr u64 kMapSize = 0x4000;

// mov rax, rdi; mov rdi, rsi; syscall; ret: the syscall's next instruction
// is 8 bytes after the stub's start.
constexpr unsigned char kStub[] = {0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x0f, 0x05, 0xc3};
using StubFn = long (*)(long nr, long arg);

void put_stub(u64 ip_after) { std::memcpy(reinterpret_cast<void*>(ip_after - 8), kStub, sizeof kStub); }
StubFn stub_at(u64 ip_after) { return reinterpret_cast<StubFn>(ip_after - 8); }

// In a child: allow only [start, last], then getpid with its next
// instruction at `probe`, then exit 42 from `exit_ip` (inside the range).
// Returns the wait status; -1 when the fixed mapping is unavailable.
int run_probe(u64 start, u64 last, u64 probe, u64 exit_ip) {
  pid_t pid = fork();
  if (pid == 0) {
    void* m = mmap(reinterpret_cast<void*>(kMap), kMapSize, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m != reinterpret_cast<void*>(kMap)) _exit(99);
    put_stub(probe);
    put_stub(exit_ip);
    Bpf f;
    if (!bpf_ip_in_range(f, start, last, SECCOMP_RET_KILL_PROCESS)) _exit(98);
    f.stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    if (!f.ok()) _exit(97);
    sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(96);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(95);
    // No library call from here on: every syscall outside the range kills.
    stub_at(probe)(SYS_getpid, 0);
    stub_at(exit_ip)(SYS_exit_group, 42);
    __builtin_trap();
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 99) return -1;
  return status;
}

void expect_allowed(u64 start, u64 last, u64 probe, u64 exit_ip) {
  int st = run_probe(start, last, probe, exit_ip);
  if (st == -1) GTEST_SKIP() << "SKIP: cannot map 0x" << std::hex << kMap << " here";
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 42)
      << std::hex << "probe 0x" << probe << " in [0x" << start << ", 0x" << last
      << "] should run; wait status 0x" << st;
}

void expect_killed(u64 start, u64 last, u64 probe, u64 exit_ip) {
  int st = run_probe(start, last, probe, exit_ip);
  if (st == -1) GTEST_SKIP() << "SKIP: cannot map 0x" << std::hex << kMap << " here";
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
      << std::hex << "probe 0x" << probe << " outside [0x" << start << ", 0x" << last
      << "] should be killed; wait status 0x" << st;
}

TEST(SeccompRange, CrossingFourGiB) {
  const u64 start = 0xFFFFF800, last = 0x100000800, exit_ip = 0x100000400;
  expect_killed(start, last, start - 1, exit_ip);
  expect_allowed(start, last, start, exit_ip);
  expect_allowed(start, last, 0xFFFFFFFF, exit_ip);
  expect_allowed(start, last, 0x100000000, exit_ip);
  expect_allowed(start, last, last, exit_ip);
  expect_killed(start, last, last + 1, exit_ip);
  // Same low word as an allowed address, other high word.
  expect_killed(start, last, 0xFFFFE900, exit_ip);
  expect_killed(start, last, 0x100001000 + 0x900, exit_ip);
}

TEST(SeccompRange, BelowFourGiB) {
  const u64 start = 0xFFFFE100, last = 0xFFFFFF00, exit_ip = 0xFFFFF000;
  expect_killed(start, last, start - 1, exit_ip);
  expect_allowed(start, last, start, exit_ip);
  expect_allowed(start, last, last, exit_ip);
  expect_killed(start, last, last + 1, exit_ip);
  expect_killed(start, last, 0x100001000, exit_ip);
}

TEST(SeccompRange, AboveFourGiB) {
  const u64 start = 0x100000100, last = 0x100001F00, exit_ip = 0x100001000;
  expect_killed(start, last, start - 1, exit_ip);
  expect_allowed(start, last, start, exit_ip);
  expect_allowed(start, last, last, exit_ip);
  expect_killed(start, last, last + 1, exit_ip);
  expect_killed(start, last, 0xFFFFF000, exit_ip);
}

TEST(SeccompRange, RefusesWhatItCannotTest) {
  Bpf f;
  EXPECT_FALSE(bpf_ip_in_range(f, 0x100000000, 0xFFFFFFFF, SECCOMP_RET_KILL_PROCESS));
  EXPECT_FALSE(bpf_ip_in_range(f, 0xFFFFF000, 0x200000000, SECCOMP_RET_KILL_PROCESS));
  EXPECT_TRUE(bpf_ip_in_range(f, 0xFFFFF000, 0x1FFFFFFFF, SECCOMP_RET_KILL_PROCESS));
}

TEST(SeccompRange, BuilderReportsOverflow) {
  Bpf f;
  for (usize i = 0; i < Bpf::kMax; ++i) f.stmt(BPF_RET | BPF_K, 0);
  EXPECT_TRUE(f.ok());
  f.stmt(BPF_RET | BPF_K, 0);
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.size(), Bpf::kMax);
}

}  // namespace
}  // namespace mote::process
