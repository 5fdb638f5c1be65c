#include "monitor/image/pack.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "abi/pack.h"
#include "kernel/exec/elf.h"
#include "monitor/util/io.h"

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

namespace {

// The kernel with room made for the extra segment: its bytes up to the
// payload (page-aligned), with the program header and descriptor written.
bool packed_head(std::span<const uint8_t> kernel, uint64_t payload_size, bool initramfs,
                 const std::string& cmdline, std::vector<uint8_t>* out, std::string* error) {
  elf::Ehdr eh;
  if (!read_at(kernel, 0, &eh) || memcmp(eh.ident, "\x7f" "ELF", 4) != 0 || eh.ident[4] != 2 ||
      eh.phentsize != sizeof(elf::Phdr) || eh.shentsize != sizeof(elf::Shdr)) {
    *error = "the built-in kernel image is not a valid ELF64 file";
    return false;
  }
  // Room for one more program header before the first segment's bytes.
  uint64_t lowest_offset = ~uint64_t(0), end_phys = 0;
  for (int i = 0; i < eh.phnum; ++i) {
    elf::Phdr ph;
    if (!read_at(kernel, eh.phoff + uint64_t(i) * sizeof ph, &ph)) {
      *error = "the built-in kernel image has truncated program headers";
      return false;
    }
    if (ph.type != elf::kPtLoad) continue;
    if (ph.offset < lowest_offset) lowest_offset = ph.offset;
    if (ph.paddr + ph.memsz > end_phys) end_phys = ph.paddr + ph.memsz;
  }
  uint64_t new_ph = eh.phoff + uint64_t(eh.phnum) * sizeof(elf::Phdr);
  if (new_ph + sizeof(elf::Phdr) > lowest_offset) {
    *error = "the built-in kernel image has no room for another program header";
    return false;
  }
  // The descriptor section, by name.
  elf::Shdr names;
  if (!read_at(kernel, eh.shoff + uint64_t(eh.shstrndx) * sizeof names, &names)) {
    *error = "the built-in kernel image has no section names";
    return false;
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
    return false;
  }
  abi::PackDescriptor desc{};
  if (cmdline.size() >= sizeof desc.cmdline) {
    *error = "the program's arguments are too long to pack (at most " +
             std::to_string(sizeof desc.cmdline - 1) + " bytes encoded)";
    return false;
  }
  desc.magic = abi::kPackMagic;
  uint64_t phys = page_up(end_phys);
  if (initramfs) {
    desc.initramfs_phys = phys;
    desc.initramfs_size = payload_size;
  } else {
    desc.program_phys = phys;
    desc.program_size = payload_size;
  }
  memcpy(desc.cmdline, cmdline.data(), cmdline.size());

  out->assign(kernel.begin(), kernel.end());
  uint64_t payload_off = page_up(out->size());
  out->resize(payload_off, 0);
  elf::Phdr ph{elf::kPtLoad, elf::kPfR, payload_off, phys, phys, payload_size, payload_size, kPage};
  memcpy(out->data() + new_ph, &ph, sizeof ph);
  ++eh.phnum;
  memcpy(out->data(), &eh, sizeof eh);
  memcpy(out->data() + desc_off, &desc, sizeof desc);
  return true;
}

}  // namespace

std::vector<uint8_t> build_packed_image(std::span<const uint8_t> kernel,
                                        std::span<const uint8_t> program,
                                        const std::string& cmdline, std::string* error) {
  std::vector<uint8_t> out;
  if (!packed_head(kernel, program.size(), false, cmdline, &out, error)) return {};
  out.insert(out.end(), program.begin(), program.end());
  return out;
}

bool write_packed_image(int out_fd, std::span<const uint8_t> kernel_elf, int payload_fd,
                        uint64_t payload_size, bool initramfs, const std::string& cmdline,
                        std::string* error) {
  std::vector<uint8_t> head;
  if (!packed_head(kernel_elf, payload_size, initramfs, cmdline, &head, error)) return false;
  if (!util::write_all(out_fd, head.data(), head.size())) {
    *error = strerror(errno);
    return false;
  }
  loff_t in = 0, out = loff_t(head.size());
  uint64_t left = payload_size;
  while (left) {
    ssize_t n = copy_file_range(payload_fd, &in, out_fd, &out, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    left -= uint64_t(n);
  }
  if (lseek(out_fd, out, SEEK_SET) < 0) {
    *error = strerror(errno);
    return false;
  }
  char buf[1 << 16];
  while (left) {  // where copy_file_range cannot (another filesystem, a pipe...)
    ssize_t r = pread(payload_fd, buf, std::min<uint64_t>(left, sizeof buf), in);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || !util::write_all(out_fd, buf, size_t(r))) {
      *error = r == 0 ? "the payload shrank while packing" : strerror(errno);
      return false;
    }
    in += r;
    left -= uint64_t(r);
  }
  return true;
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
  // Every run of a program file asks this: one read of the section headers.
  if (eh.shnum == 0 || eh.shstrndx >= eh.shnum || eh.shnum > 1024) return false;
  std::vector<elf::Shdr> shdrs(eh.shnum);
  if (!pread_all(eh.shoff, shdrs.data(), shdrs.size() * sizeof(elf::Shdr))) return false;
  const elf::Shdr& names = shdrs[eh.shstrndx];
  abi::PackDescriptor desc{};
  bool found = false;
  for (int i = 0; i < eh.shnum && !found; ++i) {
    const elf::Shdr& sh = shdrs[size_t(i)];
    char name[16] = {};
    if (sh.size != sizeof desc || !pread_all(names.offset + sh.name, name, sizeof name - 1)) continue;
    if (strcmp(name, abi::kPackSection) != 0) continue;
    if (!pread_all(sh.offset, &desc, sizeof desc)) return false;
    found = desc.magic == abi::kPackMagic;
  }
  if (!found) return false;
  for (int i = 0; i < eh.phnum; ++i) {
    elf::Phdr ph;
    if (!pread_all(eh.phoff + uint64_t(i) * sizeof ph, &ph, sizeof ph)) return false;
    if (ph.type != elf::kPtLoad) continue;
    if (desc.program_size && ph.paddr == desc.program_phys && ph.filesz == desc.program_size) {
      out->program_offset = ph.offset;
      out->program_size = ph.filesz;
    }
    if (desc.initramfs_size && ph.paddr == desc.initramfs_phys && ph.filesz == desc.initramfs_size &&
        ph.offset % kPage == 0) {
      out->initramfs_offset = ph.offset;
      out->initramfs_size = ph.filesz;
    }
  }
  if (!out->program_size && !out->initramfs_size) return false;
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
