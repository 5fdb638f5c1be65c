// uname, sysinfo, resource limits, CPU affinity and sched_yield.
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

// The kernel release programs see. glibc and others compare versions, so it
// names the Linux ABI level the core implements.
constexpr const char* kRelease = "6.1.0-mote";
constexpr const char* kVersion = "#1 SMP mote unikernel";

struct Utsname {
  char f[6][65];  // sysname nodename release version machine domainname
};

struct Sysinfo {
  i64 uptime;
  u64 loads[3];
  u64 totalram, freeram, sharedram, bufferram, totalswap, freeswap;
  u16 procs, pad;
  u32 pad2;
  u64 totalhigh, freehigh;
  u32 mem_unit;
  char reserved[4];
};
static_assert(sizeof(Sysinfo) == 112);

void put_field(char* dst, StrView s) {
  usize n = min<usize>(s.size, 64);
  memcpy(dst, s.data, n);
  dst[n] = 0;
}

i64 get_limit(int res, u64 dst) {
  if (res < 0 || res >= core::kNumRlimits) return -EINVAL;
  return put_user(dst, core::g_proc.rlimits[res]).ok() ? 0 : -EFAULT;
}

i64 set_limit(int res, u64 src) {
  if (res < 0 || res >= core::kNumRlimits) return -EINVAL;
  core::Rlimit r;
  if (!get_user(&r, src).ok()) return -EFAULT;
  if (r.cur > r.max) return -EINVAL;
  if (res == 7 /*RLIMIT_NOFILE*/ && r.max > (1u << 20)) return -EPERM;  // fs.nr_open
  core::g_proc.rlimits[res] = r;  // recorded; the program runs as root
  return 0;
}

bool self(i64 pid) { return pid == 0 || pid == core::g_proc.pid || core::find_thread(int(pid)); }

u64 all_cpus() {
  u32 cpus = platform::cpu_count();
  return cpus >= 64 ? ~u64(0) : (u64(1) << cpus) - 1;
}

// The thread a scheduler call names (0: the caller).
core::Thread* sched_target(i64 pid) {
  if (pid == 0) return core::current();
  return core::find_thread(int(pid));
}

}  // namespace

i64 sys_uname(const SysArgs& a) {
  Utsname u{};
  put_field(u.f[0], "Linux");
  put_field(u.f[1], core::g_proc.hostname);
  put_field(u.f[2], kRelease);
  put_field(u.f[3], kVersion);
  put_field(u.f[4], "x86_64");
  put_field(u.f[5], "(none)");
  return put_user(a.u(0), u).ok() ? 0 : -EFAULT;
}

i64 sys_sysinfo(const SysArgs& a) {
  Sysinfo s{};
  s.uptime = i64(platform::monotonic_ns() / 1000000000ull);  // the clock starts at boot
  s.totalram = core::g_proc.as.limit();
  s.freeram = core::g_proc.as.limit() - core::g_proc.as.charged();
  s.procs = 1;
  s.mem_unit = 1;
  return put_user(a.u(0), s).ok() ? 0 : -EFAULT;
}

i64 sys_getrlimit(const SysArgs& a) { return get_limit(int(a.u(0)), a.u(1)); }
i64 sys_setrlimit(const SysArgs& a) { return set_limit(int(a.u(0)), a.u(1)); }

i64 sys_prlimit64(const SysArgs& a) {
  if (!self(a.c_int(0))) return -ESRCH;
  int res = int(a.u(1));
  if (res < 0 || res >= core::kNumRlimits) return -EINVAL;
  core::Rlimit old = core::g_proc.rlimits[res];
  if (a.u(2)) {
    i64 r = set_limit(res, a.u(2));
    if (r) return r;
  }
  if (a.u(3) && !put_user(a.u(3), old).ok()) return -EFAULT;
  return 0;
}

i64 sys_sched_getaffinity(const SysArgs& a) {
  if (!self(a.c_int(0))) return -ESRCH;
  u64 len = a.u(1);
  if (len < 8 || (len & 7)) return -EINVAL;
  core::Thread* t = sched_target(a.c_int(0));
  u64 mask = t && t->affinity ? t->affinity : all_cpus();
  return put_user(a.u(2), mask).ok() ? 8 : -EFAULT;
}

i64 sys_sched_yield(const SysArgs&) {
  platform::yield();
  return 0;
}

i64 sys_getcpu(const SysArgs& a) {
  u32 cpu = platform::current_cpu();
  if (a.u(0) && !put_user(a.u(0), cpu).ok()) return -EFAULT;
  if (a.u(1) && !put_user(a.u(1), u32(0)).ok()) return -EFAULT;  // one NUMA node
  return 0;
}

// A mask must leave at least one of the unikernel's CPUs. The calling
// thread is moved at once (platform::set_affinity); another thread's mask is
// recorded and reported, and applies when the platform next places it.
i64 sys_sched_setaffinity(const SysArgs& a) {
  if (!self(a.c_int(0))) return -ESRCH;
  u64 len = a.u(1);
  if (len < 8) return -EINVAL;
  u64 mask;
  if (!get_user(&mask, a.u(2)).ok()) return -EFAULT;
  mask &= all_cpus();
  if (!mask) return -EINVAL;
  core::Thread* t = sched_target(a.c_int(0));
  if (!t) return -ESRCH;
  t->affinity = mask == all_cpus() ? 0 : mask;
  if (t == core::current()) {
    auto r = platform::set_affinity(mask);
    if (!r.ok()) return -r.error();
  }
  return 0;
}

}  // namespace mote::linux
