// The fake handlers (see fake_handlers.h), generated from the syscall list.
#include "tests/unit/fake_handlers.h"

#include "kernel/linux/syscalls.h"

namespace mote::linux {

#define MOTE_FAKE_HANDLER(name, ...)                                \
  i64 sys_##name(const SysArgs&) { return test::fake_handler_result(__NR_##name); }
MOTE_SYSCALLS(MOTE_FAKE_HANDLER)
#undef MOTE_FAKE_HANDLER

}  // namespace mote::linux
