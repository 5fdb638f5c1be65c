// The one choke point for program pointers handed to system calls. Every read
// or write of program memory by a syscall handler goes through these: the
// range must lie inside the program's VMAs with the needed protection, else
// the call fails with EFAULT, as on Linux.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::linux {

bool user_readable(u64 addr, usize len);
bool user_writable(u64 addr, usize len);

Result<void> copy_from_user(void* dst, u64 src, usize len);
Result<void> copy_to_user(u64 dst, const void* src, usize len);
// Copies a NUL-terminated string of at most cap-1 bytes; ENAMETOOLONG when
// longer, EFAULT when unreadable. Returns the length.
Result<usize> string_from_user(char* dst, u64 src, usize cap);

template <typename T>
Result<void> put_user(u64 dst, const T& v) { return copy_to_user(dst, &v, sizeof v); }
template <typename T>
Result<void> get_user(T* v, u64 src) { return copy_from_user(v, src, sizeof *v); }

}  // namespace mote::linux
