// The monitor's own seccomp-bpf allowlists (docs/security.md): the processes
// that serve the guest from outside it -- the 9P share server, mote-net, the
// KVM run loop -- drop to the few host calls their loop needs once setup is
// done. The process platform's core has its own, stricter filter
// (kernel/platform/process/sandbox.cc).
//
// A call outside the list is never performed: the filter traps it
// (SECCOMP_RET_TRAP), and the SIGSYS handler prints
//   mote: monitor sandbox: forbidden system call 59 (execve) in the share server
// and exits with kForbiddenStatus. Should the signal be blocked or its
// handler replaced, the kernel still refuses the call (a blocked SIGSYS is
// forced and kills the process).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mote::sandbox {

// 128 + SIGSYS: what a shell reports for a process killed by SIGSYS, and
// what the monitor's process exits with when its filter stops a call.
inline constexpr int kForbiddenStatus = 159;

// One argument test: (low 32 bits of args[arg]) & mask is one of `values`.
// The low word is what the kernel reads of every int argument tested here
// (fds, ioctl commands, flags, pids).
struct ArgIs {
  int arg = 0;
  std::vector<uint32_t> values;
  uint32_t mask = ~0u;
};

// A system call the process may make, when every test in `args` holds. The
// same call may appear in several rules (any one admits it).
struct Allow {
  int nr = 0;
  std::vector<ArgIs> args;
};

struct Policy {
  std::string who;  // "the share server": for the message
  std::vector<Allow> rules;
  // Distinct system calls admitted (the figure docs/security.md gives).
  size_t distinct_calls() const;
};

// The classic-BPF program: x86-64 only (any other arch is killed outright),
// each rule in order, then SECCOMP_RET_TRAP.
std::vector<sock_filter> compile(const Policy& p);

// Sets no_new_privs, the SIGSYS handler and the filter on every thread of
// the process (SECCOMP_FILTER_FLAG_TSYNC). False with a one-line reason.
bool install(const Policy& p, std::string* error);

// The --no-sandbox warning, on stderr.
void warn_unsandboxed();

// Tests only: when MOTE_TEST_SANDBOX_ESCAPE names `tag` ("share", "net",
// "kvm"), makes a call a compromised server would: execve("/bin/true").
// Under the filter this ends the process with the message; without it the
// process becomes /bin/true (which the test sees as the escape it is).
void test_escape_if_asked(const char* tag);

// "execve" for 59, nullptr when the table does not know the number.
const char* syscall_name(long nr);

}  // namespace mote::sandbox
