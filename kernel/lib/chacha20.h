// ChaCha20 (RFC 8439 section 2.3) as the core's CSPRNG: getrandom() output is
// generated with "fast key erasure" (the key is replaced after each request).
#pragma once

#include "kernel/lib/types.h"

namespace mote {

// One 64-byte ChaCha20 block for key, counter and nonce.
void chacha20_block(const u32 key[8], u32 counter, const u32 nonce[3], u8 out[64]);

class Csprng {
 public:
  void seed(const u8 seed[32]);
  // Fills `len` bytes; `sink` is called with chunks of at most 64 bytes.
  void fill(u8* out, usize len);

 private:
  u32 key_[8] = {};
  u64 counter_ = 0;
};

}  // namespace mote
