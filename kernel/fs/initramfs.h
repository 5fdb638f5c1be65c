// Unpacks a cpio "newc" archive (the root filesystem image) into a tmpfs
// directory tree. Regular files are not copied: they read (and map) their
// bytes from the image until written. The archive is untrusted input: every
// header field and length is checked; a malformed archive is an error, never
// an out-of-bounds read.
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

struct InitramfsStats {
  u64 files, dirs, symlinks, others;
};

// Unpacks image `which` under `root`. On error, *bad_offset tells where.
Result<InitramfsStats> unpack_initramfs(Inode& root, platform::Image which, u64* bad_offset);

}  // namespace mote::fs
