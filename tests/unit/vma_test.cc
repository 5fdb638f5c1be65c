// kernel/mm/vma.h: VmaSet bookkeeping.
#include "kernel/mm/vma.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/host_heap.h"

namespace mote::mm {
namespace {

constexpr int kEINVAL = 22;
constexpr int kEEXIST = 17;
constexpr u64 P = kPageSize;
constexpr u32 kR = 1, kW = 2, kX = 4;

Vma vma(u64 start, u64 end, u32 prot = kR | kW, VmaKind kind = VmaKind::Anon, u16 charged = 1) {
  return Vma{start, end, prot, kind, charged};
}

// The set as "[start,end)" ranges in hex pages, for readable failures.
std::string dump(const VmaSet& s) {
  std::string out;
  char buf[64];
  for (usize i = 0; i < s.size(); ++i) {
    snprintf(buf, sizeof buf, "%s[%#lx,%#lx)", i ? " " : "", (unsigned long)(s[i].start / P),
             (unsigned long)(s[i].end / P));
    out += buf;
  }
  return out;
}

// A VmaSet that releases its storage at scope end.
struct Set : VmaSet {
  ~Set() { clear(); }
  void add(const Vma& v) {
    auto r = insert(v);
    ASSERT_TRUE(r.ok()) << "insert failed: " << r.error();
  }
};

TEST(Vma, EmptySet) {
  Set s;
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.find(0x1000), nullptr);
  EXPECT_TRUE(s.is_free(0, ~u64(0)));
  EXPECT_EQ(s.lower(0x1000), 0u);
  EXPECT_FALSE(s.fully_mapped(P, 2 * P));
  EXPECT_TRUE(s.fully_mapped(P, P));  // an empty range is trivially mapped
}

TEST(Vma, InsertKeepsOrderAndFinds) {
  Set s;
  s.add(vma(10 * P, 12 * P));
  s.add(vma(2 * P, 4 * P));
  s.add(vma(20 * P, 21 * P));
  s.add(vma(12 * P, 13 * P, kR));  // touching is not overlapping
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(dump(s), "[0x2,0x4) [0xa,0xc) [0xc,0xd) [0x14,0x15)");

  EXPECT_EQ(s.find(2 * P), &s[0]);
  EXPECT_EQ(s.find(4 * P - 1), &s[0]);
  EXPECT_EQ(s.find(4 * P), nullptr);
  EXPECT_EQ(s.find(12 * P), &s[2]);
  EXPECT_EQ(s.find(12 * P)->prot, kR);
  EXPECT_EQ(s.find(21 * P), nullptr);
  EXPECT_EQ(s.find(0), nullptr);

  EXPECT_EQ(s.lower(0), 0u);
  EXPECT_EQ(s.lower(4 * P - 1), 0u);
  EXPECT_EQ(s.lower(4 * P), 1u);  // [2,4) ends at 4: not above it
  EXPECT_EQ(s.lower(13 * P), 3u);
  EXPECT_EQ(s.lower(21 * P), 4u);

  EXPECT_TRUE(s.is_free(4 * P, 10 * P));
  EXPECT_FALSE(s.is_free(4 * P, 10 * P + 1));
  EXPECT_FALSE(s.is_free(3 * P, 5 * P));
  EXPECT_TRUE(s.is_free(13 * P, 20 * P));
  EXPECT_FALSE(s.is_free(0, ~u64(0)));
}

TEST(Vma, InsertRejectsOverlapAndEmpty) {
  Set s;
  s.add(vma(10 * P, 20 * P));
  EXPECT_EQ(s.insert(vma(5 * P, 11 * P)).error(), kEEXIST);
  EXPECT_EQ(s.insert(vma(19 * P, 25 * P)).error(), kEEXIST);
  EXPECT_EQ(s.insert(vma(12 * P, 13 * P)).error(), kEEXIST);   // inside
  EXPECT_EQ(s.insert(vma(5 * P, 25 * P)).error(), kEEXIST);    // around
  EXPECT_EQ(s.insert(vma(10 * P, 20 * P)).error(), kEEXIST);   // identical
  EXPECT_EQ(s.insert(vma(30 * P, 30 * P)).error(), kEINVAL);   // empty
  EXPECT_EQ(s.insert(vma(31 * P, 30 * P)).error(), kEINVAL);   // reversed
  EXPECT_EQ(s.size(), 1u);
}

TEST(Vma, GrowsPastInitialCapacityAndReleases) {
  long before = test::live_heap_blocks();
  {
    Set s;
    // Insert in descending order so that every insert shifts the array.
    for (u64 i = 200; i-- > 0;) s.add(vma((2 * i + 1) * P, (2 * i + 2) * P, kR, VmaKind::Anon, u16(i & 1)));
    ASSERT_EQ(s.size(), 200u);
    for (usize i = 0; i < s.size(); ++i) {
      EXPECT_EQ(s[i].start, (2 * i + 1) * P);
      EXPECT_EQ(s[i].charged, u16(i & 1));
    }
    EXPECT_EQ(test::live_heap_blocks(), before + 1);  // one array, reallocated as needed
  }
  EXPECT_EQ(test::live_heap_blocks(), before);
}

TEST(Vma, SplitAt) {
  Set s;
  s.add(vma(10 * P, 20 * P, kR | kX, VmaKind::Image, 1));
  ASSERT_TRUE(s.split_at(15 * P).ok());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(dump(s), "[0xa,0xf) [0xf,0x14)");
  EXPECT_EQ(s[1].prot, kR | kX);
  EXPECT_EQ(s[1].kind, VmaKind::Image);
  EXPECT_EQ(s[1].charged, 1);
  // Splitting at an existing boundary, an edge or a hole changes nothing.
  ASSERT_TRUE(s.split_at(15 * P).ok());
  ASSERT_TRUE(s.split_at(10 * P).ok());
  ASSERT_TRUE(s.split_at(20 * P).ok());
  ASSERT_TRUE(s.split_at(50 * P).ok());
  ASSERT_TRUE(s.split_at(0).ok());
  EXPECT_EQ(dump(s), "[0xa,0xf) [0xf,0x14)");
}

TEST(Vma, RemoveAcrossSeveralSplitsTheEnds) {
  Set s;
  s.add(vma(10 * P, 20 * P, kR));
  s.add(vma(20 * P, 30 * P, kR | kW));
  s.add(vma(35 * P, 40 * P, kR | kX));
  s.add(vma(40 * P, 50 * P, kR));
  s.add(vma(60 * P, 70 * P, kR));
  ASSERT_TRUE(s.remove(15 * P, 45 * P).ok());
  EXPECT_EQ(dump(s), "[0xa,0xf) [0x2d,0x32) [0x3c,0x46)");
  EXPECT_EQ(s[0].prot, kR);
  EXPECT_EQ(s[1].start, 45 * P);
  EXPECT_EQ(s[1].prot, kR);
  EXPECT_TRUE(s.is_free(15 * P, 45 * P));
}

TEST(Vma, RemoveMiddleOfOneVma) {
  Set s;
  s.add(vma(10 * P, 20 * P, kR | kW, VmaKind::Heap));
  ASSERT_TRUE(s.remove(12 * P, 13 * P).ok());
  EXPECT_EQ(dump(s), "[0xa,0xc) [0xd,0x14)");
  EXPECT_EQ(s[0].kind, VmaKind::Heap);
  EXPECT_EQ(s[1].kind, VmaKind::Heap);
}

TEST(Vma, RemoveHoleOrEverything) {
  Set s;
  s.add(vma(10 * P, 20 * P));
  s.add(vma(30 * P, 40 * P));
  ASSERT_TRUE(s.remove(21 * P, 29 * P).ok());  // nothing there
  EXPECT_EQ(s.size(), 2u);
  ASSERT_TRUE(s.remove(10 * P, 20 * P).ok());  // exactly one
  EXPECT_EQ(dump(s), "[0x1e,0x28)");
  ASSERT_TRUE(s.remove(0, 100 * P).ok());
  EXPECT_EQ(s.size(), 0u);
}

TEST(Vma, CoalesceMergesOnlyEqualNeighbours) {
  Set s;
  s.add(vma(1 * P, 2 * P, kR));
  s.add(vma(2 * P, 3 * P, kR));                              // merges with the first
  s.add(vma(3 * P, 4 * P, kR | kW));                         // other prot
  s.add(vma(4 * P, 5 * P, kR | kW, VmaKind::Heap));          // other kind
  s.add(vma(5 * P, 6 * P, kR | kW, VmaKind::Heap, 0));       // other charge
  s.add(vma(7 * P, 8 * P, kR | kW, VmaKind::Heap, 0));       // not touching
  s.add(vma(8 * P, 9 * P, kR | kW, VmaKind::Heap, 0));       // merges with the previous
  s.add(vma(9 * P, 10 * P, kR | kW, VmaKind::Heap, 0));      // and this one too
  s.coalesce();
  EXPECT_EQ(dump(s), "[0x1,0x3) [0x3,0x4) [0x4,0x5) [0x5,0x6) [0x7,0xa)");
  EXPECT_EQ(s[4].kind, VmaKind::Heap);
  EXPECT_EQ(s[4].charged, 0);
}

TEST(Vma, CoalesceNeverMergesReserved) {
  Set s;
  s.add(vma(1 * P, 2 * P, 0, VmaKind::Reserved, 0));
  s.add(vma(2 * P, 3 * P, 0, VmaKind::Reserved, 0));
  s.add(vma(3 * P, 4 * P, kR, VmaKind::Anon));
  s.add(vma(4 * P, 5 * P, kR, VmaKind::Anon));
  s.coalesce();
  EXPECT_EQ(dump(s), "[0x1,0x2) [0x2,0x3) [0x3,0x5)");
}

TEST(Vma, CoalesceAfterSplitRestores) {
  Set s;
  s.add(vma(10 * P, 20 * P));
  ASSERT_TRUE(s.split_at(12 * P).ok());
  ASSERT_TRUE(s.split_at(17 * P).ok());
  ASSERT_EQ(s.size(), 3u);
  s.coalesce();
  EXPECT_EQ(dump(s), "[0xa,0x14)");
}

TEST(Vma, FullyMapped) {
  Set s;
  s.add(vma(10 * P, 20 * P));
  s.add(vma(20 * P, 30 * P, kR));
  s.add(vma(31 * P, 40 * P));
  EXPECT_TRUE(s.fully_mapped(10 * P, 30 * P));   // across a boundary
  EXPECT_TRUE(s.fully_mapped(12 * P, 13 * P));
  EXPECT_FALSE(s.fully_mapped(10 * P, 31 * P));  // the hole at 30
  EXPECT_FALSE(s.fully_mapped(29 * P, 32 * P));
  EXPECT_FALSE(s.fully_mapped(9 * P, 11 * P));   // starts before
  EXPECT_FALSE(s.fully_mapped(35 * P, 41 * P));  // ends after
  EXPECT_TRUE(s.fully_mapped(31 * P, 40 * P));
  EXPECT_FALSE(s.fully_mapped(50 * P, 51 * P));
}

TEST(Vma, TouchesReserved) {
  Set s;
  s.add(vma(10 * P, 20 * P));
  s.add(vma(20 * P, 30 * P, 0, VmaKind::Reserved, 0));
  s.add(vma(40 * P, 50 * P));
  EXPECT_FALSE(s.touches_reserved(0, 20 * P));
  EXPECT_TRUE(s.touches_reserved(0, 20 * P + 1));
  EXPECT_TRUE(s.touches_reserved(25 * P, 26 * P));
  EXPECT_TRUE(s.touches_reserved(29 * P, 45 * P));
  EXPECT_FALSE(s.touches_reserved(30 * P, 60 * P));
}

TEST(Vma, FindGapTopDown) {
  Set s;
  s.add(vma(10 * P, 20 * P));
  s.add(vma(25 * P, 30 * P));
  s.add(vma(32 * P, 40 * P));
  // [0,10) 10 pages, [20,25) 5 pages, [30,32) 2 pages, [40,100) 60 pages.
  EXPECT_EQ(s.find_gap_topdown(P, 0, 100 * P), 99 * P);        // highest
  EXPECT_EQ(s.find_gap_topdown(P, 0, 40 * P), 31 * P);
  EXPECT_EQ(s.find_gap_topdown(2 * P, 0, 40 * P), 30 * P);     // exactly len
  EXPECT_EQ(s.find_gap_topdown(3 * P, 0, 40 * P), 22 * P);
  EXPECT_EQ(s.find_gap_topdown(5 * P, 0, 40 * P), 20 * P);     // exactly len
  EXPECT_EQ(s.find_gap_topdown(6 * P, 0, 40 * P), 4 * P);
  EXPECT_EQ(s.find_gap_topdown(10 * P, 0, 40 * P), 0u);        // [0,10): at 0 means "none"
  EXPECT_EQ(s.find_gap_topdown(10 * P, P, 40 * P), 0u);        // only 9 pages above lo
  EXPECT_EQ(s.find_gap_topdown(11 * P, 0, 40 * P), 0u);
  EXPECT_EQ(s.find_gap_topdown(3 * P, 21 * P, 40 * P), 22 * P);  // lo inside a gap
  EXPECT_EQ(s.find_gap_topdown(5 * P, 21 * P, 40 * P), 0u);      // the gap is cut by lo
  EXPECT_EQ(s.find_gap_topdown(2 * P, 0, 27 * P), 23 * P);       // hi inside a VMA
  EXPECT_EQ(s.find_gap_topdown(P, 12 * P, 18 * P), 0u);          // inside one VMA
  EXPECT_EQ(s.find_gap_topdown(2 * P, 30 * P, 32 * P), 30 * P);  // lo..hi is the gap
  EXPECT_EQ(s.find_gap_topdown(0, 0, 100 * P), 0u);
  EXPECT_EQ(s.find_gap_topdown(P, 50 * P, 40 * P), 0u);          // hi < lo
  EXPECT_EQ(s.find_gap_topdown(61 * P, 0, 100 * P), 0u);
  EXPECT_EQ(s.find_gap_topdown(60 * P, 0, 100 * P), 40 * P);
}

TEST(Vma, FindGapTopDownIgnoresVmasOutsideRange) {
  Set s;
  s.add(vma(100 * P, 200 * P));
  s.add(vma(0x1000 * P, 0x1001 * P));
  EXPECT_EQ(s.find_gap_topdown(4 * P, 200 * P, 300 * P), 296 * P);
  EXPECT_EQ(s.find_gap_topdown(4 * P, 10 * P, 50 * P), 46 * P);
  EXPECT_EQ(s.find_gap_topdown(100 * P, 200 * P, 300 * P), 200 * P);
}

TEST(Vma, FindGapResultIsFree) {
  // Property check: whatever the gap finder returns is free and in range.
  Set s;
  u64 layout[][2] = {{3, 5}, {8, 9}, {9, 12}, {20, 21}, {22, 40}, {41, 42}};
  for (auto& r : layout) s.add(vma(r[0] * P, r[1] * P));
  for (u64 len = 1; len <= 12; ++len)
    for (u64 lo = 0; lo <= 44; lo += 3)
      for (u64 hi = lo; hi <= 46; hi += 2) {
        u64 got = s.find_gap_topdown(len * P, lo * P, hi * P);
        // Brute force the highest free start in [lo, hi - len].
        u64 want = 0;
        if (hi >= lo + len) {
          for (u64 a = hi - len;; --a) {
            if (s.is_free(a * P, (a + len) * P)) {
              want = a * P;
              break;
            }
            if (a == lo) break;
          }
        }
        ASSERT_EQ(got, want) << "len " << len << " lo " << lo << " hi " << hi;
      }
}

// A shared mapping's object is held once per VMA piece, whatever splits,
// merges and removals do to the pieces.
struct CountingObject final : SharedObject {
  int holds = 0;
  void map_hold() override { ++holds; }
  void map_release() override { --holds; }
  Result<void> shared_pages(u64, usize, u64*) override { return ok(); }
};

Vma shared_vma(u64 start, u64 end, CountingObject& o, u64 offset) {
  Vma v{start, end, kR | kW, VmaKind::Shared, 0};
  v.object = &o;
  v.offset = offset;
  return v;
}

TEST(Vma, SharedObjectHeldOncePerPiece) {
  CountingObject o;
  VmaSet s;
  o.map_hold();
  ASSERT_TRUE(s.insert(shared_vma(0x10 * P, 0x20 * P, o, 0)).ok());
  EXPECT_EQ(o.holds, 1);
  ASSERT_TRUE(s.split_at(0x14 * P).ok());
  EXPECT_EQ(o.holds, 2);
  EXPECT_EQ(s[1].offset, 4 * P);  // the second piece maps the object from page 4
  s.coalesce();                   // contiguous offsets: one piece again
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(o.holds, 1);
  ASSERT_TRUE(s.remove(0x12 * P, 0x13 * P).ok());  // a hole in the middle
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(o.holds, 2);
  EXPECT_EQ(s[1].offset, 3 * P);
  s.clear();
  EXPECT_EQ(o.holds, 0);
}

TEST(Vma, SharedPiecesWithGapInOffsetsDoNotMerge) {
  CountingObject o;
  VmaSet s;
  o.map_hold();
  o.map_hold();
  ASSERT_TRUE(s.insert(shared_vma(0x10 * P, 0x11 * P, o, 0)).ok());
  ASSERT_TRUE(s.insert(shared_vma(0x11 * P, 0x12 * P, o, 5 * P)).ok());
  s.coalesce();
  EXPECT_EQ(s.size(), 2u);
  ASSERT_TRUE(s.remove(0x10 * P, 0x12 * P).ok());
  EXPECT_EQ(o.holds, 0);
  s.clear();
}

}  // namespace
}  // namespace mote::mm
