// monitor/util/seccomp.h: the monitor-side allowlists, installed in a child
// process and run by the host kernel.
#include "monitor/util/seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
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

TEST(MonitorSeccomp, AllowlistSizes) {
  // docs/security.md quotes these figures.
  EXPECT_EQ(share_server_policy(5, 100, 99).distinct_calls(), 35u);
  EXPECT_EQ(net_helper_policy(4).distinct_calls(), 24u);
  EXPECT_EQ(kvm_run_policy({7}, 0, 1, 2).distinct_calls(), 10u);
}

TEST(MonitorSeccomp, ForbiddenCallEndsTheProcessWithTheMessage) {
  std::string err;
  int st = in_child(share_server_policy(5, 100, 99), [] { syscall(SYS_socket, 2, 1, 0); }, &err);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), kForbiddenStatus);
  EXPECT_EQ(err, "mote: monitor sandbox: forbidden system call 41 (socket) in the share server\n");
}

TEST(MonitorSeccomp, ArgumentTests) {
  // fcntl: F_GETFL admitted, F_SETFL not.
  std::string err;
  int st = in_child(share_server_policy(5, 100, 99), [] { fcntl(1, F_GETFL); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
  err.clear();
  st = in_child(share_server_policy(5, 100, 99), [] { fcntl(1, F_SETFL, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  // The KVM loop: write on its console fds only (two tests in one rule for ioctl).
  err.clear();
  st = in_child(kvm_run_policy({7}, 0, 1, 2), [] { (void)!write(1, "", 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << err;
  err.clear();
  st = in_child(kvm_run_policy({7}, 0, 1, 2), [] { syscall(SYS_ioctl, 7, 0x5401, 0); }, &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
  // openat with O_CREAT: refused to the share server.
  err.clear();
  st = in_child(share_server_policy(5, 100, 99),
                [] { syscall(SYS_openat, AT_FDCWD, "/nonexistent-mote", O_CREAT | O_WRONLY, 0600); },
                &err);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == kForbiddenStatus) << st;
}

}  // namespace
}  // namespace mote::sandbox
