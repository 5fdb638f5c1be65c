// kernel/linux/strace.h: --strace lines, with program memory faked by a
// local buffer that appears at kBase.
#include "kernel/linux/strace.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace mote::linux {
namespace {

constexpr u64 kBase = 0x10000000;
u8 g_mem[4096];

bool fake_read(u64 addr, void* buf, usize len) {
  if (addr < kBase || addr - kBase > sizeof g_mem || len > sizeof g_mem - (addr - kBase))
    return false;
  memcpy(buf, g_mem + (addr - kBase), len);
  return true;
}

// Puts bytes into the fake memory at kBase + off; returns their address.
u64 poke(u64 off, const void* data, usize n) {
  memcpy(g_mem + off, data, n);
  return kBase + off;
}
u64 poke_str(u64 off, const char* s) { return poke(off, s, strlen(s) + 1); }

std::string line(u64 nr, std::initializer_list<u64> a, i64 ret, bool done = true) {
  u64 args[6] = {};
  usize i = 0;
  for (u64 v : a) args[i++] = v;
  char storage[512];
  TextBuffer out(storage, sizeof storage);
  format_syscall(out, nr, args, ret, done, fake_read);
  return std::string(out.data(), out.size());
}

class Strace : public ::testing::Test {
 protected:
  void SetUp() override { memset(g_mem, 0, sizeof g_mem); }
};

TEST_F(Strace, Write) {
  u64 buf = poke(0, "hi\n", 3);
  EXPECT_EQ(line(__NR_write, {1, buf, 3}, 3), "write(1, \"hi\\n\", 3) = 3");
}

TEST_F(Strace, FailingCallShowsErrnoName) {
  u64 path = poke_str(0, "/nonexistent");
  EXPECT_EQ(line(__NR_newfstatat, {u64(-100), path, kBase + 0x100, 0}, -2),
            "newfstatat(AT_FDCWD, \"/nonexistent\", 0x10000100, 0) = -1 ENOENT");
  EXPECT_EQ(line(__NR_close, {99}, -9), "close(99) = -1 EBADF");
}

TEST_F(Strace, UnimplementedCall) {
  std::string s = line(__NR_io_setup, {2, 1, 0}, -38);
  EXPECT_EQ(s.rfind("io_setup(", 0), 0u) << s;
  EXPECT_NE(s.find("(not implemented)"), std::string::npos) << s;
  EXPECT_EQ(s, "io_setup(0x2, 0x1, 0, 0, 0, 0) = -1 ENOSYS (not implemented)");
}

TEST_F(Strace, SocketFamiliesAndTypes) {
  EXPECT_EQ(line(__NR_socket, {1, 1 | 02000000, 0}, 3), "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3");
  EXPECT_EQ(line(__NR_socket, {10, 2 | 04000, 0}, -97),
            "socket(AF_INET6, SOCK_DGRAM|SOCK_NONBLOCK, 0) = -1 EAFNOSUPPORT");
  EXPECT_EQ(line(__NR_socket, {77, 5, 0}, -97), "socket(77, SOCK_SEQPACKET, 0) = -1 EAFNOSUPPORT");
  EXPECT_EQ(line(__NR_socketpair, {1, 2, 0, kBase}, 0), "socketpair(AF_UNIX, SOCK_DGRAM, 0, 0x10000000) = 0");
  EXPECT_EQ(line(__NR_accept4, {3, 0, 0, 02000000}, 4), "accept4(3, NULL, NULL, SOCK_CLOEXEC) = 4");
  EXPECT_EQ(line(__NR_accept4, {3, 0, 0, 0}, 4), "accept4(3, NULL, NULL, 0) = 4");
}

TEST_F(Strace, SocketAddresses) {
  // A path, an abstract name, and an IPv4 address and port.
  const u8 path[] = {1, 0, '/', 't', 'm', 'p', '/', 's', 0};
  u64 p = poke(0, path, sizeof path);
  EXPECT_EQ(line(__NR_bind, {3, p, sizeof path}, 0),
            "bind(3, {sa_family=AF_UNIX, sun_path=\"/tmp/s\"}, 9) = 0");
  const u8 abs[] = {1, 0, 0, 'x', 'y'};
  u64 q = poke(64, abs, sizeof abs);
  EXPECT_EQ(line(__NR_connect, {4, q, sizeof abs}, -111),
            "connect(4, {sa_family=AF_UNIX, sun_path=@\"xy\"}, 5) = -1 ECONNREFUSED");
  const u8 in[16] = {2, 0, 0x1f, 0x90, 127, 0, 0, 1};
  u64 r = poke(128, in, sizeof in);
  EXPECT_EQ(line(__NR_connect, {5, r, 16}, 0),
            "connect(5, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0");
  EXPECT_EQ(line(__NR_sendto, {5, p, 2, 0x4000, 0, 0}, 2),
            "sendto(5, \"\\1\\0\", 2, 0x4000, NULL, 0) = 2");
  // Unreadable or too short: the pointer.
  EXPECT_EQ(line(__NR_bind, {3, 0x1234, 16}, -14), "bind(3, 0x1234, 16) = -1 EFAULT");
  EXPECT_EQ(line(__NR_bind, {3, p, 1}, -22), "bind(3, 0x10000000, 1) = -1 EINVAL");
}

TEST_F(Strace, UnknownNumbers) {
  EXPECT_EQ(line(500, {}, -38), "syscall_500(0, 0, 0, 0, 0, 0) = -1 ENOSYS (not implemented)");
  EXPECT_EQ(line(100000, {1}, -38),
            "syscall_100000(0x1, 0, 0, 0, 0, 0) = -1 ENOSYS (not implemented)");
}

TEST_F(Strace, NoreturnBeforeRunning) {
  EXPECT_EQ(line(__NR_exit_group, {3}, 0, false), "exit_group(3) = ?");
  EXPECT_EQ(line(__NR_exit, {0}, 0, false), "exit(0) = ?");
  // Other calls formatted before they run show no result at all.
  EXPECT_EQ(line(__NR_getpid, {}, 0, false), "getpid()");
}

TEST_F(Strace, MmapResultInHex) {
  EXPECT_EQ(line(__NR_mmap, {0, 8192, 3, 0x22, u64(-1), 0}, 0x7f1234567000),
            "mmap(NULL, 8192, 0x3, 0x22, -1, 0) = 0x7f1234567000");
  EXPECT_EQ(line(__NR_mmap, {0, 1ull << 40, 3, 0x22, u64(-1), 0}, -12),
            "mmap(NULL, 1099511627776, 0x3, 0x22, -1, 0) = -1 ENOMEM");
  EXPECT_EQ(line(__NR_brk, {0}, 0x4c5000), "brk(NULL) = 0x4c5000");
}

TEST_F(Strace, OutputBufferShownAfterTheCall) {
  u64 buf = poke(0, "hello world", 11);
  EXPECT_EQ(line(__NR_read, {0, buf, 100}, 0, false), "read(0, 0x10000000, 100)");
  EXPECT_EQ(line(__NR_read, {0, buf, 100}, 5), "read(0, \"hello\", 100) = 5");
  EXPECT_EQ(line(__NR_read, {0, buf, 100}, 0), "read(0, \"\", 100) = 0");
  EXPECT_EQ(line(__NR_read, {0, buf, 100}, -11), "read(0, 0x10000000, 100) = -1 EAGAIN");
}

TEST_F(Strace, LongBuffersAreCut) {
  std::string big(40, 'a');
  u64 buf = poke(0, big.data(), big.size());
  EXPECT_EQ(line(__NR_write, {1, buf, 40}, 40),
            "write(1, \"" + std::string(32, 'a') + "\"..., 40) = 40");
  EXPECT_EQ(line(__NR_write, {1, buf, 32}, 32),
            "write(1, \"" + std::string(32, 'a') + "\", 32) = 32");
}

TEST_F(Strace, Strings) {
  std::string p32(32, 'p');
  u64 s32 = poke_str(0, p32.c_str());
  EXPECT_EQ(line(__NR_readlink, {s32, 0, 0}, -22),
            "readlink(\"" + p32 + "\", 0, 0) = -1 EINVAL");
  std::string p33(33, 'q');
  u64 s33 = poke_str(100, p33.c_str());
  EXPECT_EQ(line(__NR_readlink, {s33, 0, 0}, -22),
            "readlink(\"" + std::string(32, 'q') + "\"..., 0, 0) = -1 EINVAL");
  EXPECT_EQ(line(__NR_readlink, {0, 0, 0}, -14), "readlink(NULL, 0, 0) = -1 EFAULT");
}

TEST_F(Strace, UnreadableMemoryShowsTheAddress) {
  EXPECT_EQ(line(__NR_write, {1, 0xdead0000, 3}, -14), "write(1, 0xdead0000, 3) = -1 EFAULT");
  EXPECT_EQ(line(__NR_readlink, {0xdead0000, 0, 0}, -14),
            "readlink(0xdead0000, 0, 0) = -1 EFAULT");
  EXPECT_EQ(line(__NR_write, {1, 0, 3}, -14), "write(1, NULL, 3) = -1 EFAULT");
}

TEST_F(Strace, Iovecs) {
  u64 a = poke(0, "ab", 2);
  u64 b = poke(16, "c\n", 2);
  u64 iov[4] = {a, 2, b, 2};
  u64 v = poke(64, iov, sizeof iov);
  EXPECT_EQ(line(__NR_writev, {1, v, 2}, 4),
            "writev(1, [{iov_base=\"ab\", iov_len=2}, {iov_base=\"c\\n\", iov_len=2}], 2) = 4");
  // readv shows what was filled: 3 bytes over iov_len 2 + 2.
  poke(0, "xy", 2);
  poke(16, "zw", 2);
  EXPECT_EQ(line(__NR_readv, {0, v, 2}, 3),
            "readv(0, [{iov_base=\"xy\", iov_len=2}, {iov_base=\"z\", iov_len=2}], 2) = 3");
  EXPECT_EQ(line(__NR_readv, {0, v, 2}, 0, false), "readv(0, 0x10000040, 2)");
}

TEST_F(Strace, SignalsClocksAndTimes) {
  EXPECT_EQ(line(__NR_kill, {1, 15}, 0), "kill(1, SIGTERM) = 0");
  EXPECT_EQ(line(__NR_kill, {1, 64}, -22), "kill(1, 64) = -1 EINVAL");
  EXPECT_EQ(line(__NR_rt_sigaction, {11, kBase, 0, 8}, 0),
            "rt_sigaction(SIGSEGV, 0x10000000, NULL, 8) = 0");
  i64 ts[2] = {12, 345};
  u64 t = poke(0, ts, sizeof ts);
  EXPECT_EQ(line(__NR_clock_gettime, {1, t}, 0),
            "clock_gettime(CLOCK_MONOTONIC, {tv_sec=12, tv_nsec=345}) = 0");
  EXPECT_EQ(line(__NR_clock_gettime, {1, t}, 0, false), "clock_gettime(CLOCK_MONOTONIC, 0x10000000)");
  EXPECT_EQ(line(__NR_nanosleep, {t, 0}, 0), "nanosleep({tv_sec=12, tv_nsec=345}, NULL) = 0");
  EXPECT_EQ(line(__NR_clock_getres, {99, 0}, -22), "clock_getres(99, 0) = -1 EINVAL");
}

TEST(StraceNames, Signals) {
  EXPECT_STREQ(signal_name(11), "SIGSEGV");
  EXPECT_STREQ(signal_name(1), "SIGHUP");
  EXPECT_STREQ(signal_name(9), "SIGKILL");
  EXPECT_STREQ(signal_name(17), "SIGCHLD");
  EXPECT_STREQ(signal_name(31), "SIGSYS");
  EXPECT_EQ(signal_name(0), nullptr);
  EXPECT_EQ(signal_name(32), nullptr);
  EXPECT_EQ(signal_name(-1), nullptr);
}

TEST(StraceNames, Clocks) {
  EXPECT_STREQ(clock_name(0), "CLOCK_REALTIME");
  EXPECT_STREQ(clock_name(1), "CLOCK_MONOTONIC");
  EXPECT_STREQ(clock_name(4), "CLOCK_MONOTONIC_RAW");
  EXPECT_STREQ(clock_name(7), "CLOCK_BOOTTIME");
  EXPECT_EQ(clock_name(8), nullptr);
  EXPECT_EQ(clock_name(~u64(0)), nullptr);
}

}  // namespace
}  // namespace mote::linux
