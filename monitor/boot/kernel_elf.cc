#include "monitor/boot/kernel_elf.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernel/exec/elf.h"
#include "monitor/boot/layout.h"
#include "monitor/vm/hex.h"

namespace mote::boot {

namespace {

using vm::hex;

// The bytes [offset, offset + len) of the file, or nullopt.
std::optional<std::span<const uint8_t>> file_range(std::span<const uint8_t> file, uint64_t offset,
                                                   uint64_t len) {
  uint64_t end;
  if (__builtin_add_overflow(offset, len, &end) || end > file.size()) return std::nullopt;
  return file.subspan(offset, len);
}

// Where the boot page tables map `vaddr`, when that is the segment's `paddr`.
bool reachable(uint64_t vaddr, uint64_t paddr, uint64_t memsz) {
  uint64_t pend = paddr + memsz;  // no overflow: checked against RAM first
  if (vaddr == paddr) return pend <= kIdentityMapBytes;
  return vaddr >= kHigherHalfBase && vaddr - kHigherHalfBase == paddr && pend <= kHigherHalfBytes;
}

vm::Expected<elf::Ehdr> check_header(std::span<const uint8_t> file) {
  elf::Ehdr eh;
  if (file.size() < sizeof eh) return vm::fail("kernel image is too small to be ELF");
  std::memcpy(&eh, file.data(), sizeof eh);
  if (std::memcmp(eh.ident, "\x7f" "ELF", 4) != 0) return vm::fail("kernel image is not ELF");
  if (eh.ident[4] != 2 || eh.ident[5] != 1 || eh.version != 1)
    return vm::fail("kernel image is not a little-endian ELF64 file");
  if (eh.machine != elf::kEmX86_64) return vm::fail("kernel image is not for x86-64");
  if (eh.type != elf::kEtExec) return vm::fail("kernel image is not an ELF executable (ET_EXEC)");
  if (eh.phentsize != sizeof(elf::Phdr) || eh.phnum == 0 || eh.phnum > elf::kMaxPhdrs)
    return vm::fail("kernel image has malformed program headers");
  if (!file_range(file, eh.phoff, uint64_t(eh.phnum) * sizeof(elf::Phdr)))
    return vm::fail("kernel image is truncated (program headers)");
  return eh;
}

}  // namespace

vm::Expected<LoadedKernel> load_kernel_elf(const vm::GuestMemory& mem, std::span<const uint8_t> file) {
  auto eh = check_header(file);
  if (!eh.ok()) return eh.failure();

  LoadedKernel k;
  k.entry = eh->entry;
  k.lowest_gpa = ~uint64_t(0);
  bool entry_loaded = false;
  int loads = 0;
  for (uint16_t i = 0; i < eh->phnum; ++i) {
    elf::Phdr ph;
    std::memcpy(&ph, file.data() + eh->phoff + i * sizeof ph, sizeof ph);
    if (ph.type != elf::kPtLoad || ph.memsz == 0) continue;
    ++loads;
    std::string where = "kernel segment " + std::to_string(i) + " at paddr " + hex(ph.paddr);
    if (ph.filesz > ph.memsz) return vm::fail(where + ": p_filesz > p_memsz");
    auto bytes = file_range(file, ph.offset, ph.filesz);
    if (!bytes) return vm::fail(where + ": extends past the end of the file");
    if (ph.paddr < kKernelMinGpa) return vm::fail(where + ": below 1 MiB");
    auto dst = mem.at(ph.paddr, ph.memsz);
    if (!dst)
      return vm::fail(where + " (" + std::to_string(ph.memsz) + " bytes): does not fit in " +
                      std::to_string(mem.size() >> 20) + " MiB of guest RAM");
    if (!reachable(ph.vaddr, ph.paddr, ph.memsz))
      return vm::fail(where + ": p_vaddr " + hex(ph.vaddr) +
                      " is neither identity-mapped nor at the higher-half alias of p_paddr");
    if (ph.filesz) std::memcpy(dst->data(), bytes->data(), ph.filesz);
    k.lowest_gpa = std::min(k.lowest_gpa, ph.paddr);
    k.end_gpa = std::max(k.end_gpa, ph.paddr + ph.memsz);
    if (eh->entry >= ph.vaddr && eh->entry - ph.vaddr < ph.memsz) entry_loaded = true;
  }
  if (loads == 0) return vm::fail("kernel image has no loadable segments");
  if (!entry_loaded) return vm::fail("kernel entry point " + hex(eh->entry) + " is not in a loaded segment");
  return k;
}

}  // namespace mote::boot
