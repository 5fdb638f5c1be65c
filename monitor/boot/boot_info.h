// Puts the boot-info blob (abi/boot_info.h) into guest RAM for the kernel.
#pragma once

#include <stdint.h>

#include <span>

#include "monitor/vm/expected.h"
#include "monitor/vm/memory.h"

namespace mote::boot {

// Checks the blob (abi::boot_info_ok), copies it to kBootInfoGpa (below the
// kernel) and records what only the VM knows in the guest's copy: ram_bytes
// (guest RAM is [0, ram_bytes)), tsc_khz and where the program image is.
// Returns the blob's GPA.
vm::Expected<uint64_t> place_boot_info(const vm::GuestMemory& mem, std::span<const uint8_t> blob,
                                       uint64_t tsc_khz, uint64_t kernel_lowest_gpa,
                                       uint64_t program_gpa = 0, uint64_t program_size = 0);

}  // namespace mote::boot
