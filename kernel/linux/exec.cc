// Processes: fork, vfork, clone (process-like), wait4, execve, and the
// process-group calls. The model is in kernel/core/fork.cc.
#include "kernel/core/fork.h"
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/exec/start.h"
#include "kernel/fs/fdtable.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/scratch.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr u64 kCloneVm = 0x100, kCloneSighand = 0x800;
constexpr u64 kCloneVfork = 0x4000, kCloneThread = 0x10000;
constexpr u64 kArgMax = 2 * 1024 * 1024;  // bytes of argv + envp strings
constexpr usize kMaxArgs = 32768;
constexpr int kMaxInterp = 4;             // #! nesting

// argv/envp copied out of the old image before it goes.
struct ArgBlock {
  char* bytes = nullptr;
  usize used = 0;
  StrView* views = nullptr;  // argc argv views, then envc envp views
  usize argc = 0, envc = 0;
  ~ArgBlock() {
    mm::kfree(bytes);
    mm::kfree(views);
  }
};

Result<usize> count_vector(u64 addr) {
  if (!addr) return usize(0);
  for (usize n = 0; n < kMaxArgs; ++n) {
    u64 p;
    TRY(get_user(&p, addr + n * 8));
    if (!p) return n;
  }
  return err(E2BIG);
}

Result<void> copy_vector(ArgBlock& b, u64 addr, usize n, StrView* out) {
  for (usize i = 0; i < n; ++i) {
    u64 p;
    TRY(get_user(&p, addr + i * 8));
    auto len = string_from_user(b.bytes + b.used, p, kArgMax - b.used);
    if (!len.ok()) return Error{len.error() == ENAMETOOLONG ? E2BIG : len.error()};
    out[i] = StrView(b.bytes + b.used, len.value());
    b.used += len.value() + 1;
  }
  return ok();
}

// "#!interp [arg]" on the first line: the interpreter and its argument.
bool parse_shebang(fs::Inode& f, char* line, usize cap, StrView* interp, StrView* arg) {
  auto n = f.read(0, line, cap - 1);
  if (!n.ok() || n.value() < 3 || line[0] != '#' || line[1] != '!') return false;
  usize len = n.value();
  line[len] = 0;
  usize end = 2;
  while (end < len && line[end] != '\n') ++end;
  line[end] = 0;
  usize i = 2;
  while (i < end && (line[i] == ' ' || line[i] == '\t')) ++i;
  usize s = i;
  while (i < end && line[i] != ' ' && line[i] != '\t') ++i;
  *interp = StrView(line + s, i - s);
  while (i < end && (line[i] == ' ' || line[i] == '\t')) ++i;
  usize a = i;
  usize e = end;
  while (e > a && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r')) --e;
  *arg = StrView(line + a, e - a);
  return interp->size > 0;
}

i64 do_execve(int dirfd, u64 path_addr, u64 argv_addr, u64 envp_addr, u64 flags) {
  // Linux would end the other threads first; here they keep running on
  // their CPUs (docs/compat.md).
  if (core::g_nthreads > 1) {
    core::console_printf("mote: execve in a program with %d threads is not supported\n",
                         core::g_nthreads);
    return -ENOSYS;
  }
  // The rare path's big buffers, on the heap: the path, the #! lines
  // (kMaxInterp levels) and the new program's headers.
  struct Buffers {
    char path[fs::kPathMax];
    char lines[kMaxInterp][256];
    elf::Image img;
  };
  mm::Scratch<Buffers> bufs;
  if (!bufs) return -ENOMEM;
  char* path = bufs->path;
  auto pl = string_from_user(path, path_addr, sizeof bufs->path);
  if (!pl.ok()) return -pl.error();
  if (pl.value() == 0 && !(flags & 0x1000)) return -ENOENT;

  ArgBlock b;
  auto argc = count_vector(argv_addr);
  if (!argc.ok()) return -argc.error();
  auto envc = count_vector(envp_addr);
  if (!envc.ok()) return -envc.error();
  usize extra = 3 * kMaxInterp;  // room for #! rewriting
  b.bytes = static_cast<char*>(mm::kalloc(kArgMax));
  b.views = static_cast<StrView*>(mm::kalloc((argc.value() + envc.value() + extra + 1) *
                                             sizeof(StrView)));
  if (!b.bytes || !b.views) return -ENOMEM;
  StrView* args = b.views + extra;  // #! prepends in front
  auto r = copy_vector(b, argv_addr, argc.value(), args);
  if (r.ok()) r = copy_vector(b, envp_addr, envc.value(), args + argc.value());
  if (!r.ok()) return -r.error();
  usize nargs = argc.value();
  StrView* envp = args + argc.value();
  // Keep envp after argv: move it past the room the #! words may need.
  // (envp stays where it is; argv grows downwards into the spare room.)

  // Resolve, following #! up to kMaxInterp levels.
  Ref<fs::Inode> start;
  if (path[0] != '/' && dirfd != -100) {
    Ref<fs::File> d = fs::fds().get(dirfd);
    if (!d) return -EBADF;
    start = d->inode;
  }
  StrView file(path, pl.value());
  auto& lines = bufs->lines;
  Ref<fs::Inode> node;
  for (int level = 0;; ++level) {
    auto n = fs::resolve(start.get(), file, (flags & 0x100) && level == 0 ? 0u : u32(fs::kFollow));
    if (!n.ok()) return -n.error();
    node = n.value();
    if (node->is_dir()) return -EACCES;
    if (!node->is_reg() || !(node->mode & 0111)) return -EACCES;
    StrView interp, arg;
    if (!parse_shebang(*node, lines[level], sizeof lines[level], &interp, &arg)) break;
    if (level + 1 >= kMaxInterp) return -ELOOP;
    // argv becomes: interp [arg] file argv[1..]
    if (nargs) {
      --nargs;
      ++args;  // drop the old argv[0]
    }
    *--args = file;
    ++nargs;
    if (arg.size) {
      *--args = arg;
      ++nargs;
    }
    *--args = interp;
    ++nargs;
    file = interp;
    start = Ref<fs::Inode>();
  }

  // Check the ELF before the point of no return.
  elf::Image& img = bufs->img;
  struct Reader {
    static Result<usize> read(void* ctx, u64 off, void* buf, usize len) {
      return static_cast<fs::Inode*>(ctx)->read(off, buf, len);
    }
  };
  if (elf::parse(Reader::read, node.get(), node->size, &img) != elf::Problem::None) return -ENOEXEC;

  // The durable copy of the program's path (AT_EXECFN, /proc/self/exe).
  char* exe_path = static_cast<char*>(mm::kalloc(file.size + 1));
  if (!exe_path) return -ENOMEM;
  memcpy(exe_path, file.data, file.size);
  exe_path[file.size] = 0;

  // Point of no return: the old image goes.
  core::Process& p = core::g_proc;
  if (!p.as.clear().ok()) core::process_exit(9);
  for (int fd = 0; fd < fs::fds().end(); ++fd)
    if (fs::fds().cloexec(fd)) (void)fs::fds().close(fd);
  for (int sig = 1; sig <= core::kNumSignals; ++sig)
    if (p.actions[sig].handler > 1) p.actions[sig] = core::SigAction{};  // handlers: default
  core::Thread* self = core::current();
  self->altstack[0] = self->altstack[1] = self->altstack[2] = 0;
  self->clear_child_tid = 0;
  self->robust_list = self->robust_len = 0;
  p.comm[0] = 0;  // the name is the new program's again

  exec::LoadProblem problem;
  auto loaded = exec::load_program(p.as, *node, &problem);
  if (!loaded.ok()) {
    core::console_printf("mote: execve %s: cannot load it (%s)\n", exe_path,
                         problem.interp_missing ? "interpreter missing" : "error");
    core::process_exit(9);  // SIGKILL, as Linux after the point of no return
  }
  const exec::Loaded& l = loaded.value();
  p.as.set_brk_start(page_up(l.end));
  p.load_bias = l.bias;
  auto sp = exec::setup_stack(p.as, l, p.stack_size, StrView(exe_path, file.size), args, nargs,
                              envp, envc.value());
  if (!sp.ok()) core::process_exit(9);
  node->ref_get();
  p.exe = node.get();
  p.exe_path = StrView(exe_path, file.size);
  platform::set_fs_base(0);
  platform::exec_return(l.entry, sp.value());
  return 0;
}

}  // namespace

i64 sys_fork(const SysArgs&) { return core::fork_process(0, 0, 0); }
i64 sys_vfork(const SysArgs&) { return core::fork_process(0, 0, 0); }

namespace {

constexpr u64 kCloneFs = 0x200, kCloneFiles = 0x400, kCloneSysvsem = 0x40000;
constexpr u64 kCloneSettls = 0x80000, kCloneParentSettid = 0x100000;
constexpr u64 kCloneChildCleartid = 0x200000, kCloneChildSettid = 0x1000000;
constexpr u64 kCloneDetached = 0x400000, kCloneUntraced = 0x800000;
constexpr u64 kCloneIo = 0x80000000ull, kCloneCsignal = 0xff;

// A new thread in this address space (pthread_create, Go's newosproc).
i64 clone_thread(u64 flags, u64 stack, u64 ptid, u64 ctid, u64 tls) {
  // One process: threads share everything a process has. Asking for less
  // (a private fd table or fs info) would need a second process.
  constexpr u64 required = kCloneVm | kCloneFs | kCloneFiles | kCloneSighand;
  constexpr u64 allowed = required | kCloneThread | kCloneSysvsem | kCloneSettls |
                          kCloneParentSettid | kCloneChildCleartid | kCloneChildSettid |
                          kCloneDetached | kCloneUntraced | kCloneIo;
  if ((flags & required) != required || (flags & ~allowed & ~kCloneCsignal)) return -EINVAL;
  if ((flags & kCloneSettls) && tls >= 0x800000000000ull) return -EPERM;
  core::Thread* t = core::thread_create();
  if (!t) return -EAGAIN;
  core::Thread* self = core::current();
  t->sigmask = self->sigmask;
  t->affinity = self->affinity;
  // A new thread has its creator's name (Linux copies comm).
  if (self->tid != core::g_proc.pid && self->comm[0]) memcpy(t->comm, self->comm, 16);
  if (flags & kCloneChildCleartid) t->clear_child_tid = ctid;
  if ((flags & kCloneParentSettid) && !put_user(ptid, i32(t->tid)).ok()) {
    core::thread_remove(t);
    return -EFAULT;
  }
  if ((flags & kCloneChildSettid) && !put_user(ctid, i32(t->tid)).ok()) {
    core::thread_remove(t);
    return -EFAULT;
  }
  auto r = platform::thread_start(platform::NewThread{t, stack, tls, (flags & kCloneSettls) != 0});
  if (!r.ok()) {
    core::thread_remove(t);
    return r.error() == ENOSYS ? -ENOSYS : -EAGAIN;
  }
  return t->tid;
}

}  // namespace

i64 sys_clone(const SysArgs& a) {
  // x86-64 argument order: flags, stack, parent_tid, child_tid, tls.
  u64 flags = a.u(0), stack = a.u(1), ptid = a.u(2), ctid = a.u(3), tls = a.u(4);
  if (flags & kCloneThread) return clone_thread(flags, stack, ptid, ctid, tls);
  if ((flags & kCloneVm) && !(flags & kCloneVfork)) return -EINVAL;  // a process sharing memory: not here
  if ((flags & kCloneSighand) && !(flags & kCloneVm)) return -EINVAL;
  i64 r = core::fork_process(flags, ctid, ptid);
  if (r == 0 && stack) platform::return_stack(stack);
  return r;
}

i64 sys_clone3(const SysArgs& a) {
  // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal,
  // stack, stack_size, tls, set_tid, set_tid_size, cgroup.
  u64 size = a.u(1);
  if (size < 64 || size > 4096) return -EINVAL;
  u64 args[11] = {};
  if (!copy_from_user(args, a.u(0), min<u64>(size, sizeof args)).ok()) return -EFAULT;
  u64 flags = args[0];
  // CLONE_PIDFD (pidfd is read only with it), set_tid and cgroup: not here.
  if ((flags & 0x1000) || (size > 64 && (args[8] || args[9])) || (size > 80 && args[10]))
    return -EINVAL;
  u64 stack = args[5] ? args[5] + args[6] : 0;  // clone3 gives the lowest address and size
  if (flags & kCloneThread) {
    if (args[4]) return -EINVAL;  // threads have no exit signal
    return clone_thread(flags, stack, args[3], args[2], args[7]);
  }
  if ((flags & kCloneVm) && !(flags & kCloneVfork)) return -EINVAL;
  i64 r = core::fork_process(flags, args[2], args[3]);
  if (r == 0 && stack) platform::return_stack(stack);
  return r;
}

i64 sys_wait4(const SysArgs& a) {
  i64 pid = i64(i32(a.u(0)));
  u64 options = a.u(2);
  if (options & ~u64(1 | 2 | 8 | 0x01000000 | 0x20000000 | 0x40000000 | 0x80000000)) return -EINVAL;
  int status = 0;
  i64 r = core::wait_child(pid, &status);
  if (r <= 0) return r;
  if (a.u(1) && !put_user(a.u(1), i32(status)).ok()) return -EFAULT;
  if (a.u(3)) {
    u8 zero[144] = {};  // struct rusage: nothing measured per child yet
    if (!copy_to_user(a.u(3), zero, sizeof zero).ok()) return -EFAULT;
  }
  return r;
}

i64 sys_execve(const SysArgs& a) { return do_execve(-100, a.u(0), a.u(1), a.u(2), 0); }
i64 sys_execveat(const SysArgs& a) {
  return do_execve(a.fd(0), a.u(1), a.u(2), a.u(3), a.u(4));
}

i64 sys_setpgid(const SysArgs& a) {
  i64 pid = a.c_int(0), pgid = a.c_int(1);
  if (pgid < 0) return -EINVAL;
  if (pid != 0 && pid != core::g_proc.pid) return -ESRCH;
  core::g_proc.pgid = pgid ? int(pgid) : core::g_proc.pid;
  return 0;
}

i64 sys_setsid(const SysArgs&) {
  if (core::g_proc.pgid == core::g_proc.pid && core::g_proc.pid != 1) return -EPERM;
  core::g_proc.sid = core::g_proc.pgid = core::g_proc.pid;
  return core::g_proc.pid;
}

}  // namespace mote::linux
