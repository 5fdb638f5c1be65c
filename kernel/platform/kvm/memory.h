// Physical frames and page tables of the VM platform (SDM 3A 4.5 "4-Level
// Paging"). Virtual layout:
//
//   0x0000000000010000 - 0x00007ffffffff000  the program (lower half), 4 KiB
//                                             pages, NX on non-executable ones
//   0xffff800000000000 + phys                direct map of RAM (2 MiB pages)
//                                             and of the last GiB below 4 GiB
//                                             (LAPIC/IOAPIC, uncached)
//   0xffffc00000000000 - ...                 core memory (heap, stacks), 4 KiB
//   0xffffffff80000000 + phys                the kernel image (boot tables)
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::kvm {

inline constexpr u64 kDirectMap = 0xffff800000000000ull;
inline constexpr u64 kCoreRegion = 0xffffc00000000000ull;

inline void* phys_to_virt(u64 phys) { return reinterpret_cast<void*>(kDirectMap + phys); }

struct RamRange {
  u64 start, end;  // physical, [start, end)
};

// Takes RAM (ranges), the physical ranges in use (kernel image, modules, boot
// info: never handed out), builds the kernel's own page tables (no identity
// map: the lower half belongs to the program) and switches to them.
void memory_init(const RamRange* ram, usize nram, const RamRange* used, usize nused);

// One zeroed 4 KiB frame, or 0 when RAM is exhausted.
u64 frame_alloc();
void frame_free(u64 phys);
u64 frames_free();

// Program mappings (lower half), 4 KiB granularity; prot is platform::Prot.
Result<void> map_page(u64 virt, u64 phys, u32 prot);
// The frame mapped at virt (0 if none); clears the entry when `unmap`.
u64 lookup_page(u64 virt, bool unmap);
Result<void> protect_page(u64 virt, u32 prot);

// Core memory: `len` bytes of fresh zeroed pages in the core region.
Result<u64> core_map(u64 len);
void core_unmap(u64 addr, u64 len);

}  // namespace mote::kvm
