// getrandom(): output of the core's ChaCha20 CSPRNG, seeded at boot from the
// host's entropy (boot info). Never blocks: the pool is seeded before the
// program's first instruction.
#include "kernel/core/process.h"
#include "kernel/lib/chacha20.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"

namespace mote::core {
constinit Csprng g_rng;
}

namespace mote::linux {

i64 sys_getrandom(const SysArgs& a) {
  u64 buf = a.u(0), len = a.u(1), flags = a.u(2);
  constexpr u64 kNonblock = 1, kRandom = 2, kInsecure = 4;
  if (flags & ~(kNonblock | kRandom | kInsecure)) return -EINVAL;
  if ((flags & kRandom) && (flags & kInsecure)) return -EINVAL;
  if (len > 0x1ffffff) len = 0x1ffffff;  // Linux caps one call at 32 MiB - 1
  if (!user_writable(buf, len)) return -EFAULT;
  u8 chunk[256];
  u64 done = 0;
  while (done < len) {
    usize n = usize(min<u64>(len - done, sizeof chunk));
    core::g_rng.fill(chunk, n);
    if (!copy_to_user(buf + done, chunk, n).ok()) return done ? i64(done) : -EFAULT;
    done += n;
  }
  return i64(done);
}

}  // namespace mote::linux
