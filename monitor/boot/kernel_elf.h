// Loads the kernel: an ELF64 x86-64 executable whose PT_LOAD segments are
// copied to guest RAM at their physical addresses (p_paddr), through the
// checked accessor. The file is as untrusted as the guest: every offset and
// size is checked for overflow and bounds before use.
#pragma once

#include <stdint.h>

#include <span>

#include "monitor/vm/expected.h"
#include "monitor/vm/memory.h"

namespace mote::boot {

struct LoadedKernel {
  uint64_t entry = 0;        // e_entry: a virtual address the boot page tables map
  uint64_t lowest_gpa = 0;   // first byte of the lowest segment
  uint64_t end_gpa = 0;      // one past the last byte of the highest segment
};

// Each PT_LOAD must lie in [1 MiB, RAM end), and its p_vaddr must be where the
// boot page tables put p_paddr: identity (vaddr == paddr, below 4 GiB) or the
// higher-half alias (vaddr == paddr + 0xffff_ffff_8000_0000, paddr < 1 GiB).
// The entry point must lie inside a loaded segment. The bytes past p_filesz
// (.bss) are not written: fresh guest RAM is zero.
vm::Expected<LoadedKernel> load_kernel_elf(const vm::GuestMemory& mem, std::span<const uint8_t> file);

}  // namespace mote::boot
