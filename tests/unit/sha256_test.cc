// monitor/util/sha256.h against the FIPS 180-4 example vectors (NIST CSRC
// "Cryptographic Standards and Guidelines: Examples with Intermediate Values").
#include "monitor/util/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace mote::util {
namespace {

std::string sha(const std::string& s) { return Sha256::hex(Sha256::of(s)); }

TEST(Sha256, EmptyMessage) {
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, OneBlockMessage) {
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessage) {
  EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, LongMessageFedInOddPieces) {
  // One million 'a', given in pieces that straddle block boundaries.
  Sha256 h;
  std::string piece(997, 'a');
  size_t left = 1000000;
  while (left) {
    size_t n = left < piece.size() ? left : piece.size();
    h.update(piece.data(), n);
    left -= n;
  }
  EXPECT_EQ(Sha256::hex(h.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
  // 55 bytes fit the length in the same block; 56 need one more block.
  EXPECT_EQ(sha(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

}  // namespace
}  // namespace mote::util
