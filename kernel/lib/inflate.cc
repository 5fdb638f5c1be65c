#include "kernel/lib/inflate.h"

namespace mote {

namespace {

// RFC 1951 3.2.5: the base value and extra bits of each length code
// (257..285) and distance code (0..29).
constexpr u16 kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr u8 kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr u16 kDistBase[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,
                               33,  49,  65,  97,  129, 193,  257,  385,  513,  769,
                               1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr u8 kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                               6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// RFC 1951 3.2.7: the order in which code-length code lengths are sent.
constexpr u8 kCodeLengthOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

// The per-symbol path is kept inline even where the kernel is built for size.
#define HOT [[gnu::always_inline]] inline

constexpr int kMaxBits = 15;   // the longest Huffman code DEFLATE allows
constexpr int kFastBits = 9;   // codes this short decode with one table look

// A canonical Huffman code (RFC 1951 3.2.2): how many codes of each length,
// the symbols in code order, and a table indexed by the next kFastBits input
// bits (codes are sent first bit first, so the index is the code reversed)
// for the codes of up to kFastBits bits: (length << 9) | symbol, 0 for none.
struct Huffman {
  u16 count[kMaxBits + 1];
  u16 symbol[288];
  u16 fast[1 << kFastBits];
};

u32 reverse_bits(u32 code, int len) {
  u32 r = 0;
  for (int i = 0; i < len; ++i, code >>= 1) r = r << 1 | (code & 1);
  return r;
}

// False for an over-subscribed set of lengths (more codes than bit patterns)
// and for an incomplete one (bit patterns left over), which zlib refuses too,
// except a literal/length or distance code of at most one code: one distance
// code is how a block with a single match distance is sent, and a code with
// none is never decoded (RFC 1951 3.2.7).
bool build(Huffman& h, const u8* lengths, int n, bool lengths_code = false) {
  for (auto& c : h.count) c = 0;
  for (int i = 0; i < n; ++i) h.count[lengths[i]]++;
  h.count[0] = 0;
  int left = 1, longest = 0;
  for (int len = 1; len <= kMaxBits; ++len) {
    left = (left << 1) - h.count[len];
    if (left < 0) return false;
    if (h.count[len]) longest = len;
  }
  if (left > 0 && (lengths_code || longest > 1)) return false;
  u16 offset[kMaxBits + 2];
  offset[1] = 0;
  for (int len = 1; len <= kMaxBits; ++len) offset[len + 1] = u16(offset[len] + h.count[len]);
  for (int i = 0; i < n; ++i)
    if (lengths[i]) h.symbol[offset[lengths[i]]++] = u16(i);
  for (auto& f : h.fast) f = 0;
  // Canonical codes: consecutive values within a length, in symbol order;
  // the first code of the next length is (last + 1) << 1.
  u32 code = 0;
  int index = 0;
  for (int len = 1; len <= kFastBits; ++len, code <<= 1) {
    for (int k = 0; k < h.count[len]; ++k, ++code, ++index) {
      for (u32 j = reverse_bits(code, len); j < (1u << kFastBits); j += 1u << len)
        h.fast[j] = u16(len << 9 | h.symbol[index]);
    }
  }
  return true;
}

// The input, read least significant bit first (RFC 1951 3.1.1). Reading past
// the end yields zero bytes, counted in pad_: decoding stays branch-light and
// overrun() tells afterwards whether any of them were consumed.
class BitReader {
 public:
  BitReader(const u8* in, u64 n) : in_(in), n_(n) {}

  HOT void fill(int want) {
    if (nbits_ >= want) return;
    if (n_ - pos_ >= 8) {
      // Eight bytes at once (x86 is little-endian: the first byte lands in
      // the low bits); whole bytes only, up to 56 bits in the buffer.
      u64 word;
      __builtin_memcpy(&word, in_ + pos_, 8);
      bits_ |= word << nbits_;
      pos_ += u64(63 - nbits_) >> 3;
      nbits_ |= 56;
      return;
    }
    while (nbits_ < want) {
      u64 b = 0;
      if (pos_ < n_) b = in_[pos_++];
      else ++pad_;
      bits_ |= b << nbits_;
      nbits_ += 8;
    }
  }
  HOT u32 get(int k) {
    if (k == 0) return 0;
    fill(k);
    u32 v = u32(bits_ & ((1ull << k) - 1));
    drop(k);
    return v;
  }
  HOT void drop(int k) {
    bits_ >>= k;
    nbits_ -= k;
  }
  void align() { drop(nbits_ & 7); }
  u64 peek_bits() const { return bits_; }
  bool overrun() const { return u64(nbits_) < pad_ * 8; }
  // Input bytes wholly consumed (the bit buffer's whole bytes are not).
  u64 consumed() const { return pos_ - u64(nbits_ / 8); }

 private:
  const u8* in_;
  u64 n_;
  u64 pos_ = 0;
  u64 pad_ = 0;
  u64 bits_ = 0;
  int nbits_ = 0;
};

// A symbol, or -1 for a bit pattern the code does not use.
HOT int decode(BitReader& r, const Huffman& h) {
  r.fill(kMaxBits);
  u64 bits = r.peek_bits();
  u32 e = h.fast[bits & ((1u << kFastBits) - 1)];
  if (e) {
    r.drop(int(e >> 9));
    return int(e & 511);
  }
  // A longer code: walk the lengths (each length's codes follow the
  // previous length's, shifted left by one).
  int code = 0, first = 0, index = 0;
  for (int len = 1; len <= kMaxBits; ++len) {
    code |= int(bits >> (len - 1)) & 1;
    int count = h.count[len];
    if (code - first < count) {
      r.drop(len);
      return h.symbol[index + (code - first)];
    }
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  return -1;
}

class Output {
 public:
  Output(const GunzipSink& sink, u64 in_offset) : s_(sink), in_offset_(in_offset) {
    if (!s_.reserve) ready_ = s_.capacity;
  }

  // Room for n more bytes.
  HOT GunzipStatus room(u64 n, const BitReader& r) {
    if (pos_ + n <= ready_) return GunzipStatus::Ok;
    if (pos_ + n > s_.capacity) return GunzipStatus::TooLong;
    // Page by page: the caller backs exactly what is written.
    u64 to = (pos_ + n + 4095) & ~u64(4095);
    if (to > s_.capacity) to = s_.capacity;
    if (s_.consumed) s_.consumed(s_.ctx, in_offset_ + r.consumed());
    if (!s_.reserve(s_.ctx, to)) return GunzipStatus::NoMemory;
    ready_ = to;
    return GunzipStatus::Ok;
  }
  void put(u8 b) { s_.out[pos_++] = b; }
  // A back-reference: byte by byte, since the source may overlap the
  // destination (a distance shorter than the length repeats a pattern).
  void copy(u64 dist, u64 len) {
    u8* d = s_.out + pos_;
    const u8* from = d - dist;
    u64 i = 0;
    if (dist >= 8) {
      // Eight at a time: each word read lies wholly before the one written.
      for (; i + 8 <= len; i += 8) {
        u64 w;
        __builtin_memcpy(&w, from + i, 8);
        __builtin_memcpy(d + i, &w, 8);
      }
    }
    for (; i < len; ++i) d[i] = from[i];
    pos_ += len;
  }
  u64 pos() const { return pos_; }

 private:
  const GunzipSink& s_;
  u64 in_offset_;
  u64 pos_ = 0;
  u64 ready_ = 0;
};

#define GZ_TRY(expr)                                 \
  do {                                               \
    GunzipStatus st_ = (expr);                       \
    if (st_ != GunzipStatus::Ok) return st_;         \
  } while (0)

GunzipStatus codes(BitReader& r, Output& o, const Huffman& lit, const Huffman& dist) {
  for (;;) {
    int sym = decode(r, lit);
    if (r.overrun()) return GunzipStatus::Truncated;
    if (sym < 0) return GunzipStatus::BadData;
    if (sym < 256) {
      GZ_TRY(o.room(1, r));
      o.put(u8(sym));
      continue;
    }
    if (sym == 256) return GunzipStatus::Ok;
    sym -= 257;
    if (sym >= 29) return GunzipStatus::BadData;  // 286, 287: never sent
    u64 len = kLengthBase[sym] + r.get(kLengthExtra[sym]);
    int dsym = decode(r, dist);
    if (dsym < 0 || dsym >= 30) return GunzipStatus::BadData;
    u64 d = kDistBase[dsym] + r.get(kDistExtra[dsym]);
    if (r.overrun()) return GunzipStatus::Truncated;
    if (d > o.pos()) return GunzipStatus::BadData;  // before the start of the output
    GZ_TRY(o.room(len, r));
    o.copy(d, len);
  }
}

GunzipStatus stored(BitReader& r, Output& o) {
  r.align();
  u32 len = r.get(16), nlen = r.get(16);
  if (r.overrun()) return GunzipStatus::Truncated;
  if ((len ^ 0xffff) != nlen) return GunzipStatus::BadData;
  GZ_TRY(o.room(len, r));
  for (u32 i = 0; i < len; ++i) o.put(u8(r.get(8)));
  return r.overrun() ? GunzipStatus::Truncated : GunzipStatus::Ok;
}

GunzipStatus fixed(BitReader& r, Output& o, Huffman& lit, Huffman& dist) {
  // RFC 1951 3.2.6.
  u8 lengths[288];
  for (int i = 0; i < 288; ++i) lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
  build(lit, lengths, 288);
  for (int i = 0; i < 32; ++i) lengths[i] = 5;  // 30 and 31 complete the code, never valid
  build(dist, lengths, 32);
  return codes(r, o, lit, dist);
}

GunzipStatus dynamic(BitReader& r, Output& o, Huffman& lit, Huffman& dist) {
  // RFC 1951 3.2.7.
  int nlit = int(r.get(5)) + 257, ndist = int(r.get(5)) + 1, nclen = int(r.get(4)) + 4;
  if (nlit > 286 || ndist > 30) return GunzipStatus::BadData;
  u8 clen[19] = {};
  for (int i = 0; i < nclen; ++i) clen[kCodeLengthOrder[i]] = u8(r.get(3));
  if (r.overrun()) return GunzipStatus::Truncated;
  Huffman& lencode = lit;  // built again below, once the lengths are read
  if (!build(lencode, clen, 19, true)) return GunzipStatus::BadData;
  u8 lengths[286 + 30];
  int n = 0;
  while (n < nlit + ndist) {
    int sym = decode(r, lencode);
    if (r.overrun()) return GunzipStatus::Truncated;
    if (sym < 0) return GunzipStatus::BadData;
    if (sym < 16) {
      lengths[n++] = u8(sym);
      continue;
    }
    u8 value = 0;
    int repeat;
    if (sym == 16) {
      if (n == 0) return GunzipStatus::BadData;  // nothing to repeat
      value = lengths[n - 1];
      repeat = 3 + int(r.get(2));
    } else if (sym == 17) {
      repeat = 3 + int(r.get(3));
    } else {
      repeat = 11 + int(r.get(7));
    }
    if (n + repeat > nlit + ndist) return GunzipStatus::BadData;
    while (repeat--) lengths[n++] = value;
  }
  if (lengths[256] == 0) return GunzipStatus::BadData;  // no end-of-block code
  if (!build(lit, lengths, nlit) || !build(dist, lengths + nlit, ndist)) return GunzipStatus::BadData;
  return codes(r, o, lit, dist);
}

u32 le32(const u8* p) { return u32(p[0]) | u32(p[1]) << 8 | u32(p[2]) << 16 | u32(p[3]) << 24; }

u32 g_crc_table[256];
bool g_crc_table_ready;

}  // namespace

const char* gunzip_status_name(GunzipStatus s) {
  switch (s) {
    case GunzipStatus::Ok: return "ok";
    case GunzipStatus::NotGzip: return "not gzip data";
    case GunzipStatus::BadHeader: return "a malformed gzip header";
    case GunzipStatus::BadData: return "malformed deflate data";
    case GunzipStatus::Truncated: return "the data ends too soon";
    case GunzipStatus::TooLong: return "more data than fits";
    case GunzipStatus::NoMemory: return "out of memory";
    case GunzipStatus::BadChecksum: return "a CRC-32 mismatch";
    case GunzipStatus::BadSize: return "a length mismatch";
    case GunzipStatus::TrailingData: return "data after the gzip member";
  }
  return "?";
}

u32 crc32_update(u32 crc, const u8* p, u64 n) {
  if (!g_crc_table_ready) {
    for (u32 i = 0; i < 256; ++i) {
      u32 c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      g_crc_table[i] = c;
    }
    g_crc_table_ready = true;
  }
  crc = ~crc;
  for (u64 i = 0; i < n; ++i) crc = g_crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

bool is_gzip(const u8* in, u64 n) { return n >= 3 && in[0] == 0x1f && in[1] == 0x8b && in[2] == 8; }

GunzipStatus gunzip(const u8* in, u64 n, const GunzipSink& sink, u64* out_len) {
  *out_len = 0;
  if (!is_gzip(in, n)) return GunzipStatus::NotGzip;
  // RFC 1952 2.3: ID1 ID2 CM FLG MTIME(4) XFL OS, then the optional fields.
  enum : u8 { kFhcrc = 2, kFextra = 4, kFname = 8, kFcomment = 16 };
  if (n < 10) return GunzipStatus::Truncated;
  const u8 flags = in[3];
  if (flags & 0xe0) return GunzipStatus::BadHeader;
  u64 p = 10;
  if (flags & kFextra) {
    if (p + 2 > n) return GunzipStatus::Truncated;
    p += 2 + (u64(in[p]) | u64(in[p + 1]) << 8);
  }
  const u8 strings[2] = {kFname, kFcomment};  // zero-terminated, in this order
  for (u8 field : strings) {
    if (!(flags & field)) continue;
    while (p < n && in[p]) ++p;
    ++p;  // the terminating zero
  }
  if (flags & kFhcrc) {
    if (p + 2 > n) return GunzipStatus::Truncated;
    u32 want = u32(in[p]) | u32(in[p + 1]) << 8;
    if ((crc32_update(0, in, p) & 0xffff) != want) return GunzipStatus::BadHeader;
    p += 2;
  }
  if (p > n) return GunzipStatus::Truncated;

  BitReader r(in + p, n - p);
  Output o(sink, p);
  Huffman lit, dist;
  for (bool last = false; !last;) {
    last = r.get(1);
    u32 type = r.get(2);
    if (r.overrun()) return GunzipStatus::Truncated;
    if (type == 0) GZ_TRY(stored(r, o));
    else if (type == 1) GZ_TRY(fixed(r, o, lit, dist));
    else if (type == 2) GZ_TRY(dynamic(r, o, lit, dist));
    else return GunzipStatus::BadData;
  }
  r.align();
  u64 t = p + r.consumed();  // the trailer: CRC32, ISIZE
  if (t + 8 > n) return GunzipStatus::Truncated;
  for (u64 i = t + 8; i < n; ++i)
    if (in[i]) return GunzipStatus::TrailingData;
  *out_len = o.pos();
  if (crc32_update(0, sink.out, o.pos()) != le32(in + t)) return GunzipStatus::BadChecksum;
  if (u32(o.pos()) != le32(in + t + 4)) return GunzipStatus::BadSize;
  return GunzipStatus::Ok;
}

}  // namespace mote
