#include "kernel/platform/kvm/memory.h"

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/cpu.h"
#include "kernel/platform/platform.h"

extern "C" char __kernel_end[];
extern "C" mote::u64 boot_pml4[512];

namespace mote::kvm {

namespace {

// Page-table entry bits (SDM 3A table 4-19..4-20).
enum : u64 {
  kPresent = 1ull << 0,
  kWrite = 1ull << 1,
  kUser = 1ull << 2,
  kPwt = 1ull << 3,
  kPcd = 1ull << 4,
  kHuge = 1ull << 7,
  kGlobal = 1ull << 8,
  kNx = 1ull << 63,
  kAddrMask = 0x000ffffffffff000ull,
  // Software bit (SDM 3A 4.5: ignored by the CPU): the frame belongs to the
  // program image (the initrd), mapped in place; never freed.
  kImage = 1ull << 9,
  // Software bit: a shared page (platform::map_shared), owned by the core's
  // shared-memory object; unmapping leaves the frame alone.
  kShared = 1ull << 10,
};

constexpr usize kMaxRanges = 32;
RamRange g_ram[kMaxRanges];
usize g_nram;
RamRange g_used[kMaxRanges];
usize g_nused;
usize g_cur_range;
u64 g_bump;           // next never-used frame in g_ram[g_cur_range]
u64 g_free_list;      // physical address of the first freed frame (0: none)
u64 g_free_count;
u64 g_pml4_phys;
u64 g_core_next = kCoreRegion;
bool g_nx;

u64* table(u64 phys) { return static_cast<u64*>(phys_to_virt(phys)); }

bool used(u64 phys) {
  for (usize i = 0; i < g_nused; ++i)
    if (phys + kPageSize > g_used[i].start && phys < g_used[i].end) return true;
  return false;
}

u64 raw_frame() {
  if (g_free_list) {
    u64 f = g_free_list;
    g_free_list = *table(f);
    --g_free_count;
    return f;
  }
  while (g_cur_range < g_nram) {
    RamRange& r = g_ram[g_cur_range];
    if (g_bump < r.start) g_bump = page_up(r.start);
    while (g_bump + kPageSize <= r.end) {
      u64 f = g_bump;
      g_bump += kPageSize;
      if (!used(f)) return f;
    }
    ++g_cur_range;
  }
  return 0;
}

// The entry for `virt` at the page-table level below `pml4`, creating
// intermediate tables on the way; nullptr when out of frames.
u64* walk(u64 virt, bool create) {
  u64 phys = g_pml4_phys;
  for (int shift = 39; shift > 12; shift -= 9) {
    u64* t = table(phys);
    u64& e = t[(virt >> shift) & 511];
    if (!(e & kPresent)) {
      if (!create) return nullptr;
      u64 f = frame_alloc();
      if (!f) return nullptr;
      e = f | kPresent | kWrite;
    }
    if (e & kHuge) return nullptr;
    phys = e & kAddrMask;
  }
  return &table(phys)[(virt >> 12) & 511];
}

u64 pte_flags(u32 prot) {
  u64 f = 0;
  if (prot & (platform::kProtRead | platform::kProtWrite | platform::kProtExec)) f |= kPresent;
  if (prot & platform::kProtWrite) f |= kWrite;
  if (!(prot & platform::kProtExec) && g_nx) f |= kNx;
  return f;
}

void invlpg(u64 virt) { asm volatile("invlpg (%0)" : : "r"(virt) : "memory"); }

}  // namespace

bool g_spurious_possible;

// Whole pages move in 8-byte steps (rep stosq/movsq: a page is 512 steps).
void zero_page(void* p) {
  u64 n = kPageSize / 8;
  asm volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(0) : "memory");
}

void copy_page(void* dst, const void* src) {
  u64 n = kPageSize / 8;
  asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

namespace {

}  // namespace

u64 g_frames_allocated;
u64 frame_alloc() {
  ++g_frames_allocated;
  u64 f = raw_frame();
  if (f) zero_page(phys_to_virt(f));
  return f;
}

void frame_free(u64 phys) {
  *table(phys) = g_free_list;
  g_free_list = phys;
  ++g_free_count;
}

u64 frames_free() {
  u64 n = g_free_count;
  for (usize i = g_cur_range; i < g_nram; ++i) {
    u64 from = i == g_cur_range ? max(g_bump, g_ram[i].start) : g_ram[i].start;
    if (g_ram[i].end > from) n += (g_ram[i].end - from) / kPageSize;
  }
  return n;
}

void memory_init(const RamRange* ram, usize nram, const RamRange* used_ranges, usize nused) {
  g_nram = min(nram, kMaxRanges);
  for (usize i = 0; i < g_nram; ++i) g_ram[i] = ram[i];
  g_nused = min(nused, kMaxRanges);
  for (usize i = 0; i < g_nused; ++i) g_used[i] = used_ranges[i];
  g_nx = cpuid(0x80000001).edx & (1u << 20);
  if (g_nx) wrmsr(Msr::Efer, rdmsr(Msr::Efer) | (1u << 11));  // NXE

  // Until the switch, frames are reached through the boot tables' identity
  // map (0-4 GiB): the direct map does not exist yet. RAM above 4 GiB is not
  // used for page tables before the switch.
  auto early_table = [](u64 phys) { return reinterpret_cast<u64*>(phys); };
  auto early_frame = [&]() {
    u64 f = raw_frame();
    if (!f || f >= (4ull << 30)) vm_exit(125);
    zero_page(early_table(f));
    return f;
  };
  u64 pml4 = early_frame();
  u64* p4 = early_table(pml4);
  // Direct map: every GiB that holds RAM, plus the 4th GiB (APIC, uncached).
  u64 dm_pdpt = early_frame();
  p4[256] = dm_pdpt | kPresent | kWrite;
  u64 top = 0;
  for (usize i = 0; i < g_nram; ++i) top = max(top, g_ram[i].end);
  u64 gigs = max<u64>((top + (1ull << 30) - 1) >> 30, 4);
  if (gigs > 512) gigs = 512;
  for (u64 g = 0; g < gigs; ++g) {
    u64 pd = early_frame();
    u64* d = early_table(pd);
    u64 cache = g == 3 ? (kPcd | kPwt) : 0;
    for (u64 i = 0; i < 512; ++i)
      d[i] = ((g << 30) + (i << 21)) | kPresent | kWrite | kHuge | cache | (g_nx ? u64(kNx) : 0);
    early_table(dm_pdpt)[g] = pd | kPresent | kWrite;
  }
  // The kernel image: keep the boot tables' higher-half entry.
  p4[511] = boot_pml4[511];
  g_pml4_phys = pml4;
  asm volatile("mov %0, %%cr3" : : "r"(pml4) : "memory");
}

Result<void> map_image_page(u64 virt, u64 phys, u32 prot) {
  u64* e = walk(virt, true);
  if (!e) return err(ENOMEM);
  *e = phys | kImage | pte_flags(prot);
  invlpg(virt);
  return ok();
}

Result<void> map_shared_page(u64 virt, u64 phys, u32 prot) {
  u64* e = walk(virt, true);
  if (!e) return err(ENOMEM);
  *e = phys | kShared | pte_flags(prot);
  invlpg(virt);
  return ok();
}

Result<void> map_page(u64 virt, u64 phys, u32 prot) {
  u64* e = walk(virt, true);
  if (!e) return err(ENOMEM);
  // PROT_NONE keeps the frame in a not-present entry, so the contents come
  // back when the program makes the page accessible again.
  *e = phys | pte_flags(prot);
  invlpg(virt);
  return ok();
}

bool fault_in(u64 virt, bool write, bool present) {
  if (!g_pml4_phys) return false;  // before memory_init: nothing is demand-paged
  u64 page = page_down(virt);
  if (present || g_spurious_possible) {
    // With several vCPUs a fault can be stale: another CPU changed the entry
    // (mapped the page, made it writable) and this CPU's TLB had not caught
    // up. If the entry allows the access now, run the instruction again.
    u64* e = walk(page, false);
    if (e && (*e & kPresent) && (!write || (*e & kWrite))) {
      invlpg(page);
      return true;
    }
    if (present) return false;
  }
  u32 prot;
  if (!core::program_page_prot(page, &prot)) return false;
  if (!(prot & (platform::kProtRead | platform::kProtWrite | platform::kProtExec))) return false;
  if (write && !(prot & platform::kProtWrite)) return false;
  u64* e = walk(page, true);
  if (!e || (*e & kPresent)) return false;  // present: a real protection fault
  if (*e & kAddrMask) return false;          // PROT_NONE over a frame: real fault
  u64 f = frame_alloc();
  if (!f) return false;
  *e = f | pte_flags(prot);
  invlpg(page);
  return true;
}

u64 lookup_page(u64 virt, bool unmap, bool* image) {
  u64* e = walk(virt, false);
  if (!e || !(*e & kAddrMask)) return 0;
  u64 phys = *e & kAddrMask;
  if (image) *image = *e & (kImage | kShared);
  if (unmap) {
    *e = 0;
    invlpg(virt);
  }
  return phys;
}

Result<void> protect_page(u64 virt, u32 prot) {
  u64* e = walk(virt, false);
  if (!e || !(*e & kAddrMask)) return ok();  // not touched yet: the next fault uses prot
  if ((*e & kImage) && (prot & platform::kProtWrite)) {
    // An image page becoming writable gets its private copy first.
    u64 f = raw_frame();
    if (!f) return err(ENOMEM);
    copy_page(phys_to_virt(f), phys_to_virt(*e & kAddrMask));
    *e = f;
  }
  *e = (*e & (kAddrMask | kImage | kShared)) | pte_flags(prot);
  invlpg(virt);
  return ok();
}

Result<void> move_page(u64 from, u64 to) {
  u64* src = walk(from, false);
  if (!src || !*src) return ok();  // never touched: nothing to carry over
  u64* dst = walk(to, true);
  if (!dst) return err(ENOMEM);
  *dst = *src;
  *src = 0;
  invlpg(from);
  invlpg(to);
  return ok();
}

namespace {

// Blocks core_unmap gave back, for a later core_map of the same size (thread
// stacks, KThreads, FPU areas and the heap's large blocks come in a few
// sizes): their page-table entries were cleared and every vCPU's TLB flushed
// when they were freed, so a block is clean to map again. Without reuse the
// region, and the page tables mapping it, would grow with every thread a
// program ever made. A full list leaves the block's range unused, as before.
struct FreeBlock {
  u64 base, len;
};
constexpr usize kMaxFreeBlocks = 128;
FreeBlock g_free_blocks[kMaxFreeBlocks];
usize g_nfree_blocks = 0;

}  // namespace

void release_pages(u64 addr, u64 len) {
  u64 frames[64];
  usize n = 0;
  for (u64 off = 0; off < len; off += kPageSize) {
    bool image = false;
    u64 f = lookup_page(addr + off, true, &image);
    if (!f || image) continue;
    if (n == 64) {
      tlb_shootdown();
      for (usize i = 0; i < n; ++i) frame_free(frames[i]);
      n = 0;
    }
    frames[n++] = f;
  }
  tlb_shootdown();  // nothing to do with one vCPU
  for (usize i = 0; i < n; ++i) frame_free(frames[i]);
}

Result<u64> core_map(u64 len) {
  len = page_up(len);
  if (len == 0) return err(EINVAL);
  u64 base = 0;
  for (usize i = 0; i < g_nfree_blocks; ++i)
    if (g_free_blocks[i].len == len) {
      base = g_free_blocks[i].base;
      g_free_blocks[i] = g_free_blocks[--g_nfree_blocks];
      break;
    }
  bool fresh = base == 0;
  if (fresh) base = g_core_next;
  for (u64 off = 0; off < len; off += kPageSize) {
    u64 f = frame_alloc();
    u64* e = f ? walk(base + off, true) : nullptr;
    if (!e) {
      // Out of memory: what this call mapped goes back (never used, so no
      // TLB holds it), and the block stays free for next time.
      if (f) frame_free(f);
      for (u64 o = 0; o < off; o += kPageSize) frame_free(lookup_page(base + o, true));
      if (!fresh) g_free_blocks[g_nfree_blocks++] = FreeBlock{base, len};
      return err(ENOMEM);
    }
    *e = f | kPresent | kWrite | (g_nx ? u64(kNx) : 0);
  }
  if (fresh) g_core_next += len + kPageSize;  // an unmapped guard page after each block
  return base;
}

u64 core_region_used() { return g_core_next - kCoreRegion; }

u64 core_open_block() { return g_core_next; }

Result<void> core_map_page(u64 virt) {
  u64 f = frame_alloc();
  u64* e = f ? walk(virt, true) : nullptr;
  if (!e) {
    if (f) frame_free(f);
    return err(ENOMEM);
  }
  *e = f | kPresent | kWrite | (g_nx ? u64(kNx) : 0);
  return ok();
}

void core_close_block(u64 base, u64 len) { g_core_next = base + page_up(len) + kPageSize; }

void frames_release_used(u64 start, u64 end) {
  for (u64 p = page_down(start); p < page_up(end); p += kPageSize) {
    usize users = 0;
    for (usize i = 0; i < g_nused; ++i)
      if (p < g_used[i].end && p + kPageSize > g_used[i].start) ++users;
    bool ram = false;
    for (usize i = 0; i < g_nram && !ram; ++i) ram = p >= g_ram[i].start && p + kPageSize <= g_ram[i].end;
    if (users == 1 && ram) frame_free(p);
  }
}

void core_unmap(u64 addr, u64 len) {
  len = page_up(len);
  if (len == 0) return;
  release_pages(addr, len);
  if (g_nfree_blocks < kMaxFreeBlocks) g_free_blocks[g_nfree_blocks++] = FreeBlock{addr, len};
}

}  // namespace mote::kvm
