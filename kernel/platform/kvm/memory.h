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

extern u64 g_frames_allocated;  // statistics (bootstats)

// One zeroed 4 KiB frame, or 0 when RAM is exhausted.
u64 frame_alloc();
void frame_free(u64 phys);
u64 frames_free();

// Program mappings (lower half), 4 KiB granularity; prot is platform::Prot.
Result<void> map_page(u64 virt, u64 phys, u32 prot);
// Demand paging: program memory gets a zeroed frame on first touch, with the
// protection the core's VMAs give (core::program_page_prot); untouched memory
// costs the unikernel nothing. False when the fault is a real one.
bool fault_in(u64 virt, bool write, bool present);
// More than one vCPU runs: a fault may be stale (fault_in checks first).
extern bool g_spurious_possible;
// Maps a frame of the program image in place (zero-copy); it is never freed
// and gets a private copy before it becomes writable.
Result<void> map_image_page(u64 virt, u64 phys, u32 prot);
// Maps a shared page's frame (platform::map_shared): like an image frame it
// is never freed by unmapping, but it stays writable in place.
Result<void> map_shared_page(u64 virt, u64 phys, u32 prot);
// The frame mapped at virt (0 if none); clears the entry when `unmap`;
// *image tells whether it is an image or shared frame (not to be freed).
u64 lookup_page(u64 virt, bool unmap, bool* image = nullptr);
// Unmaps [addr, addr + len) and frees its frames (not the image's or shared
// ones) once every other vCPU's TLB was flushed (tlb_shootdown, a batch of
// 64 at a time), so no vCPU can reach a frame that is used again.
void release_pages(u64 addr, u64 len);
// Moves the page-table entry (frame and protection) of `from` to `to`.
Result<void> move_page(u64 from, u64 to);
void zero_page(void* p);
void copy_page(void* dst, const void* src);
Result<void> protect_page(u64 virt, u32 prot);

// Core memory: `len` bytes of fresh zeroed pages in the core region.
Result<u64> core_map(u64 len);
void core_unmap(u64 addr, u64 len);
// The bytes of the core region ever handed out (guard pages included): a
// block core_unmap gave back is used again before the region grows.
u64 core_region_used();
// A core block whose size is known only once it is full (a decompressed
// initrd): core_open_block gives its start, core_map_page backs one page of
// it at a time, core_close_block ends it at `len` bytes. Nothing else may take
// core memory while it is open.
u64 core_open_block();
Result<void> core_map_page(u64 virt);
void core_close_block(u64 base, u64 len);

// Gives the frames of [start, end), part of a range memory_init was told is
// in use, back to the allocator: each page wholly RAM that no other in-use
// range touches. Each page must be given back once (a consumed initrd).
void frames_release_used(u64 start, u64 end);

}  // namespace mote::kvm
