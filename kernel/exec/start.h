// The main thread's stack for a loaded program: mapped below the mmap
// ceiling and filled with argc, argv, envp and the auxiliary vector, as
// Linux's exec does. Shared by boot and execve.
#pragma once

#include "kernel/exec/loader.h"

namespace mote::exec {

// ENOMEM when the stack cannot be mapped, E2BIG when the strings do not fit.
Result<u64> setup_stack(mm::AddressSpace& as, const Loaded& l, u64 stack_size, StrView execfn,
                        const StrView* argv, usize argc, const StrView* envp, usize envc);

}  // namespace mote::exec
