// The initrd when it is gzip-compressed (initrd.cc).
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

struct UnpackedImage {
  u64 virt;  // in the core region; its frames are found through the page tables
  u64 size;
};

bool initrd_is_gzip(u64 phys, u64 size);
// Decompresses module 0 (at phys, size bytes, in RAM memory_init was told is
// in use) into fresh core memory, giving the module's frames back as it goes;
// a malformed or too large one ends the VM with a one-line reason.
UnpackedImage unpack_gzip_initrd(u64 phys, u64 size, bool verbose);

}  // namespace mote::kvm
