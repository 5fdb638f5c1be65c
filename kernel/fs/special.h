// Opening nodes that have no data of their own: character devices (by
// device number, drivers register here), FIFOs (pipes) and sockets.
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

using DeviceOpen = Result<Ref<File>> (*)(Ref<Inode> node, u32 flags);

// Linux's new_encode_dev for small numbers: major << 8 | minor.
constexpr u64 dev_number(u32 major, u32 minor) { return (u64(major) << 8) | minor; }

// Registers the driver of character device `rdev` (at most 32 devices).
Result<void> register_chrdev(u64 rdev, DeviceOpen open);

// open(2) of a device node, FIFO or socket inode.
Result<Ref<File>> open_special(Ref<Inode> node, u32 flags);

}  // namespace mote::fs
