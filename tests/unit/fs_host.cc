#include "tests/unit/fs_host.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/fs/special.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/errno.h"

namespace mote::test {
std::string g_images[2];
namespace {
bool g_ns_ready = false;
}  // namespace

void set_image(platform::Image which, const std::string& bytes) { g_images[int(which)] = bytes; }

void fresh_root() {
  if (!g_ns_ready) {
    (void)fs::init_namespace();
    g_ns_ready = true;
  }
  auto root = fs::tmpfs_create(0755);
  fs::ns().root = root.value();
  fs::ns().cwd = root.value();
}

}  // namespace mote::test

namespace mote::platform {

ImageBytes image(Image which) {
  const std::string& s = test::g_images[int(which)];
  if (s.empty()) return ImageBytes{nullptr, 0};
  return ImageBytes{reinterpret_cast<const u8*>(s.data()), s.size()};
}

// Shared pages: plain heap pages in the hosted build (the token is the
// address; nothing maps them into a program here).
Result<SharedPage> shared_page_alloc() {
  void* p = aligned_alloc(kPageSize, kPageSize);
  if (!p) return err(ENOMEM);
  memset(p, 0, kPageSize);
  return SharedPage{reinterpret_cast<u64>(p), reinterpret_cast<u64>(p)};
}

void shared_page_free(u64 token) { free(reinterpret_cast<void*>(token)); }

const abi::BootInfo& boot_info() {
  static abi::BootInfo info = [] {
    abi::BootInfo b{};
    b.wall_clock_ns = 1795800000ull * 1000000000ull;  // a fixed boot time
    return b;
  }();
  return info;
}

u64 wall_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return u64(ts.tv_sec) * 1000000000ull + u64(ts.tv_nsec);
}

}  // namespace mote::platform

namespace mote::fs {
// Device nodes, FIFOs and sockets have no drivers in this harness.
Result<Ref<File>> open_special(Ref<Inode>, u32) { return err(ENXIO); }
}  // namespace mote::fs
