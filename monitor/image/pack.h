// `mote pack`: one file that QEMU (-kernel), Firecracker and mote's monitor
// boot unchanged: the VM kernel ELF plus the program as one more PT_LOAD
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

}  // namespace mote::image
