// The syscall descriptor table, derived from MOTE_SYSCALLS and the generated
// name list. Pure data: linked into the kernel and into the host unit tests.
#include "kernel/linux/syscalls.h"

namespace mote::linux {
namespace {

struct Table {
  SyscallDesc d[kMaxSyscall];
};

template <typename... A>
constexpr SyscallDesc row(const char* name, Handler h, Arg ret, A... a) {
  static_assert(sizeof...(a) <= 6);
  return SyscallDesc{name, h, ret, u8(sizeof...(a)), {a...}};
}

constexpr Table make_table() {
  Table t{};
#define NAME(nr, s) t.d[nr].name = s;
#include "syscall_names.inc"
#undef NAME
  using enum Arg;
#define ROW(name, ret, ...)                \
  static_assert(__NR_##name < kMaxSyscall); \
  t.d[__NR_##name] = row(#name, sys_##name, ret __VA_OPT__(, ) __VA_ARGS__);
  MOTE_SYSCALLS(ROW)
#undef ROW
  return t;
}

constinit const Table g_table = make_table();

}  // namespace

const SyscallDesc* const g_syscall_table = g_table.d;
constinit const SyscallDesc g_no_such_syscall{nullptr, nullptr, Arg::Errno, 0, {}};

}  // namespace mote::linux
