// `mote run --gdb PORT` on the process platform: the core itself serves the
// GDB remote serial protocol on a socket the monitor accepted before the
// sandbox closed (BootInfo.gdb_fd, allowed by the seccomp filter for read
// and write only). See docs/debugging.md.
//
// Stops are host signals of the program's threads, handled on their signal
// stacks, where the host ucontext holds the program's exact registers:
//  - the program's first instruction: enter_program starts it with the trap
//    flag set, so a single-step trap arrives at its entry point;
//  - software breakpoints: int3 bytes the stub writes into program text (Z0),
//    reported with the pc moved back onto the breakpoint (swbreak);
//  - single steps: TF set in the stopped thread's saved rflags;
//  - the program's faults (SIGSEGV...), before the core acts on them.
// All-stop: the stopping thread kicks every other program thread, which
// parks in its kick handler (program code) or on its way out of a system
// call until gdb resumes; a thread blocked in a system call reports the
// registers of that call. One thread serves gdb at a time (a futex lock).
#include <asm/unistd_64.h>

#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/lib/gdb/server.h"
#include "kernel/lib/string.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/gdb.h"
#include "kernel/platform/process/gdb_memory.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process::gdb {

namespace {

using namespace mote::gdb;
using namespace memory;

constexpr u64 kTrapFlag = 1u << 8;     // rflags.TF (Intel SDM vol 1, 3.4.3 EFLAGS)
constexpr int kSigTrap = 5;
constexpr int kSiKernel = 0x80;        // si_code of an int3 trap

struct Session {
  Server server;
  bool resumed = false;  // gdb resumed at least once: stops are reported
  volatile u32 lock = 0;
  u32 holder = 0;        // host tid serving gdb now
  volatile u32 halt = 0; // 1 while all-stop holds the program
  int passed_signal = 0; // a fault gdb passed on to the program (C/S)
  u64 auxv = 0, auxv_len = 0;  // the program's auxiliary vector (initial stack)
};

constinit Session s{};


// ---- Threads --------------------------------------------------------------------

// The stopped thread (the one serving gdb) and its registers.
struct Stop {
  StopInfo info;
  u64* gregs;
  u8* fpstate;
  u32 fpsize;
};
constinit Stop g_stop{};

Cpu* cpu_of(int tid) {
  core::Thread* t = core::find_thread(tid);
  return t ? static_cast<Cpu*>(t->platform) : nullptr;
}

// The registers gdb sees for a thread: its parked or stopped frame, else
// the system call it is blocked in; null when running (not parked yet).
u64* regs_of(int tid, u8** fp, u32* fpsize) {
  *fp = nullptr;
  *fpsize = 0;
  if (tid == 0 || tid == g_stop.info.tid) {
    *fp = g_stop.fpstate;
    *fpsize = g_stop.fpsize;
    return g_stop.gregs;
  }
  Cpu* c = cpu_of(tid);
  if (!c) return nullptr;
  if (c->gdb_gregs) {
    *fp = c->gdb_fpstate;
    *fpsize = c->gdb_fpsize;
    return c->gdb_gregs;
  }
  if (c->ctx_valid) {
    *fp = c->ctx.fpstate;
    *fpsize = c->ctx.fpstate_size;
    return c->ctx.gregs;
  }
  return nullptr;
}

void kick_others(Cpu* self) {
  core::KLockGuard guard;
  for (core::Thread* t = core::g_threads; t; t = t->next) {
    auto* c = static_cast<Cpu*>(t->platform);
    if (!c || c == self || !c->host_tid) continue;
    host::syscall3(__NR_tgkill, g.host_pid, c->host_tid, kKickSignal);
  }
}

// Gives kicked threads a moment to park (those in system calls need not).
void wait_parked(Cpu* self) {
  for (int round = 0; round < 200; ++round) {
    bool all = true;
    {
      core::KLockGuard guard;
      for (core::Thread* t = core::g_threads; t; t = t->next) {
        auto* c = static_cast<Cpu*>(t->platform);
        if (c && c != self && !c->gdb_gregs && !c->ctx_valid) all = false;
      }
    }
    if (all) return;
    host::syscall0(__NR_sched_yield);
  }
}


// What the shared packet loop (kernel/lib/gdb/server.h) sees of the program.
class ProcessTarget final : public Target {
 public:
  u64* regs(int tid, u8** fxsave) override {
    u32 size;
    return regs_of(tid, fxsave, &size);
  }
  bool peek(u64 addr, u8* out, usize n) override { return memory::peek(addr, out, n); }
  bool poke(u64 addr, const u8* src, usize n) override { return memory::poke(addr, src, n); }
  bool set_breakpoint(u64 addr, bool insert) override {
    return insert ? insert_breakpoint(addr) : remove_breakpoint(addr);
  }
  void for_each_thread(void (*fn)(void*, int), void* ctx) override {
    core::KLockGuard guard;
    for (core::Thread* t = core::g_threads; t; t = t->next) fn(ctx, t->tid);
  }
  bool thread_alive(int tid) override {
    core::KLockGuard guard;
    return core::find_thread(tid) != nullptr;
  }
  // A parked thread steps with TF in its saved frame.
  void step_thread(int tid) override {
    u8* fp;
    u32 fps;
    if (u64* r = regs_of(tid, &fp, &fps)) r[EFL] |= kTrapFlag;
    if (Cpu* c = cpu_of(tid)) c->gdb_step = true;
  }
  bool auxv(u64* addr, u64* len) override {
    *addr = s.auxv;
    *len = s.auxv_len;
    return s.auxv_len != 0;
  }
};

constinit ProcessTarget g_target;

void lock() {
  while (__atomic_exchange_n(&s.lock, 1, __ATOMIC_ACQUIRE))
    platform::wait_word(&s.lock, 1, ~u64(0));
  s.holder = u32(cpu()->host_tid);
}

void unlock() {
  s.holder = 0;
  __atomic_store_n(&s.lock, 0, __ATOMIC_RELEASE);
  platform::wake_word(&s.lock, 1);
}

// The program's auxiliary vector, after argc, argv[], envp[] on its
// initial stack (qXfer:auxv:read: gdb finds a PIE's load address in it).
void find_auxv(u64 sp) {
  u64 argc;
  if (!peek(sp, reinterpret_cast<u8*>(&argc), 8) || argc > (1u << 20)) return;
  u64 p = sp + 8 * (argc + 2);
  for (u64 v = 1; v;) {
    if (!peek(p, reinterpret_cast<u8*>(&v), 8)) return;
    p += 8;
  }
  u64 start = p;
  for (u64 type = 1; type;) {
    if (!peek(p, reinterpret_cast<u8*>(&type), 8)) return;
    p += 16;
    if (p - start > 4096) return;
  }
  s.auxv = start;
  s.auxv_len = p - start;
}

constinit bool g_first = true;

}  // namespace

bool enabled() { return (g.boot->flags & abi::kBootGdb) && g.boot->gdb_fd >= 3; }

void init() {
  s.server.link.fd = g.boot->gdb_fd;
  s.server.link.read = [](int fd, void* buf, usize n) { return host::read(fd, buf, n); };
  s.server.link.write = [](int fd, const void* buf, usize n) { return host::write(fd, buf, n); };
  s.server.active = true;
  // Rewritten syscall sites would hide single steps and breakpoints behind
  // jumps into stubs (docs/debugging.md).
  g.rewrite = false;
}

bool attached() { return s.server.active; }

bool on_stop(int sig, int code, u64* r, u8* fp, u32 fpsize) {
  Cpu* c = cpu();
  c->gdb_gregs = r;  // readable by gdb while this thread waits for the session
  c->gdb_fpstate = fp;
  c->gdb_fpsize = fpsize;
  lock();
  bool swbreak = false;
  // A step gdb asked for ends here, with its trap or with a fault of the
  // stepped instruction: either way TF comes off.
  const bool stepped = c->gdb_step || g_first;
  c->gdb_step = false;
  if (stepped) r[EFL] &= ~kTrapFlag;
  if (sig == kSigTrap) {
    if (code == kSiKernel) {
      u64 at = r[RIP] - 1;
      u8 byte = 0;
      if (s.server.active && is_breakpoint(at)) {
        r[RIP] = at;
        swbreak = true;
      } else if (peek(at, &byte, 1) && byte != 0xcc) {
        // A breakpoint removed while this thread waited for the session:
        // run the program's own instruction there.
        r[RIP] = at;
        c->gdb_gregs = nullptr;
        unlock();
        return true;
      }
    }
  }
  if (!s.server.active) {
    c->gdb_gregs = nullptr;
    unlock();
    // A stray single-step trap after detaching is ours; anything else is
    // the program's.
    return sig == kSigTrap && stepped;
  }
  __atomic_store_n(&s.halt, 1, __ATOMIC_RELEASE);
  kick_others(c);
  wait_parked(c);
  core::Thread* t = static_cast<core::Thread*>(c->thread);
  g_stop = Stop{StopInfo{t ? t->tid : 1, sig, swbreak}, r, fp, fpsize};
  if (g_first) {
    g_first = false;
    find_auxv(r[RSP]);
  }
  if (s.resumed) s.server.send_stop(g_stop.info);
  ResumeAction a = s.server.serve(g_target, g_stop.info);
  s.resumed = true;
  if (a.how == Resume::Kill) platform::exit(137);
  if (a.how == Resume::Detach) {
    remove_all_breakpoints();
    s.server.active = false;
  }
  if (a.how == Resume::Step) {
    r[EFL] |= kTrapFlag;
    c->gdb_step = true;
  }
  // A fault passed on to a program without a handler for it ends the run
  // with 128+signal: on_exit then reports the signal (X), not a status.
  if (a.with_signal && sig != kSigTrap) s.passed_signal = sig;
  c->gdb_gregs = nullptr;
  __atomic_store_n(&s.halt, 0, __ATOMIC_RELEASE);
  platform::wake_word(&s.halt, ~u32(0) >> 1);
  unlock();
  // The fault goes to the program when gdb passes its signal on.
  return !a.with_signal;
}

void park(u64* r, u8* fp, u32 fpsize) {
  if (!__atomic_load_n(&s.halt, __ATOMIC_ACQUIRE)) return;
  Cpu* c = cpu();
  c->gdb_fpstate = fp;
  c->gdb_fpsize = fpsize;
  __atomic_store_n(&c->gdb_gregs, r, __ATOMIC_RELEASE);
  while (__atomic_load_n(&s.halt, __ATOMIC_ACQUIRE)) platform::wait_word(&s.halt, 1, ~u64(0));
  c->gdb_gregs = nullptr;
}

bool halted() { return __atomic_load_n(&s.halt, __ATOMIC_RELAXED); }

void on_exit(int status) {
  if (!s.server.active) return;
  // From inside a session (vKill, k) there is nobody left to tell.
  if (s.holder == u32(cpu()->host_tid)) return;
  bool by_signal = s.passed_signal && status == 128 + s.passed_signal;
  s.server.send_exit(status, by_signal ? s.passed_signal : 0);
}

}  // namespace mote::process::gdb
