// libFuzzer: the kernel's root filesystem image parser (cpio newc headers and
// mote's index, kernel/fs/initramfs.cc) on arbitrary bytes must fail cleanly
// or build a tree, never read out of bounds or crash. A `mote run IMAGE` or a
// QEMU initrd is exactly such input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernel/fs/initramfs.h"
#include "tests/unit/fs_host.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mote;
  test::fresh_root();
  test::set_image(platform::Image::Initramfs,
                  std::string(reinterpret_cast<const char*>(data), size));
  u64 bad = 0;
  (void)fs::unpack_initramfs(*fs::ns().root, platform::Image::Initramfs, &bad);
  return 0;
}
