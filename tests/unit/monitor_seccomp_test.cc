// monitor/util/seccomp.h: the monitor-side allowlists, installed in a child
// process and run by the host kernel.
#include "monitor/util/seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "monitor/util/seccomp_policies.h"

namespace mote::sandbox {
namespace {

// Runs `body` in a child under `p`; returns its wait status and its stderr.
template <typename F>
int in_child(const Policy& p, F body, std::string* err) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    std::string e;
    if (!install(p, &e)) _exit(100);
    body();
    _exit(0);
  }
  close(pipefd[1]);
  char buf[512];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) err->append(buf, size_t(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

KvmRunFds kvm_fds() {
  KvmRunFds f;
  f.vcpus = {7};
  return f;
}

TEST(MonitorSeccomp, AllowlistSizes) {
  // docs/security.md quotes these figures (distinct calls, BPF instructions).
  EXPECT_EQ(share_server_policy(5).distinct_calls(), 28u);
  EXPECT_EQ(net_helper_policy(4).distinct_calls(), 24u);
  EXPECT_EQ(kvm_run_policy(kvm_fds()).distinct_calls(), 10u);
  EXPECT_EQ(compile(share_server_policy(5)).size(), 78u);
  EXPECT_EQ(compile(net_helper_policy(4)).size(), 89u);
  EXPECT_EQ(compile(kvm_run_policy(kvm_fds())).size(), 52u);
  // With a network device and two shares (--platform kvm -p ... -v ... -v ...).
  KvmRunFds devices = kvm_fds();
  devices.vm = 6;
  devices.net = 8;
  devices.net_wake = 9;
  devices.shares = {10, 11};
  EXPECT_EQ(kvm_run_policy(devices).distinct_calls(), 19u);
  // Two vCPUs, no device: the threads' calls (futex, tgkill, mprotect and
  // the thread's end: rt_sigprocmask, madvise, exit). Shares alone: their
  // sockets, no thread.
  KvmRunFds smp = kvm_fds();
  smp.vcpus = {7, 8};
  EXPECT_EQ(kvm_run_policy(smp).distinct_calls(), 16u);
  KvmRunFds watchdog = kvm_fds();  // --timeout: the monitor's deadline thread
  watchdog.threads = true;
  EXPECT_EQ(kvm_run_policy(watchdog).distinct_calls(), 16u);
  KvmRunFds shares = kvm_fds();
  shares.shares = {10};
  EXPECT_EQ(kvm_run_policy(shares).distinct_calls(), 12u);
  // --gdb: the debug ioctls (one rule), the socket and the ^C watcher
  // (a thread: poll on its eventfd and the socket).
  KvmRunFds gdb = kvm_fds();
  gdb.gdb = 8;
  gdb.gdb_wake = 9;
  EXPECT_EQ(kvm_run_policy(gdb).distinct_calls(), 17u);
  // What waits for the core and the share server on the process platform.
  EXPECT_EQ(supervisor_policy(100, 101, 99).distinct_calls(), 10u);
  EXPECT_EQ(compile(supervisor_policy(100, 101, 99)).size(), 46u);
  EXPECT_EQ(compile(kvm_run_policy(devices)).size(), 109u);
}

TEST(MonitorSeccomp, ShareServerHasNoPathTruncateOpenatFcntlOrSigprocmask) {
  // Opens are openat2 alone (reopening through /proc/self/fd included), a
  // size change goes through an open fd, and the end needs no mask change;
  // it signals and waits for nothing (mote does).
  auto refused = [](auto call) {
    std::string err;
    int st = in_child(share_server_policy(5), call, &err);
    return WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus;
  };
  EXPECT_TRUE(refused([] { syscall(SYS_openat, AT_FDCWD, "/nonexistent-mote", O_RDONLY); }));
  EXPECT_TRUE(refused([] { syscall(SYS_truncate, "/nonexistent-mote", 0); }));
  EXPECT_TRUE(refused([] { syscall(SYS_fcntl, 1, F_GETFL); }));
  EXPECT_TRUE(refused([] {
    sigset_t none;
    sigemptyset(&none);
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &none, nullptr, 8);
  }));
  EXPECT_TRUE(refused([] { syscall(SYS_kill, getppid(), 0); }));
  EXPECT_TRUE(refused([] { syscall(SYS_wait4, -1, nullptr, WNOHANG, nullptr); }));
  EXPECT_TRUE(refused([] { syscall(SYS_rt_sigaction, SIGTERM, nullptr, nullptr, 8); }));
  // What replaces them is admitted: openat2 and ftruncate (both failing here).
  EXPECT_FALSE(refused([] { syscall(SYS_openat2, AT_FDCWD, "/nonexistent-mote", nullptr, 0); }));
  EXPECT_FALSE(refused([] { syscall(SYS_ftruncate, -1, 0); }));
}

TEST(MonitorSeccomp, ForbiddenCallEndsTheProcessWithTheMessage) {
  std::string err;
  int st = in_child(share_server_policy(5), [] { syscall(SYS_socket, 2, 1, 0); }, &err);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), kForbiddenStatus);
  EXPECT_EQ(err, "mote: monitor sandbox: forbidden system call 41 (socket) in the share server\n");
}

TEST(MonitorSeccomp, SupervisorSignalsAndWaitsForItsChildrenOnly) {
  // Core 100, server 101 (no such processes: the calls fail, admitted).
  auto outcome = [](auto call) {
    std::string err;
    int st = in_child(supervisor_policy(100, 101, getpid()), call, &err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  EXPECT_EQ(outcome([] { syscall(SYS_kill, 100, 0); }), 0);
  EXPECT_EQ(outcome([] { syscall(SYS_kill, 101, 0); }), 0);
  EXPECT_EQ(outcome([] { syscall(SYS_wait4, -1, nullptr, WNOHANG, nullptr); }), 0);
  EXPECT_EQ(outcome([] { syscall(SYS_kill, 1, 0); }), kForbiddenStatus);
  EXPECT_EQ(outcome([] { syscall(SYS_wait4, 1, nullptr, WNOHANG, nullptr); }), kForbiddenStatus);
  EXPECT_EQ(outcome([] { syscall(SYS_openat2, AT_FDCWD, "/x", nullptr, 0); }), kForbiddenStatus);
  EXPECT_EQ(outcome([] { syscall(SYS_recvfrom, 5, nullptr, 0, MSG_DONTWAIT, 0, 0); }), kForbiddenStatus);
}

TEST(MonitorSeccomp, ArgumentTests) {
  // mote-net's fcntl: F_GETFL admitted, F_DUPFD_CLOEXEC not.
  std::string err;
  int st = in_child(net_helper_policy(4), [] { fcntl(1, F_GETFL); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
  err.clear();
  st = in_child(net_helper_policy(4), [] { fcntl(1, F_DUPFD_CLOEXEC, 3); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  // The share server: recvfrom on its socket (fd 5) only; no PROT_EXEC mapping.
  err.clear();
  st = in_child(share_server_policy(5),
                [] { syscall(SYS_recvfrom, 5, nullptr, 0, MSG_DONTWAIT, 0, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
  err.clear();
  st = in_child(share_server_policy(5),
                [] { syscall(SYS_recvfrom, 6, nullptr, 0, MSG_DONTWAIT, 0, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  err.clear();
  st = in_child(share_server_policy(5), [] {
    mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  // The KVM loop: write on its console fds only (two tests in one rule for ioctl).
  err.clear();
  st = in_child(kvm_run_policy(kvm_fds()), [] { (void)!write(1, "", 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
  err.clear();
  st = in_child(kvm_run_policy(kvm_fds()), [] { syscall(SYS_ioctl, 7, 0x5401, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  // --gdb: the debug ioctls on the vCPU fds, never KVM_SET_SREGS (which
  // could change the guest's paging or privilege under the stub).
  KvmRunFds gdb = kvm_fds();
  gdb.gdb = 8;
  gdb.gdb_wake = 9;
  err.clear();
  st = in_child(kvm_run_policy(gdb), [] { syscall(SYS_ioctl, 7, KVM_SET_GUEST_DEBUG, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
  err.clear();
  st = in_child(kvm_run_policy(gdb), [] { syscall(SYS_ioctl, 7, KVM_SET_SREGS, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  err.clear();
  st = in_child(kvm_run_policy(kvm_fds()), [] { syscall(SYS_ioctl, 7, KVM_SET_GUEST_DEBUG, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  // -t: the terminal mode changes on the console fds, nothing else (no
  // TIOCSTI, which would type into the user's shell).
  KvmRunFds tty = kvm_fds();
  tty.tty = true;
  err.clear();
  st = in_child(kvm_run_policy(tty), [] { syscall(SYS_ioctl, 0, TCSETS, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
  err.clear();
  st = in_child(kvm_run_policy(tty), [] { syscall(SYS_ioctl, 0, TIOCSTI, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  err.clear();
  st = in_child(kvm_run_policy(kvm_fds()), [] { syscall(SYS_ioctl, 0, TCSETS, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  // mote-net's openat: read-only, never creating.
  err.clear();
  st = in_child(net_helper_policy(4),
                [] { syscall(SYS_openat, AT_FDCWD, "/nonexistent-mote", O_CREAT | O_WRONLY, 0600); },
                &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  err.clear();
  st = in_child(net_helper_policy(4),
                [] { syscall(SYS_openat, AT_FDCWD, "/nonexistent-mote", O_RDONLY); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
}

}  // namespace
}  // namespace mote::sandbox
