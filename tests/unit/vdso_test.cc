// elf::vdso_lookup against this process's own vDSO (the image the process
// platform's core parses at start), and against damaged copies of it.
#include "kernel/exec/vdso.h"

#include <gtest/gtest.h>
#include <sys/auxv.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kernel/exec/elf.h"

namespace {

using mote::u64;
using mote::u8;
using ClockFn = long (*)(long, timespec*);

// The [vdso] mapping of this process: start and length.
bool host_vdso(u64* start, size_t* len) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < 6 || line.compare(line.size() - 6, 6, "[vdso]") != 0) continue;
    unsigned long s, e;
    if (std::sscanf(line.c_str(), "%lx-%lx", &s, &e) != 2) return false;
    *start = s;
    *len = e - s;
    return true;
  }
  return false;
}

u64 ns(const timespec& t) { return u64(t.tv_sec) * 1000000000ull + u64(t.tv_nsec); }

class VdsoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!host_vdso(&start_, &len_)) GTEST_SKIP() << "SKIP: this host maps no vDSO";
    ASSERT_EQ(start_, getauxval(AT_SYSINFO_EHDR));
    image_.assign(reinterpret_cast<const u8*>(start_), reinterpret_cast<const u8*>(start_) + len_);
  }
  // A heap copy of exactly n bytes, so a read past it is one past the block.
  u64 lookup_copy(const std::vector<u8>& bytes, size_t n, const char* name) {
    std::unique_ptr<u8[]> buf(new u8[n ? n : 1]);
    std::memcpy(buf.get(), bytes.data(), n);
    u64 r = mote::elf::vdso_lookup(buf.get(), n, name);
    return r ? r - u64(buf.get()) : 0;  // as an offset, the copy being gone
  }
  // The dynamic section's entries in the copy (tag, value offsets).
  std::vector<size_t> dynamic_entries() {
    std::vector<size_t> out;
    auto* eh = reinterpret_cast<const mote::elf::Ehdr*>(image_.data());
    for (int i = 0; i < eh->phnum; ++i) {
      auto* ph = reinterpret_cast<const mote::elf::Phdr*>(image_.data() + eh->phoff +
                                                           size_t(i) * sizeof(mote::elf::Phdr));
      if (ph->type != mote::elf::kPtDynamic) continue;
      for (size_t off = ph->offset; off + 16 <= ph->offset + ph->filesz; off += 16) {
        long tag;
        std::memcpy(&tag, image_.data() + off, 8);
        if (tag == 0) break;
        out.push_back(off);
      }
    }
    return out;
  }
  void set_tag(size_t entry, long tag) { std::memcpy(image_.data() + entry, &tag, 8); }
  long tag_at(size_t entry) {
    long t;
    std::memcpy(&t, image_.data() + entry, 8);
    return t;
  }

  u64 start_ = 0;
  size_t len_ = 0;
  std::vector<u8> image_;
};

TEST_F(VdsoTest, FindsClockGettimeAndItReadsTheClock) {
  u64 fn = mote::elf::vdso_lookup(reinterpret_cast<const u8*>(start_), len_,
                                  "__vdso_clock_gettime");
  ASSERT_NE(fn, 0u);
  ASSERT_GE(fn, start_);
  ASSERT_LT(fn, start_ + len_);
  auto clock = reinterpret_cast<ClockFn>(fn);
  for (long id : {long(CLOCK_MONOTONIC), long(CLOCK_REALTIME)}) {
    timespec before, mid, after;
    clock_gettime(clockid_t(id), &before);
    ASSERT_EQ(clock(id, &mid), 0);
    clock_gettime(clockid_t(id), &after);
    EXPECT_LE(ns(before), ns(mid)) << "clock " << id;
    EXPECT_LE(ns(mid), ns(after)) << "clock " << id;
  }
}

TEST_F(VdsoTest, OtherSymbolsAndMissingOnes) {
  const u8* img = reinterpret_cast<const u8*>(start_);
  u64 gtod = mote::elf::vdso_lookup(img, len_, "__vdso_gettimeofday");
  u64 getcpu = mote::elf::vdso_lookup(img, len_, "__vdso_getcpu");
  EXPECT_NE(gtod, 0u);
  EXPECT_NE(getcpu, 0u);
  EXPECT_NE(gtod, getcpu);
  EXPECT_EQ(mote::elf::vdso_lookup(img, len_, "__vdso_no_such_call"), 0u);
  EXPECT_EQ(mote::elf::vdso_lookup(img, len_, "__vdso_clock_gettim"), 0u);  // a prefix
  EXPECT_EQ(mote::elf::vdso_lookup(img, len_, ""), 0u);
  EXPECT_EQ(mote::elf::vdso_lookup(img, len_, "LINUX_2.6"), 0u);  // a version, not a function
}

TEST_F(VdsoTest, EveryTruncationIsRefusedOrExact) {
  const u64 want = lookup_copy(image_, image_.size(), "__vdso_clock_gettime");
  ASSERT_NE(want, 0u);
  for (size_t n = 0; n < image_.size(); n += (n < 256 ? 1 : 7)) {
    u64 got = lookup_copy(image_, n, "__vdso_clock_gettime");
    if (got) {
      EXPECT_EQ(got, want) << "truncated to " << n;
    }
  }
  EXPECT_EQ(lookup_copy(image_, 63, "__vdso_clock_gettime"), 0u);  // no whole ELF header
}

TEST_F(VdsoTest, DamagedHeadersAreRefused) {
  auto damaged = [&](size_t off, u8 value) {
    std::vector<u8> copy = image_;
    copy[off] = value;
    return lookup_copy(copy, copy.size(), "__vdso_clock_gettime");
  };
  EXPECT_EQ(damaged(0, 0x7e), 0u);  // magic
  EXPECT_EQ(damaged(4, 1), 0u);     // ELFCLASS32
  EXPECT_EQ(damaged(5, 2), 0u);     // big-endian
  EXPECT_EQ(damaged(16, 2), 0u);    // ET_EXEC
  EXPECT_EQ(damaged(18, 3), 0u);    // EM_386
  EXPECT_EQ(damaged(54, 32), 0u);   // e_phentsize
  // e_phoff far beyond the image.
  std::vector<u8> copy = image_;
  u64 far = ~u64(0) - 8;
  std::memcpy(copy.data() + 32, &far, 8);
  EXPECT_EQ(lookup_copy(copy, copy.size(), "__vdso_clock_gettime"), 0u);
}

// Every function x86-64 Linux has put in its vDSO (some kernels lack some).
const char* const kNames[] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                              "__vdso_getcpu",        "__vdso_clock_getres", "__vdso_sgx_enter_enclave",
                              "clock_gettime",        "gettimeofday",        "time",
                              "getcpu",               "clock_getres",        "__vdso_getrandom",
                              "getrandom"};

TEST_F(VdsoTest, GnuHashAloneStillCountsTheSymbols) {
  std::vector<u64> want;
  for (const char* n : kNames) want.push_back(lookup_copy(image_, image_.size(), n));
  ASSERT_NE(want[0], 0u);
  bool had_gnu = false, had_sysv = false;
  for (size_t e : dynamic_entries()) {
    if (tag_at(e) == 0x6ffffef5) had_gnu = true;
    if (tag_at(e) == 4) {
      had_sysv = true;
      set_tag(e, 0x6ffffff0 - 1);  // an unknown tag: DT_HASH gone
    }
  }
  if (!had_gnu || !had_sysv)
    GTEST_SKIP() << "SKIP: this vDSO lacks DT_HASH or DT_GNU_HASH; nothing to compare";
  for (size_t i = 0; i < std::size(kNames); ++i)
    EXPECT_EQ(lookup_copy(image_, image_.size(), kNames[i]), want[i]) << kNames[i];
}

TEST_F(VdsoTest, NoHashTableAtAllOrBadCountsAreRefused) {
  std::vector<size_t> entries = dynamic_entries();
  ASSERT_FALSE(entries.empty());
  std::vector<u8> saved = image_;
  for (size_t e : entries)
    if (tag_at(e) == 4 || tag_at(e) == 0x6ffffef5) set_tag(e, 0x6ffffff0 - 1);
  EXPECT_EQ(lookup_copy(image_, image_.size(), "__vdso_clock_gettime"), 0u);

  // A DT_HASH whose chain count reaches past the image.
  image_ = saved;
  for (size_t e : entries) {
    if (tag_at(e) != 4) continue;
    u64 hash_vaddr;
    std::memcpy(&hash_vaddr, image_.data() + e + 8, 8);
    // The vDSO links at 0 with its one PT_LOAD at file offset 0 on every
    // kernel seen; anything else is not this test's business.
    if (hash_vaddr + 8 > image_.size()) GTEST_SKIP() << "SKIP: unusual vDSO layout";
    uint32_t huge = 0x7fffffff;
    std::memcpy(image_.data() + hash_vaddr + 4, &huge, 4);
    EXPECT_EQ(lookup_copy(image_, image_.size(), "__vdso_clock_gettime"), 0u);
  }

  // DT_SYMENT other than 24.
  image_ = saved;
  for (size_t e : entries) {
    if (tag_at(e) != 11) continue;
    u64 bad = 16;
    std::memcpy(image_.data() + e + 8, &bad, 8);
    EXPECT_EQ(lookup_copy(image_, image_.size(), "__vdso_clock_gettime"), 0u);
  }
}

}  // namespace
