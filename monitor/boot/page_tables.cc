#include "monitor/boot/page_tables.h"

#include <algorithm>

#include "monitor/boot/layout.h"
#include "monitor/boot/x86.h"

namespace mote::boot {

namespace {

constexpr uint64_t kEntriesPerTable = 512;
constexpr uint64_t k2M = 1ull << 21;
constexpr uint64_t k1G = 1ull << 30;
constexpr Flags<Pte> kTable = Pte::Present | Pte::Writable;
constexpr Flags<Pte> kLeaf = Pte::Present | Pte::Writable | Pte::Large;

// The table index `va` selects at `level` (4 = PML4 ... 1 = PT).
constexpr uint64_t index_of(uint64_t va, int level) { return (va >> (12 + 9 * (level - 1))) & 511; }

static_assert(index_of(kHigherHalfBase, 4) == 511);
static_assert(index_of(kHigherHalfBase, 3) == 510);
static_assert(kHigherHalfBytes == k1G);  // exactly one PDPT entry

bool set_entry(const vm::GuestMemory& mem, uint64_t table, uint64_t index, PageEntry e) {
  return mem.write(table + index * sizeof(PageEntry), e);
}

bool clear_table(const vm::GuestMemory& mem, uint64_t table) {
  auto page = mem.at(table, kPageSize);
  if (!page) return false;
  std::fill(page->begin(), page->end(), uint8_t{0});
  return true;
}

}  // namespace

vm::Expected<uint64_t> build_page_tables(const vm::GuestMemory& mem, PageSize size) {
  constexpr uint64_t kDirectories = kIdentityMapBytes / k1G;  // 4
  uint64_t tables_end = kPageDirectoriesGpa + kDirectories * kPageSize;
  if (!mem.at(0, tables_end)) return vm::fail("guest RAM too small for the boot page tables");

  for (uint64_t t : {kPml4Gpa, kPdptIdentityGpa, kPdptHighGpa}) clear_table(mem, t);
  bool ok = set_entry(mem, kPml4Gpa, 0, PageEntry::make(kPdptIdentityGpa, kTable)) &&
            set_entry(mem, kPml4Gpa, index_of(kHigherHalfBase, 4), PageEntry::make(kPdptHighGpa, kTable));

  if (size == PageSize::Size1G) {
    for (uint64_t g = 0; g < kDirectories; ++g)
      ok = ok && set_entry(mem, kPdptIdentityGpa, g, PageEntry::make(g * k1G, kLeaf));
    ok = ok && set_entry(mem, kPdptHighGpa, index_of(kHigherHalfBase, 3), PageEntry::make(0, kLeaf));
  } else {
    for (uint64_t g = 0; g < kDirectories; ++g) {
      uint64_t pd = kPageDirectoriesGpa + g * kPageSize;
      ok = ok && set_entry(mem, kPdptIdentityGpa, g, PageEntry::make(pd, kTable));
      for (uint64_t i = 0; i < kEntriesPerTable; ++i)
        ok = ok && set_entry(mem, pd, i, PageEntry::make(g * k1G + i * k2M, kLeaf));
    }
    // The alias shares the page directory of the first GiB.
    ok = ok && set_entry(mem, kPdptHighGpa, index_of(kHigherHalfBase, 3),
                         PageEntry::make(kPageDirectoriesGpa, kTable));
  }
  if (!ok) return vm::fail("cannot write the boot page tables into guest RAM");
  return kPml4Gpa;
}

std::optional<uint64_t> translate(const vm::GuestMemory& mem, uint64_t cr3, uint64_t va) {
  // Canonical check (SDM 3.3.7.1): bits 63:47 all equal.
  uint64_t top = va >> 47;
  if (top != 0 && top != 0x1ffff) return std::nullopt;
  uint64_t table = cr3 & PageEntry::kAddressMask;
  for (int level = 4; level >= 1; --level) {
    auto e = mem.read<PageEntry>(table + index_of(va, level) * sizeof(PageEntry));
    if (!e || !e->has(Pte::Present)) return std::nullopt;
    if (level == 4 && e->has(Pte::Large)) return std::nullopt;  // reserved in a PML4E
    if (level == 1 || ((level == 3 || level == 2) && e->has(Pte::Large))) {
      uint64_t span = 1ull << (12 + 9 * (level - 1));
      return (e->address() & ~(span - 1)) + (va & (span - 1));
    }
    table = e->address();
  }
  return std::nullopt;
}

}  // namespace mote::boot
