// Introspection of the malloc-backed kernel heap double (host_heap.cc).
#pragma once

#include <cstddef>

namespace mote::test {
// Blocks returned by kalloc/kzalloc and not yet passed to kfree.
long live_heap_blocks();
// Bytes asked for by those blocks.
long live_heap_bytes();
// From now on kalloc/kzalloc of more than `bytes` fail (nullptr), as the
// kernel heap does when memory runs out; 0: none fail (the default).
void fail_allocations_over(std::size_t bytes);
}  // namespace mote::test
