// A `mote pack` image: the VM kernel ELF with the program added as one more
// PT_LOAD segment (R, p_vaddr == p_paddr, page-aligned right after the
// kernel), and this descriptor, in the kernel's section ".mote_pack", telling
// where it is. QEMU (-kernel IMAGE), Firecracker and mote's monitor load it
// unchanged; the kernel finds the program without any module.
#pragma once

#include <stdint.h>

namespace mote::abi {

inline constexpr uint64_t kPackMagic = 0x4b4341504554004dull;  // "M\0ETPACK"
inline constexpr const char* kPackSection = ".mote_pack";

struct PackDescriptor {
  uint64_t magic;         // kPackMagic once packed; 0 in a plain kernel
  uint64_t program_phys;  // where the program's bytes are loaded
  uint64_t program_size;
  char cmdline[1000];     // default words after "--" (argv, %XX-encoded) and
                          // kernel options before it, when the boot has none
};
static_assert(sizeof(PackDescriptor) == 1024);

}  // namespace mote::abi
