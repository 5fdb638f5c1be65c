// The one program a unikernel runs: its address space and the per-process
// state the Linux ABI needs. One instance, g_proc.
#pragma once

#include "kernel/lib/chacha20.h"
#include "kernel/lib/types.h"
#include "kernel/mm/address_space.h"

namespace mote::fs {
class Inode;
}

namespace mote::core {

inline constexpr int kNumSignals = 64;

// struct kernel_sigaction as the x86-64 rt_sigaction syscall sees it.
struct SigAction {
  u64 handler;
  u64 flags;
  u64 restorer;
  u64 mask;
};

struct Rlimit {
  u64 cur;
  u64 max;
};
inline constexpr int kNumRlimits = 16;
inline constexpr u64 kRlimInfinity = ~u64(0);

// Credentials (credentials(7)): real, effective, saved and filesystem ids,
// and the supplementary groups. Recorded and reported; the core does not
// check file permissions against them (docs/compat.md).
struct Creds {
  u32 ruid = 0, euid = 0, suid = 0, fsuid = 0;
  u32 rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  static constexpr int kMaxGroups = 32;
  u32 groups[kMaxGroups] = {};
  int ngroups = 0;
};

struct Process {
  mm::AddressSpace as;
  int pid = 1;             // the program is pid 1 of its unikernel, as in a container
  int ppid = 0;            // forked children (core/fork.cc) have their parent's pid
  int pgid = 1, sid = 1;
  // Per-thread state (tids, masks, pending signals, alternate stacks,
  // robust lists) is in core::Thread (thread.h).
  SigAction actions[kNumSignals + 1] = {};  // shared by all threads
  u64 pending = 0;         // process-directed pending signals
  Rlimit rlimits[kNumRlimits] = {};
  Creds creds;
  StrView exe_path;        // absolute guest path of the program
  fs::Inode* exe = nullptr;  // its file (a reference held for the whole run)
  StrView hostname;
  char comm[16] = {};      // prctl(PR_SET_NAME); empty: the program file's basename
  u64 stack_size = 0;      // main-thread stack (RLIMIT_STACK)
  u64 vdso = 0;            // the vDSO image's address (AT_SYSINFO_EHDR), 0 if none
  u64 image_path_unused = 0;
  // The loaded image, for fault reports.
  u64 load_bias = 0;
  bool strace = false;
};

extern Process g_proc;
// The core's CSPRNG (linux/random.cc), seeded at boot from the host.
extern Csprng g_rng;

// Boots the program described by platform::boot_info(): loads it, builds its
// stack and enters it. Never returns.
[[noreturn]] void boot();

// Ends the program: flushes nothing (the core buffers no output) and exits.
[[noreturn]] void terminate(int status);

// Checks the platform's one-shot timer and idle (kBootSelftestTimer).
bool timer_selftest();

// --timeout: the monotonic time at which the run ends (0: none), set at
// boot. The platform timer is armed for it; when it passes, on_timer ends
// the run with abi::kTimeoutStatus without taking the kernel lock, so a
// program or a kernel path that never gives the lock back is stopped too.
void set_run_deadline(u64 timeout_ns);
u64 run_deadline();

// Writes a message to the program's stderr stream (mote's own diagnostics).
void console_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace mote::core
