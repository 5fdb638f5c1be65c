// kernel/lib/chacha20.h: the block function (RFC 8439) and the CSPRNG.
#include "kernel/lib/chacha20.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace mote {
namespace {

u32 le32(const u8* p) { return u32(p[0]) | u32(p[1]) << 8 | u32(p[2]) << 16 | u32(p[3]) << 24; }

// RFC 8439 section 2.3.2, "Test Vector for the ChaCha20 Block Function".
TEST(Chacha20, Rfc8439BlockTestVector) {
  u8 key_bytes[32];
  for (int i = 0; i < 32; ++i) key_bytes[i] = u8(i);  // 00:01:...:1f
  const u8 nonce_bytes[12] = {0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x4a, 0x00, 0x00, 0x00, 0x00};
  u32 key[8], nonce[3];
  for (int i = 0; i < 8; ++i) key[i] = le32(key_bytes + 4 * i);
  for (int i = 0; i < 3; ++i) nonce[i] = le32(nonce_bytes + 4 * i);
  const u8 expected[64] = {
      0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4,
      0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e,
      0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2,
      0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e};
  u8 out[64];
  chacha20_block(key, 1, nonce, out);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], expected[i]) << "byte " << i;

  // The counter matters.
  u8 other[64];
  chacha20_block(key, 2, nonce, other);
  EXPECT_NE(memcmp(out, other, 64), 0);
}

std::vector<u8> stream(const u8 seed[32], std::initializer_list<usize> sizes) {
  Csprng r;
  r.seed(seed);
  std::vector<u8> all;
  for (usize n : sizes) {
    std::vector<u8> chunk(n + 2, 0xcc);
    r.fill(chunk.data() + 1, n);
    EXPECT_EQ(chunk[0], 0xcc);
    EXPECT_EQ(chunk[n + 1], 0xcc) << "fill(" << n << ") wrote past the end";
    all.insert(all.end(), chunk.begin() + 1, chunk.end() - 1);
  }
  return all;
}

TEST(Csprng, SameSeedSameStream) {
  u8 seed[32];
  for (int i = 0; i < 32; ++i) seed[i] = u8(7 * i + 3);
  EXPECT_EQ(stream(seed, {16, 100, 1, 64}), stream(seed, {16, 100, 1, 64}));
}

TEST(Csprng, DifferentSeedsDiffer) {
  u8 a[32] = {}, b[32] = {};
  b[31] = 1;
  EXPECT_NE(stream(a, {64}), stream(b, {64}));
}

TEST(Csprng, SuccessiveFillsDiffer) {
  u8 seed[32] = {1, 2, 3};
  Csprng r;
  r.seed(seed);
  u8 x[32], y[32];
  r.fill(x, sizeof x);
  r.fill(y, sizeof y);
  EXPECT_NE(memcmp(x, y, sizeof x), 0);
  // Output is not trivially zero.
  u8 zero[32] = {};
  EXPECT_NE(memcmp(x, zero, sizeof x), 0);
}

TEST(Csprng, FirstOutputIsChaCha20OfTheSeed) {
  // fill() generates block 0 (nonce 0) under the seed as key.
  u8 seed[32];
  for (int i = 0; i < 32; ++i) seed[i] = u8(i);
  u32 key[8];
  for (int i = 0; i < 8; ++i) key[i] = le32(seed + 4 * i);
  const u32 nonce[3] = {0, 0, 0};
  u8 block[64];
  chacha20_block(key, 0, nonce, block);
  Csprng r;
  r.seed(seed);
  u8 out[64];
  r.fill(out, sizeof out);
  EXPECT_EQ(memcmp(out, block, 64), 0);
}

TEST(Csprng, FastKeyErasure) {
  // After a request the key is replaced: the second request is not the
  // continuation of the first key's stream.
  u8 seed[32] = {9};
  Csprng r;
  r.seed(seed);
  u8 first[64], second[64];
  r.fill(first, 64);
  r.fill(second, 64);
  u32 key[8];
  for (int i = 0; i < 8; ++i) key[i] = le32(seed + 4 * i);
  const u32 nonce[3] = {0, 0, 0};
  u8 continuation[64];
  chacha20_block(key, 1, nonce, continuation);
  EXPECT_NE(memcmp(second, continuation, 64), 0);
  // Splitting one request differently changes what follows (the key moves
  // once per request), which is the documented design.
  EXPECT_NE(stream(seed, {64, 64}), stream(seed, {128}));
}

}  // namespace
}  // namespace mote
