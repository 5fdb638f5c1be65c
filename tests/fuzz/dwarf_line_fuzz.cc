// libFuzzer target: the DWARF line-table reader (kernel/exec/dwarf_line.cc),
// which the kernel runs on the program's and its libraries' files when it
// reports a crash. Input: a whole ELF file when it starts with the ELF
// magic, else the contents of .debug_line and .debug_line_str (split at the
// offset in the first two bytes) wrapped in a minimal ELF made here, so that
// mutations reach the line program directly. Any crash, out-of-bounds read
// or hang is a bug; a found line must come with a terminated file name.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel/exec/dwarf_line.h"
#include "tests/fuzz/buffer_reader.h"

namespace {

using fuzz::Buf;
using fuzz::read_buf;

// ELF header, then .shstrtab, .debug_line, .debug_line_str, then 4 section
// headers (null, the three).
std::vector<uint8_t> wrap(const uint8_t* line, size_t nline, const uint8_t* str, size_t nstr) {
  static const char names[] = "\0.shstrtab\0.debug_line\0.debug_line_str\0";
  std::vector<uint8_t> f(sizeof(mote::elf::Ehdr));
  auto put = [&](const void* p, size_t n) {
    size_t at = f.size();
    f.insert(f.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    return at;
  };
  size_t names_at = put(names, sizeof names);
  size_t line_at = put(line, nline);
  size_t str_at = put(str, nstr);
  while (f.size() % 8) f.push_back(0);
  size_t sh_at = f.size();
  mote::elf::Shdr sh[4] = {};
  sh[1] = {1, 3, 0, 0, names_at, sizeof names, 0, 0, 1, 0};
  sh[2] = {11, 1, 0, 0, line_at, nline, 0, 0, 1, 0};
  sh[3] = {23, 1, 0, 0, str_at, nstr, 0, 0, 1, 0};
  put(sh, sizeof sh);
  mote::elf::Ehdr eh{};
  memcpy(eh.ident, "\x7f" "ELF\x02\x01\x01", 7);
  eh.type = 1;
  eh.machine = 62;
  eh.version = 1;
  eh.shoff = sh_at;
  eh.ehsize = sizeof eh;
  eh.shentsize = sizeof(mote::elf::Shdr);
  eh.shnum = 4;
  eh.shstrndx = 1;
  memcpy(f.data(), &eh, sizeof eh);
  return f;
}

void query(const uint8_t* file, size_t size, mote::u64 addr) {
  Buf b{file, size};
  char name[32];
  mote::u32 line = 0;
  if (mote::dwarf::find_line(read_buf, &b, addr, name, sizeof name, &line)) {
    if (!memchr(name, 0, sizeof name)) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size >= 4 && memcmp(data, "\x7f" "ELF", 4) == 0) {
    for (mote::u64 addr : {0x0ul, 0x1000ul, 0x1139ul, 0x401000ul}) query(data, size, addr);
    return 0;
  }
  if (size < 10) return 0;
  size_t split = (size_t(data[0]) | size_t(data[1]) << 8) % (size - 9);
  mote::u64 addr;
  memcpy(&addr, data + 2, 8);
  const uint8_t* rest = data + 10;
  size_t nrest = size - 10;
  split = split > nrest ? nrest : split;
  std::vector<uint8_t> f = wrap(rest, split, rest + split, nrest - split);
  query(f.data(), f.size(), addr);
  query(f.data(), f.size(), addr & 0xffff);
  return 0;
}
