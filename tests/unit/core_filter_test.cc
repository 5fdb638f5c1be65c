// The process platform's seccomp filter (kernel/platform/process/core_filter.h)
// with every fd a run can give it (shares, a tap with headers, its kick
// eventfd, gdb, the timerfd): it must fit in its program, and the host
// kernel, running it in a child, must let through what the core needs and
// kill the process on anything else. The child makes its calls through a
// stub in a page of its own, the "core's text" the filter admits.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "kernel/platform/process/core_filter.h"

namespace mote::process {
namespace {

// mov rax, rdi; mov rdi, rsi; mov rsi, rdx; mov rdx, rcx; mov r10, r8;
// syscall; ret: nr and four arguments, in the page the filter admits.
constexpr unsigned char kStub[] = {0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6,
                                   0x48, 0x89, 0xca, 0x4d, 0x89, 0xc2, 0x0f, 0x05, 0xc3};
using Stub = long (*)(long nr, long a, long b, long c, long d);

// The fds of the largest filter: each a real file of the right kind.
struct Fds {
  int share, net, kick, gdb, timer, shm, other;
};

Fds open_fds() {
  int p[2], q[2], s[2];
  EXPECT_EQ(pipe(p), 0);
  EXPECT_EQ(pipe(q), 0);
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s), 0);
  Fds f{};
  f.share = s[0];
  f.net = p[1];   // a pipe stands in for the tap: read/write/readv/writev
  f.kick = q[1];
  f.gdb = s[1];
  f.timer = timerfd_create(CLOCK_MONOTONIC, 0);
  f.shm = p[0];
  f.other = q[0];
  EXPECT_GE(f.timer, 0);
  return f;
}

void close_fds(const Fds& f) {
  for (int fd : {f.share, f.net, f.kick, f.gdb, f.timer, f.shm, f.other}) close(fd);
}

CoreFilterInputs largest(const Fds& fds, u64 text, u64 text_size) {
  CoreFilterInputs in;
  in.text_start = text;
  in.text_end = text + text_size;
  in.share_fd = fds.share;
  in.net_fd = fds.net;
  in.vnet = true;
  in.net_kick_fd = fds.kick;
  in.gdb_fd = fds.gdb;
  in.timer_fd = fds.timer;
  in.shm_fd = fds.shm;
  in.host_pid = getpid();
  return in;
}

// In a child: the filter, then `calls` through the stub (no library call
// after the filter: it would be killed), then exit 0. The wait status.
int run_filtered(const std::function<int(Stub, const Fds&)>& calls) {
  Fds fds = open_fds();
  pid_t pid = fork();
  if (pid == 0) {
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) _exit(99);
    std::memcpy(page, kStub, sizeof kStub);
    Bpf f;
    if (build_core_filter(largest(fds, u64(page), 4096), f)) _exit(98);
    sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(96);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(95);
    Stub stub = reinterpret_cast<Stub>(page);
    int code = calls(stub, fds);
    stub(SYS_exit_group, code, 0, 0, 0);
    __builtin_trap();
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close_fds(fds);
  return status;
}

bool exited(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
bool killed_by_filter(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }

TEST(CoreFilter, TheLargestFits) {
  Fds fds = open_fds();
  Bpf f;
  EXPECT_EQ(build_core_filter(largest(fds, 0x7f0000000000, 0x80000), f), nullptr);
  EXPECT_TRUE(f.ok());
  EXPECT_GT(f.size(), 100u);  // every rule is in it
  // A text range across two 4 GiB lines cannot be tested in BPF's 32 bits.
  Bpf g;
  EXPECT_NE(build_core_filter(largest(fds, 0x7f00fffff000, 0x200000000), g), nullptr);
  close_fds(fds);
}

TEST(CoreFilter, LetsThroughWhatTheCoreNeeds) {
  int status = run_filtered([](Stub stub, const Fds& fds) {
    char c = 'x';
    if (stub(SYS_write, fds.net, long(&c), 1, 0) != 1) return 1;
    if (stub(SYS_write, fds.kick, long(&c), 1, 0) != 1) return 2;
    if (stub(SYS_write, fds.share, long(&c), 1, 0) != 1) return 3;
    if (stub(SYS_read, fds.gdb, long(&c), 1, 0) != 1) return 4;
    itimerspec spec{};
    spec.it_value.tv_nsec = 1000;  // 1 us from now
    if (stub(SYS_timerfd_settime, fds.timer, 0, long(&spec), 0) != 0) return 5;
    unsigned long long n = 0;
    if (stub(SYS_read, fds.timer, long(&n), sizeof n, 0) != sizeof n || n < 1) return 6;
    if (stub(SYS_gettid, 0, 0, 0, 0) <= 0) return 7;
    return 0;
  });
  EXPECT_TRUE(exited(status, 0)) << "status " << status;
}

TEST(CoreFilter, KillsAnythingElse) {
  // Each in a child of its own: the first refused call ends it.
  const std::function<int(Stub, const Fds&)> refused[] = {
      [](Stub stub, const Fds& fds) {  // write on an fd the core does not have
        char c = 'x';
        stub(SYS_write, fds.other, long(&c), 1, 0);
        return 0;
      },
      [](Stub stub, const Fds& fds) {  // the timerfd call on another fd
        itimerspec spec{};
        stub(SYS_timerfd_settime, fds.other, 0, long(&spec), 0);
        return 0;
      },
      [](Stub stub, const Fds&) {  // a call not in the list
        stub(SYS_getpid, 0, 0, 0, 0);
        return 0;
      },
      [](Stub stub, const Fds&) {  // opening anything
        stub(SYS_openat, AT_FDCWD, long("/etc/hostname"), O_RDONLY, 0);
        return 0;
      },
  };
  for (const auto& calls : refused) {
    int status = run_filtered(calls);
    EXPECT_TRUE(killed_by_filter(status)) << "status " << status;
  }
}

TEST(CoreFilter, KillsCallsFromOutsideTheCoresText) {
  // write on an admitted fd, but through libc: its syscall instruction is
  // not in the stub's page.
  int status = run_filtered([](Stub, const Fds& fds) {
    char c = 'x';
    syscall(SYS_write, fds.net, &c, 1);
    return 0;
  });
  EXPECT_TRUE(killed_by_filter(status)) << "status " << status;
}

}  // namespace
}  // namespace mote::process
