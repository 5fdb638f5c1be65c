// libFuzzer target: the ELF parser (kernel/exec/elf.cc) against arbitrary
// bytes, as the monitor and the kernel run it on every program. Any crash,
// out-of-bounds read (ASan) or hang is a bug; an accepted image must also be
// self-consistent.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "kernel/exec/elf.h"

namespace {

struct Buf {
  const uint8_t* data;
  size_t size;
};

mote::Result<mote::usize> read_buf(void* ctx, mote::u64 off, void* out, mote::usize len) {
  auto* b = static_cast<Buf*>(ctx);
  if (off >= b->size) return mote::usize(0);
  mote::usize n = len < b->size - off ? len : mote::usize(b->size - off);
  memcpy(out, b->data + off, n);
  return n;
}

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
