// libFuzzer target: the ELF parser (kernel/exec/elf.cc) against arbitrary
// bytes, as the monitor and the kernel run it on every program, and the
// separate-debug-file lookup (debug_refs, debug_file_paths) the packer and
// the fault report run on every mapped file. Any crash,
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
  mote::elf::DebugRefs refs;
  if (mote::elf::debug_refs(read_buf, &b, &refs)) {
    if (refs.build_id_len > sizeof refs.build_id) abort();
    if (strnlen(refs.link, sizeof refs.link) == sizeof refs.link || strchr(refs.link, '/')) abort();
    char paths[mote::elf::kMaxDebugPaths][mote::elf::kDebugPathMax];
    size_t n = mote::elf::debug_file_paths(refs, "/usr/lib/x86_64-linux-gnu/libfuzz.so.1", paths);
    if (n > mote::elf::kMaxDebugPaths) abort();
    for (size_t i = 0; i < n; ++i)
      if (strnlen(paths[i], sizeof paths[i]) == sizeof paths[i]) abort();
  }
  return 0;
}
