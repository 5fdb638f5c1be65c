#include "kernel/lib/chacha20.h"

#include "kernel/lib/string.h"

namespace mote {

namespace {

constexpr u32 rotl(u32 v, int n) { return (v << n) | (v >> (32 - n)); }

void quarter(u32* s, int a, int b, int c, int d) {
  s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl(s[d], 16);
  s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl(s[b], 12);
  s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl(s[d], 8);
  s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl(s[b], 7);
}

}  // namespace

void chacha20_block(const u32 key[8], u32 counter, const u32 nonce[3], u8 out[64]) {
  u32 in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};  // "expand 32-byte k"
  for (int i = 0; i < 8; ++i) in[4 + i] = key[i];
  in[12] = counter;
  in[13] = nonce[0];
  in[14] = nonce[1];
  in[15] = nonce[2];
  u32 x[16];
  for (int i = 0; i < 16; ++i) x[i] = in[i];
  for (int r = 0; r < 10; ++r) {
    quarter(x, 0, 4, 8, 12);
    quarter(x, 1, 5, 9, 13);
    quarter(x, 2, 6, 10, 14);
    quarter(x, 3, 7, 11, 15);
    quarter(x, 0, 5, 10, 15);
    quarter(x, 1, 6, 11, 12);
    quarter(x, 2, 7, 8, 13);
    quarter(x, 3, 4, 9, 14);
  }
  for (int i = 0; i < 16; ++i) {
    u32 v = x[i] + in[i];
    out[4 * i + 0] = u8(v);
    out[4 * i + 1] = u8(v >> 8);
    out[4 * i + 2] = u8(v >> 16);
    out[4 * i + 3] = u8(v >> 24);
  }
}

void Csprng::seed(const u8 seed[32]) {
  memcpy(key_, seed, 32);
  counter_ = 0;
}

void Csprng::fill(u8* out, usize len) {
  u8 block[64];
  // The 96-bit nonce carries the high bits of the 64-bit block counter.
  auto next = [&]() {
    u32 nonce[3] = {u32(counter_ >> 32), 0, 0};
    chacha20_block(key_, u32(counter_), nonce, block);
    ++counter_;
  };
  while (len) {
    next();
    usize n = len < 64 ? len : 64;
    memcpy(out, block, n);
    out += n;
    len -= n;
  }
  // Fast key erasure: the next key is fresh output, never handed out.
  next();
  memcpy(key_, block, 32);
  memset(block, 0, sizeof block);
}

}  // namespace mote
