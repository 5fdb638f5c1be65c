// The kernel heap: small objects from size-class free lists carved out of
// 64 KiB chunks, large ones from platform::map_core (those up to 1 MiB in
// power-of-two sizes, and kept for reuse when freed, up to 4 MiB). Returns nullptr
// when memory runs out; never throws. Hosted unit tests link a malloc-backed
// version instead (tests/unit/host_heap.cc).
#pragma once

#include "kernel/lib/types.h"

namespace mote::mm {

void* kalloc(usize n);        // 16-byte aligned
void* kzalloc(usize n);       // zeroed
void kfree(void* p);
// Whole, page-aligned pages (file data): carved from 64 KiB chunks and kept
// on a free list, so a page costs no platform call in the common case.
void* page_alloc();           // not zeroed
void page_free(void* p);
// Bytes the heap holds from the platform (for diagnostics and benchmarks).
u64 heap_footprint();

}  // namespace mote::mm
