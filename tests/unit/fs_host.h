// The kernel's filesystem code (kernel/fs/vfs, tmpfs, initramfs, fdtable)
// compiled for the host: the platform functions it needs, faked.
#pragma once

#include <string>

#include "kernel/platform/platform.h"

namespace mote::test {

// The bytes platform::image(which) returns (kept alive by the harness).
void set_image(platform::Image which, const std::string& bytes);

// A fresh namespace: a new, empty tmpfs as "/" and the working directory.
void fresh_root();

}  // namespace mote::test
