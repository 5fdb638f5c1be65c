// libFuzzer: the kernel's root filesystem image parser (cpio newc headers and
// mote's index, kernel/fs/initramfs.cc) on arbitrary bytes must fail cleanly
// or build a tree, never read out of bounds or crash. A `mote run IMAGE` or a
// QEMU initrd is exactly such input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernel/fs/initramfs.h"
#include "tests/unit/fs_host.h"

namespace {

// Visits every directory (depth-limited) so lazily unpacked ones load too.
void walk(mote::fs::Inode& dir, int depth) {
  using namespace mote;
  if (depth > 8) return;
  struct Names {
    fs::Inode* dir;
    int depth;
  } ctx{&dir, depth};
  u64 cookie = 2;  // skip "." and ".."
  (void)dir.readdir(&cookie, [](void* p, const fs::DirEntry& e) {
    auto* c = static_cast<Names*>(p);
    auto child = c->dir->lookup(e.name);
    if (child.ok() && child.value()->is_dir()) walk(*child.value(), c->depth + 1);
    return true;
  }, &ctx);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mote;
  test::fresh_root();
  test::set_image(platform::Image::Initramfs,
                  std::string(reinterpret_cast<const char*>(data), size));
  u64 bad = 0;
  if (fs::unpack_initramfs(*fs::ns().root, platform::Image::Initramfs, &bad).ok())
    walk(*fs::ns().root, 0);
  return 0;
}
