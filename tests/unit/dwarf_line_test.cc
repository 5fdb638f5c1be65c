// kernel/exec/dwarf_line.cc against binutils' addr2line: for every address
// of every function in a -g build (DWARF 5, gcc's default, and DWARF 4), the
// file and line must be addr2line's.
#include "kernel/exec/dwarf_line.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace mote::dwarf {
namespace {

struct File {
  std::string bytes;
};

Result<usize> read_bytes(void* ctx, u64 off, void* buf, usize len) {
  auto* f = static_cast<File*>(ctx);
  if (off >= f->bytes.size()) return usize(0);
  usize n = std::min<usize>(len, f->bytes.size() - off);
  memcpy(buf, f->bytes.data() + off, n);
  return n;
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string base_name(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

void check_against_addr2line(const std::string& path) {
  File f;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  f.bytes.assign(std::istreambuf_iterator<char>(in), {});
  // Function symbols and sizes from nm; each of their addresses in 3-byte steps.
  std::istringstream syms(run("nm -S --defined-only " + path));
  std::vector<unsigned long> addrs;
  std::string line;
  while (std::getline(syms, line)) {
    unsigned long a = 0, size = 0;
    char type = 0;
    char name[256];
    if (sscanf(line.c_str(), "%lx %lx %c %255s", &a, &size, &type, name) != 4) continue;
    if (type != 'T' && type != 't') continue;
    if (std::string(name) != "main" && std::string(name) != "sum_to" &&
        std::string(name) != "twice")
      continue;
    for (unsigned long k = 0; k < size; k += 3) addrs.push_back(a + k);
  }
  ASSERT_GT(addrs.size(), 20u) << "too few addresses from nm in " << path;
  std::string query = "addr2line -e " + path;
  char hex[32];
  for (auto a : addrs) {
    snprintf(hex, sizeof hex, " %#lx", a);
    query += hex;
  }
  std::istringstream want(run(query));
  int compared = 0, header_rows = 0;
  for (auto a : addrs) {
    std::string expect;
    std::getline(want, expect);
    size_t colon = expect.rfind(':');
    ASSERT_NE(colon, std::string::npos) << expect;
    std::string want_file = base_name(expect.substr(0, colon));
    std::string want_line = expect.substr(colon + 1);
    size_t sp = want_line.find(' ');  // "12 (discriminator 1)"
    if (sp != std::string::npos) want_line.resize(sp);
    char file[128];
    u32 got_line = 0;
    bool found = find_line(read_bytes, &f, a, file, sizeof file, &got_line);
    if (want_file == "??") {
      EXPECT_FALSE(found) << std::hex << a;
      continue;
    }
    ASSERT_TRUE(found) << path << " at 0x" << std::hex << a << ": addr2line says " << expect;
    EXPECT_EQ(base_name(file), want_file) << path << " at 0x" << std::hex << a;
    EXPECT_EQ(std::to_string(got_line), want_line) << path << " at 0x" << std::hex << a;
    ++compared;
    if (want_file == "lines_inc.h") ++header_rows;
  }
  EXPECT_GT(compared, 20);
  EXPECT_GT(header_rows, 0) << "no address from the header: the file table was not exercised";
}

TEST(DwarfLine, MatchesAddr2lineDwarf5) { check_against_addr2line(MOTE_UNIT_LINES_DWARF5); }
TEST(DwarfLine, MatchesAddr2lineDwarf4) { check_against_addr2line(MOTE_UNIT_LINES_DWARF4); }

TEST(DwarfLine, NoDebugInfoNoLine) {
  File f;
  std::ifstream in(MOTE_UNIT_ELF_STATIC, std::ios::binary);
  f.bytes.assign(std::istreambuf_iterator<char>(in), {});
  char file[64];
  u32 line = 0;
  EXPECT_FALSE(find_line(read_bytes, &f, 0x401000, file, sizeof file, &line));
}

TEST(DwarfLine, TruncatedFilesNeverCrash) {
  File whole;
  std::ifstream in(MOTE_UNIT_LINES_DWARF5, std::ios::binary);
  whole.bytes.assign(std::istreambuf_iterator<char>(in), {});
  for (size_t cut = 0; cut < whole.bytes.size(); cut += whole.bytes.size() / 97 + 1) {
    File f{whole.bytes.substr(0, cut)};
    char file[64];
    u32 line = 0;
    (void)find_line(read_bytes, &f, 0x1139, file, sizeof file, &line);
  }
}

}  // namespace
}  // namespace mote::dwarf
