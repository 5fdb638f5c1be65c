// A classic-BPF program builder for the process platform's seccomp filter
// (sandbox.cc), header-only so the unit tests install the same code in a
// child process and watch the host kernel run it.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "kernel/lib/types.h"

namespace mote::process {

// seccomp_data offsets (linux/seccomp.h).
inline constexpr u32 kBpfOffNr = 0, kBpfOffArch = 4, kBpfOffIpLo = 8, kBpfOffIpHi = 12;

class Bpf {
 public:
  static constexpr usize kMax = 256;  // jumps reach 255 ahead: any of them fits
  void stmt(u16 code, u32 k) { add(sock_filter{code, 0, 0, k}); }
  void jump(u16 code, u32 k, u8 jt, u8 jf) { add(sock_filter{code, jt, jf, k}); }
  usize size() const { return n_; }
  sock_filter* data() { return insns_; }
  // False once an instruction did not fit: the program is then unusable.
  bool ok() const { return ok_; }

 private:
  void add(sock_filter f) {
    if (n_ == kMax) {
      ok_ = false;
      return;
    }
    insns_[n_++] = f;
  }
  sock_filter insns_[kMax];
  usize n_ = 0;
  bool ok_ = true;
};

// Appends: kill the process unless the instruction pointer (the address after
// the syscall instruction) is in [start, last]; otherwise fall through to
// what comes next. BPF loads 32 bits at a time, so a range that crosses a
// 4 GiB line (the core is a static PIE wherever the host's ASLR put it) tests
// the high word first and then the low word against the bound of that half.
// False when the range spans more than one 4 GiB line or is empty.
inline bool bpf_ip_in_range(Bpf& f, u64 start, u64 last, u32 kill) {
  const u32 hs = u32(start >> 32), he = u32(last >> 32);
  if (last < start || he - hs > 1) return false;
  f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffIpHi);
  if (hs == he) {
    f.jump(BPF_JMP | BPF_JEQ | BPF_K, hs, 1, 0);
    f.stmt(BPF_RET | BPF_K, kill);
    f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffIpLo);
    f.jump(BPF_JMP | BPF_JGE | BPF_K, u32(start), 1, 0);
    f.stmt(BPF_RET | BPF_K, kill);
    f.jump(BPF_JMP | BPF_JGT | BPF_K, u32(last), 0, 1);
    f.stmt(BPF_RET | BPF_K, kill);
    return true;
  }
  // 0 JEQ hs ? 1 : 3      the lower half
  // 1 LD lo
  // 2 JGE lo(start) ? 7 : 6
  // 3 JEQ he ? 4 : 6      the upper half
  // 4 LD lo
  // 5 JGT lo(last) ? 6 : 7
  // 6 RET kill
  // 7 (what follows)
  f.jump(BPF_JMP | BPF_JEQ | BPF_K, hs, 0, 2);
  f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffIpLo);
  f.jump(BPF_JMP | BPF_JGE | BPF_K, u32(start), 4, 3);
  f.jump(BPF_JMP | BPF_JEQ | BPF_K, he, 0, 2);
  f.stmt(BPF_LD | BPF_W | BPF_ABS, kBpfOffIpLo);
  f.jump(BPF_JMP | BPF_JGT | BPF_K, u32(last), 0, 1);
  f.stmt(BPF_RET | BPF_K, kill);
  return true;
}

}  // namespace mote::process
