// Process-platform internal state shared by its files.
#pragma once

#include "abi/boot_info.h"
#include "kernel/lib/types.h"
#include "kernel/platform/platform.h"

namespace mote::platform {
// Puts back the host terminal modes -t changed (exit and fatal paths).
void restore_terminal();
}

namespace mote::process {

// Per-thread (per-vCPU) data at %gs:0. The program owns %fs; the core never
// reads it. Offsets are used from assembly: keep them stable.
struct Cpu {
  Cpu* self;              // 0
  u64 kernel_stack_top;   // 8: the fast syscall path switches here
  u64 user_rsp;           // 16: the program's %rsp during a fast syscall
  u64 in_core;            // 24: nonzero while the core runs a syscall
};

struct State {
  const abi::BootInfo* boot = nullptr;
  u64 boot_size = 0;
  u64 base = 0;                  // where the core image is loaded
  u64 text_start = 0, text_end = 0;  // the core's executable segment
  u64 hwcap = 0, hwcap2 = 0, minsigstksz = 0;
  u64 core_region = 0, core_region_size = 0, core_region_used = 0;
  platform::Reserved reserved[48] = {};
  usize nreserved = 0;
  u64 fs_base = 0;
  u64 mono0 = 0;                 // host CLOCK_MONOTONIC at start: the unikernel's 0
  int timer_id = -1;
  u32 termios_changed = 0;       // streams whose host terminal modes -t changed
  u64 sigstack_top = 0;          // where SIGSYS (every fork/exit/execve) runs
  bool exec_pending = false;     // execve: the SIGSYS return goes to exec_rip/rsp
  u64 exec_rip = 0, exec_rsp = 0;
  u64 return_rsp = 0;
  int fork_depth = 0;            // > 0: a forked child runs; no new syscall stubs            // clone with a new stack: the SIGSYS return uses it
  // The boot images (platform::Image), mapped read-only in the core region.
  u64 image_base[2] = {};
  u64 image_size[2] = {};
  int image_fd[2] = {-1, -1};
  u64 image_file_offset[2] = {};
  // Shared pages (platform::shared_page_alloc): one memfd made before the
  // sandbox, sized once on first use (sparse: untouched pages cost nothing),
  // viewed MAP_SHARED at the top of the core region; a token is a page's
  // offset.
  int shm_fd = -1;
  bool shm_mapped = false;
  u64 shm_base = 0, shm_size = 0, shm_next = 0;
  u32* shm_free = nullptr;       // stack of freed page numbers (core memory)
  u64 shm_nfree = 0;
  bool rewrite = true;           // patch hot syscall sites (MOTE_NO_REWRITE=1 turns off)
};

extern State g;
extern Cpu g_cpu0;

// sandbox.cc
void enable_syscall_dispatch();
void install_seccomp();
// signals.cc
void install_signal_handlers();
// rewrite.cc: the registers of a served SIGSYS that decide a rewrite.
struct SiteRegs {
  u64 rax;  // the syscall number
  u64 rsp;
  u64 r9;
};
void maybe_rewrite(u64 call_end, const SiteRegs& regs);

[[noreturn]] void fatal(const char* msg);

}  // namespace mote::process
