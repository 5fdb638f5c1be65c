#include "kernel/fs/special.h"

#include "kernel/fs/pipe.h"
#include "kernel/lib/errno.h"

namespace mote::fs {

namespace {

struct Driver {
  u64 rdev;
  DeviceOpen open;
};
constexpr usize kMaxDrivers = 32;
Driver g_drivers[kMaxDrivers];
usize g_ndrivers = 0;

}  // namespace

Result<void> register_chrdev(u64 rdev, DeviceOpen open) {
  for (usize i = 0; i < g_ndrivers; ++i)
    if (g_drivers[i].rdev == rdev) return err(EBUSY);
  if (g_ndrivers == kMaxDrivers) return err(ENOMEM);
  g_drivers[g_ndrivers++] = Driver{rdev, open};
  return ok();
}

Result<Ref<File>> open_special(Ref<Inode> node, u32 flags) {
  switch (node->mode & kIfmt) {
    case kIfchr:
      for (int pass = 0; pass < 2; ++pass) {
        for (usize i = 0; i < g_ndrivers; ++i)
          if (g_drivers[i].rdev == node->rdev) return g_drivers[i].open(node, flags);
        // The drivers register when /dev is first built (mounts.cc builds it
        // lazily): a device node elsewhere may be opened before that.
        if (pass == 0) (void)resolve(nullptr, "/dev/null", kFollow);
      }
      return err(ENXIO);
    case kIfifo:
      return open_fifo(node, flags);
    case kIfsock:
      return err(ENXIO);
    default:
      return err(ENODEV);  // block devices: none
  }
}

}  // namespace mote::fs
