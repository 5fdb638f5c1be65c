// gzip decompression (RFC 1952 member around an RFC 1951 DEFLATE stream), for
// a compressed initrd: `qemu -initrd <(gzip -9 < PROGRAM)` boots a glibc static
// program in 2 MiB of guest RAM, where the uncompressed one does not fit
// beside the kernel (docs/kernel-vm.md).
//
// Built for memory that is tight: the output is one contiguous buffer the
// caller backs page by page as it grows (GunzipSink::reserve), and the input
// is read strictly front to back, the caller told how much of it is behind
// (GunzipSink::consumed) so it can give those pages back while the rest is
// still being decompressed. Back-references reach at most 32 KiB behind the
// output's end (RFC 1951 3.2.5), always inside the buffer.
#pragma once

#include "kernel/lib/types.h"

namespace mote {

enum class GunzipStatus {
  Ok,
  NotGzip,      // no gzip magic (1f 8b) or a compression method other than deflate
  BadHeader,    // reserved flag bits, or a header cut short
  BadData,      // an invalid block type, code, length or distance
  Truncated,    // the input ends inside the stream or the trailer
  TooLong,      // more output than the buffer's capacity
  NoMemory,     // reserve() refused
  BadChecksum,  // CRC-32 of the output differs from the trailer's
  BadSize,      // the output's length (mod 2^32) differs from the trailer's
  TrailingData, // bytes after the member that are not zero padding
};

const char* gunzip_status_name(GunzipStatus s);

struct GunzipSink {
  u8* out;       // the output buffer, contiguous
  u64 capacity;  // never written at or past out + capacity
  // Makes out[0, end) writable (end <= capacity); false when it cannot. Null:
  // the whole buffer already is.
  bool (*reserve)(void* ctx, u64 end);
  // Input bytes [0, n) will not be read again. Null: nobody cares.
  void (*consumed)(void* ctx, u64 n);
  void* ctx;
};

// True when `in` starts like a gzip member (magic and method 8).
bool is_gzip(const u8* in, u64 n);

// Decompresses one gzip member (followed by nothing or by zero bytes) into
// sink.out; *out_len is its length. The CRC-32 and length in the trailer are
// checked.
GunzipStatus gunzip(const u8* in, u64 n, const GunzipSink& sink, u64* out_len);

// CRC-32 as gzip computes it (ISO 3309, reflected 0xedb88320), continued from
// `crc` (0 to start).
u32 crc32_update(u32 crc, const u8* p, u64 n);

}  // namespace mote
