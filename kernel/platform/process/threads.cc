// Threads on the process platform: every program thread is a host thread of
// the sandboxed process (CLONE_THREAD), so the host schedules them, in
// parallel, on the --cpus host CPUs the process is pinned to. Each has a Cpu
// at %gs (state.h) with its own fast-path stack and signal stack.
//
// A new thread starts with its creator's exact register and FPU state: the
// creator is inside its clone's SIGSYS handler, whose host ucontext holds
// all of it. That context, edited (rax = 0, the new %rsp), becomes an
// rt_sigframe on the new thread's stack, and the new host thread's first act
// after setting %gs, %fs and Syscall User Dispatch is a host rt_sigreturn on
// it: the host kernel restores every register, the FPU state, the signal
// mask and the signal stack in one step.
//
// Sleeping is a host futex on a word of core memory (wait_word/wake_word).
// A thread is diverted to take a signal by a host signal (kKickSignal;
// signals.cc). The program's timers share one host thread that sleeps until
// the earliest deadline and calls core::on_timer; it sleeps in a read of a
// host timerfd, so a thread that moves the deadline earlier moves the
// timerfd's expiry (one host call) instead of waking it.
#include <asm/unistd_64.h>

#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/core_filter.h"  // kCoreThreadCloneFlags
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

extern "C" long mote_host_clone(mote::u64 flags, mote::u64 stack, volatile mote::u32* ctid,
                                mote::process::Cpu* cpu);
extern "C" [[noreturn]] void mote_sigreturn_at(mote::u64 rsp);

namespace mote::process {

namespace {

constexpr u64 kKernelStack = 128 * 1024;  // the fast path's stack per thread
constexpr u64 kFutexWaitBitsetPrivate = 9 | 128, kFutexWakePrivate = 1 | 128;
constexpr long kTfdCloexec = 02000000, kTfdTimerAbstime = 1;
constexpr long kClockMonotonic = 1;

host::Timespec host_time(u64 deadline_ns) {
  return host::timespec_of(deadline_ns + g.mono0);  // back to the host's CLOCK_MONOTONIC
}

// A Cpu with its stacks: a released one whose host thread is gone, or new.
Cpu* alloc_cpu() {
  for (Cpu* c = g.cpus_list; c; c = c->next) {
    if (!c->thread && !c->timer_thread && !c->service && __atomic_load_n(&c->alive, __ATOMIC_ACQUIRE) == 0) {
      Cpu* next = c->next;
      u64 kb = c->kstack_base, sb = c->sigstack_base, st = c->sigstack_top;
      memset(c, 0, sizeof *c);
      c->next = next;
      c->kstack_base = kb;
      c->sigstack_base = sb;
      c->sigstack_top = st;
      c->kernel_stack_top = kb + kKernelStack;
      c->self = c;
      return c;
    }
  }
  u64 sig = signal_stack_size();
  auto mem = platform::map_core(kPageSize + kKernelStack + sig);
  if (!mem.ok()) return nullptr;
  auto* c = reinterpret_cast<Cpu*>(mem.value());
  c->self = c;
  c->kstack_base = mem.value() + kPageSize;
  c->kernel_stack_top = c->kstack_base + kKernelStack;
  c->sigstack_base = c->kernel_stack_top;
  c->sigstack_top = c->sigstack_base + sig;
  c->next = g.cpus_list;
  g.cpus_list = c;
  return c;
}

[[noreturn]] void timer_loop();

}  // namespace

// The first code of every new host thread, on its kernel stack.
extern "C" [[noreturn]] void mote_thread_main(Cpu* c) {
  host::syscall2(__NR_arch_prctl, 0x1001 /*ARCH_SET_GS*/, long(c));
  c->host_tid = int(host::syscall0(__NR_gettid));
  if (c->timer_thread) timer_loop();
  if (c->service) {
    u64 all = ~u64(0);
    host::syscall4(__NR_rt_sigprocmask, 0 /*SIG_BLOCK*/, long(&all), 0, 8);
    c->service();
    for (;;) host::syscall1(__NR_exit, 0);
  }
  host::syscall2(__NR_arch_prctl, 0x1002 /*ARCH_SET_FS*/, long(c->fs_base));
  enable_syscall_dispatch();
  mote_sigreturn_at(c->boot_frame + 8);
}

namespace {

// Sets the timerfd to expire at `deadline_ns` (core time; ~0: never; one
// already past: at once).
void set_timerfd(u64 deadline_ns) {
  struct {
    host::Timespec interval, value;
  } spec{};
  if (deadline_ns != ~u64(0)) spec.value = host_time(deadline_ns ? deadline_ns : 1);
  host::syscall4(__NR_timerfd_settime, g.timer_fd, kTfdTimerAbstime, long(&spec), 0);
}

void lock_timerfd() {
  while (__atomic_exchange_n(&g.timerfd_lock, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(&g.timerfd_lock, __ATOMIC_RELAXED)) asm volatile("pause");
}
void unlock_timerfd() { __atomic_store_n(&g.timerfd_lock, 0, __ATOMIC_RELEASE); }

// set_timerfd for the timer thread and timer_arm, noting the expiry; with
// `only_earlier`, only when that moves it earlier. Returns whether it set it.
bool set_timerfd_noted(u64 deadline_ns, bool only_earlier) {
  lock_timerfd();
  const bool set = !only_earlier || __atomic_load_n(&g.timerfd_at, __ATOMIC_ACQUIRE) > deadline_ns;
  if (set) {
    set_timerfd(deadline_ns);
    __atomic_store_n(&g.timerfd_at, deadline_ns, __ATOMIC_RELEASE);
  }
  unlock_timerfd();
  return set;
}

void timer_loop() {
  u64 all = ~u64(0);
  host::syscall4(__NR_rt_sigprocmask, 0 /*SIG_BLOCK*/, long(&all), 0, 8);
  // The one thread that takes the host's signals for the program.
  u64 host_set = kHostSignals;
  host::syscall4(__NR_rt_sigprocmask, 1 /*SIG_UNBLOCK*/, long(&host_set), 0, 8);
  u64 retry_at = 0;
  for (;;) {
    if (__atomic_load_n(&g.host_signals, __ATOMIC_ACQUIRE)) {
      u64 set = __atomic_exchange_n(&g.host_signals, 0, __ATOMIC_ACQ_REL);
      u64 left = core::on_host_signals(set);
      if (left) {  // the kernel lock was busy: again in a millisecond
        __atomic_or_fetch(&g.host_signals, left, __ATOMIC_RELEASE);
        retry_at = platform::monotonic_ns() + 1000000;
      }
    }
    u64 d = __atomic_load_n(&g.timer_deadline, __ATOMIC_ACQUIRE);
    if (d && platform::monotonic_ns() >= d) {
      // Disarmed unless someone armed it anew meanwhile (timer_arm does not
      // always touch the timerfd: that deadline must stay).
      __atomic_compare_exchange_n(&g.timer_deadline, &d, 0, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE);
      core::on_timer();
      __atomic_add_fetch(&g.timer_fired, 1, __ATOMIC_RELEASE);
      platform::wake_word(&g.timer_fired, 1);
      continue;
    }
    u64 until = d ? d : ~u64(0);
    if (retry_at) {
      if (platform::monotonic_ns() >= retry_at) {
        retry_at = 0;
        continue;
      }
      if (retry_at < until) until = retry_at;
    }
    set_timerfd_noted(until, false);
    // What came meanwhile may have set the timerfd before this did, and been
    // overwritten: an earlier deadline (timer_arm), a host signal (it sets
    // the timerfd to now). Look again.
    u64 now_d = __atomic_load_n(&g.timer_deadline, __ATOMIC_ACQUIRE);
    if ((now_d && now_d < until) || __atomic_load_n(&g.host_signals, __ATOMIC_ACQUIRE)) continue;
    // Until the expiry, however it moves meanwhile, or a host signal (EINTR).
    u64 expirations;
    host::read(g.timer_fd, &expirations, sizeof expirations);
  }
}

bool start_host_thread(Cpu* c) {
  c->alive = 1;
  // The host stack the new thread starts on: just below its first frame
  // (program threads) or the top of its kernel stack (the timer thread).
  u64 stack = c->boot_frame ? c->boot_frame : c->kernel_stack_top;
  long r = mote_host_clone(kCoreThreadCloneFlags, stack & ~u64(15), &c->alive, c);
  if (host::failed(r)) {
    c->alive = 0;
    return false;
  }
  return true;
}

}  // namespace

void prepare_timer() {
  if (g.timer_fd >= 0) return;  // once, whoever asks first
  long r = host::syscall2(__NR_timerfd_create, kClockMonotonic, kTfdCloexec);
  if (host::failed(r)) fatal("cannot create the timer thread's timerfd");
  g.timer_fd = int(r);
}

void poke_timer_thread() {
  if (g.timer_fd >= 0) set_timerfd(0);  // expired: the read returns at once
}

void start_timer_thread() {
  if (g.timer_cpu) return;
  prepare_timer();
  Cpu* c = alloc_cpu();
  if (!c) platform::panic("no memory for the timer thread");
  c->timer_thread = true;
  if (!start_host_thread(c)) platform::panic("cannot start the timer thread");
  g.timer_cpu = c;
}

Cpu* start_service_thread(void (*loop)()) {
  Cpu* c = alloc_cpu();
  if (!c) return nullptr;
  c->service = loop;
  if (!start_host_thread(c)) {
    c->service = nullptr;
    return nullptr;
  }
  return c;
}

void init_cpus() {
  g.host_pid = int(host::syscall0(__NR_getpid));
  g.cpus = g.boot->cpus ? g.boot->cpus : 1;
  // The host CPUs this process may use; the program gets the first --cpus
  // of them (all of them when it asks for more than there are).
  u64 mask[16] = {};
  long n = host::syscall3(__NR_sched_getaffinity, 0, sizeof mask, long(mask));
  if (host::failed(n)) n = 0;
  u32 avail = 0;
  for (long w = 0; w < n / 8; ++w) avail += u32(__builtin_popcountll(mask[w]));
  if (g.cpus >= avail) {
    // Every CPU the host gives: nothing to pin (and no migration to pay).
    for (u32 cpu = 0; cpu < u32(n) * 8 && g.ncpu_ids < 64; ++cpu)
      if (mask[cpu / 64] & (u64(1) << (cpu % 64))) g.cpu_ids[g.ncpu_ids++] = u16(cpu);
    return;
  }
  // The CPU this thread runs on first: pinning there moves nothing (a
  // migration costs ~150 us here), then the next ones.
  u32 here = 0;
  host::syscall3(__NR_getcpu, long(&here), 0, 0);
  if (here < u32(n) * 8 && (mask[here / 64] & (u64(1) << (here % 64)))) g.cpu_ids[g.ncpu_ids++] = u16(here);
  for (u32 cpu = 0; cpu < u32(n) * 8 && g.ncpu_ids < g.cpus && g.ncpu_ids < 64; ++cpu)
    if (cpu != here && (mask[cpu / 64] & (u64(1) << (cpu % 64)))) g.cpu_ids[g.ncpu_ids++] = u16(cpu);
  if (!g.ncpu_ids) return;
  u64 pin[16] = {};
  for (u32 i = 0; i < g.ncpu_ids; ++i) pin[g.cpu_ids[i] / 64] |= u64(1) << (g.cpu_ids[i] % 64);
  host::syscall3(__NR_sched_setaffinity, 0, sizeof pin, long(pin));
}

}  // namespace mote::process

namespace mote::platform {

using process::Cpu;
using process::g;

void* current_thread() { return process::cpu()->thread; }
void set_current_thread(void* t) {
  Cpu* c = process::cpu();
  c->thread = t;
  if (t) static_cast<core::Thread*>(t)->platform = c;
}

void wait_word(const volatile u32* word, u32 expected, u64 deadline_ns) {
  if (deadline_ns == ~u64(0)) {
    host::syscall6(__NR_futex, long(word), process::kFutexWaitBitsetPrivate, long(expected), 0, 0,
                   -1);
    return;
  }
  host::Timespec ts = process::host_time(deadline_ns);
  host::syscall6(__NR_futex, long(word), process::kFutexWaitBitsetPrivate, long(expected),
                 long(&ts), 0, -1);
}

void wake_word(const volatile u32* word, u32 count) {
  host::syscall3(__NR_futex, long(word), process::kFutexWakePrivate, long(count));
}

Result<void> thread_start(const NewThread& nt) {
  Cpu* parent = process::cpu();
  if (!parent->ctx_valid) return err(ENOSYS);  // only from a SIGSYS (clone is never rewritten)
  Cpu* c = process::alloc_cpu();
  if (!c) return err(ENOMEM);
  c->thread = nt.thread;
  static_cast<core::Thread*>(nt.thread)->platform = c;
  c->fs_base = nt.set_tls ? nt.tls : parent->fs_base;

  // The first frame, at the top of the new thread's kernel stack:
  // pretcode, ucontext (304 bytes), siginfo (128), then the FPU state.
  const UserContext& pc = parent->ctx;
  u64 fp_size = pc.fpstate ? pc.fpstate_size : 0;
  u64 top = c->kernel_stack_top;
  u64 fp = (top - fp_size) & ~u64(63);
  u64 frame = ((fp - 440) & ~u64(15)) - 8;
  u8* f = reinterpret_cast<u8*>(frame);
  memset(f, 0, 440);
  // The parent's ucontext: flags, link, stack, mcontext, sigmask.
  const u8* parent_uc = reinterpret_cast<const u8*>(pc.gregs) - 40;
  memcpy(f + 8, parent_uc, 304);
  u64* uc = reinterpret_cast<u64*>(f + 8);
  u64* gregs = uc + 5;
  gregs[13] = 0;  // REG_RAX: clone returns 0 in the child
  if (nt.stack) gregs[15] = nt.stack;  // REG_RSP
  uc[2] = c->sigstack_base;  // uc_stack: the host installs the thread's signal stack
  uc[3] = 0;
  uc[4] = c->sigstack_top - c->sigstack_base;
  uc[5 + 23] = fp_size ? fp : 0;  // fpstate pointer
  uc[37] = 0;                     // uc_sigmask: nothing blocked
  if (fp_size) memcpy(reinterpret_cast<void*>(fp), pc.fpstate, fp_size);
  c->boot_frame = frame;
  if (!process::start_host_thread(c)) {
    c->thread = nullptr;
    return err(EAGAIN);
  }
  return ok();
}

void thread_exit() {
  Cpu* c = process::cpu();
  c->thread = nullptr;  // reusable once the host says the thread is gone
  for (;;) host::syscall1(__NR_exit, 0);
}

void thread_kick(void* thread) {
  auto* c = static_cast<Cpu*>(static_cast<core::Thread*>(thread)->platform);
  if (!c) return;
  c->sig_ready = 1;
  if (c->host_tid)
    host::syscall3(__NR_tgkill, g.host_pid, c->host_tid, process::kKickSignal);
}

u64 thread_cpu_ns_of(void* thread) {
  auto* c = static_cast<Cpu*>(static_cast<core::Thread*>(thread)->platform);
  if (!c || !c->host_tid) return 0;
  // The host's CPU clock of that host thread: (~tid << 3) | PERTHREAD | SCHED.
  return process::read_clock(long((~u64(c->host_tid)) << 3) | 6);
}

u32 cpu_count() { return g.cpus; }

// vCPU i runs on host CPU cpu_ids[i % ncpu_ids] (--overcommit gives more
// vCPUs than host CPUs). The vCPU a thread is on: the first of its affinity
// mask that the host CPU it runs on backs.
u32 current_cpu() {
  u32 host_cpu = 0;
  host::syscall3(__NR_getcpu, long(&host_cpu), 0, 0);
  auto* t = static_cast<core::Thread*>(process::cpu()->thread);
  u64 mask = t && t->affinity ? t->affinity : ~u64(0);
  u32 n = g.ncpu_ids ? g.ncpu_ids : 1;
  for (u32 i = 0; i < g.cpus && i < 64; ++i)
    if ((mask & (u64(1) << i)) && g.cpu_ids[i % n] == host_cpu) return i;
  return 0;
}

void yield() { host::syscall0(__NR_sched_yield); }

Result<void> set_affinity(u64 mask) {
  u64 pin[16] = {};
  u32 n = g.ncpu_ids ? g.ncpu_ids : 1;
  for (u32 i = 0; i < g.cpus && i < 64; ++i) {
    if (!(mask & (u64(1) << i))) continue;
    u16 h = g.cpu_ids[i % n];
    pin[h / 64] |= u64(1) << (h % 64);
  }
  bool any = false;
  for (u64 w : pin) any |= w != 0;
  if (!any)
    for (u32 i = 0; i < g.ncpu_ids; ++i) pin[g.cpu_ids[i] / 64] |= u64(1) << (g.cpu_ids[i] % 64);
  long r = host::syscall3(__NR_sched_setaffinity, 0, sizeof pin, long(pin));
  if (host::failed(r)) return err(int(-r));
  return ok();
}

UserContext* syscall_context() {
  Cpu* c = process::cpu();
  return c->ctx_valid ? &c->ctx : nullptr;
}

u64 syscall_user_sp() {
  Cpu* c = process::cpu();
  if (c->ctx_valid) return c->ctx.gregs[15];  // REG_RSP
  // The fast path: its stub stepped over the red zone and called in.
  return c->user_rsp + 8 + 128;
}

void timer_arm(u64 deadline_ns) {
  __atomic_store_n(&g.timer_deadline, deadline_ns, __ATOMIC_SEQ_CST);
  // The timerfd expires at timerfd_at or earlier, and the timer thread then
  // looks again (and sets it to the deadline of that moment): a deadline no
  // earlier, or none, needs nothing now. Only an earlier one moves the
  // expiry. The network stack moves its deadline on nearly every segment:
  // a delayed ACK armed by each request and cancelled by the reply
  // microseconds later, an RTO pushed out by each acknowledgment. Setting
  // the timerfd each time the deadline came earlier than the last one was
  // a timerfd_settime for every other request under redis -P 1 over a tap
  // (a wake-up of the timer thread, each a switch on the busy server's
  // CPU, before that); now the timer thread wakes early once per delayed-
  // ACK period at most, and moves it on.
  if (!deadline_ns) return;
  if (!g.timer_cpu) {
    process::start_timer_thread();
    return;
  }
  // Another thread may lower it too: whoever set it last makes sure it
  // holds the earliest.
  for (u64 at = deadline_ns;;) {
    if (!process::set_timerfd_noted(at, true)) break;
    u64 now_d = __atomic_load_n(&g.timer_deadline, __ATOMIC_ACQUIRE);
    if (!now_d || now_d >= at) break;
    at = now_d;
  }
}

u64 idle_until(u64 deadline_ns) {
  // Ends at the deadline or when the timer thread has fired a timer.
  u32 seen = __atomic_load_n(&g.timer_fired, __ATOMIC_ACQUIRE);
  if (monotonic_ns() < deadline_ns) wait_word(&g.timer_fired, seen, deadline_ns);
  return monotonic_ns();
}

}  // namespace mote::platform
