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

// Per-thread data at %gs:0, one per host thread (each program thread is a
// host thread; so is the timer thread). The program owns %fs; the core
// never reads it. Offsets up to 32 are used from assembly: keep them stable.
struct Cpu {
  Cpu* self;              // 0
  u64 kernel_stack_top;   // 8: the fast syscall path switches here
  u64 user_rsp;           // 16: the program's %rsp during a fast syscall
  u64 unused;             // 24
  volatile u64 sig_ready; // 32: nonzero: the fast path's return delivers signals
  void* thread;           // the core::Thread running here
  u64 sigstack_base, sigstack_top;  // host signal stack: SIGSYS and faults run here
  u64 kstack_base;        // the fast path's stack, below kernel_stack_top
  volatile i32 host_tid;
  // CLONE_CHILD_CLEARTID word: nonzero while the host thread exists; the
  // host zeroes it when the thread is gone, and then the stacks are free.
  volatile u32 alive;
  bool timer_thread;
  // A platform service thread's loop (start_service_thread), or null.
  void (*service)();  // never returns
  // The SIGSYS being served: its register context (syscall_context).
  bool ctx_valid;
  platform::UserContext ctx;
  u64 fs_base;
  // Set by the core during a system call, applied by the SIGSYS return.
  u64 return_rsp;
  bool exec_pending;
  u64 exec_rip, exec_rsp;
  u64 boot_frame;         // a new thread's first register frame (rt_sigreturn)
  Cpu* next;              // every Cpu ever made (reused after exit)
  // --gdb (gdb.cc): the program's registers while this thread is stopped
  // or parked (all-stop), and whether gdb asked it to single-step.
  u64* volatile gdb_gregs;
  u8* gdb_fpstate;
  u32 gdb_fpsize;
  bool gdb_step;
  // net.cc: this thread sleeps in ppoll on the network device and the kick
  // eventfd (it covers the device); a wake-up then writes the eventfd.
  volatile u32 net_polling;
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
  u64 mono0 = 0;                 // subtracted from the host's CLOCK_MONOTONIC (0: the same clock)
  int host_pid = 0;
  u32 cpus = 1;                  // --cpus: CPUs the program sees
  u32 ncpu_ids = 0;              // host CPUs the threads run on (min(cpus, host's))
  u16 cpu_ids[64] = {};
  // The timer thread (threads.cc): sleeps in a read of timer_fd, a host
  // timerfd that expires at timer_deadline or earlier, then calls
  // core::on_timer when that is due.
  Cpu* timer_cpu = nullptr;
  int timer_fd = -1;
  volatile u64 timer_deadline = 0;
  // When the timerfd expires (~0: never), as its last setting by the timer
  // thread or timer_arm (both under timerfd_lock) left it; a host signal's
  // nudge makes it expire sooner, never later.
  volatile u64 timerfd_at = ~u64(0);
  volatile u32 timerfd_lock = 0;
  volatile u32 timer_fired = 0;  // bumped after each on_timer (idle_until wakes)
  // Asynchronous host signals (kill, Ctrl-C) for the program, as a set of
  // sig_bit()s: the timer thread, the one thread that takes them, hands
  // them to the core (signals.cc install_host_signal_handlers).
  volatile u64 host_signals = 0;
  // The network device (net.cc). Arrivals are noticed by a program thread
  // sleeping in the core (it covers the device: net_poller) or else by the
  // event thread, which calls core::on_net_ready and waits for net_receive
  // to find the device empty (net_drained changes) before it looks again.
  Cpu* net_cpu = nullptr;
  volatile u32 net_drained = 0;
  volatile u32 net_waiting = 0;  // how many wait on net_drained
  int net_kick_fd = -1;          // eventfd: wakes a covering thread (-1: no covering)
  Cpu* volatile net_poller = nullptr;  // the covering thread, if any
  volatile u32 net_cover = 0;    // bumped when the cover is taken or let go
  volatile u32 net_ev_parked = 0;   // the event thread waits on net_cover for good
  volatile u32 net_ev_polling = 0;  // the event thread is in (or enters) ppoll
  volatile u32 net_standdown = 0;   // a thread asked it to leave ppoll (kick eventfd)
  volatile u32 net_notified = 0; // bumped each time the event thread reports arrivals
  volatile u32 net_gone = 0;     // the backend closed its end (a read saw end-of-file)
  bool net_selftest = false;     // kBootSelftestNet: arrivals go to the self-test, not the core
  Cpu* cpus_list = nullptr;      // every Cpu but g_cpu0
  volatile u64 patching = 0;     // pages being rewritten (rewrite.cc); faults there retry
  volatile u64 patching_end = 0;
  u32 termios_changed = 0;       // streams whose host terminal modes -t changed
  int fork_depth = 0;            // > 0: a forked child runs; no new stub pages
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
  u32 rewritten_direct = 0, rewritten_padding = 0;  // sites patched, by shape (rewrite.cc)
  // The host's vDSO (clock.cc): where the kernel mapped it (AT_SYSINFO_EHDR,
  // and its [vdso] line in /proc/self/maps), and its clock_gettime, which
  // reads CLOCK_REALTIME and CLOCK_MONOTONIC without a host system call;
  // null when there is none or it turned out to make system calls anyway.
  u64 vdso_ehdr = 0, vdso_start = 0, vdso_end = 0;
  long (*vdso_clock_gettime)(long, void*) = nullptr;
  volatile u64 vdso_syscalls = 0;  // system calls the vDSO made, served by on_sigsys
};

extern State g;
extern Cpu g_cpu0;

// sandbox.cc
void enable_syscall_dispatch();
void install_seccomp();
// clock.cc
// The host clock `id` in ns (the vDSO for CLOCK_REALTIME and
// CLOCK_MONOTONIC, else clock_gettime); 0 when the host refuses it.
u64 read_clock(long id);
void init_vdso_clock();   // after read_host_maps
void probe_vdso_clock();  // once Syscall User Dispatch is on (enter_program)
// A SIGSYS from a system call the vDSO made (its clock source has no fast
// path): performs it for the vDSO, from the core's text, and stores the
// result. False when `call_addr` is not in the vDSO.
bool serve_vdso_syscall(u64 call_addr, u64 nr, const u64 args[2], u64* ret);
// signals.cc
void install_signal_handlers();
// The host signals passed on to the program (SIGHUP, SIGINT, SIGQUIT,
// SIGUSR1, SIGUSR2, SIGTERM): their handler records them in
// g.host_signals. Every thread blocks them but the timer thread.
inline constexpr u64 kHostSignals = (1ull << (1 - 1)) | (1ull << (2 - 1)) | (1ull << (3 - 1)) |
                                    (1ull << (10 - 1)) | (1ull << (12 - 1)) | (1ull << (15 - 1));
void install_host_signal_handlers();
// The host signal that diverts a thread to the core (platform::thread_kick).
inline constexpr int kKickSignal = 40;
void setup_signal_stack(Cpu* c);
u64 signal_stack_size();
// threads.cc
inline Cpu* cpu() {
  Cpu* c;
  asm volatile("mov %%gs:0, %0" : "=r"(c));
  return c;
}
void init_cpus();  // --cpus: pins the process to its host CPUs (before the sandbox)
// A host thread of the platform's own (no program thread, all signals
// blocked) running `loop`; null when it cannot be made.
Cpu* start_service_thread(void (*loop)());  // loop never returns
// Starts the timer thread now (it also takes the host signals), once.
void start_timer_thread();
// The timer thread's timerfd, made once, before the sandbox (timerfd_create
// is not in the allowlist); and a nudge that has the timer thread look at once
// (async-signal-safe: one host call).
void prepare_timer();
void poke_timer_thread();
// net.cc: whether the run has a network device (BootInfo.net_fd), and
// whether it is a tap with virtio-net headers (abi::kNetVnetHdr: each frame
// goes with one, in one readv or writev).
bool have_device();
bool vnet_hdr();
// net.cc: starts the network event thread when there is a device.
void start_net_thread();
// net.cc: what covering the device needs from before the sandbox (its kick
// eventfd).
void prepare_net();
// net.cc: as the core exits, the tap's offloads off again (once the core has
// them on, abi::kNetVnetHdr).
void release_net();
// net_selftest.cc: kBootSelftestNet, once the sandbox is up.
[[noreturn]] void net_selftest();
// rewrite.cc: the registers of a served SIGSYS that decide a rewrite.
struct SiteRegs {
  u64 rax;  // the syscall number
  u64 rsp;
  u64 r9;
};
void maybe_rewrite(u64 call_end, const SiteRegs& regs);
// A page of syscall stubs (always executable but while a stub is written).
bool is_stub_page(u64 page);

[[noreturn]] void fatal(const char* msg);

}  // namespace mote::process
