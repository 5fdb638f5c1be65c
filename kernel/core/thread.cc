// Threads, the kernel lock and sleeping (thread.h).
#include "kernel/core/thread.h"

#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/timer.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/platform.h"

namespace mote::core {

Thread* g_threads = nullptr;
int g_nthreads = 0;

namespace {

int g_next_id = 2;  // 1 is the first process and its main thread

// 0 free, 1 held, 2 held with sleepers (Drepper, "Futexes Are Tricky").
volatile u32 g_klock = 0;

Thread g_main_thread;
Thread* g_woken;  // woken under the kernel lock, told at kunlock
Thread* volatile g_klock_owner;

u32 cas(volatile u32* w, u32 expected, u32 desired) {
  __atomic_compare_exchange_n(w, &expected, desired, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
  return expected;
}

}  // namespace

Thread* current() { return static_cast<Thread*>(platform::current_thread()); }

int alloc_id() { return g_next_id++; }

Thread* find_thread(int tid) {
  for (Thread* t = g_threads; t; t = t->next)
    if (t->tid == tid) return t;
  return nullptr;
}

Thread* init_main_thread() {
  Thread& main_thread = g_main_thread;
  main_thread.tid = g_proc.pid;
  main_thread.next = nullptr;
  g_threads = &main_thread;
  g_nthreads = 1;
  platform::set_current_thread(&main_thread);
  return &main_thread;
}

Thread* thread_create() {
  // Every field's initial value is zero.
  auto* t = static_cast<Thread*>(mm::kzalloc(sizeof(Thread)));
  if (!t) return nullptr;
  t->tid = alloc_id();
  t->next = g_threads;
  g_threads = t;
  ++g_nthreads;
  return t;
}

void thread_remove(Thread* t) {
  for (Thread** p = &g_threads; *p; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      --g_nthreads;
      break;
    }
  }
  if (t != &g_main_thread) mm::kfree(t);
}

// ---- The kernel lock -----------------------------------------------------------------

void klock() {
  u32 c = cas(&g_klock, 0, 1);
  if (c != 0) {
    if (c != 2) c = __atomic_exchange_n(&g_klock, 2, __ATOMIC_ACQUIRE);
    while (c != 0) {
      platform::wait_word(&g_klock, 2, kForever);
      c = __atomic_exchange_n(&g_klock, 2, __ATOMIC_ACQUIRE);
    }
  }
  g_klock_owner = current();
}

bool klock_try() {
  if (cas(&g_klock, 0, 1) != 0) return false;
  g_klock_owner = current();
  return true;
}

bool klock_mine() { return klock_held() && g_klock_owner == current(); }

namespace {

volatile u32 g_posted;  // kWork* bits waiting for the lock

void release_klock() {
  g_klock_owner = nullptr;
  // Sleepers woken under the lock are told after it is released: woken
  // while it is still held, they would only block on it again (a convoy of
  // two host wake-ups per hand-off). What telling them needs is copied out
  // first: once the lock is free a woken thread may exit and be freed.
  // (The current thread needs no host wake-up: it looks at its word before
  // it sleeps.)
  constexpr int kBatch = 16;
  const volatile u32* words[kBatch];
  void* cpus[kBatch];
  int n = 0;
  Thread* self = current();
  for (Thread* w = g_woken; w; w = w->woken_next) {
    if (w == self) continue;
    if (n == kBatch) {  // a crowd: the rest are told under the lock
      platform::thread_wake(w->platform, &w->wake);
      continue;
    }
    words[n] = &w->wake;
    cpus[n++] = w->platform;
  }
  g_woken = nullptr;
  // Sequentially consistent: the look at g_posted after it must not pass it.
  if (__atomic_exchange_n(&g_klock, 0, __ATOMIC_SEQ_CST) == 2) platform::wake_word(&g_klock, 1);
  // (A thread freed meanwhile leaves its word in the heap, still mapped:
  // a stray wake there is harmless, every waiter re-checks.)
  for (int i = 0; i < n; ++i) platform::thread_wake(cpus[i], words[i]);
}

}  // namespace

void post_work(u32 work) { __atomic_or_fetch(&g_posted, work, __ATOMIC_SEQ_CST); }

void run_posted_work() {
  // Bounded, so a flood of arrivals cannot keep one thread here for good:
  // what is left stays posted for the next kunlock, and the platform timer
  // is armed as the backstop when nobody may unlock soon.
  for (int round = 0; round < 4; ++round) {
    if (!__atomic_load_n(&g_posted, __ATOMIC_SEQ_CST) || !klock_try()) return;
    u32 work = __atomic_exchange_n(&g_posted, 0, __ATOMIC_SEQ_CST);
    if (work) do_posted_work(work);
    release_klock();
  }
  if (__atomic_load_n(&g_posted, __ATOMIC_SEQ_CST)) platform::timer_arm(platform::monotonic_ns());
}

void kunlock() {
  release_klock();
  run_posted_work();
}

bool klock_held() { return __atomic_load_n(&g_klock, __ATOMIC_RELAXED) != 0; }

// ---- Sleeping -------------------------------------------------------------------------

void prepare_sleep(bool interruptible) {
  Thread* t = current();
  t->wake = 0;
  t->sleeping = true;
  t->interruptible = interruptible;
}

Wake sleep(u64 deadline_ns) {
  Thread* t = current();
  // A signal that arrived before we got here still ends the sleep.
  if (t->interruptible && has_deliverable(t)) t->wake = 2;
  kunlock();
  for (;;) {
    if (__atomic_load_n(&t->wake, __ATOMIC_ACQUIRE) != 0) break;
    if (deadline_ns != kForever && platform::monotonic_ns() >= deadline_ns) break;
    platform::thread_sleep(&t->wake, deadline_ns);
  }
  klock();
  t->sleeping = false;
  u32 w = t->wake;
  if (w == 1) return Wake::Woken;
  if (w == 2) return Wake::Interrupted;
  return Wake::Timeout;
}

void wake_up(Thread* t) {
  if (!t->sleeping || t->wake) return;
  __atomic_store_n(&t->wake, 1, __ATOMIC_RELEASE);
  t->woken_next = g_woken;  // told at kunlock
  g_woken = t;
}

void interrupt(Thread* t) {
  if (t->sleeping) {
    if (t->interruptible && !t->wake) {
      __atomic_store_n(&t->wake, 2, __ATOMIC_RELEASE);
      t->woken_next = g_woken;
      g_woken = t;
    }
    return;
  }
  if (t != current()) platform::thread_kick(t);
}

WaitQueue g_poll_queue;
u64 g_poll_changes;

Wake wait_on(WaitQueue& q, u64 deadline_ns, bool interruptible) {
  Thread* t = current();
  prepare_sleep(interruptible);
  t->wq = &q;
  t->wq_next = q.head;
  q.head = t;
  Wake w = sleep(deadline_ns);
  if (t->wq) {  // not taken off by wake_all
    for (Thread** p = &q.head; *p; p = &(*p)->wq_next) {
      if (*p == t) {
        *p = t->wq_next;
        break;
      }
    }
    t->wq = nullptr;
    t->wq_next = nullptr;
  }
  return w;
}

void wake_all(WaitQueue& q) {
  Thread* t = q.head;
  q.head = nullptr;
  while (t) {
    Thread* next = t->wq_next;
    t->wq = nullptr;
    t->wq_next = nullptr;
    wake_up(t);
    t = next;
  }
}

bool wake_possible() {
  return g_nthreads > 1 || linux::timers_armed() || linux::inet_wake_possible();
}

Wake sleep_until(u64 deadline_ns, bool interruptible) {
  prepare_sleep(interruptible);
  Wake w = sleep(deadline_ns);
  return w == Wake::Woken ? Wake::Interrupted : w;
}

}  // namespace mote::core
