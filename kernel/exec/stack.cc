#include "kernel/exec/stack.h"

#include "kernel/lib/string.h"

namespace mote::exec {

namespace {

constexpr int kE2BIG = 7;

// Places data downwards from `cursor` inside [base, ...); tracks overflow.
struct Placer {
  u8* mem;
  u64 base;    // virtual address of mem[0]
  u64 cursor;  // next free byte is below this virtual address
  bool overflow = false;

  u64 push_bytes(const void* data, usize n) {
    if (overflow || cursor < base || cursor - base < n) {
      overflow = true;
      return 0;
    }
    cursor -= n;
    memcpy(mem + (cursor - base), data, n);
    return cursor;
  }
  u64 push_string(StrView s) {
    if (overflow || cursor < base || cursor - base < s.size + 1) {
      overflow = true;
      return 0;
    }
    cursor -= s.size + 1;
    memcpy(mem + (cursor - base), s.data, s.size);
    mem[cursor - base + s.size] = 0;
    return cursor;
  }
};

}  // namespace

Result<u64> build_initial_stack(u8* mem, usize size, u64 top, const StackSpec& spec) {
  if (size < 64) return err(kE2BIG);
  Placer p{mem, top - size, top};
  u64 zero = 0;
  p.push_bytes(&zero, 8);  // end marker, as on Linux
  u64 execfn = p.push_string(spec.execfn);

  // Strings: environment, then arguments, each block in ascending order so
  // argv[0] ends up lowest. Addresses are recomputed from the block starts.
  for (usize i = spec.envc; i-- > 0;) p.push_string(spec.envp[i]);
  u64 env_block = p.cursor;
  for (usize i = spec.argc; i-- > 0;) p.push_string(spec.argv[i]);
  u64 arg_block = p.cursor;
  u64 platform = p.push_string(spec.platform);
  p.cursor &= ~u64(15);  // may drop below base when the window is unaligned
  u64 random = p.push_bytes(spec.random16, 16);
  if (p.overflow) return err(kE2BIG);

  // Pointer block: argc, argv..., NULL, envp..., NULL, auxv pairs..., AT_NULL.
  usize naux = spec.auxc + 3 + 1;
  usize words = 1 + spec.argc + 1 + spec.envc + 1 + 2 * naux;
  if (p.cursor < p.base || p.cursor - p.base < words * 8) return err(kE2BIG);
  u64 sp = (p.cursor - words * 8) & ~u64(15);
  if (sp < p.base) return err(kE2BIG);
  u64* w = reinterpret_cast<u64*>(mem + (sp - p.base));
  usize k = 0;
  w[k++] = spec.argc;
  for (usize i = 0; i < spec.argc; ++i) {
    w[k++] = arg_block;
    arg_block += spec.argv[i].size + 1;
  }
  w[k++] = 0;
  for (usize i = 0; i < spec.envc; ++i) {
    w[k++] = env_block;
    env_block += spec.envp[i].size + 1;
  }
  w[k++] = 0;
  for (usize i = 0; i < spec.auxc; ++i) {
    w[k++] = spec.aux[i].type;
    w[k++] = spec.aux[i].value;
  }
  w[k++] = AT_RANDOM;
  w[k++] = random;
  w[k++] = AT_EXECFN;
  w[k++] = execfn;
  w[k++] = AT_PLATFORM;
  w[k++] = platform;
  w[k++] = AT_NULL;
  w[k++] = 0;
  return sp;
}

}  // namespace mote::exec
