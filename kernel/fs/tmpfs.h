// tmpfs: directories, files, symlinks and special nodes in kernel memory.
// The root filesystem is one, filled from the initramfs at boot: a file that
// came from the image reads its bytes straight from the image (and maps them
// without copying) until it is written; written pages live on the kernel
// heap and count against the program's memory limit (--mem), as a VM's tmpfs
// counts against its RAM.
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

// A new, empty tmpfs; returns its root directory.
Result<Ref<Inode>> tmpfs_create(u32 perm);

// A regular file in directory `dir` whose contents are bytes
// [offset, offset+size) of a boot image (initramfs unpacking, the program).
Result<Ref<Inode>> tmpfs_image_file(Inode& dir, StrView name, u32 mode, platform::Image which,
                                    u64 offset, u64 size);

// A tmpfs directory whose entries are made on first use: the first
// operation that needs them calls load(dir, cookie) (initramfs.cc uses it
// to unpack only the directories a program looks at).
using DirLoader = Result<void> (*)(Inode& dir, u64 cookie);
void tmpfs_set_loader(Inode& dir, DirLoader load, u64 cookie);

// An unlinked tmpfs file of `size` bytes: the pages behind shared anonymous
// memory (MAP_SHARED|MAP_ANONYMOUS, MAP_SHARED of /dev/zero).
Result<Ref<Inode>> tmpfs_anon_file(u64 size);

// A regular file whose contents are `size` bytes of constant core memory
// (which must outlive it), read in place until written.
Result<Ref<Inode>> tmpfs_const_file(Inode& dir, StrView name, u32 mode, const void* data,
                                    u64 size);

// Bytes of file data tmpfs holds on the heap (for tests and /proc/meminfo).
u64 tmpfs_bytes();

// Memory accounting hooks: tmpfs charges its pages to the program's limit.
// Installed by the core at boot; without them tmpfs only needs the heap.
struct MemoryCharge {
  Result<void> (*charge)(u64 bytes);
  void (*uncharge)(u64 bytes);
};
void tmpfs_set_charge(MemoryCharge c);

}  // namespace mote::fs
