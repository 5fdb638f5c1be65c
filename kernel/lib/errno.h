// Linux errno values, from the Linux UAPI headers (linux-libc-dev): the ABI
// reference, identical for the kernel core and the hosted unit tests.
#pragma once

#include <asm-generic/errno.h>

namespace mote {
// The name of an errno value ("ENOENT"), or nullptr when unknown.
const char* errno_name(int e);
}  // namespace mote
