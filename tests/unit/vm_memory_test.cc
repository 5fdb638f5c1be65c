// GuestMemory: the one checked accessor for guest-physical addresses
// (monitor/vm/memory.h). The rule under test: [gpa, gpa + len) is valid iff
// gpa + len does not wrap past 2^64 and gpa + len <= size().
#include "monitor/vm/memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace mote::vm {
namespace {

constexpr uint64_t kSize = 64 * 1024;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

GuestMemory make(uint64_t size = kSize) {
  auto m = GuestMemory::create(size);
  EXPECT_TRUE(m.ok()) << m.failure().message;
  return std::move(m.value());
}

TEST(VmMemory, CreateRejectsZeroAndUnalignedSizes) {
  EXPECT_FALSE(GuestMemory::create(0).ok());
  EXPECT_FALSE(GuestMemory::create(4095).ok());
  EXPECT_FALSE(GuestMemory::create(kSize + 1).ok());
  EXPECT_TRUE(GuestMemory::create(4096).ok());
}

TEST(VmMemory, FreshRamReadsAsZero) {
  GuestMemory m = make();
  auto all = m.at(0, kSize);
  ASSERT_TRUE(all);
  for (uint8_t b : *all) ASSERT_EQ(b, 0);
}

TEST(VmMemory, RangeInsideRamIsTheSameBytesEveryTime) {
  GuestMemory m = make();
  auto a = m.at(0x100, 16);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 16u);
  (*a)[3] = 0xab;
  auto b = m.at(0x103, 1);
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)[0], 0xab);
}

TEST(VmMemory, RangeEndingExactlyAtTheEndIsValid) {
  GuestMemory m = make();
  EXPECT_TRUE(m.at(kSize - 1, 1));
  EXPECT_TRUE(m.at(0, kSize));
  EXPECT_TRUE(m.at(kSize - 8, 8));
}

TEST(VmMemory, RangeCrossingTheEndIsRejected) {
  GuestMemory m = make();
  EXPECT_FALSE(m.at(kSize - 1, 2));
  EXPECT_FALSE(m.at(0, kSize + 1));
  EXPECT_FALSE(m.at(kSize, 1));
  EXPECT_FALSE(m.at(kSize + 4096, 4));
}

TEST(VmMemory, ZeroLengthIsValidUpToAndIncludingTheEndOnly) {
  GuestMemory m = make();
  auto first = m.at(0, 0);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->empty());
  EXPECT_TRUE(m.at(kSize / 2, 0));
  EXPECT_TRUE(m.at(kSize, 0));       // the empty range exactly at the end
  EXPECT_FALSE(m.at(kSize + 1, 0));  // past the end, even with nothing to touch
  EXPECT_FALSE(m.at(kMax, 0));
}

TEST(VmMemory, LengthThatWrapsPast2To64IsRejected) {
  GuestMemory m = make();
  // gpa + len wraps to a small number that would pass a naive "end <= size".
  EXPECT_FALSE(m.at(0x10, kMax));
  EXPECT_FALSE(m.at(0x10, kMax - 0xf));      // wraps to exactly 0
  EXPECT_FALSE(m.at(0x10, kMax - 0x0f + 8)); // wraps to 8
  EXPECT_FALSE(m.at(kMax, 1));               // wraps to 0
  EXPECT_FALSE(m.at(kMax, 2));
  EXPECT_FALSE(m.at(kMax - 3, 8));           // wraps to 4
  EXPECT_FALSE(m.at(1ull << 63, 1ull << 63)); // wraps to 0
}

TEST(VmMemory, HugeGpaOrHugeLengthAloneIsRejected) {
  GuestMemory m = make();
  EXPECT_FALSE(m.at(0, kMax));
  EXPECT_FALSE(m.at(kMax - 16, 16));
  EXPECT_FALSE(m.at(1ull << 32, 1));
}

TEST(VmMemory, TypedReadAndWriteRoundTripUnaligned) {
  GuestMemory m = make();
  EXPECT_TRUE(m.write<uint64_t>(0x1001, 0x1122334455667788ull));
  auto v = m.read<uint64_t>(0x1001);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x1122334455667788ull);
  auto low = m.read<uint8_t>(0x1001);
  ASSERT_TRUE(low);
  EXPECT_EQ(*low, 0x88);  // little-endian, as the guest sees it
}

TEST(VmMemory, TypedAccessAtTheEdge) {
  GuestMemory m = make();
  EXPECT_TRUE(m.write<uint32_t>(kSize - 4, 7));
  EXPECT_EQ(m.read<uint32_t>(kSize - 4).value_or(0), 7u);
  EXPECT_FALSE(m.write<uint32_t>(kSize - 3, 7));
  EXPECT_FALSE(m.read<uint32_t>(kSize - 3));
  EXPECT_FALSE(m.read<uint64_t>(kMax - 3));  // would wrap
}

TEST(VmMemory, FailedWriteChangesNothing) {
  GuestMemory m = make();
  EXPECT_FALSE(m.write<uint64_t>(kSize - 4, ~0ull));
  auto tail = m.at(kSize - 4, 4);
  ASSERT_TRUE(tail);
  for (uint8_t b : *tail) EXPECT_EQ(b, 0);
}

TEST(VmMemory, CopyInChecksTheWholeRange) {
  GuestMemory m = make();
  const uint8_t bytes[4] = {1, 2, 3, 4};
  EXPECT_TRUE(m.copy_in(kSize - 4, bytes));
  EXPECT_FALSE(m.copy_in(kSize - 3, bytes));
  EXPECT_FALSE(m.copy_in(kMax - 1, bytes));
  EXPECT_TRUE(m.copy_in(kSize, std::span<const uint8_t>()));  // empty, at the end
  EXPECT_EQ(m.read<uint8_t>(kSize - 1).value_or(0), 4);
}

TEST(VmMemory, MovedFromMemoryHasNoRam) {
  GuestMemory a = make();
  GuestMemory b = std::move(a);
  EXPECT_EQ(b.size(), kSize);
  EXPECT_TRUE(b.at(0, 8));
  EXPECT_EQ(a.size(), 0u);  // NOLINT: testing the moved-from state
  EXPECT_FALSE(a.at(0, 1));
}

TEST(VmMemory, LargeRamCostsNothingUntilTouched) {
  // MAP_NORESERVE: 2 GiB of guest RAM maps even where it could not be committed.
  auto m = GuestMemory::create(2ull << 30);
  ASSERT_TRUE(m.ok()) << m.failure().message;
  EXPECT_TRUE(m->at((2ull << 30) - 4096, 4096));
}

}  // namespace
}  // namespace mote::vm
