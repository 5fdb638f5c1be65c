// `mote pack`: one file that QEMU (-kernel), Firecracker and mote's monitor
// boot unchanged: the VM kernel ELF plus the program -- or, for dynamic
// programs, a root filesystem image (cpio newc) -- as one more PT_LOAD
// segment, found by the kernel through its .mote_pack descriptor (abi/pack.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mote::image {

// The packed image, or an empty vector with a one-line *error. `cmdline` is
// the default kernel command line stored in the image (used when a boot has
// no "--" of its own).
std::vector<uint8_t> build_packed_image(std::span<const uint8_t> kernel_elf,
                                        std::span<const uint8_t> program,
                                        const std::string& cmdline, std::string* error);

// Writes a packed image into `out_fd` (from offset 0), streaming the payload:
// `payload_size` bytes of `payload_fd` from offset 0, the program itself or
// (`initramfs`) a root filesystem image. False with a one-line *error.
bool write_packed_image(int out_fd, std::span<const uint8_t> kernel_elf, int payload_fd,
                        uint64_t payload_size, bool initramfs, const std::string& cmdline,
                        std::string* error);

// A packed image read back: where the program's bytes are in the file, and the
// command line stored with it, split into kernel options (before "--") and
// the program's argv (after), %XX-decoded.
struct PackedImage {
  uint64_t program_offset = 0;    // the program (static), in the file
  uint64_t program_size = 0;
  uint64_t initramfs_offset = 0;  // or the root filesystem image (page-aligned)
  uint64_t initramfs_size = 0;
  std::string exe;                // exe= option: the program's original path
  std::vector<std::string> argv;  // the packed arguments, argv[0] included
};

// True when `fd` is a `mote pack` image (else false, and nothing is set).
bool read_packed_image(int fd, PackedImage* out);

// The inverse of qemu::encode_word.
std::string decode_word(const std::string& w);

}  // namespace mote::image
