// monitor/process/boot_blob.h and abi/boot_info.h: the monitor -> core blob.
#include "monitor/process/boot_blob.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace mote::launch {
namespace {

using abi::BlobString;
using abi::BootInfo;

BootRequest sample() {
  BootRequest r;
  r.argv = {"/bin/prog", "hello", "", "two words"};
  r.envp = {"PATH=/bin", "HOME=/root", "HOSTNAME=box"};
  r.program_path = "/bin/prog";
  r.hostname = "box";
  r.cwd = "/";
  r.mem_limit = 64ull << 20;
  r.cpus = 2;
  r.flags = abi::kBootStrace;
  r.program_fd = 5;
  r.program_size = 123456;
  for (int i = 0; i < 32; ++i) r.seed[i] = uint8_t(0xa0 + i);
  r.wall_clock_ns = 1700000000123456789ull;
  r.console[1].kind = abi::ConsoleKind::Pipe;
  r.console[2].kind = abi::ConsoleKind::Tty;
  r.console[2].ws_col = 132;
  return r;
}

BootInfo header(const std::vector<uint8_t>& blob) {
  BootInfo h;
  memcpy(&h, blob.data(), sizeof h);
  return h;
}

std::string get(const std::vector<uint8_t>& blob, BlobString s) {
  EXPECT_LE(uint64_t(s.offset) + s.length + 1, blob.size());
  EXPECT_EQ(blob[s.offset + s.length], 0) << "string not NUL-terminated";
  return std::string(reinterpret_cast<const char*>(blob.data() + s.offset), s.length);
}

BlobString entry(const std::vector<uint8_t>& blob, uint32_t table, uint32_t i) {
  BlobString s;
  memcpy(&s, blob.data() + table + i * sizeof(BlobString), sizeof s);
  return s;
}

TEST(BootBlob, RoundTrip) {
  BootRequest r = sample();
  std::vector<uint8_t> blob = build_boot_blob(r);
  ASSERT_GE(blob.size(), sizeof(BootInfo));
  BootInfo h = header(blob);
  EXPECT_TRUE(abi::boot_info_ok(blob.data(), blob.size()));
  EXPECT_EQ(h.magic, abi::kBootMagic);
  EXPECT_EQ(h.version, abi::kBootVersion);
  EXPECT_EQ(h.total_size, blob.size());
  EXPECT_EQ(h.flags, uint32_t(abi::kBootStrace));
  EXPECT_EQ(h.cpus, 2u);
  EXPECT_EQ(h.mem_limit, 64ull << 20);
  EXPECT_EQ(h.wall_clock_ns, 1700000000123456789ull);
  EXPECT_EQ(h.program_fd, 5);
  EXPECT_EQ(h.program_size, 123456u);
  EXPECT_EQ(memcmp(h.random_seed, r.seed, 32), 0);
  EXPECT_EQ(h.console[1].kind, abi::ConsoleKind::Pipe);
  EXPECT_EQ(h.console[2].kind, abi::ConsoleKind::Tty);
  EXPECT_EQ(h.console[2].ws_col, 132);

  EXPECT_EQ(get(blob, h.program_path), "/bin/prog");
  EXPECT_EQ(get(blob, h.hostname), "box");
  EXPECT_EQ(get(blob, h.cwd), "/");
  ASSERT_EQ(h.argc, r.argv.size());
  ASSERT_EQ(h.envc, r.envp.size());
  EXPECT_EQ(h.argv_offset % alignof(BlobString), 0u);
  EXPECT_EQ(h.envp_offset % alignof(BlobString), 0u);
  for (uint32_t i = 0; i < h.argc; ++i) EXPECT_EQ(get(blob, entry(blob, h.argv_offset, i)), r.argv[i]);
  for (uint32_t i = 0; i < h.envc; ++i) EXPECT_EQ(get(blob, entry(blob, h.envp_offset, i)), r.envp[i]);
}

TEST(BootBlob, EmptyEnvironment) {
  BootRequest r = sample();
  r.envp.clear();
  r.argv = {"a"};
  std::vector<uint8_t> blob = build_boot_blob(r);
  BootInfo h = header(blob);
  EXPECT_TRUE(abi::boot_info_ok(blob.data(), blob.size()));
  EXPECT_EQ(h.envc, 0u);
  EXPECT_EQ(h.argc, 1u);
  EXPECT_EQ(get(blob, entry(blob, h.argv_offset, 0)), "a");
}

TEST(BootBlob, BinaryStrings) {
  BootRequest r = sample();
  std::string odd("a\0b\xff", 4);  // embedded NUL: the length is authoritative
  r.argv = {"p", odd};
  std::vector<uint8_t> blob = build_boot_blob(r);
  BootInfo h = header(blob);
  EXPECT_EQ(get(blob, entry(blob, h.argv_offset, 1)), odd);
}

class BootInfoOk : public ::testing::Test {
 protected:
  void SetUp() override {
    blob = build_boot_blob(sample());
    h = header(blob);
    ASSERT_TRUE(abi::boot_info_ok(blob.data(), blob.size()));
  }
  // Validates the blob itself (with the edited header written back), as the
  // core does: the header is the start of the blob.
  bool ok() {
    memcpy(blob.data(), &h, sizeof h);
    return abi::boot_info_ok(blob.data(), blob.size());
  }
  std::vector<uint8_t> blob;
  BootInfo h;
};

TEST_F(BootInfoOk, BadMagic) {
  h.magic ^= 1;
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, BadVersion) {
  h.version = abi::kBootVersion + 1;
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, TotalSizeBeyondTheBlob) {
  EXPECT_FALSE(abi::boot_info_ok(blob.data(), blob.size() - 1));
  h.total_size = uint32_t(blob.size()) + 1;
  EXPECT_FALSE(ok());
  h.total_size = sizeof(BootInfo) - 1;
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, ArgvOffsetOutOfRange) {
  h.argv_offset = h.total_size;  // the table would end past total_size
  EXPECT_FALSE(ok());
  h.argv_offset = h.total_size - 8 * (h.argc - 1);  // aligned, last entry past the end
  EXPECT_FALSE(ok());
  h.argv_offset = 0;  // inside the header
  EXPECT_FALSE(ok());
  h.argv_offset = 0xfffffff8;
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, ArgcHuge) {
  h.argc = 0x40000000;  // the table size overflows 32 bits
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, EnvpOffsetOutOfRange) {
  h.envp_offset = h.total_size;
  EXPECT_FALSE(ok());
  h.envp_offset = 8;
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, MisalignedTables) {
  h.argv_offset += 1;
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, ArgcZero) {
  h.argc = 0;
  EXPECT_FALSE(ok());
}

TEST_F(BootInfoOk, StringPastTheEnd) {
  BootInfo saved = h;
  h.program_path.offset = h.total_size;
  EXPECT_FALSE(ok());
  h = saved;
  h.hostname.length = h.total_size;  // offset + length + NUL beyond the blob
  EXPECT_FALSE(ok());
  h = saved;
  h.cwd.offset = h.total_size - 1;  // no room for the NUL
  h.cwd.length = 1;
  EXPECT_FALSE(ok());
  h = saved;
  h.cwd.offset = 4;  // points into the header
  EXPECT_FALSE(ok());
  h = saved;
  h.program_path.offset = 0xffffffff;
  h.program_path.length = 0xffffffff;  // 32-bit overflow must not wrap
  EXPECT_FALSE(ok());
}

// Regression (fixed; abi/boot_info.h, boot_info_ok): the argv and envp tables are bounds-
// checked, but the BlobStrings inside them are not. kernel/core/boot.cc (lines
// ~101-106) turns each into a StrView without further checks, so a blob whose
// argv[0] or envp[0] string points past total_size passes validation and the
// core reads outside the blob (contrary to "Validates the header fields that
// the kernel relies on before trusting any offset").
TEST_F(BootInfoOk, Regression_ArgvStringPastTheEndIsRejected) {
  BlobString bad{uint32_t(blob.size()) + 100, 5};
  memcpy(blob.data() + h.argv_offset, &bad, sizeof bad);
  EXPECT_FALSE(ok()) << "argv[0] points at offset " << bad.offset << " of a "
                     << blob.size() << "-byte blob";
}

TEST_F(BootInfoOk, Regression_EnvpStringPastTheEndIsRejected) {
  BlobString bad{16, 0xffff};  // into the header, far past the end
  memcpy(blob.data() + h.envp_offset, &bad, sizeof bad);
  EXPECT_FALSE(ok());
}

TEST(BootBlob, ProbeConsole) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(probe_console(p[0]).kind, abi::ConsoleKind::Pipe);
  close(p[0]);
  close(p[1]);
  EXPECT_EQ(probe_console(p[0]).kind, abi::ConsoleKind::Closed);

  int null = open("/dev/null", O_RDONLY);
  ASSERT_GE(null, 0);
  EXPECT_EQ(probe_console(null).kind, abi::ConsoleKind::Null);
  close(null);

  FILE* f = tmpfile();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(probe_console(fileno(f)).kind, abi::ConsoleKind::File);
  fclose(f);
}

}  // namespace
}  // namespace mote::launch
