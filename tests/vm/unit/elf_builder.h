// Builds small ELF64 kernel images in memory for the loader's tests.
#pragma once

#include <cstring>
#include <vector>

#include "kernel/exec/elf.h"

namespace mote::vmtest {

struct SegmentSpec {
  uint64_t vaddr, paddr;
  std::vector<uint8_t> bytes;  // p_filesz = bytes.size()
  uint64_t memsz;
};

class ElfBuilder {
 public:
  ElfBuilder& entry(uint64_t e) {
    entry_ = e;
    return *this;
  }
  ElfBuilder& segment(SegmentSpec s) {
    segments_.push_back(std::move(s));
    return *this;
  }
  // The file, with hooks to corrupt the headers.
  std::vector<uint8_t> build(uint16_t type = elf::kEtExec, uint16_t machine = elf::kEmX86_64) const {
    elf::Ehdr eh{};
    std::memcpy(eh.ident, "\x7f" "ELF", 4);
    eh.ident[4] = 2;  // ELFCLASS64
    eh.ident[5] = 1;  // little-endian
    eh.ident[6] = 1;
    eh.type = type;
    eh.machine = machine;
    eh.version = 1;
    eh.entry = entry_;
    eh.phoff = sizeof eh;
    eh.ehsize = sizeof eh;
    eh.phentsize = sizeof(elf::Phdr);
    eh.phnum = uint16_t(segments_.size());
    std::vector<uint8_t> file(sizeof eh + segments_.size() * sizeof(elf::Phdr));
    std::vector<elf::Phdr> phdrs;
    for (const auto& s : segments_) {
      elf::Phdr ph{};
      ph.type = elf::kPtLoad;
      ph.flags = elf::kPfR | elf::kPfX;
      ph.offset = file.size();
      ph.vaddr = s.vaddr;
      ph.paddr = s.paddr;
      ph.filesz = s.bytes.size();
      ph.memsz = s.memsz;
      ph.align = 0x1000;
      file.insert(file.end(), s.bytes.begin(), s.bytes.end());
      phdrs.push_back(ph);
    }
    std::memcpy(file.data(), &eh, sizeof eh);
    if (!phdrs.empty()) std::memcpy(file.data() + sizeof eh, phdrs.data(), phdrs.size() * sizeof(elf::Phdr));
    return file;
  }

 private:
  uint64_t entry_ = 0;
  std::vector<SegmentSpec> segments_;
};

}  // namespace mote::vmtest
