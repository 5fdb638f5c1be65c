// The program's standard streams as open files: what the monitor connected
// fds 0-2 to (a terminal, pipe, file, /dev/null...), described by the boot
// info so fstat and the tty ioctls answer as natively.
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

// Opens stream 0, 1 or 2 with the host fd's status flags. Fails (EBADF)
// when the monitor had it closed.
Result<Ref<File>> open_console(int stream);

// Installs fds 0-2 at boot.
Result<void> install_console_fds();

}  // namespace mote::fs
