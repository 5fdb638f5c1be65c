// Threads on the VM platform, one CPU: a round-robin scheduler.
//
// Each program thread has a KThread: its kernel stack (system calls run on
// it; the per-CPU kernel_stack_top follows the running thread), the stack
// pointer of its switched-out kernel context, its %fs base and FPU state.
// A thread switches only inside the kernel, where interrupts are off:
//  - when it blocks (wait_word: futex-style, on a core word), exits or yields;
//  - when the LAPIC timer interrupts program code after its 10 ms slice and
//    another thread is runnable (preempt: the interrupt frame moves from the
//    IST stack to the thread's kernel stack, which is free while it runs
//    program code, and the switch happens there).
// A new thread's kernel stack starts with a copy of its creator's syscall
// register frame (rax = 0, the new %rsp) and a switch frame whose return
// address leads to the common syscall return path.
//
// The LAPIC's one deadline serves three clients: the core's timer
// (platform::timer_arm), sleepers' deadlines, and the running thread's slice.
// With nothing runnable the CPU halts until the next of them (or an
// interrupt), so an idle guest costs ~0 host CPU.
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/clock.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/sched.h"
#include "kernel/platform/kvm/traps.h"
#include "kernel/platform/kvm/vm.h"
#include "kernel/platform/platform.h"

extern "C" void mote_vm_switch(mote::u64* save_rsp, mote::u64 new_rsp);
extern "C" void mote_vm_thread_start();
extern "C" [[noreturn]] void mote_vm_preempt_on(mote::u64 stack_frame);

namespace mote::kvm {

namespace {

constexpr u64 kKernelStack = 32 * 1024;
constexpr u64 kSlice = 10 * 1000000ull;  // ns
constexpr u64 kGregsSize = 192;           // the syscall entry's frame (syscall_entry.S)

enum class State : u8 { Running, Runnable, Blocked, Dead };

struct KThread {
  void* thread;                  // core::Thread
  State state;
  u64 kstack_base, kstack_top;
  u64 saved_rsp;                 // switched out: its callee-saved registers are there
  u64 fs_base;
  u8* fpu;                       // fpu_state_size() bytes, 64-byte aligned
  bool fpu_fresh;                // fpu holds a state to load at the next switch-in
  const volatile u32* wait_word;
  u64 deadline;                  // Blocked: monotonic ns, ~0 none
  u64 cpu_ns, since;             // run time, and when it last started running
  SyscallState* sys;             // switched out: its system call in flight (g_sys)
  KThread* next_run;             // run queue
  KThread* next_all;
  bool own_stack;                // kstack from core_map (not the boot syscall stack)
};

KThread* g_cur;
KThread* g_all;
KThread* g_run_head;
KThread* g_run_tail;
u64 g_core_deadline;             // platform::timer_arm's
u64 g_slice_end;
bool g_need_resched;
u64 g_idle_ns;
usize g_fpu_size;

u64 now() { return clock_monotonic_ns(); }

void enqueue(KThread* t) {
  t->state = State::Runnable;
  t->next_run = nullptr;
  if (g_run_tail) g_run_tail->next_run = t;
  else g_run_head = t;
  g_run_tail = t;
  // Someone waits for the CPU: the running thread's slice starts counting.
  if (!g_slice_end) g_slice_end = now() + kSlice;
}

KThread* dequeue() {
  KThread* t = g_run_head;
  if (!t) return nullptr;
  g_run_head = t->next_run;
  if (!g_run_head) g_run_tail = nullptr;
  t->next_run = nullptr;
  return t;
}

// The LAPIC deadline: the first of the core's timer, sleepers, the slice.
void rearm() {
  u64 d = g_core_deadline;
  for (KThread* t = g_all; t; t = t->next_all)
    if (t->state == State::Blocked && t->deadline != ~u64(0) && (!d || t->deadline < d))
      d = t->deadline ? t->deadline : 1;
  if (g_run_head && g_slice_end && (!d || g_slice_end < d)) d = g_slice_end;
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

void reap() {
  for (KThread** p = &g_all; *p;) {
    KThread* t = *p;
    if (t->state == State::Dead && t != g_cur) {
      *p = t->next_all;
      if (t->own_stack) core_unmap(t->kstack_base, kKernelStack);
      core_unmap(reinterpret_cast<u64>(t->fpu), page_up(g_fpu_size));
      core_unmap(reinterpret_cast<u64>(t), page_up(sizeof(KThread)));
      continue;
    }
    p = &t->next_all;
  }
}

// Runs the next runnable thread (the current one is already queued,
// blocked or dead). Halts while there is none. Interrupts off.
void schedule() {
  KThread* prev = g_cur;
  KThread* next;
  prev->cpu_ns += now() - prev->since;  // its run ends here (idle time is nobody's)
  for (;;) {
    next = dequeue();
    if (next) break;
    // Nothing to run: halt until an interrupt (the timer, a device) makes
    // something runnable.
    rearm();
    u64 t0 = now();
    asm volatile("sti; hlt; cli" ::: "memory");
    u64 t1 = now();
    g_idle_ns += t1 - t0;
    wake_expired(t1);
  }
  g_need_resched = false;
  g_slice_end = g_run_head ? now() + kSlice : 0;
  u64 t = now();
  if (next == prev) {
    prev->state = State::Running;
    prev->since = t;
    return;
  }
  if (prev->state != State::Dead) {
    prev->fs_base = rdmsr(Msr::FsBase);
    platform::fpu_save(prev->fpu);
  }
  next->state = State::Running;
  next->since = t;
  prev->sys = g_sys;
  g_sys = next->sys;
  g_cur = next;
  set_cpu_thread(next->thread);
  set_kernel_stack(next->kstack_top);
  wrmsr(Msr::FsBase, next->fs_base);
  platform::fpu_restore(next->fpu);
  rearm();
  mote_vm_switch(&prev->saved_rsp, next->saved_rsp);
  // Back on prev's stack: someone switched to it.
  reap();
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
  k->next_all = g_all;
  g_all = k;
  return k;
}

void on_tick() {
  u64 t = now();
  if (g_core_deadline && t >= g_core_deadline) {
    g_core_deadline = 0;
    core::on_timer();
  }
  wake_expired(t);
  if (g_run_head && g_slice_end && t >= g_slice_end) g_need_resched = true;
  rearm();
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
  g_cur = k;
  set_cpu_thread(k->thread);
  if (platform::current_thread())
    static_cast<core::Thread*>(platform::current_thread())->platform = k;
  set_timer_handler(on_tick);
}

bool sched_active() { return g_cur != nullptr; }

// The timer interrupted program code and asked for a switch: f (on the IST
// stack) moves to the running thread's kernel stack, where the switch runs.
void maybe_preempt(TrapFrame* f) {
  if (!g_need_resched || !g_cur) return;
  g_need_resched = false;
  u64 at = (g_cur->kstack_top - sizeof(TrapFrame)) & ~u64(15);
  memcpy(reinterpret_cast<void*>(at), f, sizeof(TrapFrame));
  mote_vm_preempt_on(at);
}

}  // namespace mote::kvm

using namespace mote;
using namespace mote::kvm;

// On the running thread's kernel stack, with its interrupt frame at `f`:
// give the CPU away; when it comes back, take pending signals; the caller
// (vectors.S) returns to the program from f.
extern "C" void mote_vm_preempted(TrapFrame* f) {
  enqueue(g_cur);
  schedule();
  deliver_at_trap(f, nullptr);
}

// A new thread's first run, on its kernel stack (mote_vm_thread_start): then
// the syscall return path takes it to the program.
extern "C" void mote_vm_thread_first() { reap(); }

namespace mote::platform {

void* current_thread() { return g_cur ? g_cur->thread : kvm::g_boot_thread; }
void set_current_thread(void* t) {
  set_cpu_thread(t);
  if (g_cur) {
    g_cur->thread = t;
    if (t) static_cast<core::Thread*>(t)->platform = g_cur;
  } else {
    kvm::g_boot_thread = t;
  }
}

void wait_word(const volatile u32* word, u32 expected, u64 deadline_ns) {
  if (*word != expected) return;
  if (!g_cur) {  // before the program runs (boot self-tests)
    idle_until(deadline_ns);
    return;
  }
  if (deadline_ns != ~u64(0) && now() >= deadline_ns) return;
  g_cur->state = State::Blocked;
  g_cur->wait_word = word;
  g_cur->deadline = deadline_ns;
  schedule();
  g_cur->deadline = ~u64(0);
}

void wake_word(const volatile u32* word, u32 count) {
  bool woke = false;
  for (KThread* t = g_all; t && count; t = t->next_all) {
    if (t->state == State::Blocked && t->wait_word == word) {
      wake(t);
      woke = true;
      --count;
    }
  }
  if (woke) rearm();
}

Result<void> thread_start(const NewThread& nt) {
  UserContext* parent = syscall_context();
  if (!parent || !g_cur) return err(ENOSYS);
  KThread* k = new_kthread(nt.thread);
  if (!k) return err(ENOMEM);
  auto stack = core_map(kKernelStack);
  if (!stack.ok()) {
    k->state = State::Dead;
    reap();
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
  enqueue(k);
  rearm();
  return ok();
}

void thread_exit() {
  g_cur->state = State::Dead;
  g_cur->thread = nullptr;
  set_cpu_thread(nullptr);
  schedule();
  panic("a dead thread ran again");
}

void thread_kick(void* thread) {
  auto* k = static_cast<KThread*>(static_cast<core::Thread*>(thread)->platform);
  if (k && k->state == State::Blocked) {
    wake(k);
    rearm();
  }
  // Runnable (preempted in program code): it takes its signals when it
  // runs again (mote_vm_preempted).
}

void yield() {
  if (!g_cur || !g_run_head) return;
  enqueue(g_cur);
  schedule();
}

u64 thread_cpu_ns() { return g_cur ? g_cur->cpu_ns + (now() - g_cur->since) : now(); }

u64 thread_cpu_ns_of(void* thread) {
  auto* k = static_cast<KThread*>(static_cast<core::Thread*>(thread)->platform);
  if (!k) return 0;
  return k == g_cur ? thread_cpu_ns() : k->cpu_ns;
}

u64 process_cpu_ns() {
  if (!g_cur) return now();
  u64 sum = 0;
  for (KThread* t = g_all; t; t = t->next_all) sum += t->cpu_ns;
  return sum + (now() - g_cur->since);
}

void timer_arm(u64 deadline_ns) {
  g_core_deadline = deadline_ns;
  if (g_cur) rearm();
  else lapic_arm(deadline_ns);
}

}  // namespace mote::platform
