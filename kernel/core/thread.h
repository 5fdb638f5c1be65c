// Threads of the program, the kernel lock and sleeping.
//
// Every program thread has a core::Thread: its tid, signal mask and pending
// signals, alternate signal stack, clear-child-tid and robust-list pointers,
// and the word it sleeps on. The platform runs each thread on a CPU of its
// own (process platform: a host thread per program thread, confined to the
// --cpus host CPUs; the host schedules them) and tells the core which thread
// runs there (platform::current_thread).
//
// The core's shared state (address space, VFS, fd table, heap, signal
// tables) is guarded by one kernel lock, taken for the duration of a system
// call and never held while a thread sleeps: sleep() drops it, so threads
// blocked in futex waits, pipe reads or nanosleep leave the core free, and
// program code runs in parallel on every CPU. Lock-free paths (gettid,
// clock reads, sched_yield) skip it.
#pragma once

#include "kernel/lib/types.h"

namespace mote::core {

// A queued instance of a real-time signal (its siginfo's first 32 bytes).
struct SigNode {
  SigNode* next;
  u8 info[32];
};

struct Thread {
  int tid = 0;
  Thread* next = nullptr;           // all live threads (g_threads)
  u64 clear_child_tid = 0;          // set_tid_address / CLONE_CHILD_CLEARTID
  u64 robust_list = 0, robust_len = 0;
  u64 sigmask = 0;                  // blocked signals (bit sig-1)
  u64 pending = 0;                  // thread-directed pending signals
  u8 pending_info[64][32] = {};     // the first siginfo fields of each pending signal
  SigNode* rt_queue = nullptr;      // queued real-time signals, oldest first
  u64 altstack[3] = {};             // stack_t: ss_sp, ss_flags, ss_size
  // sigsuspend / pselect / ppoll: the mask to put back after the handler.
  u64 saved_mask = 0;
  bool restore_mask = false;
  // A system call (restart_ret != 0: its ERESTART* result) that must be
  // restarted or fail with EINTR once the
  // signals it was interrupted by are dealt with (ERESTART* results).
  u64 restart_nr = 0;
  i64 restart_ret = 0;
  // Sleeping: 0 while asleep; a waker stores 1 (woken) or 2 (interrupted).
  volatile u32 wake = 0;
  Thread* woken_next = nullptr;     // the kernel lock's list of threads to tell
  bool sleeping = false;
  bool interruptible = false;
  // Futex waits: the queue this thread waits in.
  u64 futex_key = 0;
  u32 futex_bitset = 0;
  Thread* futex_next = nullptr;
  // Wait queues (WaitQueue): the one it is on, and the next sleeper there.
  struct WaitQueue* wq = nullptr;
  Thread* wq_next = nullptr;
  // sigtimedwait: the signals it waits for (0: none).
  u64 waiting_for = 0;
  int sched_policy = 0;             // sched_setscheduler (recorded, reported)
  int sched_priority = 0;
  u64 affinity = 0;                 // sched_setaffinity mask (0: every CPU)
  char comm[16] = {};               // prctl(PR_SET_NAME); empty: the process's
  void* platform = nullptr;         // the platform's per-thread state
};

// The thread running this system call (never null once the program runs).
Thread* current();

// All live threads, and how many.
extern Thread* g_threads;
extern int g_nthreads;
Thread* find_thread(int tid);

// The main thread at boot.
Thread* init_main_thread();
// A new thread object (tid allocated), linked into the thread list; nullptr
// when out of memory. Remove with thread_remove (frees it).
Thread* thread_create();
void thread_remove(Thread* t);
// pids and tids come from one counter, as in Linux.
int alloc_id();

// ---- The kernel lock ----------------------------------------------------------------

void klock();
void kunlock();
bool klock_try();
bool klock_held();  // by anyone (for assertions)
bool klock_mine();  // by the current thread

// Work an event could not do because the kernel lock was busy: a timer that
// fired, frames that arrived (the platform's event context may not sleep,
// so it only tries the lock). post_work records it; whoever holds the lock
// runs it in kunlock, after letting go and taking it again, so it waits for
// the current holder instead of a timer. run_posted_work does it at once
// when the lock is free. (Store then try, against release then look: one
// of the two sees the other, so posted work is never left behind.)
inline constexpr u32 kWorkTimer = 1;  // core::on_timer's work
inline constexpr u32 kWorkNet = 2;    // received frames (linux::inet_timer_work)
void post_work(u32 work);
void run_posted_work();
// The work itself (timer.cc), under the kernel lock.
void do_posted_work(u32 work);

// RAII holder.
class KLockGuard {
 public:
  KLockGuard() { klock(); }
  ~KLockGuard() { kunlock(); }
  KLockGuard(const KLockGuard&) = delete;
  KLockGuard& operator=(const KLockGuard&) = delete;
};

// ---- Sleeping -----------------------------------------------------------------------

enum class Wake { Woken, Timeout, Interrupted };
inline constexpr u64 kForever = ~u64(0);

// Puts the current thread to sleep until wake_up(), the deadline
// (monotonic ns; kForever: none) or, when interruptible, a signal for it.
// Call with the kernel lock held, after prepare_sleep() and after making the
// thread findable by its waker (a wait queue); the lock is dropped while
// asleep and held again on return.
void prepare_sleep(bool interruptible);
Wake sleep(u64 deadline_ns);
// Wakes a sleeping thread (kernel lock held). Harmless if it is not asleep.
void wake_up(Thread* t);
// A signal for `t` arrived: ends an interruptible sleep, or makes the
// platform divert the thread to deliver it (kernel lock held).
void interrupt(Thread* t);

// Sleeps without waking anyone's interest: the deadline or a signal only.
// Kernel lock held. Returns Timeout or Interrupted.
Wake sleep_until(u64 deadline_ns, bool interruptible);

// Threads sleeping until some state changes (a pipe gets data or room, any
// file's readiness for poll). Kernel lock held for every operation.
struct WaitQueue {
  Thread* head = nullptr;
};
// Sleeps on q until wake_all(q), the deadline, or (interruptible) a signal.
Wake wait_on(WaitQueue& q, u64 deadline_ns, bool interruptible);
void wake_all(WaitQueue& q);

// Readiness of some file changed: wakes poll/select sleepers.
// g_poll_changes counts the changes (epoll's edge-triggered entries).
extern WaitQueue g_poll_queue;
extern u64 g_poll_changes;
inline void notify_poll() {
  ++g_poll_changes;
  wake_all(g_poll_queue);
}

// Whether a thread that blocks forever could still be woken: another thread
// may act, or a timer may interrupt it. False means a blocking wait would
// never end (the core then fails it with EDEADLK, docs/compat.md).
bool wake_possible();

}  // namespace mote::core
