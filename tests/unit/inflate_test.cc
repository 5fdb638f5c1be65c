// kernel/lib/inflate.h: gzip members made by zlib (the reference) at every
// level and strategy decompress to the original; the output is written only
// where reserved and the input never read again once reported consumed
// (checked with page protections); every malformed input is refused.
#include "kernel/lib/inflate.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace mote {
namespace {

struct ZHeader {
  bool on = false;
  std::string name, comment, extra;
  bool hcrc = false;
};

std::vector<u8> zlib_gzip(const std::vector<u8>& data, int level = 9, int strategy = Z_DEFAULT_STRATEGY,
                          const ZHeader& hdr = {}) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 9, strategy), Z_OK);
  gz_header h{};
  if (hdr.on) {
    h.name = reinterpret_cast<Bytef*>(const_cast<char*>(hdr.name.c_str()));
    h.comment = reinterpret_cast<Bytef*>(const_cast<char*>(hdr.comment.c_str()));
    if (!hdr.extra.empty()) {
      h.extra = reinterpret_cast<Bytef*>(const_cast<char*>(hdr.extra.data()));
      h.extra_len = uInt(hdr.extra.size());
    }
    h.hcrc = hdr.hcrc;
    EXPECT_EQ(deflateSetHeader(&z, &h), Z_OK);
  }
  std::vector<u8> out(deflateBound(&z, uLong(data.size())) + 1024);
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = uInt(data.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

GunzipStatus run(const std::vector<u8>& gz, std::vector<u8>* out, u64 capacity = 0) {
  out->assign(capacity ? capacity : 8 << 20, 0);
  GunzipSink sink{out->data(), out->size(), nullptr, nullptr, nullptr};
  u64 len = 0;
  GunzipStatus st = gunzip(gz.data(), gz.size(), sink, &len);
  out->resize(len);
  return st;
}

std::vector<u8> random_bytes(usize n, u32 seed) {
  std::mt19937 rng(seed);
  std::vector<u8> v(n);
  for (auto& b : v) b = u8(rng());
  return v;
}

// Text-like data: words from a small vocabulary (long matches, skewed
// literals), with runs and random stretches in between.
std::vector<u8> mixed_bytes(usize n, u32 seed) {
  static const char* words[] = {"mote ", "unikernel ", "virtio ", "ring ", "zero ", "page\n", "a", "\t"};
  std::mt19937 rng(seed);
  std::vector<u8> v;
  while (v.size() < n) {
    u32 pick = rng() % 20;
    if (pick < 14) {
      const char* w = words[rng() % 8];
      v.insert(v.end(), w, w + strlen(w));
    } else if (pick < 17) {
      v.insert(v.end(), rng() % 300, u8(rng()));
    } else {
      for (u32 k = rng() % 64; k; --k) v.push_back(u8(rng()));
    }
  }
  v.resize(n);
  return v;
}

// Machine code and ELF tables: the first 2 MiB of this test program.
std::vector<u8> self_exe() {
  std::ifstream f("/proc/self/exe", std::ios::binary);
  std::vector<u8> v(2 << 20);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size()));
  v.resize(usize(f.gcount()));
  return v;
}

TEST(Inflate, Crc32CheckValue) {
  const u8 s[] = "123456789";  // the CRC catalogue's check input
  EXPECT_EQ(crc32_update(0, s, 9), 0xcbf43926u);
  // Continued in pieces, as the same.
  EXPECT_EQ(crc32_update(crc32_update(0, s, 4), s + 4, 5), 0xcbf43926u);
  EXPECT_EQ(crc32_update(0, s, 9), u32(crc32(0, s, 9)));
}

TEST(Inflate, ZlibGzipAtEveryLevelAndStrategyRoundTrips) {
  const std::vector<std::vector<u8>> inputs = {
      {},
      {'x'},
      std::vector<u8>(300000, 0),  // distance-1 copies that overlap their source
      random_bytes(70000, 1),      // stored blocks at low levels, incompressible
      mixed_bytes(200000, 2),
  };
  const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
  for (usize i = 0; i < inputs.size(); ++i)
    for (int level = 0; level <= 9; ++level)
      for (int strategy : strategies) {
        std::vector<u8> gz = zlib_gzip(inputs[i], level, strategy), out;
        ASSERT_EQ(run(gz, &out), GunzipStatus::Ok)
            << "input " << i << " level " << level << " strategy " << strategy;
        ASSERT_EQ(out, inputs[i]) << "input " << i << " level " << level << " strategy " << strategy;
      }
}

TEST(Inflate, RealExecutableRoundTrips) {
  std::vector<u8> exe = self_exe(), out;
  ASSERT_GT(exe.size(), 100000u);
  ASSERT_EQ(run(zlib_gzip(exe), &out), GunzipStatus::Ok);
  EXPECT_TRUE(out == exe);
}

TEST(Inflate, OptionalHeaderFieldsAreSkippedAndTheHeaderCrcChecked) {
  std::vector<u8> data = mixed_bytes(5000, 3), out;
  ZHeader h;
  h.on = true;
  h.name = "hello";
  h.comment = "a comment";
  h.extra = std::string("AB\x04\x00wxyz", 8);
  h.hcrc = true;
  std::vector<u8> gz = zlib_gzip(data, 6, Z_DEFAULT_STRATEGY, h);
  ASSERT_EQ(gz[3], 2 | 4 | 8 | 16);  // FHCRC FEXTRA FNAME FCOMMENT
  ASSERT_EQ(run(gz, &out), GunzipStatus::Ok);
  EXPECT_EQ(out, data);
  // The header CRC covers the name.
  usize at = std::search(gz.begin(), gz.end(), h.name.begin(), h.name.end()) - gz.begin();
  gz[at] ^= 1;
  EXPECT_EQ(run(gz, &out), GunzipStatus::BadHeader);
}

TEST(Inflate, TrailerMismatchesAndForeignBytesAreRefused) {
  std::vector<u8> data = mixed_bytes(20000, 4), out;
  const std::vector<u8> gz = zlib_gzip(data);
  auto bad = gz;
  bad[bad.size() - 8] ^= 0x40;  // CRC-32
  EXPECT_EQ(run(bad, &out), GunzipStatus::BadChecksum);
  bad = gz;
  bad[bad.size() - 4] ^= 1;  // ISIZE
  EXPECT_EQ(run(bad, &out), GunzipStatus::BadSize);
  bad = gz;
  bad[3] |= 0x20;  // a reserved flag
  EXPECT_EQ(run(bad, &out), GunzipStatus::BadHeader);
  bad = gz;
  bad[2] = 7;  // not deflate
  EXPECT_EQ(run(bad, &out), GunzipStatus::NotGzip);
  // Zero padding after the member is fine (an initrd rounded up); anything
  // else is not.
  bad = gz;
  bad.insert(bad.end(), 4096, 0);
  EXPECT_EQ(run(bad, &out), GunzipStatus::Ok);
  EXPECT_EQ(out, data);
  bad.push_back(1);
  EXPECT_EQ(run(bad, &out), GunzipStatus::TrailingData);
  // An ELF is not gzip.
  std::vector<u8> exe = self_exe();
  exe.resize(4096);
  EXPECT_EQ(run(exe, &out), GunzipStatus::NotGzip);
}

TEST(Inflate, EveryTruncationIsRefused) {
  std::vector<u8> data = mixed_bytes(3000, 5), out;
  const std::vector<u8> gz = zlib_gzip(data, 9, Z_DEFAULT_STRATEGY, ZHeader{true, "n", "c", "xx", true});
  for (usize n = 0; n < gz.size(); ++n) {
    std::vector<u8> cut(gz.begin(), gz.begin() + n);
    GunzipStatus st = run(cut, &out);
    EXPECT_NE(st, GunzipStatus::Ok) << "cut at " << n;
  }
}

TEST(Inflate, OutputBeyondTheCapacityIsRefused) {
  std::vector<u8> data(100000, 'a'), out;
  std::vector<u8> gz = zlib_gzip(data);
  EXPECT_EQ(run(gz, &out, data.size() - 1), GunzipStatus::TooLong);
  EXPECT_EQ(run(gz, &out, data.size()), GunzipStatus::Ok);
}

// Raw DEFLATE bits for crafted streams: fields least significant bit first,
// Huffman codes most significant bit first (RFC 1951 3.1.1).
class Bits {
 public:
  void put(u32 v, int n) {
    for (int i = 0; i < n; ++i) bit((v >> i) & 1);
  }
  void code(u32 c, int n) {
    for (int i = n - 1; i >= 0; --i) bit((c >> i) & 1);
  }
  std::vector<u8> gzip(u32 crc = 0, u32 isize = 0) const {
    std::vector<u8> g(10 + bytes_.size());
    const u8 header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    std::copy(header, header + 10, g.begin());
    std::copy(bytes_.begin(), bytes_.end(), g.begin() + 10);
    for (int i = 0; i < 4; ++i) g.push_back(u8(crc >> (8 * i)));
    for (int i = 0; i < 4; ++i) g.push_back(u8(isize >> (8 * i)));
    return g;
  }

 private:
  void bit(u32 b) {
    if (n_ % 8 == 0) bytes_.push_back(0);
    bytes_.back() |= u8(b << (n_ % 8));
    ++n_;
  }
  std::vector<u8> bytes_;
  int n_ = 0;
};

TEST(Inflate, CraftedMalformedBlocksAreRefused) {
  std::vector<u8> out;
  {
    Bits b;  // block type 3 does not exist
    b.put(1, 1);
    b.put(3, 2);
    EXPECT_EQ(run(b.gzip(), &out), GunzipStatus::BadData);
  }
  {
    Bits b;  // a fixed block whose first symbol is a match: nothing to copy from
    b.put(1, 1);
    b.put(1, 2);
    b.code(0x01, 7);  // length code 257: length 3
    b.code(0, 5);     // distance code 0: distance 1
    EXPECT_EQ(run(b.gzip(), &out), GunzipStatus::BadData);
  }
  {
    Bits b;  // a fixed block: 'A' then distance code 30, which is never valid
    b.put(1, 1);
    b.put(1, 2);
    b.code(0x30 + 'A', 8);
    b.code(0x01, 7);
    b.code(30, 5);
    EXPECT_EQ(run(b.gzip(), &out), GunzipStatus::BadData);
  }
  {
    Bits b;  // a stored block whose NLEN is not LEN's complement
    b.put(1, 1);
    b.put(0, 2);
    b.put(0, 5);  // to the byte boundary
    b.put(3, 16);
    b.put(3, 16);
    b.put('a', 8);
    b.put('b', 8);
    b.put('c', 8);
    EXPECT_EQ(run(b.gzip(), &out), GunzipStatus::BadData);
  }
  {
    Bits b;  // the same stored block, well formed: "abc"
    b.put(1, 1);
    b.put(0, 2);
    b.put(0, 5);
    b.put(3, 16);
    b.put(0xfffc, 16);
    for (char c : std::string("abc")) b.put(u8(c), 8);
    const u8 abc[] = {'a', 'b', 'c'};
    EXPECT_EQ(run(b.gzip(crc32_update(0, abc, 3), 3), &out), GunzipStatus::Ok);
    EXPECT_EQ(std::string(out.begin(), out.end()), "abc");
  }
  {
    Bits b;  // a dynamic block whose code-length code is over-subscribed
    b.put(1, 1);
    b.put(2, 2);
    b.put(0, 5);   // 257 literal/length codes
    b.put(0, 5);   // 1 distance code
    b.put(15, 4);  // 19 code-length code lengths
    for (int i = 0; i < 19; ++i) b.put(1, 3);  // 19 codes of length 1
    EXPECT_EQ(run(b.gzip(), &out), GunzipStatus::BadData);
  }
  {
    Bits b;  // a dynamic block: a repeat (16) with no length before it
    b.put(1, 1);
    b.put(2, 2);
    b.put(0, 5);
    b.put(0, 5);
    b.put(0, 4);  // 4 code-length code lengths: 16, 17, 18, 0
    for (int i = 0; i < 4; ++i) b.put(2, 3);  // all of length 2: 0=00 16=01 17=10 18=11
    b.code(1, 2);  // symbol 16
    EXPECT_EQ(run(b.gzip(), &out), GunzipStatus::BadData);
  }
}

// Page-protected buffers: the sink may write only what it reserved, and the
// decompressor may read no input byte it reported consumed.
class Guarded {
 public:
  explicit Guarded(usize bytes) : len_((bytes + kPage - 1) / kPage * kPage + kPage) {
    void* p = mmap(nullptr, len_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    base_ = static_cast<u8*>(p);
  }
  ~Guarded() { munmap(base_, len_); }
  u8* data() { return base_; }
  void allow(usize from, usize to, int prot) {
    if (to > from) {
      ASSERT_EQ(mprotect(base_ + from, to - from, prot), 0);
    }
  }
  static constexpr usize kPage = 4096;

 private:
  u8* base_;
  usize len_;
};

struct Tracker {
  Guarded* in = nullptr;
  u64 in_size = 0;
  u64 reserved = 0, consumed = 0, reserve_calls = 0;
  u64 refuse_after = ~u64(0);  // bytes: reserve() fails beyond this
  Guarded* out = nullptr;
  bool order_ok = true;
};

bool track_reserve(void* ctx, u64 end) {
  auto* t = static_cast<Tracker*>(ctx);
  if (end <= t->reserved || (end % 4096 != 0)) t->order_ok = false;
  if (end > t->refuse_after) return false;
  t->out->allow(t->reserved, end, PROT_READ | PROT_WRITE);
  t->reserved = end;
  ++t->reserve_calls;
  return true;
}

void track_consumed(void* ctx, u64 n) {
  auto* t = static_cast<Tracker*>(ctx);
  if (n < t->consumed || n > t->in_size) t->order_ok = false;
  // Whole pages only: the page holding byte n may still be read.
  u64 from = t->consumed / 4096 * 4096, to = n / 4096 * 4096;
  if (to > from) t->in->allow(from, to, PROT_NONE);
  t->consumed = n;
}

// A gzip member copied into page-protected memory, with a tracker that
// writes into `out` and takes the input's pages away as they are consumed.
struct GuardedInput {
  GuardedInput(const std::vector<u8>& gz, Guarded& out) : pages(gz.size()) {
    pages.allow(0, (gz.size() + 4095) / 4096 * 4096, PROT_READ | PROT_WRITE);
    memcpy(pages.data(), gz.data(), gz.size());
    tracker.in = &pages;
    tracker.in_size = gz.size();
    tracker.out = &out;
  }
  Guarded pages;
  Tracker tracker;
};

TEST(Inflate, OutputIsBackedPageByPageAndInputGivenBackFrontToBack) {
  std::vector<u8> data = self_exe();
  std::vector<u8> extra = mixed_bytes(300000, 6);
  data.insert(data.end(), extra.begin(), extra.end());
  const std::vector<u8> gz = zlib_gzip(data);
  Guarded out(data.size() + 8192);
  GuardedInput in(gz, out);
  Tracker& t = in.tracker;
  GunzipSink sink{out.data(), data.size() + 8192, track_reserve, track_consumed, &t};
  u64 len = 0;
  // A stray write past the reserved pages or a read of given-back input
  // faults (SIGSEGV ends the test).
  ASSERT_EQ(gunzip(in.pages.data(), gz.size(), sink, &len), GunzipStatus::Ok);
  EXPECT_TRUE(t.order_ok);
  ASSERT_EQ(len, data.size());
  EXPECT_EQ(memcmp(out.data(), data.data(), len), 0);
  // Backed exactly to the output's last page, one page at a time.
  EXPECT_EQ(t.reserved, (len + 4095) / 4096 * 4096);
  EXPECT_EQ(t.reserve_calls, t.reserved / 4096);
  // Most of the input was given back before the end (the trailer's page
  // and the bit buffer's lookahead are not).
  EXPECT_GT(t.consumed, gz.size() - 8192);
}

TEST(Inflate, ARefusedReserveStopsWithNoMemory) {
  std::vector<u8> data = mixed_bytes(100000, 7);
  const std::vector<u8> gz = zlib_gzip(data);
  Guarded out(data.size());
  GuardedInput in(gz, out);
  Tracker& t = in.tracker;
  t.refuse_after = 40960;
  GunzipSink sink{out.data(), data.size(), track_reserve, track_consumed, &t};
  u64 len = 0;
  EXPECT_EQ(gunzip(in.pages.data(), gz.size(), sink, &len), GunzipStatus::NoMemory);
  EXPECT_EQ(t.reserved, 40960u);
}

}  // namespace
}  // namespace mote
