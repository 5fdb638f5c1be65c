#include "kernel/mm/heap.h"

#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"

namespace mote::mm {
namespace {

// Every block starts with a 16-byte header so kfree knows where it came from
// and can catch double frees and wild pointers.
struct Header {
  u32 magic;
  u32 size_class;  // index into kClassSize, or kLarge
  u64 large_bytes; // mapping size for large blocks
};
static_assert(sizeof(Header) == 16);

constexpr u32 kMagicUsed = 0x4d4f5445;  // "MOTE"
constexpr u32 kMagicFree = 0x46524545;  // "FREE"
constexpr u32 kLarge = 0xffffffff;
constexpr usize kClassSize[] = {32, 64, 128, 256, 512, 1024, 2048, 4096};
constexpr usize kClasses = sizeof(kClassSize) / sizeof(kClassSize[0]);
constexpr u64 kChunk = 16 * 1024;  // shared by every size class; small boots feel every page

struct FreeBlock {
  Header h;
  FreeBlock* next;
};

FreeBlock* g_free[kClasses];
u64 g_footprint;

int class_for(usize total) {
  for (usize i = 0; i < kClasses; ++i)
    if (total <= kClassSize[i]) return int(i);
  return -1;
}

// Blocks are carved from the current chunk of their class only when needed,
// so a fresh chunk costs the host one page at a time (a page fault is
// expensive; touching all of a chunk up front was most of the core's boot).
struct Carver {
  u64 next;
  u64 end;
  u32 chunks;  // taken so far: from the second on, a class is in heavy use
};
// One carver for all classes: blocks of every size are cut one after the
// other from the same chunk, so a small boot touches few pages (each class
// having its own chunk cost a platform call and a page fault per class).
Carver g_carve;

bool carve(int c) {
  Carver& cv = g_carve;
  usize sz = kClassSize[c];
  if (cv.next + sz > cv.end) {
    auto r = platform::map_core(kChunk);
    if (!r.ok()) return false;
    g_footprint += kChunk;
    cv.next = r.value();
    cv.end = cv.next + kChunk;
    // From the second chunk on the heap is in heavy use (unpacking a large
    // root filesystem...): back it in one go, not a fault per page.
    if (cv.chunks++) platform::prefault_core(cv.next, kChunk);
  }
  auto* b = reinterpret_cast<FreeBlock*>(cv.next);
  cv.next += sz;
  b->h.magic = kMagicFree;
  b->h.size_class = u32(c);
  b->next = g_free[c];
  g_free[c] = b;
  return true;
}

// Large blocks up to kLargeCached bytes are sized in powers of two and kept
// on a free list when freed (up to kLargeCacheMax bytes in all), so the
// buffers a busy path takes and gives back (sendfile's, a socket's bounce
// buffer) cost no platform call: on the process platform that is three host
// calls per block, and an address range map_core never hands out again.
constexpr u64 kLargeCached = 1 << 20;
constexpr u64 kLargeCacheMax = 4 << 20;

struct LargeFree {
  u64 bytes;
  LargeFree* next;
};
LargeFree* g_large_free;
u64 g_large_cached;  // bytes on g_large_free

u64 large_size(usize total) {
  u64 bytes = page_up(total);
  if (bytes > kLargeCached) return bytes;
  u64 b = kPageSize;
  while (b < bytes) b <<= 1;
  return b;
}

// A large block: from the free list (*zero false: its bytes are old) or new
// from the platform (zero).
void* large_block(usize total, bool* zero) {
  const u64 bytes = large_size(total);
  Header* h = nullptr;
  for (LargeFree** p = &g_large_free; *p; p = &(*p)->next) {
    if ((*p)->bytes != bytes) continue;
    LargeFree* b = *p;
    *p = b->next;
    g_large_cached -= bytes;
    *zero = false;
    h = reinterpret_cast<Header*>(b);
    break;
  }
  if (!h) {
    auto r = platform::map_core(bytes);
    if (!r.ok()) return nullptr;
    g_footprint += bytes;
    *zero = true;
    h = reinterpret_cast<Header*>(r.value());
  }
  h->magic = kMagicUsed;
  h->size_class = kLarge;
  h->large_bytes = bytes;
  return h + 1;
}

void large_free(Header* h) {
  const u64 bytes = h->large_bytes;
  h->magic = kMagicFree;
  if (bytes <= kLargeCached && g_large_cached + bytes <= kLargeCacheMax) {
    auto* b = reinterpret_cast<LargeFree*>(h);
    b->bytes = bytes;
    b->next = g_large_free;
    g_large_free = b;
    g_large_cached += bytes;
    return;
  }
  g_footprint -= bytes;
  platform::unmap_core(reinterpret_cast<u64>(h), bytes);
}

// A block of n bytes; *zero says whether it is known to be zero already.
void* alloc(usize n, bool* zero) {
  if (n > (u64(1) << 40)) return nullptr;
  usize total = n + sizeof(Header);
  int c = class_for(total);
  if (c < 0) return large_block(total, zero);
  if (!g_free[c] && !carve(c)) return nullptr;
  FreeBlock* b = g_free[c];
  g_free[c] = b->next;
  b->h.magic = kMagicUsed;
  *zero = false;
  return &b->h + 1;
}

}  // namespace

void* kalloc(usize n) {
  bool zero;
  return alloc(n, &zero);
}

void* kzalloc(usize n) {
  // Fresh platform pages (large blocks) are zero already: clearing them
  // would only fault every page in.
  bool zero;
  void* p = alloc(n, &zero);
  if (p && !zero) memset(p, 0, n);
  return p;
}

void kfree(void* p) {
  if (!p) return;
  auto* h = static_cast<Header*>(p) - 1;
  if (h->magic != kMagicUsed) platform::panic("kfree: bad or double-freed block");
  if (h->size_class == kLarge) {
    large_free(h);
    return;
  }
  if (h->size_class >= kClasses) platform::panic("kfree: corrupt block header");
  auto* b = reinterpret_cast<FreeBlock*>(h);
  b->h.magic = kMagicFree;
  b->next = g_free[h->size_class];
  g_free[h->size_class] = b;
}

namespace {
constexpr u64 kPageChunk = 64 * 1024;
struct FreePage {
  FreePage* next;
};
FreePage* g_free_pages;
Carver g_page_carve;
}  // namespace

void* page_alloc() {
  if (FreePage* p = g_free_pages) {
    g_free_pages = p->next;
    return p;
  }
  Carver& cv = g_page_carve;
  if (cv.next + kPageSize > cv.end) {
    auto r = platform::map_core(kPageChunk);
    if (!r.ok()) return nullptr;
    g_footprint += kPageChunk;
    cv.next = r.value();
    cv.end = cv.next + kPageChunk;
    if (cv.chunks++) platform::prefault_core(cv.next, kPageChunk);
  }
  void* p = reinterpret_cast<void*>(cv.next);
  cv.next += kPageSize;
  return p;
}

void page_free(void* p) {
  if (!p) return;
  auto* f = static_cast<FreePage*>(p);
  f->next = g_free_pages;
  g_free_pages = f;
}

u64 heap_footprint() { return g_footprint; }

// The C++ runtime's delete, for the deleting destructors of classes with
// virtual destructors (objects are released through Ref<>, lib/ref.h).
}  // namespace mote::mm

void operator delete(void* p) noexcept { mote::mm::kfree(p); }
void operator delete(void* p, mote::usize) noexcept { mote::mm::kfree(p); }

namespace mote::mm {

}  // namespace mote::mm
