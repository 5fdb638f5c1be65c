#include "monitor/image/pack.h"

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

}  // namespace mote::image
