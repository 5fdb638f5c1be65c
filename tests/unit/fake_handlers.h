// Test doubles for the syscall handlers that kernel/linux/table.cc refers to:
// every sys_<name> of MOTE_SYSCALLS returns fake_handler_result(__NR_<name>),
// so a test can tell which handler the table put at which number.
#pragma once

#include "kernel/lib/types.h"

namespace mote::test {
constexpr i64 kFakeHandlerBase = 0x7e570000;
constexpr i64 fake_handler_result(u64 nr) { return kFakeHandlerBase + i64(nr); }
}  // namespace mote::test
