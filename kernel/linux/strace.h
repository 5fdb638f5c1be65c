// --strace: one line per system call on stderr, decoded like strace(1):
//   write(1, "hello\n", 6) = 6
//   openat(0xffffff9c, 0x4a2f10, 0) = -1 ENOSYS (not implemented)
// Program memory is read through a caller-supplied reader so that the
// formatter is pure and unit-testable.
#pragma once

#include "kernel/lib/format.h"
#include "kernel/linux/syscalls.h"

namespace mote::linux {

// Copies len bytes of program memory at addr into buf; false if unreadable.
using MemReader = bool (*)(u64 addr, void* buf, usize len);

// Formats "name(args) = result" (or "name(args" + " = ?" for Noreturn calls
// formatted before they run, with `ret` ignored).
void format_syscall(TextBuffer& out, u64 nr, const u64 args[6], i64 ret, bool done,
                    MemReader read);

const char* signal_name(int sig);
const char* clock_name(u64 clock);

}  // namespace mote::linux
