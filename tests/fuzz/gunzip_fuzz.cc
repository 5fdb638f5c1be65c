// libFuzzer target: the kernel's gzip decompressor (kernel/lib/inflate.cc),
// which the VM kernel runs on a compressed initrd before anything else, held
// against zlib's inflate as the reference. A crash, an out-of-bounds access
// or a hang is a bug, and so is any disagreement.
//
// The first byte picks the mode. Even: the rest is a gzip member as the
// kernel gets it; where zlib decodes it (and only zero bytes follow) gunzip
// must give the same bytes, where zlib refuses it gunzip must refuse it too.
// Odd: the rest is raw DEFLATE data, wrapped here in a gzip header and a
// trailer that is right for zlib's output, so that the CRC-32 does not hide
// the decoder's verdict from the comparison: where zlib decodes the data,
// gunzip must give the same bytes; where zlib refuses it, gunzip must find
// the DEFLATE data itself bad (BadData or Truncated), not just the trailer.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel/lib/inflate.h"

namespace {

constexpr size_t kCapacity = 256 << 10;
uint8_t g_out[kCapacity];
uint8_t g_ref[kCapacity + 1];

// zlib's verdict: true when the stream ends cleanly; *used is the input it
// consumed, *out_len its output.
bool zlib_inflate(const uint8_t* in, size_t n, int window_bits, size_t* used, size_t* out_len) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) abort();
  z.next_in = const_cast<Bytef*>(in);
  z.avail_in = uInt(n);
  z.next_out = g_ref;
  z.avail_out = uInt(sizeof g_ref);
  int r = inflate(&z, Z_FINISH);
  *used = n - z.avail_in;
  *out_len = z.total_out;
  inflateEnd(&z);
  return r == Z_STREAM_END;
}

mote::GunzipStatus ours(const uint8_t* in, size_t n, uint64_t* len) {
  mote::GunzipSink sink{g_out, kCapacity, nullptr, nullptr, nullptr};
  mote::GunzipStatus st = mote::gunzip(in, n, sink, len);
  if (*len > kCapacity) abort();
  return st;
}

void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (8 * i)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool raw = data[0] & 1;
  ++data;
  --size;
  size_t used = 0, ref_len = 0;
  uint64_t len = 0;
  if (!raw) {
    bool ref_ok = zlib_inflate(data, size, 15 + 16, &used, &ref_len);  // gzip only
    if (ref_len > kCapacity) return 0;  // beyond the capacity here: no verdict to compare
    for (size_t i = used; i < size && ref_ok; ++i) ref_ok = data[i] == 0;
    bool ok = ours(data, size, &len) == mote::GunzipStatus::Ok;
    if (ok != ref_ok) abort();
    if (ok && (len != ref_len || memcmp(g_out, g_ref, len) != 0)) abort();
    return 0;
  }
  bool ref_ok = zlib_inflate(data, size, -15, &used, &ref_len);
  if (ref_len > kCapacity) return 0;
  std::vector<uint8_t> gz = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  gz.insert(gz.end(), data, data + (ref_ok ? used : size));
  put32(gz, ref_ok ? uint32_t(crc32(0, g_ref, uInt(ref_len))) : 0);
  put32(gz, ref_ok ? uint32_t(ref_len) : 0);
  mote::GunzipStatus st = ours(gz.data(), gz.size(), &len);
  if (ref_ok) {
    if (st != mote::GunzipStatus::Ok || len != ref_len || memcmp(g_out, g_ref, len) != 0) abort();
  } else if (st != mote::GunzipStatus::BadData && st != mote::GunzipStatus::Truncated) {
    abort();
  }
  return 0;
}
