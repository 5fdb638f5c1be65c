// Test double for the kernel heap (kernel/mm/heap.h): malloc-backed, with a
// count of live blocks so tests can check that storage is released.
#include <stdlib.h>
#include <string.h>

#include "kernel/mm/heap.h"
#include "tests/unit/host_heap.h"

namespace mote::mm {

namespace {
long g_live = 0;
}  // namespace

void* kalloc(usize n) {
  // 16-byte aligned, like the kernel heap (aligned_alloc wants a multiple of
  // the alignment); a real block even for n == 0.
  usize rounded = n ? (n + 15) & ~usize(15) : 16;
  void* p = aligned_alloc(16, rounded);
  if (p) ++g_live;
  return p;
}

void* kzalloc(usize n) {
  void* p = kalloc(n);
  if (p) memset(p, 0, n);
  return p;
}

void kfree(void* p) {
  if (!p) return;
  --g_live;
  free(p);
}

u64 heap_footprint() { return 0; }

void* page_alloc() { return aligned_alloc(4096, 4096); }
void page_free(void* p) { free(p); }

}  // namespace mote::mm

namespace mote::test {
long live_heap_blocks() { return mm::g_live; }
}  // namespace mote::test
