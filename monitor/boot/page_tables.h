// The boot page tables of the direct 64-bit entry (SDM Vol. 3A 4.5 "4-Level
// Paging"): identity map of [0, 4 GiB) plus the higher-half alias of
// [0, 1 GiB) at 0xffff_ffff_8000_0000, at the GPAs of boot/layout.h.
#pragma once

#include <stdint.h>

#include <optional>

#include "monitor/vm/expected.h"
#include "monitor/vm/memory.h"

namespace mote::boot {

enum class PageSize { Size2M, Size1G };

// Writes the tables into guest RAM; returns the CR3 value (the PML4's GPA).
// 1 GiB pages need CPUID.80000001H:EDX.Page1GB in the guest's CPUID.
vm::Expected<uint64_t> build_page_tables(const vm::GuestMemory& mem, PageSize size);

// Walks the tables at `cr3` like the MMU does for a supervisor access and
// returns the physical address `va` maps to, or nullopt if it is not mapped
// (or a table lies outside RAM). For tests and diagnostics.
std::optional<uint64_t> translate(const vm::GuestMemory& mem, uint64_t cr3, uint64_t va);

}  // namespace mote::boot
