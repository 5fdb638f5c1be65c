// A `mote pack` image: the VM kernel ELF with one more PT_LOAD segment (R,
// p_vaddr == p_paddr, page-aligned in the file and in memory, right after
// the kernel) holding either the program (static programs) or a root
// filesystem image (cpio newc, monitor/image/cpio.h: dynamic programs and
// `--add`), and this descriptor, in the kernel's section ".mote_pack",
// telling which and where. QEMU (-kernel IMAGE), Firecracker and mote's
// monitor load it unchanged; the kernel finds the program without any module.
#pragma once

#include <stdint.h>

namespace mote::abi {

inline constexpr uint64_t kPackMagic = 0x4b4341504554004dull;  // "M\0ETPACK"
inline constexpr const char* kPackSection = ".mote_pack";

struct PackDescriptor {
  uint64_t magic;         // kPackMagic once packed; 0 in a plain kernel
  uint64_t program_phys;  // where the program's bytes are loaded
  uint64_t program_size;  // 0 when the image carries a root filesystem instead
  // The root filesystem image, when initramfs_size != 0 (then program_phys
  // and program_size are 0, and cmdline's exe=GUEST_PATH names the program
  // inside it).
  uint64_t initramfs_phys;
  uint64_t initramfs_size;
  char cmdline[984];      // default words after "--" (argv, %XX-encoded) and
                          // kernel options before it, when the boot has none
};
static_assert(sizeof(PackDescriptor) == 1024);

}  // namespace mote::abi
