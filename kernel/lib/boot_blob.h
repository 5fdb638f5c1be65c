// Writing a boot-info blob (abi/boot_info.h) into fixed memory, and the guest
// environment every platform gives a program. Freestanding, header-only: used
// by the process platform's launcher and the PVH boot; the C++ monitor builds
// the same blob with its own containers (monitor/process/boot_blob.cc) and
// the same environment rule (monitor/cli/options.cc guest_environment).
#pragma once

#include "abi/boot_info.h"
#include "kernel/lib/string.h"
#include "kernel/lib/types.h"

namespace mote {

class BootBlobWriter {
 public:
  // The header goes at base[0]; strings and tables follow it.
  BootBlobWriter(u8* base, u64 cap) : base_(base), cap_(cap), len_(sizeof(abi::BootInfo)) {}

  // Appends a + b as one NUL-terminated string.
  abi::BlobString add(StrView a, StrView b = StrView()) {
    abi::BlobString s{u32(len_), u32(a.size + b.size)};
    if (len_ + a.size + b.size + 1 > cap_) {
      full_ = true;
      return abi::BlobString{0, 0};
    }
    memcpy(base_ + len_, a.data, a.size);
    memcpy(base_ + len_ + a.size, b.data, b.size);
    len_ += a.size + b.size;
    base_[len_++] = 0;
    return s;
  }
  // Reserves an 8-byte-aligned table of n BlobStrings, filled from `items`.
  u32 table(const abi::BlobString* items, usize n) {
    len_ = (len_ + 7) & ~u64(7);
    u32 at = u32(len_);
    if (len_ + n * sizeof(abi::BlobString) > cap_) {
      full_ = true;
      return 0;
    }
    memcpy(base_ + len_, items, n * sizeof(abi::BlobString));
    len_ += n * sizeof(abi::BlobString);
    return at;
  }
  // Writes the header (total_size filled in); false when anything overflowed.
  bool finish(abi::BootInfo h) {
    if (full_) return false;
    h.total_size = u32(len_);
    memcpy(base_, &h, sizeof h);
    return abi::boot_info_ok(base_, len_);
  }
  u64 size() const { return len_; }

 private:
  u8* base_;
  u64 cap_;
  u64 len_;
  bool full_ = false;
};

// The program's environment as `mote run` defines it: PATH, HOME, TERM,
// HOSTNAME=hostname, then each override K=V, which replaces an earlier entry
// with the same K in place or is appended. `hostname_kv` is storage for the
// HOSTNAME entry (at least 10 + hostname.size bytes). Returns the count, at
// most cap (extra overrides are dropped; callers bound them).
inline usize guest_environment(StrView hostname, const StrView* overrides, usize n_overrides,
                               char* hostname_kv, StrView* out, usize cap) {
  memcpy(hostname_kv, "HOSTNAME=", 9);
  memcpy(hostname_kv + 9, hostname.data, hostname.size);
  const StrView defaults[4] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "HOME=/root", "TERM=xterm", StrView(hostname_kv, 9 + hostname.size)};
  usize n = 0;
  for (const StrView& d : defaults)
    if (n < cap) out[n++] = d;
  for (usize k = 0; k < n_overrides; ++k) {
    StrView kv = overrides[k];
    usize eq = 0;
    while (eq < kv.size && kv.data[eq] != '=') ++eq;
    usize slot = n;
    for (usize j = 0; j < n; ++j)
      if (out[j].size > eq && out[j].data[eq] == '=' && StrView(out[j].data, eq) == StrView(kv.data, eq))
        slot = j;
    if (slot == n && n == cap) continue;
    out[slot] = kv;
    if (slot == n) ++n;
  }
  return n;
}

}  // namespace mote
