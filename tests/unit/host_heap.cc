// Test double for the kernel heap (kernel/mm/heap.h): malloc-backed, with a
// count of live blocks so tests can check that storage is released.
#include <stdlib.h>
#include <string.h>

#include "kernel/mm/heap.h"
#include "tests/unit/host_heap.h"

namespace mote::mm {

namespace {
long g_live = 0;
long g_live_bytes = 0;
usize g_fail_over = 0;
// Each block's size sits in 16 bytes before it (the alignment kept).
constexpr usize kPrefix = 16;
}  // namespace

void* kalloc(usize n) {
  if (g_fail_over && n > g_fail_over) return nullptr;
  // 16-byte aligned, like the kernel heap (aligned_alloc wants a multiple of
  // the alignment); a real block even for n == 0.
  usize rounded = n ? (n + 15) & ~usize(15) : 16;
  auto* p = static_cast<unsigned char*>(aligned_alloc(16, kPrefix + rounded));
  if (!p) return nullptr;
  memcpy(p, &n, sizeof n);
  ++g_live;
  g_live_bytes += long(n);
  return p + kPrefix;
}

void* kzalloc(usize n) {
  void* p = kalloc(n);
  if (p) memset(p, 0, n);
  return p;
}

void kfree(void* p) {
  if (!p) return;
  auto* b = static_cast<unsigned char*>(p) - kPrefix;
  usize n;
  memcpy(&n, b, sizeof n);
  --g_live;
  g_live_bytes -= long(n);
  free(b);
}

u64 heap_footprint() { return 0; }

void* page_alloc() { return aligned_alloc(4096, 4096); }
void page_free(void* p) { free(p); }

}  // namespace mote::mm

namespace mote::test {
long live_heap_blocks() { return mm::g_live; }
long live_heap_bytes() { return mm::g_live_bytes; }
void fail_allocations_over(std::size_t bytes) { mm::g_fail_over = bytes; }
}  // namespace mote::test
