// The platform interface: everything the kernel core needs from the machine it
// runs on. The core (Linux ABI, ELF loading, memory management, ...) is written
// only against these functions; each platform implements all of them:
//
//   process/  the core hosted in one sandboxed Linux process (this issue)
//   kvm/      an x86-64 ring-0 VM on mote's KVM monitor, QEMU or Firecracker
//
// Rules for implementations:
//  - No function here may allocate from the core heap or call back into the core
//    except where stated (enter_program never returns; fault and syscall entry
//    call core::on_syscall / core::on_fault).
//  - Addresses are the program's virtual addresses: one address space holds the
//    program and the core.
//  - Errors are Linux errno values.
#pragma once

#include "abi/boot_info.h"
#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::platform {

// ---- Boot ------------------------------------------------------------------

// The boot-info blob the monitor handed over (validated by the platform with
// abi::boot_info_ok before the core sees it). Lives for the whole run.
const abi::BootInfo& boot_info();

// A human name for --strace / -v output ("process", "kvm").
const char* name();

// ---- Memory ----------------------------------------------------------------

enum Prot : u32 { kProtNone = 0, kProtRead = 1, kProtWrite = 2, kProtExec = 4 };

// A range of virtual addresses the core must never hand to the program
// (platform code, stacks, host mappings).
struct Reserved {
  u64 start;
  u64 end;
};

// The address-space layout: the range programs may use, and the reserved
// ranges inside it (platform code and data, host mappings).
struct Layout {
  u64 user_min;   // lowest mappable address (mmap_min_addr)
  u64 user_max;   // one past the highest program address
  u64 mmap_top;   // the main stack goes just below; mmap() grows down from it
};
Layout layout();
// Writes up to `cap` reserved ranges; returns how many exist in all.
usize reserved_ranges(Reserved* out, usize cap);

// Maps zeroed memory at exactly [addr, addr+len); the range is free according
// to the core's bookkeeping. Page-aligned arguments. A platform may back the
// pages lazily (core::program_page_prot says what a touched page allows).
Result<void> map_anonymous(u64 addr, u64 len, u32 prot);
// The boot images the monitor hands over: the program file (a static program
// run without a root filesystem image) and the root filesystem image (cpio
// newc with page-aligned file data: program, interpreter, libraries...).
// Vdso: the platform's vDSO, its data page then the ELF image (the VM
// platform's; the process platform has none).
enum class Image : u8 { Program = 0, Initramfs = 1, Vdso = 2 };
struct ImageBytes {
  const u8* data;  // readable by the core for the whole run; nullptr if absent
  u64 size;
};
ImageBytes image(Image which);
// Maps bytes [offset, offset+len) of an image copy-on-write at exactly
// [addr, addr+len), without copying where the platform can (zero-copy: the
// host's page cache, the initrd's own frames). Pages past the image's end
// read as zero. addr, len and offset are page-aligned.
Result<void> map_image(Image which, u64 addr, u64 len, u32 prot, u64 offset);
// Maps [addr, addr+len) with `prot`: its first n bytes copied from `src`
// (core memory), the rest zero. Like map_anonymous, the range is free.
Result<void> map_copy(u64 addr, u64 len, u32 prot, const void* src, usize n);
Result<void> unmap(u64 addr, u64 len);
Result<void> protect(u64 addr, u64 len, u32 prot);
// Moves the pages of [old, old+old_len) to [new_addr, new_addr+new_len)
// (new_len >= old_len; the tail is zero). Returns ENOSYS when the platform
// cannot move pages; the core then copies.
Result<void> move(u64 old_addr, u64 old_len, u64 new_addr, u64 new_len);
// Drops the contents of private anonymous pages (they read as zero again).
Result<void> discard(u64 addr, u64 len);
// Shared pages (MAP_SHARED file and anonymous memory): a zeroed page the
// core reads and writes at `addr` and the program may map, at any number of
// addresses, with map_shared; every view sees the same bytes. `token` names
// the page to the platform (a memfd offset, a frame's physical address).
struct SharedPage {
  u64 addr;
  u64 token;
};
Result<SharedPage> shared_page_alloc();
// The page must no longer be mapped by the program.
void shared_page_free(u64 token);
// Maps pages tokens[0..n) at [addr, addr + n pages) with `prot`; the range
// is free. unmap/protect/move then work on them like on any program page,
// except that unmap leaves the page itself alone, and discard is not used
// on them.
Result<void> map_shared(u64 addr, const u64* tokens, usize n, u32 prot);
// Memory for the core itself (heap, stacks), zeroed, never visible to the
// program; unmap_core returns it.
Result<u64> map_core(u64 len);
void unmap_core(u64 addr, u64 len);
// A hint: [addr, addr+len) of core memory is about to be written; back it
// now in one go rather than a fault per page (faults are expensive under
// nested virtualization). Platforms may ignore it.
void prefault_core(u64 addr, u64 len);

// ---- CPU state -------------------------------------------------------------

// The program's thread pointer (%fs base), set by arch_prctl(ARCH_SET_FS).
// The core itself never uses %fs.
void set_fs_base(u64 base);
u64 fs_base();

// Register state the program starts with.
struct EntryState {
  u64 rip;
  u64 rsp;
  u64 rdx;  // SysV: function to register with atexit, 0 here
};
// Starts the program on the current CPU. Never returns: from here on the core
// runs only from syscall and fault entries.
[[noreturn]] void enter_program(const EntryState& s);

// fork (kernel/core/fork.cc) keeps the parent's in-flight system call as a
// copy of the kernel stack it runs on: [current %rsp, syscall_stack_top()).
// The platform must run every fork/vfork/clone/exit/execve call on that
// stack (not on a fast path with another one).
u64 syscall_stack_top();
// The program's FPU/SSE/AVX state, saved and put back around a forked
// child's run (the child's code changes the registers); `area` holds
// fpu_state_size() bytes, 64-byte aligned. Platforms whose syscall return
// restores it themselves make these no-ops (size 0).
usize fpu_state_size();
void fpu_save(void* area);
void fpu_restore(const void* area);
// fork: a child runs (depth > 0) or the first process again (0). While a
// child runs, the platform must not create program-visible memory that would
// outlive it (the parent's address space comes back from a snapshot).
void fork_depth(int depth);
// execve: when the current system call returns, the program continues at
// `rip` with %rsp = `rsp` and the other general registers zero.
void exec_return(u64 rip, u64 rsp);
// clone with a new stack: the current system call returns on `rsp`, the
// other registers as they are.
void return_stack(u64 rsp);

// Hardware capabilities for AT_HWCAP / AT_HWCAP2 / AT_MINSIGSTKSZ.
u64 hwcap();
u64 hwcap2();
u64 min_signal_stack();

// ---- Threads and CPUs ------------------------------------------------------

// The core's object for the thread running on this CPU (core::Thread*),
// null before the first thread starts and on the platform's own threads.
void* current_thread();
void set_current_thread(void* thread);

// Futex-style waiting on a word of core memory: returns when *word !=
// expected, after wake_word on it, at `deadline_ns` (monotonic; ~0: none),
// or spuriously (a platform interruption); callers re-check and loop.
void wait_word(const volatile u32* word, u32 expected, u64 deadline_ns);
void wake_word(const volatile u32* word, u32 count);
// A core thread's sleep (core::sleep) on its wake word while it is 0, and
// its wake-up after the word was set: wait_word/wake_word, except that the
// process platform may have the sleeper watch the network device meanwhile
// and take arrivals itself (net.cc). Same return rules as wait_word.
void thread_sleep(const volatile u32* word, u64 deadline_ns);
void thread_wake(void* thread_platform, const volatile u32* word);  // Thread::platform

// Starts a new thread of the program (clone with CLONE_VM|CLONE_THREAD...).
// It returns from the current system call with result 0, %rsp = `stack`
// (0: the caller's), %fs base = `tls` when set_tls, and every other register
// and the FPU state as the caller has them. Its platform thread begins with
// set_current_thread(thread). ENOSYS where the platform has no threads.
struct NewThread {
  void* thread;
  u64 stack;
  u64 tls;
  bool set_tls;
};
Result<void> thread_start(const NewThread& t);
// Ends the calling thread (not the process). The kernel lock is not held and
// the core has forgotten the thread.
[[noreturn]] void thread_exit();
// Makes `thread` (program code, a platform wait, or a system call on another
// CPU) come to the core soon to take its pending signals: interrupts
// wait_word, or enters core::deliver_signals from its program code.
void thread_kick(void* thread);

// CPUs the program's threads run on (--cpus), and the caller's CPU.
u32 cpu_count();
u32 current_cpu();
// Gives the CPU to another runnable thread for a moment (sched_yield).
void yield();
// Confines the calling thread to the CPUs in `mask` (bit n: CPU n < cpu_count).
Result<void> set_affinity(u64 mask);

// ---- Signals: the program's register state ----------------------------------

// The program's registers where the core may start a signal handler or
// return from one: at the end of a system call (ret already in rax), at a
// fault, or where another CPU interrupted its code. gregs in Linux's
// mcontext order (REG_R8 = 0 ... REG_RIP = 16, REG_EFL = 17, REG_CSGSFS,
// REG_ERR, REG_TRAPNO, REG_OLDMASK, REG_CR2 = 22); fpstate in Linux's
// signal-frame format (fxsave image, then the xsave header and extended
// state with FP_XSTATE_MAGIC1/2 when fpstate_size > 512), or null.
struct UserContext {
  u64* gregs;
  u8* fpstate;
  u32 fpstate_size;
};
// The context of the current thread's system call in flight, or nullptr
// when the platform cannot give one there (then rt_sigreturn fails and
// handlers cannot run from this call; the core falls back to the default
// action). The core may rewrite it; it takes effect on return.
UserContext* syscall_context();
// The program's %rsp at the current system call (every entry path).
u64 syscall_user_sp();

// ---- Time ------------------------------------------------------------------

// CLOCK_MONOTONIC in nanoseconds: since the VM booted on the VM platforms
// (near 0, as in a fresh VM), the host's own on the process platform (as in
// a container). Reading it must not be needed to boot: on the VM platform
// the first read may calibrate the TSC.
u64 monotonic_ns();
u64 wall_ns();            // nanoseconds since the Unix epoch
u64 process_cpu_ns();
u64 thread_cpu_ns();
u64 thread_cpu_ns_of(void* thread);  // another thread's (core::Thread*)
u64 clock_resolution_ns();

// One-shot timer on the current CPU: at or after `deadline` (monotonic ns)
// the platform calls core::on_timer() once. 0 disarms.
void timer_arm(u64 deadline_ns);
// Waits until the monotonic clock reaches `deadline_ns` or an event (timer,
// interrupt) arrives, whichever is first. Returns the monotonic time now.
u64 idle_until(u64 deadline_ns);

// ---- Console ---------------------------------------------------------------

// stream: 0 stdin, 1 stdout, 2 stderr. Returns bytes or -errno.
isize console_write(int stream, const void* buf, usize len);
isize console_read(int stream, void* buf, usize len);
// -t (kBootTty): applies terminal modes (struct termios, 36 bytes; cmd is
// TCSETS, TCSETSW or TCSETSF) to the host terminal behind a tty stream; the
// platform restores the original modes when the run ends. ENOTTY elsewhere.
Result<void> console_set_termios(int stream, u32 cmd, const u8* termios);

// ---- Host directory shares ---------------------------------------------------

// The channel share k (its index in the boot info's table) travels on.
// Shares on one channel are one 9P session, told apart by Tattach's aname
// (process platform: one socket to the monitor); the VM platforms give each
// share its own virtio-9p device.
u32 share_channel(u32 share);
// Sends one 9P2000.L message (abi/p9.h) on a channel and receives its reply
// into resp (cap bytes); returns the reply's length. ENODEV on a platform or
// channel without a share server (the core links weak defaults that say so).
Result<usize> share_rpc(u32 channel, const void* req, usize len, void* resp, usize cap);
// The same in two halves, for a platform whose channel can hold a request
// while the core goes on (share_pipelined; the process platform's socket):
// the client's read-ahead sends one, and receives its reply before it sends
// anything else. Replies come in order.
bool share_pipelined(u32 channel);
Result<void> share_send(u32 channel, const void* req, usize len);
Result<usize> share_recv(u32 channel, void* resp, usize cap);

// ---- Network device ----------------------------------------------------------

// The machine's Ethernet device, when the monitor gave one (--net user,
// --net tap:NAME, or -p): boot_info() says whether (kNetDevice), its MAC,
// MTU and addresses. Frames are whole Ethernet frames without the FCS.
//
// Queues one frame for the host (copied). False when the device's transmit
// queue is full: the frame is dropped, as a NIC would (TCP retransmits).
// With `off` (only as net_offloads() allows):
// - csum_offset != 0 (kNetTxCsum): the frame's transport checksum is
//   partial, for the device to complete: the sum of the bytes from
//   csum_start to the end goes at csum_start + csum_offset (virtio 1.1
//   5.1.6.2, VIRTIO_NET_HDR_F_NEEDS_CSUM);
// - gso_size != 0 (kNetTso4, with the checksum): a TCP segment larger than
//   the MTU for the device to cut into segments of gso_size payload bytes,
//   each behind a copy of the first hdr_len bytes (VIRTIO_NET_HDR_GSO_TCPV4).
struct NetTxOffload {
  u16 csum_start = 0, csum_offset = 0, gso_size = 0, hdr_len = 0;
};
bool net_send(const void* frame, usize len, const NetTxOffload* off = nullptr);
// Takes the next received frame into buf (cap >= MTU + 14); returns its
// length, 0 when none waits. Called by the core with the kernel lock held.
// *csum_ok (when asked): the device vouches for the frame's TCP or UDP
// checksum (virtio's DATA_VALID, or NEEDS_CSUM: the host's own stack left it
// partial for the offload, so it must not be checked).
usize net_receive(void* buf, usize cap, bool* csum_ok = nullptr);
// What the device does for the stack: kNetTxCsum, kNetTso4; with kNetRxGso
// a received frame may be a TCP segment of up to 64 KiB (the host's stack
// handing over a whole send without cutting it: net_receive's buffer must
// take 65535 + 14 bytes), which the stack takes like any other.
inline constexpr u32 kNetTxCsum = 1u << 0;
inline constexpr u32 kNetTso4 = 1u << 1;
inline constexpr u32 kNetRxGso = 1u << 2;
u32 net_offloads();

// ---- Entropy, exit ---------------------------------------------------------

// 32 bytes of seed for the core's CSPRNG.
void random_seed(u8 out[32]);

// Ends the whole unikernel with `status` (0..255) as the monitor's exit status.
[[noreturn]] void exit(int status);
// Prints `msg` on the console and ends with status 70 (EX_SOFTWARE).
[[noreturn]] void panic(const char* msg);

}  // namespace mote::platform

// Entries from the platform into the core.
namespace mote::core {

using platform::UserContext;

// The program's registers at a system call: rax (number), the six arguments,
// and where it came from. The core writes the result into `ret`.
struct SyscallFrame {
  u64 nr;
  u64 args[6];
  u64 ret;
  u64 pc;  // address of the instruction after `syscall`
};
void on_syscall(SyscallFrame& f);

// A hardware fault in the program. Never returns when the program has no
// handler: the core reports and exits 128+signal.
struct FaultFrame {
  int signal;       // Linux signal number (SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGTRAP)
  int code;         // si_code
  u64 address;      // si_addr (faulting data address or instruction)
  u64 regs[18];     // rax rbx rcx rdx rsi rdi rbp rsp r8..r15 rip rflags
};
// With `ctx` the platform can resume the program at a handler: on_fault
// returns when one will run (ctx rewritten).
void on_fault(const FaultFrame& f, UserContext* ctx);

// Starts the program's handlers for the current thread's deliverable
// signals in `ctx` (and settles a system call interrupted by them: restart
// or EINTR). Takes the kernel lock itself. The platform calls it wherever
// the thread returns to program code with signal_work() true. Without a
// context (a platform that cannot give one there) handlers cannot run: such
// signals take their default action, with a note on stderr.
void deliver_signals(UserContext* ctx);
// True when the current thread has a signal to take or a system call to
// settle (cheap, lock-free).
bool signal_work();

void on_timer();
// Signals sent to mote from the host (kill, Ctrl-C), a set of sig_bit()s,
// for the program: each is sent to the process as from a process outside
// it (SI_USER, pid 0). Called from the platform's event context like
// on_timer. Returns the signals not sent yet (the kernel lock was busy:
// call again later).
u64 on_host_signals(u64 set);
// Frames arrived on the network device (platform::net_receive has some).
// Called from the platform's event context like on_timer (an interrupt, the
// process platform's event thread): the core takes them when it can.
void on_net_ready();

// Demand paging (VM platforms): the protection the program's mappings give
// `addr`, or false when no program mapping covers it. map_anonymous may leave
// pages unbacked; the platform backs them on first touch with this answer.
bool program_page_prot(u64 addr, u32* prot);

}  // namespace mote::core
