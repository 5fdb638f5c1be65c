// The monitor's seccomp-bpf allowlists: compiling a Policy, installing it,
// reporting a forbidden call (seccomp.h).
#include "monitor/util/seccomp.h"

#include <asm/unistd_64.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

namespace mote::sandbox {

namespace {

// seccomp_data (linux/seccomp.h): nr, arch, instruction_pointer, args[6].
constexpr uint32_t kOffNr = offsetof(seccomp_data, nr);
constexpr uint32_t kOffArch = offsetof(seccomp_data, arch);
constexpr uint32_t arg_lo(int i) { return uint32_t(offsetof(seccomp_data, args) + 8 * size_t(i)); }

sock_filter stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

// Names for the message: the calls a policy admits and the ones an attacker
// would reach for first. Others print as their number only.
#define MOTE_SYSCALL_NAMES(X)                                                                 \
  X(read) X(write) X(open) X(close) X(stat) X(fstat) X(lstat) X(poll) X(lseek) X(mmap)        \
  X(mprotect) X(munmap) X(brk) X(rt_sigaction) X(rt_sigprocmask) X(rt_sigreturn) X(ioctl)     \
  X(pread64) X(pwrite64) X(readv) X(writev) X(access) X(pipe) X(select) X(sched_yield)        \
  X(mremap) X(madvise) X(dup) X(dup2) X(nanosleep) X(getpid) X(sendfile) X(socket)            \
  X(connect) X(accept) X(sendto) X(recvfrom) X(sendmsg) X(recvmsg) X(shutdown) X(bind)        \
  X(listen) X(getsockname) X(getpeername) X(socketpair) X(setsockopt) X(getsockopt) X(clone)  \
  X(fork) X(vfork) X(execve) X(exit) X(wait4) X(kill) X(uname) X(fcntl) X(flock) X(fsync)     \
  X(truncate) X(ftruncate) X(getdents) X(chdir) X(fchdir) X(rename) X(mkdir) X(rmdir)         \
  X(link) X(unlink) X(symlink) X(readlink) X(chmod) X(fchmod) X(chown) X(fchown) X(umask)     \
  X(ptrace) X(getuid) X(setuid) X(setgid) X(setsid) X(fstatfs) X(prctl) X(arch_prctl)        \
  X(chroot) X(mount) X(umount2) X(reboot) X(init_module) X(gettid) X(futex) X(getdents64)    \
  X(clock_gettime) X(clock_nanosleep) X(exit_group) X(tgkill) X(openat) X(mkdirat)           \
  X(mknodat) X(fchownat) X(newfstatat) X(unlinkat) X(renameat) X(linkat) X(symlinkat)        \
  X(readlinkat) X(fchmodat) X(ppoll) X(utimensat) X(accept4) X(eventfd2) X(epoll_create1)    \
  X(pipe2) X(prlimit64) X(sendmmsg) X(recvmmsg) X(getrandom) X(memfd_create) X(bpf)          \
  X(execveat) X(renameat2) X(seccomp) X(process_vm_readv) X(process_vm_writev) X(pidfd_open) \
  X(clone3) X(openat2) X(io_uring_setup) X(io_uring_enter) X(rseq) X(statx) X(epoll_wait)    \
  X(epoll_ctl) X(epoll_pwait) X(set_robust_list) X(sysinfo) X(getcpu)

struct Name {
  long nr;
  const char* name;
};
#define MOTE_NAME_ROW(n) Name{__NR_##n, #n},
constexpr Name kNames[] = {MOTE_SYSCALL_NAMES(MOTE_NAME_ROW)};
#undef MOTE_NAME_ROW

// What the SIGSYS handler prints: fixed before the filter goes in.
char g_who[64];

void put(char* buf, size_t cap, size_t* n, const char* s) {
  while (*s && *n + 1 < cap) buf[(*n)++] = *s++;
}

// Async-signal-safe: formats into a stack buffer, one write, exit_group.
void on_sigsys(int, siginfo_t* si, void*) {
  char buf[192];
  size_t n = 0;
  put(buf, sizeof buf, &n, "mote: monitor sandbox: forbidden system call ");
  char digits[24];
  int d = 0;
  unsigned long nr = unsigned(si->si_syscall);
  do digits[d++] = char('0' + nr % 10);
  while ((nr /= 10) && d < 23);
  while (d && n + 1 < sizeof buf) buf[n++] = digits[--d];
  if (const char* name = syscall_name(si->si_syscall)) {
    put(buf, sizeof buf, &n, " (");
    put(buf, sizeof buf, &n, name);
    put(buf, sizeof buf, &n, ")");
  }
  put(buf, sizeof buf, &n, " in ");
  put(buf, sizeof buf, &n, g_who);
  buf[n++] = '\n';
  ssize_t w = ::write(2, buf, n);
  (void)w;
  _exit(kForbiddenStatus);
}

}  // namespace

const char* syscall_name(long nr) {
  for (const Name& n : kNames)
    if (n.nr == nr) return n.name;
  return nullptr;
}

size_t Policy::distinct_calls() const {
  std::set<int> nrs;
  for (const Allow& a : rules) nrs.insert(a.nr);
  return nrs.size();
}

// Per rule with no tests: JEQ nr ? 0 : 1, RET ALLOW. With tests:
//   JEQ nr ? 0 : <past the block>
//   for each test: LD args[i]; [AND mask]; JEQ v1 ? next : 0 ... JEQ vn ? next : fail
//   fail:  LD nr; JA +1      (on to the next rule)
//   allow: RET ALLOW
// Every jump is local to its rule, so no offset nears BPF's 255 limit.
std::vector<sock_filter> compile(const Policy& p) {
  std::vector<sock_filter> f;
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kOffArch));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kOffNr));
  for (const Allow& a : p.rules) {
    bool never = false;
    size_t block = 3;  // fail (2) + allow (1)
    for (const ArgIs& t : a.args) {
      never = never || t.values.empty();
      block += 1 + (t.mask != ~0u) + t.values.size();
    }
    if (never) continue;
    if (a.args.empty()) {
      f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, uint32_t(a.nr), 0, 1));
      f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
      continue;
    }
    if (block > 255) return {};
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, uint32_t(a.nr), 0, uint8_t(block)));
    const size_t start = f.size(), fail = start + block - 3, allow = start + block - 1;
    for (size_t k = 0; k < a.args.size(); ++k) {
      const ArgIs& t = a.args[k];
      f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, arg_lo(t.arg)));
      if (t.mask != ~0u) f.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, t.mask));
      const size_t next = f.size() + t.values.size();  // the next test, or `fail` after the last
      const size_t pass = k + 1 < a.args.size() ? next : allow;
      for (size_t v = 0; v < t.values.size(); ++v) {
        const size_t at = f.size();
        const bool last = v + 1 == t.values.size();
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, t.values[v], uint8_t(pass - at - 1),
                         uint8_t(last ? fail - at - 1 : 0)));
      }
    }
    f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kOffNr));
    f.push_back(jump(BPF_JMP | BPF_JA, 1, 0, 0));
    f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  }
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
  return f;
}

bool install(const Policy& p, std::string* error) {
  std::vector<sock_filter> f = compile(p);
  if (f.empty() || f.size() > BPF_MAXINSNS) {
    *error = "monitor sandbox: the filter for " + p.who + " does not compile";
    return false;
  }
  snprintf(g_who, sizeof g_who, "%s", p.who.c_str());
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigset_t sys;
  sigemptyset(&sys);
  sigaddset(&sys, SIGSYS);
  if (sigaction(SIGSYS, &sa, nullptr) != 0 || sigprocmask(SIG_UNBLOCK, &sys, nullptr) != 0) {
    *error = std::string("monitor sandbox: SIGSYS handler: ") + strerror(errno);
    return false;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *error = std::string("monitor sandbox: PR_SET_NO_NEW_PRIVS: ") + strerror(errno);
    return false;
  }
  sock_fprog prog{uint16_t(f.size()), f.data()};
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (r != 0) {
    *error = r > 0 ? "monitor sandbox: thread " + std::to_string(r) + " could not take the filter"
                   : std::string("monitor sandbox: seccomp: ") + strerror(errno);
    return false;
  }
  return true;
}

void warn_unsandboxed() {
  static bool said = false;  // one line per run, however many processes it concerns
  if (said) return;
  said = true;
  std::fputs("mote: warning: --no-sandbox: the monitor runs without its seccomp filter\n", stderr);
}

void test_escape_if_asked(const char* tag) {
  const char* want = getenv("MOTE_TEST_SANDBOX_ESCAPE");
  if (!want || strcmp(want, tag) != 0) return;
  const char* argv[] = {"true", nullptr};
  const char* envp[] = {nullptr};
  syscall(SYS_execve, "/bin/true", argv, envp);
}

}  // namespace mote::sandbox
