// Helpers shared by the file system-call families.
#pragma once

#include "kernel/fs/vfs.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/result.h"

namespace mote::linux {

// RLIMIT_NOFILE's soft limit: fds are below it.
u64 nofile_limit();
// The open file behind fd, or EBADF.
Result<Ref<fs::File>> file_of(int fd);

// A new inode of the anonymous-inode file system (epoll, eventfd, timerfd,
// signalfd), as Linux's anon_inodefs (epoll.cc).
Ref<fs::Inode> anon_inode();

// A file on an anonymous inode that is a counter or a queue rather than a
// stream of bytes (eventfd, timerfd, signalfd): not seekable (positional
// I/O is ESPIPE), lseek a no-op returning 0 (Linux's noop_llseek), pwrite
// EINVAL unless the kind says otherwise, FIONREAD EINVAL.
class AnonFile : public fs::File {
 public:
  AnonFile(Ref<fs::Inode> node, u32 flags) : File(static_cast<Ref<fs::Inode>&&>(node), flags) {}
  bool seekable() const override { return false; }
  Result<u64> seek(i64, int) override { return pos; }
  Result<usize> pwrite(const void*, usize, u64) override { return err(EINVAL); }
  Result<u64> readable_bytes() override { return err(EINVAL); }
};

inline i64 ret(Result<void> r) { return r.ok() ? 0 : -r.error(); }
inline i64 ret(Result<int> r) { return r.ok() ? i64(r.value()) : -r.error(); }

}  // namespace mote::linux
