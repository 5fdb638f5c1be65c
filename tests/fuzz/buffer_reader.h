// The fuzz harnesses' ELF read callback (elf::ReadFn) over the input bytes:
// reads past the end return what is there, or nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace fuzz {

struct Buf {
  const uint8_t* data;
  size_t size;
};

inline mote::Result<mote::usize> read_buf(void* ctx, mote::u64 off, void* out, mote::usize len) {
  auto* b = static_cast<Buf*>(ctx);
  if (off >= b->size) return mote::usize(0);
  mote::usize n = len < b->size - off ? len : mote::usize(b->size - off);
  memcpy(out, b->data + off, n);
  return n;
}

}  // namespace fuzz
