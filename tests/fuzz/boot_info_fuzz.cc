// libFuzzer target: abi::boot_info_ok, the kernel's check of the blob the
// monitor hands over. A blob it accepts must be safe to walk exactly as the
// core does (every string and table inside the blob; ASan checks).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "abi/boot_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A private copy, exactly `size` bytes long, so ASan sees any read past it.
  std::vector<uint8_t> blob(data, data + size);
  if (!mote::abi::boot_info_ok(blob.data(), blob.size())) return 0;
  mote::abi::BootInfo h;
  memcpy(&h, blob.data(), sizeof h);
  auto walk = [&](mote::abi::BlobString s) {
    volatile uint8_t sink = 0;
    for (uint32_t i = 0; i <= s.length; ++i) sink = sink + blob.at(s.offset + i);  // .at: bounds
    if (blob[s.offset + s.length] != 0 && false) abort();
  };
  walk(h.program_path);
  walk(h.hostname);
  walk(h.cwd);
  for (uint32_t i = 0; i < h.argc + h.envc; ++i) {
    uint64_t at = i < h.argc ? h.argv_offset + uint64_t(i) * sizeof(mote::abi::BlobString)
                             : h.envp_offset + uint64_t(i - h.argc) * sizeof(mote::abi::BlobString);
    mote::abi::BlobString s;
    memcpy(&s, &blob.at(at), sizeof s);
    walk(s);
  }
  return 0;
}
