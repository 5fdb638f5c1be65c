#include "monitor/image/pack.h"

#include <unistd.h>

#include <cstring>

#include "abi/pack.h"
#include "kernel/exec/elf.h"

namespace mote::image {

namespace {

constexpr uint64_t kPage = 4096;
uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

template <typename T>
bool read_at(std::span<const uint8_t> b, uint64_t off, T* out) {
  if (off > b.size() || b.size() - off < sizeof(T)) return false;
  memcpy(out, b.data() + off, sizeof(T));
  return true;
}

}  // namespace

std::vector<uint8_t> build_packed_image(std::span<const uint8_t> kernel,
                                        std::span<const uint8_t> program,
                                        const std::string& cmdline, std::string* error) {
  elf::Ehdr eh;
  if (!read_at(kernel, 0, &eh) || memcmp(eh.ident, "\x7f" "ELF", 4) != 0 || eh.ident[4] != 2 ||
      eh.phentsize != sizeof(elf::Phdr) || eh.shentsize != sizeof(elf::Shdr)) {
    *error = "the built-in kernel image is not a valid ELF64 file";
    return {};
  }
  // Room for one more program header before the first segment's bytes.
  uint64_t lowest_offset = ~uint64_t(0), end_phys = 0;
  for (int i = 0; i < eh.phnum; ++i) {
    elf::Phdr ph;
    if (!read_at(kernel, eh.phoff + uint64_t(i) * sizeof ph, &ph)) {
      *error = "the built-in kernel image has truncated program headers";
      return {};
    }
    if (ph.type != elf::kPtLoad) continue;
    if (ph.offset < lowest_offset) lowest_offset = ph.offset;
    if (ph.paddr + ph.memsz > end_phys) end_phys = ph.paddr + ph.memsz;
  }
  uint64_t new_ph = eh.phoff + uint64_t(eh.phnum) * sizeof(elf::Phdr);
  if (new_ph + sizeof(elf::Phdr) > lowest_offset) {
    *error = "the built-in kernel image has no room for another program header";
    return {};
  }
  // The descriptor section, by name.
  elf::Shdr names;
  if (!read_at(kernel, eh.shoff + uint64_t(eh.shstrndx) * sizeof names, &names)) {
    *error = "the built-in kernel image has no section names";
    return {};
  }
  uint64_t desc_off = 0;
  for (int i = 0; i < eh.shnum && !desc_off; ++i) {
    elf::Shdr sh;
    if (!read_at(kernel, eh.shoff + uint64_t(i) * sizeof sh, &sh)) break;
    uint64_t name = names.offset + sh.name;
    size_t len = strlen(abi::kPackSection);
    if (name + len + 1 <= kernel.size() &&
        memcmp(kernel.data() + name, abi::kPackSection, len + 1) == 0 &&
        sh.size == sizeof(abi::PackDescriptor))
      desc_off = sh.offset;
  }
  if (!desc_off) {
    *error = "the built-in kernel image has no .mote_pack descriptor";
    return {};
  }
  abi::PackDescriptor desc{};
  if (cmdline.size() >= sizeof desc.cmdline) {
    *error = "the program's arguments are too long to pack (at most " +
             std::to_string(sizeof desc.cmdline - 1) + " bytes encoded)";
    return {};
  }
  desc.magic = abi::kPackMagic;
  desc.program_phys = page_up(end_phys);
  desc.program_size = program.size();
  memcpy(desc.cmdline, cmdline.data(), cmdline.size());

  std::vector<uint8_t> out(kernel.begin(), kernel.end());
  uint64_t program_off = page_up(out.size());
  out.resize(program_off, 0);
  out.insert(out.end(), program.begin(), program.end());
  elf::Phdr ph{elf::kPtLoad, elf::kPfR, program_off, desc.program_phys, desc.program_phys,
               program.size(), program.size(), kPage};
  memcpy(out.data() + new_ph, &ph, sizeof ph);
  ++eh.phnum;
  memcpy(out.data(), &eh, sizeof eh);
  memcpy(out.data() + desc_off, &desc, sizeof desc);
  return out;
}

std::string decode_word(const std::string& w) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == '%' && i + 2 < w.size() && hex(w[i + 1]) >= 0 &&
        hex(w[i + 2]) >= 0) {
      out += char(hex(w[i + 1]) * 16 + hex(w[i + 2]));
      i += 2;
    } else {
      out += w[i];
    }
  }
  return out;
}

bool read_packed_image(int fd, PackedImage* out) {
  auto pread_all = [&](uint64_t off, void* buf, size_t n) {
    return pread(fd, buf, n, off_t(off)) == ssize_t(n);
  };
  elf::Ehdr eh;
  if (!pread_all(0, &eh, sizeof eh) || memcmp(eh.ident, "\x7f" "ELF", 4) != 0 ||
      eh.ident[4] != 2 || eh.shentsize != sizeof(elf::Shdr) || eh.phentsize != sizeof(elf::Phdr))
    return false;
  elf::Shdr names;
  if (!pread_all(eh.shoff + uint64_t(eh.shstrndx) * sizeof names, &names, sizeof names)) return false;
  abi::PackDescriptor desc{};
  bool found = false;
  for (int i = 0; i < eh.shnum && !found; ++i) {
    elf::Shdr sh;
    char name[16] = {};
    if (!pread_all(eh.shoff + uint64_t(i) * sizeof sh, &sh, sizeof sh)) return false;
    if (sh.size != sizeof desc || !pread_all(names.offset + sh.name, name, sizeof name - 1)) continue;
    if (strcmp(name, abi::kPackSection) != 0) continue;
    if (!pread_all(sh.offset, &desc, sizeof desc)) return false;
    found = desc.magic == abi::kPackMagic;
  }
  if (!found) return false;
  for (int i = 0; i < eh.phnum; ++i) {
    elf::Phdr ph;
    if (!pread_all(eh.phoff + uint64_t(i) * sizeof ph, &ph, sizeof ph)) return false;
    if (ph.type == elf::kPtLoad && ph.paddr == desc.program_phys && ph.filesz == desc.program_size) {
      out->program_offset = ph.offset;
      out->program_size = ph.filesz;
    }
  }
  if (!out->program_size) return false;
  desc.cmdline[sizeof desc.cmdline - 1] = 0;
  std::string line = desc.cmdline, word;
  bool after = false;
  auto flush = [&]() {
    if (word.empty()) return;
    if (after) out->argv.push_back(decode_word(word));
    else if (word == "--") after = true;
    else if (word.rfind("exe=", 0) == 0) out->exe = decode_word(word.substr(4));
    word.clear();
  };
  for (char c : line) {
    if (c == ' ') flush();
    else word += c;
  }
  flush();
  return !out->argv.empty();
}

}  // namespace mote::image
