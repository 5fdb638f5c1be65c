// Helpers shared by the file system-call families.
#pragma once

#include "kernel/fs/vfs.h"
#include "kernel/lib/result.h"

namespace mote::linux {

// RLIMIT_NOFILE's soft limit: fds are below it.
u64 nofile_limit();
// The open file behind fd, or EBADF.
Result<Ref<fs::File>> file_of(int fd);

// A new inode of the anonymous-inode file system (epoll, eventfd, timerfd,
// signalfd), as Linux's anon_inodefs (epoll.cc).
Ref<fs::Inode> anon_inode();

inline i64 ret(Result<void> r) { return r.ok() ? 0 : -r.error(); }
inline i64 ret(Result<int> r) { return r.ok() ? i64(r.value()) : -r.error(); }

}  // namespace mote::linux
