// Threads on the VM platform: a run queue per vCPU, with work stealing.
//
// Each program thread has a KThread: its kernel stack (system calls run on
// it; the per-CPU kernel_stack_top follows the running thread), the stack
// pointer of its switched-out kernel context, its %fs base and FPU state.
// Each CPU also has an idle thread, which halts while nothing is runnable.
// A thread switches only inside the kernel, where interrupts are off:
//  - when it blocks (wait_word: futex-style, on a core word), exits or yields;
//  - when the LAPIC timer interrupts program code after its 10 ms slice and
//    another thread is runnable (preempt: the interrupt frame moves from the
//    IST stack to the thread's kernel stack, which is free while it runs
//    program code, and the switch happens there).
// A thread made runnable waits on the CPU it last ran on, unless an idle CPU
// it may run on can take it at once; a CPU with an empty queue steals from
// the longest one, and a busy CPU shares its slice when another queue holds
// more than one thread. One spinlock (g_lock) guards the queues and every
// thread's state; a switch happens with it held and the thread switched to
// releases it. A CPU given a thread while it halts (or runs without a slice)
// is told with an IPI (kReschedVector).
//
// A new thread's kernel stack starts with a copy of its creator's syscall
// register frame (rax = 0, the new %rsp) and a switch frame whose return
// address leads to the common syscall return path.
//
// Each CPU's LAPIC deadline serves the core's timer (platform::timer_arm),
// sleepers' deadlines and its running thread's slice. With nothing runnable a
// CPU halts until the next of them (or an IPI), so an idle guest costs ~0
// host CPU.
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/clock.h"
#include "kernel/platform/kvm/cpu.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/profile.h"
#include "kernel/platform/kvm/sched.h"
#include "kernel/platform/kvm/traps.h"
#include "kernel/platform/kvm/vm.h"
#include "kernel/platform/platform.h"

extern "C" void mote_vm_switch(mote::u64* save_rsp, mote::u64 new_rsp);
extern "C" void mote_vm_thread_start();
extern "C" void mote_vm_idle_start();
extern "C" [[noreturn]] void mote_vm_trap_on(mote::u64 stack_frame,
                                             void (*fn)(mote::kvm::TrapFrame*));

namespace mote::kvm {

namespace {

constexpr u64 kKernelStack = 32 * 1024;
constexpr u64 kIdleStack = 8 * 1024;
constexpr u64 kSlice = 10 * 1000000ull;  // ns
constexpr u64 kGregsSize = 192;           // the syscall entry's frame (syscall_entry.S)

enum class State : u8 { Running, Runnable, Blocked, Dead, Idle };

}  // namespace

struct KThread {
  void* thread;                  // core::Thread (null: an idle thread)
  State state;
  u64 kstack_base, kstack_top;
  u64 saved_rsp;                 // switched out: its callee-saved registers are there
  u64 fs_base;
  u8* fpu;                       // fpu_state_size() bytes, 64-byte aligned
  const volatile u32* wait_word;
  u64 deadline;                  // Blocked: monotonic ns, ~0 none
  u64 cpu_ns, since;             // run time, and when it last started running
  SyscallState* sys;             // switched out: its system call in flight
  u32 on_cpu;                    // Running: where
  u64 affinity;                  // CPUs it may run on (bit n: CPU n; 0: any)
  KThread* next_run;             // run queue
  KThread* next_all;
  bool own_stack;                // kstack from core_map (not the boot syscall stack)
};

namespace {

// A spinlock with interrupts off (the kernel always runs so); spinning
// serves TLB flushes others wait for.
struct Spinlock {
  volatile u32 v = 0;
  void lock() {
    while (__atomic_exchange_n(&v, 1, __ATOMIC_ACQUIRE)) {
      while (__atomic_load_n(&v, __ATOMIC_RELAXED)) {
        tlb_service();
        asm volatile("pause");
      }
    }
  }
  void unlock() { __atomic_store_n(&v, 0, __ATOMIC_RELEASE); }
};

Spinlock g_lock;
KThread* g_all;
volatile u64 g_core_deadline;   // platform::timer_arm's
usize g_fpu_size;

// One run queue per CPU. A thread made runnable goes to the CPU it last ran
// on (its cache is warm there) unless an idle CPU it may run on can take it
// now; a CPU whose queue is empty steals from the longest other queue.
struct RunQueue {
  KThread* head;
  KThread* tail;
  u32 len;
};
RunQueue g_rq[kMaxCpus];

u64 now() { return clock_monotonic_ns(); }

KThread* cur() { return this_cpu()->cur; }

bool allowed_on(const KThread* t, u32 cpu) {
  return !t->affinity || (cpu < 64 && (t->affinity & (u64(1) << cpu)));
}

bool allowed_here(const KThread* t) { return allowed_on(t, this_cpu()->index); }

bool cpu_idle(u32 i) { return g_cpus[i].cur == g_cpus[i].idle && g_rq[i].len == 0; }

// The CPU a thread becoming runnable should wait on.
u32 pick_cpu(const KThread* t) {
  u32 here = this_cpu()->index;
  u32 home = t->on_cpu < g_ncpus ? t->on_cpu : here;
  if (!allowed_on(t, home)) home = here;
  for (u32 i = 0; !allowed_on(t, home) && i < g_ncpus; ++i) home = i;
  if (cpu_idle(home)) return home;
  for (u32 i = 0; i < g_ncpus; ++i)
    if (allowed_on(t, i) && cpu_idle(i)) return i;
  return home;
}

void enqueue(KThread* t) {
  t->state = State::Runnable;
  t->next_run = nullptr;
  u32 cpu = pick_cpu(t);
  RunQueue& q = g_rq[cpu];
  if (q.tail) q.tail->next_run = t;
  else q.head = t;
  q.tail = t;
  ++q.len;
  // Another CPU is told: a halted one looks at its queue (and steals); a
  // busy one without a slice running arms one, so the newcomer gets a turn
  // (on_resched_ipi). This CPU's callers re-arm themselves.
  if (cpu != this_cpu()->index && (g_cpus[cpu].halted || !g_cpus[cpu].slice_end))
    send_ipi_to(cpu, kReschedVector);
}

// Takes the first thread of queue q this CPU may run.
KThread* take_from(RunQueue& q) {
  KThread* prev = nullptr;
  for (KThread* t = q.head; t; prev = t, t = t->next_run) {
    if (!allowed_here(t)) continue;
    if (prev) prev->next_run = t->next_run;
    else q.head = t->next_run;
    if (q.tail == t) q.tail = prev;
    t->next_run = nullptr;
    --q.len;
    return t;
  }
  return nullptr;
}

// The next thread for this CPU: its own queue's first, else one stolen from
// the longest queue that has one it may run.
KThread* dequeue() {
  u32 me = this_cpu()->index;
  if (KThread* t = take_from(g_rq[me])) return t;
  for (;;) {
    u32 best = ~u32(0);
    for (u32 i = 0; i < g_ncpus; ++i) {
      if (i == me || !g_rq[i].len) continue;
      bool any = false;
      for (KThread* t = g_rq[i].head; t && !any; t = t->next_run) any = allowed_here(t);
      if (any && (best == ~u32(0) || g_rq[i].len > g_rq[best].len)) best = i;
    }
    if (best == ~u32(0)) return nullptr;
    if (KThread* t = take_from(g_rq[best])) return t;
  }
}

bool runnable_here() {
  for (u32 i = 0; i < g_ncpus; ++i)
    for (KThread* t = g_rq[i].head; t; t = t->next_run)
      if (allowed_here(t)) return true;
  return false;
}

// Others wait for this CPU: its own queue, or a queue with more than one
// waiting that this CPU could share (load balancing at the slice's end).
bool others_waiting() {
  u32 me = this_cpu()->index;
  if (g_rq[me].len) return true;
  for (u32 i = 0; i < g_ncpus; ++i)
    if (i != me && g_rq[i].len > 1) return true;
  return false;
}

// This CPU's LAPIC deadline: the first of the core's timer, sleepers, and
// its thread's slice when others wait.
void rearm() {
  u64 d = g_core_deadline;
  for (KThread* t = g_all; t; t = t->next_all)
    if (t->state == State::Blocked && t->deadline != ~u64(0) && (!d || t->deadline < d))
      d = t->deadline ? t->deadline : 1;
  Cpu* c = this_cpu();
  if (c->cur != c->idle && others_waiting()) {
    if (!c->slice_end) c->slice_end = now() + kSlice;
    if (!d || c->slice_end < d) d = c->slice_end;
  }
  lapic_arm(d);
}

void wake(KThread* t) {
  if (t->state != State::Blocked) return;
  t->wait_word = nullptr;
  enqueue(t);
}

// Sleepers whose deadline passed become runnable.
void wake_expired(u64 at) {
  for (KThread* t = g_all; t; t = t->next_all)
    if (t->state == State::Blocked && t->deadline != ~u64(0) && t->deadline <= at) wake(t);
}

// Frees dead threads' memory. Kernel lock held (page tables), scheduler lock
// held (the list); a dead thread still running its last instructions on
// another CPU is left for next time.
void reap() {
  for (KThread** p = &g_all; *p;) {
    KThread* t = *p;
    if (t->state == State::Dead && t->on_cpu == ~u32(0)) {
      *p = t->next_all;
      if (t->own_stack) core_unmap(t->kstack_base, kKernelStack);
      core_unmap(reinterpret_cast<u64>(t->fpu), page_up(g_fpu_size));
      core_unmap(reinterpret_cast<u64>(t), page_up(sizeof(KThread)));
      continue;
    }
    p = &t->next_all;
  }
}

// After a switch, on the new thread's stack: the thread the switch left is
// off its CPU now (a dead one may be freed).
void finish_switch() {
  KThread* from = this_cpu()->switched_from;
  if (from && from->state == State::Dead) from->on_cpu = ~u32(0);
}

// Runs the next runnable thread, or this CPU's idle thread. The current one
// is already queued, blocked or dead. Scheduler lock held; held again on
// return (by whoever switched back to us).
void schedule() {
  Cpu* c = this_cpu();
  KThread* prev = c->cur;
  u64 t = now();
  prev->cpu_ns += t - prev->since;
  KThread* next = dequeue();
  if (!next) next = prev->state == State::Running || prev->state == State::Idle ? prev : c->idle;
  c->need_resched = false;
  c->slice_end = 0;
  if (next == prev) {
    if (prev->state != State::Idle) prev->state = State::Running;
    prev->since = t;
    return;
  }
  if (prev->state != State::Dead) {
    prev->fs_base = rdmsr(Msr::FsBase);
    if (prev->thread) platform::fpu_save(prev->fpu);
  }
  prev->sys = c->sys;
  if (next != c->idle) next->state = State::Running;
  next->since = t;
  next->on_cpu = c->index;
  c->sys = next->sys;
  c->cur = next;
  if (Profile* prof = g_profile) ++prof->switches;
  c->thread = next->thread;
  c->kernel_stack_top = next->kstack_top;
  wrmsr(Msr::FsBase, next->fs_base);
  if (next->thread) platform::fpu_restore(next->fpu);
  rearm();
  c->switched_from = prev;
  mote_vm_switch(&prev->saved_rsp, next->saved_rsp);
  finish_switch();
}

KThread* new_kthread(void* thread) {
  auto mem = core_map(page_up(sizeof(KThread)));
  if (!mem.ok()) return nullptr;
  auto* k = reinterpret_cast<KThread*>(mem.value());
  memset(k, 0, sizeof *k);
  auto fpu = core_map(page_up(g_fpu_size));
  if (!fpu.ok()) {
    core_unmap(mem.value(), page_up(sizeof(KThread)));
    return nullptr;
  }
  k->fpu = reinterpret_cast<u8*>(fpu.value());
  k->thread = thread;
  k->deadline = ~u64(0);
  k->on_cpu = ~u32(0);
  k->next_all = g_all;
  g_all = k;
  return k;
}

void on_tick() {
  g_lock.lock();
  u64 t = now();
  u64 d = g_core_deadline;
  bool fire = d && t >= d && __atomic_compare_exchange_n(&g_core_deadline, &d, 0, false,
                                                          __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
  wake_expired(t);
  Cpu* c = this_cpu();
  if (c->slice_end && t >= c->slice_end) {
    // Over: give way if anyone waits, else no slice runs (enqueue then
    // tells this CPU to start one).
    if (others_waiting()) c->need_resched = true;
    else c->slice_end = 0;
  }
  rearm();
  g_lock.unlock();
  if (fire) core::on_timer();  // may take the kernel lock: not under ours
}

}  // namespace

// Before the scheduler: the timer interrupt serves the core's deadline only.
// It may come for a deadline since superseded by a later one (lapic_arm
// keeps the earlier one counting), or end platform::idle_until's wait: then
// the core's deadline is armed again and the core is not told.
void boot_timer_interrupt() {
  u64 d = g_core_deadline;
  if (!d) return;
  if (now() < d) {
    lapic_arm(d);
    return;
  }
  g_core_deadline = 0;
  core::on_timer();
}

namespace {

// An idle thread's body: take a runnable thread, else halt.
[[noreturn]] void idle_loop() {
  for (;;) {
    g_lock.lock();
    Cpu* c = this_cpu();
    if (runnable_here()) {
      c->cur->state = State::Idle;
      schedule();
      g_lock.unlock();
      continue;
    }
    wake_expired(now());
    if (runnable_here()) {
      g_lock.unlock();
      continue;
    }
    rearm();
    c->halted = true;
    g_lock.unlock();
    if (Profile* prof = g_profile) {
      // Interrupts taken while halted are theirs, not idle time.
      const u64 t0 = rdtsc(), busy0 = prof->irq_tsc + prof->timer_tsc;
      asm volatile("sti; hlt; cli" ::: "memory");
      prof->idle_tsc += rdtsc() - t0 - (prof->irq_tsc + prof->timer_tsc - busy0);
    } else {
      asm volatile("sti; hlt; cli" ::: "memory");
    }
    c->halted = false;
  }
}

KThread* make_idle(Cpu* c) {
  KThread* k = new_kthread(nullptr);
  if (!k) platform::panic("no memory for an idle thread");
  auto stack = core_map(kIdleStack);
  if (!stack.ok()) platform::panic("no memory for an idle thread");
  k->own_stack = false;
  k->kstack_base = stack.value();
  k->kstack_top = stack.value() + kIdleStack;
  k->state = State::Idle;
  // Its first switch-in starts idle_loop (mote_vm_idle_start).
  u64* sw = reinterpret_cast<u64*>(k->kstack_top) - 9;  // %rsp 16-aligned after its ret
  for (int i = 0; i < 6; ++i) sw[i] = 0;
  sw[6] = reinterpret_cast<u64>(&mote_vm_idle_start);
  k->saved_rsp = reinterpret_cast<u64>(sw);
  k->on_cpu = c->index;
  c->idle = k;
  return k;
}

}  // namespace

void sched_init(u64 boot_stack_top) {
  g_fpu_size = platform::fpu_state_size();
  KThread* k = new_kthread(platform::current_thread());
  if (!k) platform::panic("no memory for the scheduler");
  k->kstack_top = boot_stack_top;
  k->kstack_base = boot_stack_top - kKernelStack;
  k->state = State::Running;
  k->since = 0;  // since boot (reading the clock now could calibrate the TSC: 10 ms)
  Cpu* c = this_cpu();
  k->on_cpu = c->index;
  c->cur = k;
  c->thread = k->thread;
  if (platform::current_thread())
    static_cast<core::Thread*>(platform::current_thread())->platform = k;
  make_idle(c);
  set_timer_handler(on_tick);
}

// An application processor, on its own stack with its tables set: it
// becomes an idle thread of the scheduler and never returns.
void sched_prepare_cpu(Cpu* c) {
  g_lock.lock();
  make_idle(c);
  g_lock.unlock();
}

[[noreturn]] void sched_enter_ap() {
  Cpu* c = this_cpu();
  g_lock.lock();
  KThread* k = c->idle;  // made by the BSP (sched_prepare_cpu): no allocation here
  // This very context is the idle thread (its prepared start frame unused).
  k->since = now();
  c->cur = k;
  c->thread = nullptr;
  g_lock.unlock();
  idle_loop();
}

bool sched_active() { return this_cpu()->cur != nullptr; }

// Runs fn(frame) on the running thread's kernel stack, with f (a trap of
// its program code, on the IST stack) copied there, and returns to the
// program from the copy. The kernel stack is free while the thread runs
// program code. Never returns.
[[noreturn]] void run_on_kernel_stack(TrapFrame* f, void (*fn)(TrapFrame*)) {
  u64 at = (this_cpu()->cur->kstack_top - sizeof(TrapFrame)) & ~u64(15);
  memcpy(reinterpret_cast<void*>(at), f, sizeof(TrapFrame));
  mote_vm_trap_on(at, fn);
}

// The timer or an IPI interrupted program code: switch threads when the
// slice is over, take pending signals.
void after_interrupt(TrapFrame* f) {
  Cpu* c = this_cpu();
  if (!c->cur || c->cur == c->idle || f->rip >= 0x800000000000ull) return;
  bool work = c->need_resched || core::signal_work_of(static_cast<const core::Thread*>(c->thread));
  if (work) run_on_kernel_stack(f, mote_vm_preempted_frame);
}

// A reschedule IPI: look at the queue (a halted CPU just returns to its
// idle loop; a busy one arms its slice so the waiting thread gets a turn).
void on_resched_ipi(TrapFrame* f) {
  g_lock.lock();
  rearm();
  g_lock.unlock();
  after_interrupt(f);
}

}  // namespace mote::kvm

using namespace mote;
using namespace mote::kvm;

// On the running thread's kernel stack, with its interrupt frame at `f`:
// give the CPU away if its slice is over; take pending signals; the caller
// (sched.S) returns to the program from f.
void mote::kvm::mote_vm_preempted_frame(TrapFrame* f) {
  Cpu* c = this_cpu();
  if (c->need_resched) {
    g_lock.lock();
    c->need_resched = false;
    enqueue(cur());
    schedule();
    g_lock.unlock();
  }
  deliver_at_trap(f, nullptr);
}

// On the way out of a system call, the kernel lock released: a switch the
// call asked for (set_affinity).
void mote::kvm::resched_after_syscall() {
  Cpu* c = this_cpu();
  if (!c->need_resched || !c->cur || c->cur == c->idle) return;
  g_lock.lock();
  c->need_resched = false;
  enqueue(cur());
  schedule();
  g_lock.unlock();
}

// A new thread's first run, on its kernel stack (mote_vm_thread_start): the
// scheduler lock the switch held is ours to release; then the syscall return
// path takes it to the program.
extern "C" void mote_vm_thread_first() {
  finish_switch();
  g_lock.unlock();
}

// An idle thread's first run (mote_vm_idle_start).
extern "C" [[noreturn]] void mote_vm_idle_first() {
  finish_switch();
  g_lock.unlock();
  idle_loop();
}

namespace mote::platform {

void* current_thread() {
  Cpu* c = kvm::this_cpu();
  return c->cur ? c->thread : kvm::g_boot_thread;
}

void set_current_thread(void* t) {
  Cpu* c = kvm::this_cpu();
  c->thread = t;
  if (c->cur) {
    c->cur->thread = t;
    if (t) static_cast<core::Thread*>(t)->platform = c->cur;
  } else {
    kvm::g_boot_thread = t;
  }
}

void wait_word(const volatile u32* word, u32 expected, u64 deadline_ns) {
  Cpu* c = kvm::this_cpu();
  if (!c->cur) {  // before the program runs (boot self-tests)
    if (*word == expected) idle_until(deadline_ns);
    return;
  }
  if (c->in_trap) {
    // On the IST stack (a signal taken at a trap needs the kernel lock): no
    // sleeping here; the caller looks again (a spin).
    kvm::tlb_service();
    asm volatile("pause");
    return;
  }
  g_lock.lock();
  // Checked under the lock every waker takes: no wake-up is missed.
  if (*word != expected || (deadline_ns != ~u64(0) && now() >= deadline_ns)) {
    g_lock.unlock();
    return;
  }
  KThread* me = c->cur;
  me->state = State::Blocked;
  me->wait_word = word;
  me->deadline = deadline_ns;
  schedule();
  kvm::this_cpu()->cur->deadline = ~u64(0);
  g_lock.unlock();
}

// The device interrupts: a sleeper has nothing to watch.
void thread_sleep(const volatile u32* word, u64 deadline_ns) { wait_word(word, 0, deadline_ns); }
void thread_wake(void*, const volatile u32* word) { wake_word(word, 1); }

void wake_word(const volatile u32* word, u32 count) {
  g_lock.lock();
  bool woke = false;
  for (KThread* t = g_all; t && count; t = t->next_all) {
    if (t->state == State::Blocked && t->wait_word == word) {
      wake(t);
      woke = true;
      --count;
    }
  }
  if (woke) rearm();
  g_lock.unlock();
}

Result<void> thread_start(const NewThread& nt) {
  UserContext* parent = syscall_context();
  if (!parent || !kvm::this_cpu()->cur) return err(ENOSYS);
  g_lock.lock();
  reap();  // the kernel lock is held here: page tables may change
  KThread* k = new_kthread(nt.thread);
  g_lock.unlock();
  if (!k) return err(ENOMEM);
  auto stack = core_map(kKernelStack);
  if (!stack.ok()) {
    k->state = State::Dead;
    return err(ENOMEM);
  }
  k->own_stack = true;
  k->kstack_base = stack.value();
  k->kstack_top = stack.value() + kKernelStack;
  static_cast<core::Thread*>(nt.thread)->platform = k;
  // Its first register frame, where the syscall entry keeps it: the
  // creator's, returning 0 on the new stack.
  u64* g = reinterpret_cast<u64*>(k->kstack_top - kGregsSize);
  memcpy(g, parent->gregs, 23 * 8);
  g[13] = 0;                      // REG_RAX
  if (nt.stack) g[15] = nt.stack;  // REG_RSP
  // A switch frame below it: six callee-saved registers, then the return
  // into mote_vm_thread_start (which runs on with %rsp at the frame).
  u64* sw = g - 7;
  for (int i = 0; i < 6; ++i) sw[i] = 0;
  sw[6] = reinterpret_cast<u64>(&mote_vm_thread_start);
  k->saved_rsp = reinterpret_cast<u64>(sw);
  k->fs_base = nt.set_tls ? nt.tls : rdmsr(Msr::FsBase);
  fpu_save(k->fpu);  // the creator's FPU state
  g_lock.lock();
  enqueue(k);
  rearm();
  g_lock.unlock();
  return ok();
}

void thread_exit() {
  g_lock.lock();
  Cpu* c = kvm::this_cpu();
  c->cur->state = State::Dead;
  c->cur->thread = nullptr;
  c->thread = nullptr;
  schedule();
  panic("a dead thread ran again");
}

void thread_kick(void* thread) {
  auto* k = static_cast<KThread*>(static_cast<core::Thread*>(thread)->platform);
  if (!k) return;
  g_lock.lock();
  if (k->state == State::Blocked) {
    wake(k);
    rearm();
  } else if (k->state == State::Running && k->on_cpu != kvm::this_cpu()->index) {
    // In program code on another CPU: interrupt it there (it takes its
    // signals on the way back); in a system call it checks on its way out.
    send_ipi_to(k->on_cpu, kReschedVector);
  }
  // Runnable: it takes its signals when it runs again (mote_vm_preempted).
  g_lock.unlock();
}

void yield() {
  Cpu* c = kvm::this_cpu();
  if (!c->cur || !runnable_here()) return;
  g_lock.lock();
  enqueue(c->cur);
  schedule();
  g_lock.unlock();
}

u64 thread_cpu_ns() {
  KThread* k = kvm::this_cpu()->cur;
  return k ? k->cpu_ns + (now() - k->since) : now();
}

// Another thread's, or the whole process's, CPU time: read under the
// scheduler lock, which schedule() holds while it moves a thread's current
// run into cpu_ns (unlocked, a thread just blocked on another CPU could be
// read as Blocked with its last run not yet counted: time going backwards).
// A thread running on another CPU counts its current run as well.
u64 thread_cpu_ns_of(void* thread) {
  auto* k = static_cast<KThread*>(static_cast<core::Thread*>(thread)->platform);
  if (!k) return 0;
  if (k == kvm::this_cpu()->cur) return thread_cpu_ns();
  g_lock.lock();
  u64 ns = k->cpu_ns + (k->state == State::Running ? now() - k->since : 0);
  g_lock.unlock();
  return ns;
}

Result<void> set_affinity(u64 mask) {
  Cpu* c = kvm::this_cpu();
  if (!c->cur) return ok();
  u64 all = kvm::g_ncpus >= 64 ? ~u64(0) : (u64(1) << kvm::g_ncpus) - 1;
  g_lock.lock();
  c->cur->affinity = (mask & all) == all ? 0 : mask;
  // Not allowed here any more: it moves on its way out of this system call
  // (resched_after_syscall), not now. Switching now would leave a thread
  // that holds the kernel lock waiting for a CPU, and a CPU spinning for
  // that lock with interrupts off in a trap could be the only one it may
  // run on: a deadlock.
  if (!allowed_here(c->cur)) c->need_resched = true;
  g_lock.unlock();
  return ok();
}

u64 process_cpu_ns() {
  KThread* me = kvm::this_cpu()->cur;
  if (!me) return now();
  g_lock.lock();
  u64 t = now(), sum = 0;
  for (KThread* k = g_all; k; k = k->next_all) {
    if (!k->thread) continue;
    sum += k->cpu_ns;
    if (k == me || k->state == State::Running) sum += t - k->since;
  }
  g_lock.unlock();
  return sum;
}

void timer_arm(u64 deadline_ns) {
  g_core_deadline = deadline_ns;
  if (kvm::this_cpu()->cur) {
    g_lock.lock();
    rearm();
    g_lock.unlock();
  } else {
    lapic_arm(deadline_ns);
  }
}

}  // namespace mote::platform
