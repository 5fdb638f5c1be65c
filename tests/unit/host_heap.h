// Introspection of the malloc-backed kernel heap double (host_heap.cc).
#pragma once

namespace mote::test {
// Blocks returned by kalloc/kzalloc and not yet passed to kfree.
long live_heap_blocks();
}  // namespace mote::test
