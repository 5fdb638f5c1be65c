// The standard filesystem layout every program finds, whatever the image
// holds: /tmp (a tmpfs, sticky and world-writable), /dev (devfs), /proc
// (procfs), and /etc/passwd, group, hosts, resolv.conf, hostname generated
// when the image has none, so getpwuid(0), getaddrinfo("localhost") and
// friends work.
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

Result<void> mount_standard();

// Mount table lines for /proc/mounts: calls `line` with each mount's
// device, mount point, type and options.
using MountSink = void (*)(void* ctx, StrView source, StrView target, StrView type, StrView opts);
void for_each_mount(MountSink line, void* ctx);

}  // namespace mote::fs
