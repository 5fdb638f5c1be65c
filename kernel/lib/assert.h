// Kernel invariants: MOTE_ASSERT(cond) stops the whole run when cond is
// false, naming the condition and its file:line ("mote: internal error:
// assertion failed: ... (kernel/mm/vma.cc:42)" on the process platform, a
// kernel panic on the VM platforms; status 70). For states that can only
// come from a kernel bug, never for anything the program or the host controls.
#pragma once

namespace mote {

[[noreturn]] void assert_failed(const char* expr, const char* file, int line);

}  // namespace mote

#define MOTE_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::mote::assert_failed(#cond, __FILE__, __LINE__))
