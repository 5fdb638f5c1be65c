// Processes in one address space: fork, vfork and process-like clone run the
// child *first*, to completion, in the parent's place; then the parent
// continues as if its fork had just returned the child's pid.
//
// At fork the core saves everything the child may change: the program's
// memory (mm/snapshot.cc), its fd table, working directory and umask, the
// per-process fields of g_proc, the TLS base, the FPU state, and the
// parent's in-flight system call itself -- a copy of the kernel stack it runs
// on plus a setjmp-style context (context.S). The child then returns 0 from
// the same system call. When the child ends (exit, exit_group, a fatal
// signal), its exit status is kept for wait4, everything is put back, and
// the saved kernel stack is resumed: the parent's fork returns the pid.
//
// This gives Linux semantics for what shells, system(), popen("r") and
// posix_spawn-style code do -- fork, set up fds, exec or run, exit, wait --
// including pipelines whose writers finish before their readers start (up to
// the 64 KiB a pipe holds). What it cannot give is concurrency between parent
// and child: a child that waits for its parent (reading a pipe the parent
// fills later) fails its read with EDEADLK (docs/compat.md). A program with
// several threads cannot fork (ENOSYS): they would run in the child's memory.
#include "kernel/core/fork.h"

#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/share9p.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/platform.h"

namespace mote::core {

struct KCtx {
  u64 rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

extern "C" int mote_ctx_save(KCtx* c) __attribute__((returns_twice));
extern "C" [[noreturn]] void mote_ctx_resume(const KCtx* c);
extern "C" [[noreturn]] void mote_call_on_stack(u64 top, void (*fn)(void*), void* arg);

namespace {

constexpr int kMaxDepth = 16;                 // nested forks in flight
constexpr u64 kMaxKernelStack = 128 * 1024;   // the copied part of a syscall's stack
constexpr usize kMaxZombies = 64;

// What the child may change in g_proc, kept for the parent.
struct SavedProc {
  int tid, pid, ppid, pgid, sid;
  u64 pending, clear_child_tid, robust_list, robust_len, sigmask;
  SigAction actions[kNumSignals + 1];
  u64 altstack[3];
  Rlimit rlimits[kNumRlimits];
  Creds creds;
  StrView exe_path;
  char comm[16];
  fs::Inode* exe;
  u64 stack_size, load_bias;
};

struct ForkState {
  ForkState* outer;  // the fork this parent itself is a child of
  KCtx ctx;
  u8* stack;         // the parent's kernel stack [stack_at, stack_at + stack_len)
  u64 stack_at, stack_len;
  void* fpu;
  mm::AddressSpace::Saved* mem;
  fs::FdTable* fds;
  Ref<fs::Inode> root, cwd;
  u32 umask;
  SavedProc proc;
  u64 fs_base;
  int child_pid;
  u64 host_signals;  // from outside while suspended (note_host_signals)
};

struct Zombie {
  int pid, ppid, wstatus;
};

ForkState* g_fork = nullptr;  // innermost fork in flight: we are its child
int g_depth = 0;
Zombie g_zombies[kMaxZombies];
usize g_nzombies = 0;
// Children the current process has started that have not been waited for:
// all of them have ended already (they run first), so they are the zombies
// with ppid == our pid.

// The stack resume_parent runs on: made by the first fork (most programs
// never fork, and the VM kernel's image is smaller without it).
constexpr usize kScratch = 16384;
u8* g_scratch = nullptr;

void save_proc(SavedProc* s) {
  Thread* t = current();
  s->tid = t->tid;
  s->pending = g_proc.pending;
  s->clear_child_tid = t->clear_child_tid;
  s->robust_list = t->robust_list;
  s->robust_len = t->robust_len;
  s->sigmask = t->sigmask;
  memcpy(s->altstack, t->altstack, sizeof s->altstack);
  s->pid = g_proc.pid;
  s->ppid = g_proc.ppid;
  s->pgid = g_proc.pgid;
  s->sid = g_proc.sid;
  memcpy(s->actions, g_proc.actions, sizeof s->actions);
  memcpy(s->rlimits, g_proc.rlimits, sizeof s->rlimits);
  s->creds = g_proc.creds;
  s->exe_path = g_proc.exe_path;
  memcpy(s->comm, g_proc.comm, sizeof s->comm);
  s->exe = g_proc.exe;
  s->stack_size = g_proc.stack_size;
  s->load_bias = g_proc.load_bias;
}

void restore_proc(const SavedProc& s) {
  Thread* t = current();
  t->tid = s.tid;
  t->pending = 0;  // the child's own signals died with it
  g_proc.pending = s.pending;
  t->clear_child_tid = s.clear_child_tid;
  t->robust_list = s.robust_list;
  t->robust_len = s.robust_len;
  t->sigmask = s.sigmask;
  memcpy(t->altstack, s.altstack, sizeof s.altstack);
  g_proc.pid = s.pid;
  g_proc.ppid = s.ppid;
  g_proc.pgid = s.pgid;
  g_proc.sid = s.sid;
  memcpy(g_proc.actions, s.actions, sizeof s.actions);
  memcpy(g_proc.rlimits, s.rlimits, sizeof s.rlimits);
  g_proc.creds = s.creds;
  g_proc.exe = s.exe;
  g_proc.exe_path = s.exe_path;
  memcpy(g_proc.comm, s.comm, sizeof g_proc.comm);
  g_proc.stack_size = s.stack_size;
  g_proc.load_bias = s.load_bias;
}

void free_state(ForkState* s) {
  if (!s) return;
  mm::kfree(s->stack);
  mm::kfree(s->fpu);
  if (s->mem) g_proc.as.drop(s->mem);
  if (s->fds) fs::destroy_fdtable(s->fds);
  s->root.reset();
  s->cwd.reset();
  mm::kfree(s);
}

// The second half of fork: on the parent's restored kernel stack.
[[gnu::noinline]] i64 fork_point(ForkState* s) {
  if (mote_ctx_save(&s->ctx) != 0) {
    // Resumed: the child has ended and everything is the parent's again.
    int pid = s->child_pid;
    free_state(s);
    return pid;
  }
  u64 top = platform::syscall_stack_top();
  u64 at = s->ctx.rsp;
  if (at >= top || top - at > kMaxKernelStack) return -EAGAIN;
  s->stack_len = top - at;
  s->stack = static_cast<u8*>(mm::kalloc(s->stack_len));
  if (!s->stack) return -ENOMEM;
  memcpy(s->stack, reinterpret_cast<const void*>(at), s->stack_len);
  s->stack_at = at;
  // Become the child.
  s->outer = g_fork;
  g_fork = s;
  platform::fork_depth(++g_depth);
  g_proc.ppid = g_proc.pid;
  g_proc.pid = s->child_pid;
  current()->tid = s->child_pid;
  g_proc.pending = 0;  // a child starts with no pending signals
  return 0;
}

void resume_parent(void* p) {
  auto* s = static_cast<ForkState*>(p);
  memcpy(reinterpret_cast<void*>(s->stack_at), s->stack, s->stack_len);
  mote_ctx_resume(&s->ctx);
}

void add_zombie(int pid, int ppid, int wstatus) {
  if (g_nzombies == kMaxZombies) {
    // Forget the oldest (a parent that never waits leaks nothing here).
    memmove(g_zombies, g_zombies + 1, (kMaxZombies - 1) * sizeof(Zombie));
    --g_nzombies;
  }
  g_zombies[g_nzombies++] = Zombie{pid, ppid, wstatus};
}

}  // namespace

bool is_forked_child() { return g_fork != nullptr; }

void note_host_signals(u64 set) {
  for (ForkState* s = g_fork; s; s = s->outer) s->host_signals |= set;
}

void release_exe(fs::Inode* n) {
  if (!n) return;
  Ref<fs::Inode> last(n);  // dropped with the reference g_proc.exe held
  n->ref_put();
}

i64 fork_process(u64 flags, u64 child_tid, u64 parent_tid) {
  if (g_depth >= kMaxDepth) return -EAGAIN;
  if (!g_scratch && !(g_scratch = static_cast<u8*>(mm::kalloc(kScratch)))) return -ENOMEM;
  // The child runs in its parent's place, in its memory: other threads would
  // run concurrently with it there (docs/compat.md).
  if (g_nthreads > 1) {
    console_printf("mote: fork in a program with %d threads is not supported\n", g_nthreads);
    return -ENOSYS;
  }
  auto* s = static_cast<ForkState*>(mm::kzalloc(sizeof(ForkState)));
  if (!s) return -ENOMEM;
  s->child_pid = alloc_id();
  auto mem = g_proc.as.save();
  if (!mem.ok()) {
    free_state(s);
    return -ENOMEM;
  }
  s->mem = mem.value();
  auto fds = fs::clone_fdtable(fs::fds());
  if (!fds.ok()) {
    free_state(s);
    return -ENOMEM;
  }
  s->fds = fds.value();
  s->root = fs::ns().root;
  s->cwd = fs::ns().cwd;
  s->umask = fs::ns().umask;
  save_proc(&s->proc);
  s->fs_base = platform::fs_base();
  if (usize n = platform::fpu_state_size()) {
    s->fpu = mm::kalloc(n + 64);
    if (!s->fpu) {
      free_state(s);
      return -ENOMEM;
    }
    // xsave wants 64-byte alignment: kalloc gives 16.
    void* area = reinterpret_cast<void*>((reinterpret_cast<u64>(s->fpu) + 63) & ~u64(63));
    memset(area, 0, n);
    platform::fpu_save(area);
  }
  constexpr u64 kCloneParentSettid = 0x00100000, kCloneChildSettid = 0x01000000;
  constexpr u64 kCloneChildCleartid = 0x00200000;
  int pid = s->child_pid;
  if ((flags & kCloneParentSettid) && parent_tid &&
      !linux::put_user(parent_tid, i32(pid)).ok()) {
    free_state(s);
    return -EFAULT;
  }
  i64 r = fork_point(s);
  if (r != 0) {
    if (r < 0) free_state(s);
    return r;  // the parent, after the child (or an error)
  }
  // The child.
  if ((flags & kCloneChildSettid) && child_tid) (void)linux::put_user(child_tid, i32(pid));
  if (flags & kCloneChildCleartid) current()->clear_child_tid = child_tid;
  return 0;
}

void process_exit(int wstatus) {
  ForkState* s = g_fork;
  if (!s) {
    // What its sockets still have to send goes out first (Linux's orphans).
    linux::inet_exit();
    int code = (wstatus & 0x7f) ? 128 + (wstatus & 0x7f) : (wstatus >> 8) & 0xff;
    // A run that fails after the memory limit refused the program: say so
    // (its status stays its own; it saw ENOMEM where Linux would give it).
    const mm::AddressSpace& as = g_proc.as;
    if (code && as.refused())
      console_printf("mote: guest out of memory: %lu request%s refused (used %lu of %lu MiB); "
                     "try a larger --mem\n",
                     (unsigned long)as.refused(), as.refused() == 1 ? "" : "s",
                     (unsigned long)((as.charged() + (1 << 20) - 1) >> 20),
                     (unsigned long)(as.limit() >> 20));
    if (platform::boot_info().flags & abi::kBootVerbose) fs::share_report();
    platform::exit(code);
  }
  int child_pid = g_proc.pid;
  add_zombie(child_pid, g_proc.ppid, wstatus);
  // The child's resources go; the parent's come back.
  fs::FdTable* child_fds = fs::swap_fdtable(s->fds);
  s->fds = nullptr;
  fs::destroy_fdtable(child_fds);
  fs::ns().root = s->root;
  fs::ns().cwd = s->cwd;
  fs::ns().umask = s->umask;
  fs::Inode* child_exe = g_proc.exe;
  if (child_exe != s->proc.exe) release_exe(child_exe);  // execve in the child took it
  restore_proc(s->proc);
  auto r = g_proc.as.restore(s->mem);
  s->mem = nullptr;
  if (!r.ok()) {
    console_printf("mote: fork: restoring the parent's memory failed (errno %d)\n", r.error());
    platform::panic("fork: cannot restore the parent's memory");
  }
  platform::set_fs_base(s->fs_base);
  if (s->fpu)
    platform::fpu_restore(
        reinterpret_cast<void*>((reinterpret_cast<u64>(s->fpu) + 63) & ~u64(63)));
  g_fork = s->outer;
  platform::fork_depth(--g_depth);
  // The parent learns of its child's end as on Linux: SIGCHLD (dropped
  // unless it has a handler or blocks it), then whatever came from outside
  // while it waited.
  SigInfo info;
  memset(&info, 0, sizeof info);
  info.signo = kSigchld;
  bool killed = (wstatus & 0x7f) != 0;
  info.code = !killed ? kCldExited : (wstatus & 0x80) ? kCldDumped : kCldKilled;
  info.f[0] = u64(u32(child_pid));                                     // si_pid, si_uid 0
  info.f[1] = u64(u32(killed ? wstatus & 0x7f : (wstatus >> 8) & 0xff));  // si_status
  (void)send_signal(nullptr, kSigchld, info);
  for (int sig = 1; sig <= kNumSignals; ++sig)
    if (s->host_signals & sig_bit(sig)) (void)send_signal(nullptr, sig, host_siginfo(sig));
  mote_call_on_stack(reinterpret_cast<u64>(g_scratch + kScratch), resume_parent, s);
}

i64 wait_child(i64 pid, int* wstatus) {
  for (usize i = 0; i < g_nzombies; ++i) {
    const Zombie& z = g_zombies[i];
    if (z.ppid != g_proc.pid) continue;
    // pid <= 0: any child (one process group); > 0: that one.
    if (pid > 0 && z.pid != pid) continue;
    int found = z.pid;
    *wstatus = z.wstatus;
    memmove(g_zombies + i, g_zombies + i + 1, (g_nzombies - i - 1) * sizeof(Zombie));
    --g_nzombies;
    return found;
  }
  return -ECHILD;
}

}  // namespace mote::core
