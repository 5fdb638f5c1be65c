// kernel/linux/table.cc: the syscall descriptor table; kernel/lib/errno.h.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "tests/unit/fake_handlers.h"

namespace mote::linux {
namespace {

TEST(Table, Write) {
  const SyscallDesc& d = syscall_desc(__NR_write);
  ASSERT_NE(d.name, nullptr);
  EXPECT_STREQ(d.name, "write");
  EXPECT_EQ(d.nargs, 3);
  EXPECT_EQ(d.ret, Arg::Errno);
  EXPECT_EQ(d.args[0], Arg::Fd);
  EXPECT_EQ(d.args[1], Arg::InBuf);
  EXPECT_EQ(d.args[2], Arg::Uint);
  EXPECT_EQ(d.handler, &sys_write);
  SysArgs a{};
  EXPECT_EQ(d.handler(a), test::fake_handler_result(__NR_write));
}

TEST(Table, Mmap) {
  const SyscallDesc& d = syscall_desc(__NR_mmap);
  EXPECT_STREQ(d.name, "mmap");
  EXPECT_EQ(d.nargs, 6);
  EXPECT_EQ(d.ret, Arg::Hex);
  EXPECT_EQ(d.args[4], Arg::Fd);
  EXPECT_EQ(d.handler, &sys_mmap);
}

TEST(Table, NoArguments) {
  const SyscallDesc& d = syscall_desc(__NR_getpid);
  EXPECT_STREQ(d.name, "getpid");
  EXPECT_EQ(d.nargs, 0);
  EXPECT_EQ(d.handler, &sys_getpid);
}

TEST(Table, UnimplementedHasANameButNoHandler) {
  const SyscallDesc& d = syscall_desc(__NR_io_setup);
  EXPECT_EQ(d.handler, nullptr);
  ASSERT_NE(d.name, nullptr);
  EXPECT_STREQ(d.name, "io_setup");
  EXPECT_STREQ(syscall_desc(__NR_kexec_load).name, "kexec_load");
  EXPECT_EQ(syscall_desc(__NR_kexec_load).handler, nullptr);
  EXPECT_STREQ(syscall_desc(0).name, "read");
}

TEST(Table, OutOfRange) {
  EXPECT_EQ(syscall_desc(100000).name, nullptr);
  EXPECT_EQ(syscall_desc(100000).handler, nullptr);
  EXPECT_EQ(syscall_desc(kMaxSyscall).name, nullptr);
  EXPECT_EQ(syscall_desc(~u64(0)).name, nullptr);
  EXPECT_EQ(syscall_desc(kMaxSyscall - 1).name, nullptr);  // x86-64 has no 511
  EXPECT_EQ(syscall_desc(kMaxSyscall - 1).handler, nullptr);
}

// Every row of MOTE_SYSCALLS lands at its own number with its own handler.
int count_args() { return 0; }
template <typename... A>
int count_args(Arg, A... rest) { return 1 + count_args(rest...); }

TEST(Table, EveryRowIsWired) {
  int rows = 0;
  using enum Arg;
#define CHECK_ROW(sc, ret_kind, ...)                                       \
  {                                                                        \
    ++rows;                                                                \
    const SyscallDesc& d = syscall_desc(__NR_##sc);                        \
    EXPECT_STREQ(d.name, #sc);                                             \
    EXPECT_EQ(d.handler, &sys_##sc) << #sc;                                \
    SysArgs a{};                                                           \
    if (d.handler) {                                                       \
      EXPECT_EQ(d.handler(a), test::fake_handler_result(__NR_##sc)) << #sc; \
    }                                                                      \
    EXPECT_EQ(d.ret, ret_kind) << #sc;                                     \
    EXPECT_EQ(d.nargs, count_args(__VA_ARGS__)) << #sc;                    \
  }
  MOTE_SYSCALLS(CHECK_ROW)
#undef CHECK_ROW
  EXPECT_GT(rows, 40);

  // And nothing else has a handler.
  int with_handler = 0;
  for (u64 nr = 0; nr < kMaxSyscall; ++nr)
    if (syscall_desc(nr).handler) ++with_handler;
  EXPECT_EQ(with_handler, rows);
}

TEST(Table, EveryHandledNumberHasItsUapiName) {
  // Spot checks against the kernel's numbering (asm/unistd_64.h).
  EXPECT_STREQ(syscall_desc(1).name, "write");
  EXPECT_STREQ(syscall_desc(9).name, "mmap");
  EXPECT_STREQ(syscall_desc(41).name, "socket");
  EXPECT_STREQ(syscall_desc(60).name, "exit");
  EXPECT_STREQ(syscall_desc(231).name, "exit_group");
  EXPECT_STREQ(syscall_desc(318).name, "getrandom");
}

TEST(Errno, Names) {
  EXPECT_STREQ(errno_name(2), "ENOENT");
  EXPECT_STREQ(errno_name(38), "ENOSYS");
  EXPECT_STREQ(errno_name(1), "EPERM");
  EXPECT_STREQ(errno_name(12), "ENOMEM");
  EXPECT_STREQ(errno_name(22), "EINVAL");
  EXPECT_STREQ(errno_name(11), "EAGAIN");  // not EWOULDBLOCK: the first name wins
  EXPECT_STREQ(errno_name(35), "EDEADLK");
  EXPECT_STREQ(errno_name(ENOSYS), "ENOSYS");
  EXPECT_EQ(errno_name(0), nullptr);
  EXPECT_EQ(errno_name(-2), nullptr);
  EXPECT_EQ(errno_name(4095), nullptr);
}

}  // namespace
}  // namespace mote::linux
