// libFuzzer target: the ELF parser (kernel/exec/elf.cc) against arbitrary
// bytes, as the monitor and the kernel run it on every program. Any crash,
// out-of-bounds read (ASan) or hang is a bug; an accepted image must also be
// self-consistent.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "kernel/exec/elf.h"
#include "tests/fuzz/buffer_reader.h"

namespace {

using fuzz::Buf;
using fuzz::read_buf;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mote::elf::Image img;
  Buf b{data, size};
  auto p = mote::elf::parse(read_buf, &b, size, &img);
  if (mote::elf::describe(p, img.machine) == nullptr) abort();
  if (p == mote::elf::Problem::None) {
    // What the loader relies on.
    if (img.lo > img.hi || img.entry < img.lo || img.entry >= img.hi) abort();
    if (img.phnum == 0 || img.phnum > mote::elf::kMaxPhdrs) abort();
    for (int i = 0; i < img.phnum; ++i) {
      const auto& ph = img.phdrs[i];
      if (ph.type != mote::elf::kPtLoad) continue;
      if (ph.filesz > ph.memsz || ph.offset + ph.filesz > size) abort();
    }
  }
  return 0;
}
