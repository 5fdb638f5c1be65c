// Smaller calls programs make at start-up or for bookkeeping: prctl names,
// groups, scheduler queries, resource usage, times, memfd_create, msync,
// mincore.
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/fd.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

constexpr int kPrSetName = 15, kPrGetName = 16, kPrGetDumpable = 3, kPrSetDumpable = 4;
constexpr int kPrSetPdeathsig = 1, kPrGetPdeathsig = 2, kPrSetNoNewPrivs = 38;
constexpr int kPrGetNoNewPrivs = 39, kPrSetChildSubreaper = 36, kPrSetVma = 0x53564d41;

bool g_no_new_privs = false;
int g_dumpable = 1;

// The anonymous files of memfd_create live in a tmpfs of their own.
Ref<fs::Inode>* g_memfd_root = nullptr;

u64 ticks(u64 ns) { return ns / 10000000ull; }  // USER_HZ = 100

}  // namespace

i64 sys_prctl(const SysArgs& a) {
  switch (int(a.u(0))) {
    case kPrSetName: {
      char name[16];
      for (usize i = 0; i < 16; ++i) {
        if (!get_user(&name[i], a.u(1) + i).ok()) return -EFAULT;
        if (!name[i]) break;
        if (i == 15) name[15] = 0;
      }
      // The main thread's name is the process's (/proc/self/comm).
      core::Thread* t = core::current();
      char* comm = t->tid == core::g_proc.pid ? core::g_proc.comm : t->comm;
      memcpy(comm, name, 16);
      comm[15] = 0;
      return 0;
    }
    case kPrGetName: {
      char name[16] = {};
      core::Thread* t = core::current();
      if (t->tid != core::g_proc.pid && t->comm[0]) {
        memcpy(name, t->comm, 16);
      } else if (core::g_proc.comm[0]) {
        memcpy(name, core::g_proc.comm, 16);
      } else {
        StrView exe = core::g_proc.exe_path;
        usize s = exe.size;
        while (s > 0 && exe.data[s - 1] != '/') --s;
        usize n = min<usize>(exe.size - s, 15);
        memcpy(name, exe.data + s, n);
      }
      return copy_to_user(a.u(1), name, 16).ok() ? 0 : -EFAULT;
    }
    case kPrGetDumpable: return g_dumpable;
    case kPrSetDumpable:
      if (a.u(1) > 1) return -EINVAL;
      g_dumpable = int(a.u(1));
      return 0;
    case kPrSetPdeathsig: return a.u(1) > 64 ? -EINVAL : 0;
    case kPrGetPdeathsig: return put_user(a.u(1), i32(0)).ok() ? 0 : -EFAULT;
    case kPrSetNoNewPrivs:
      if (a.u(1) != 1 || a.u(2) || a.u(3) || a.u(4)) return -EINVAL;
      g_no_new_privs = true;
      return 0;
    case kPrGetNoNewPrivs: return g_no_new_privs ? 1 : 0;
    case kPrSetChildSubreaper: return 0;
    case kPrSetVma: return 0;  // naming anonymous memory: nothing shows it yet
    default: return -EINVAL;
  }
}

const char* thread_name() { return core::g_proc.comm[0] ? core::g_proc.comm : nullptr; }

// Scheduling policies and priorities are recorded per thread and reported
// back; the platform's scheduler treats every thread alike (docs/compat.md).
namespace {
constexpr i64 kSchedOther = 0, kSchedFifo = 1, kSchedRr = 2, kSchedBatch = 3, kSchedIdle = 5;
constexpr i64 kSchedDeadline = 6, kResetOnFork = 0x40000000;

core::Thread* sched_thread(i64 pid) {
  if (pid == 0) return core::current();
  return core::find_thread(int(pid));
}

bool realtime(i64 policy) { return policy == kSchedFifo || policy == kSchedRr; }

i64 set_sched(i64 pid, i64 policy, u64 param_addr) {
  if (pid < 0 || !param_addr) return -EINVAL;
  core::Thread* t = sched_thread(pid);
  if (!t) return -ESRCH;
  i32 prio;
  if (!get_user(&prio, param_addr).ok()) return -EFAULT;
  if (policy < 0) policy = t->sched_policy;  // sched_setparam
  policy &= ~kResetOnFork;
  if (policy == kSchedDeadline) return -EINVAL;
  if (policy != kSchedOther && !realtime(policy) && policy != kSchedBatch && policy != kSchedIdle)
    return -EINVAL;
  if (realtime(policy) ? (prio < 1 || prio > 99) : prio != 0) return -EINVAL;
  t->sched_policy = int(policy);
  t->sched_priority = prio;
  return 0;
}
}  // namespace

i64 sys_sched_getparam(const SysArgs& a) {
  if (a.c_int(0) < 0 || !a.u(1)) return -EINVAL;
  core::Thread* t = sched_thread(a.c_int(0));
  if (!t) return -ESRCH;
  return put_user(a.u(1), i32(t->sched_priority)).ok() ? 0 : -EFAULT;
}

i64 sys_sched_getscheduler(const SysArgs& a) {
  if (a.c_int(0) < 0) return -EINVAL;
  core::Thread* t = sched_thread(a.c_int(0));
  if (!t) return -ESRCH;
  return t->sched_policy;
}

i64 sys_sched_setscheduler(const SysArgs& a) {
  if (a.c_int(1) < 0) return -EINVAL;
  return set_sched(a.c_int(0), a.c_int(1), a.u(2));
}

i64 sys_sched_setparam(const SysArgs& a) { return set_sched(a.c_int(0), -1, a.u(1)); }

i64 sys_sched_get_priority_max(const SysArgs& a) {
  i64 p = a.c_int(0);
  if (realtime(p)) return 99;
  return (p == kSchedOther || p == kSchedBatch || p == kSchedIdle) ? 0 : -EINVAL;
}

i64 sys_sched_get_priority_min(const SysArgs& a) {
  i64 p = a.c_int(0);
  if (realtime(p)) return 1;
  return (p == kSchedOther || p == kSchedBatch || p == kSchedIdle) ? 0 : -EINVAL;
}

i64 sys_sched_rr_get_interval(const SysArgs& a) {
  if (a.c_int(0) < 0) return -EINVAL;
  if (!sched_thread(a.c_int(0))) return -ESRCH;
  i64 ts[2] = {0, 100000000};  // Linux's default SCHED_RR quantum, 100 ms
  return copy_to_user(a.u(1), ts, sizeof ts).ok() ? 0 : -EFAULT;
}

i64 sys_getrusage(const SysArgs& a) {
  i64 who = a.c_int(0);
  if (who != 0 && who != -1 && who != 1) return -EINVAL;  // SELF CHILDREN THREAD
  i64 ru[18] = {};
  if (who != -1) {
    u64 cpu = platform::process_cpu_ns();
    ru[0] = i64(cpu / 1000000000ull);
    ru[1] = i64(cpu % 1000000000ull / 1000);
    ru[4] = i64(core::g_proc.as.charged() >> 10);  // ru_maxrss in KiB
  }
  return copy_to_user(a.u(1), ru, sizeof ru).ok() ? 0 : -EFAULT;
}

i64 sys_times(const SysArgs& a) {
  u64 cpu = ticks(platform::process_cpu_ns());
  if (a.u(0)) {
    i64 t[4] = {i64(cpu), 0, 0, 0};
    if (!copy_to_user(a.u(0), t, sizeof t).ok()) return -EFAULT;
  }
  return i64(ticks(platform::monotonic_ns()));
}

i64 sys_memfd_create(const SysArgs& a) {
  constexpr u64 kCloexec = 1, kAllowSealing = 2, kHugetlb = 4, kNoexec = 8, kExec = 0x10;
  u64 flags = u32(a.u(1));  // unsigned int flags
  if (flags & ~(kCloexec | kAllowSealing | kHugetlb | kNoexec | kExec)) return -EINVAL;
  if (flags & kHugetlb) return -EINVAL;
  char name[250];
  auto n = string_from_user(name, a.u(0), sizeof name);
  if (!n.ok()) return n.error() == ENAMETOOLONG ? -EINVAL : -n.error();
  if (!g_memfd_root) {
    auto root = fs::tmpfs_create(01777);
    if (!root.ok()) return -root.error();
    void* m = mm::kzalloc(sizeof(Ref<fs::Inode>));
    if (!m) return -ENOMEM;
    g_memfd_root = new (m) Ref<fs::Inode>(root.value());
  }
  static u64 seq = 0;
  char entry[32];
  usize k = 0;
  for (u64 v = ++seq; v; v /= 10) entry[k++] = char('0' + v % 10);
  auto node = (*g_memfd_root)->mknod(StrView(entry, k), fs::kIfreg | 0777, 0);
  if (!node.ok()) return -node.error();
  (void)(*g_memfd_root)->unlink(StrView(entry, k));  // anonymous from now on
  auto f = node.value()->open(fs::kORdwr);
  if (!f.ok()) return -f.error();
  return ret(fs::fds().install(f.value(), flags & kCloexec, 0, nofile_limit()));
}

i64 sys_msync(const SysArgs& a) {
  u64 addr = a.u(0), len = a.u(1), flags = a.u(2);
  if (!page_aligned(addr) || (flags & ~u64(7)) || ((flags & 1) && (flags & 4))) return -EINVAL;
  if (!core::g_proc.as.vmas().fully_mapped(addr, addr + page_up(len))) return -ENOMEM;
  // Nothing to write back: shared mappings are the file's own pages, and
  // private ones never reach the file.
  return 0;
}

i64 sys_mincore(const SysArgs& a) {
  u64 addr = a.u(0), len = a.u(1);
  if (!page_aligned(addr)) return -EINVAL;
  u64 pages = page_up(len) / kPageSize;
  if (!core::g_proc.as.vmas().fully_mapped(addr, addr + pages * kPageSize)) return -ENOMEM;
  // Every mapped page counts as resident (there is no swap).
  u8 ones[256];
  memset(ones, 1, sizeof ones);
  for (u64 done = 0; done < pages;) {
    u64 n = min<u64>(sizeof ones, pages - done);
    if (!copy_to_user(a.u(2) + done, ones, n).ok()) return -EFAULT;
    done += n;
  }
  return 0;
}

}  // namespace mote::linux
