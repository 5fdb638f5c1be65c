// The process's file descriptor table: fd -> (open file, FD_CLOEXEC).
// Lowest free descriptor first, as POSIX requires; bounded by RLIMIT_NOFILE.
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

class FdTable {
 public:
  // The open file behind fd, or a null Ref (EBADF for the caller).
  Ref<File> get(int fd) const;
  // Installs at the lowest free fd >= min_fd below `limit`; EMFILE if none.
  Result<int> install(Ref<File> f, bool cloexec, int min_fd, u64 limit);
  // Installs at exactly fd, closing what was there (dup2/dup3).
  Result<int> install_at(int fd, Ref<File> f, bool cloexec, u64 limit);
  Result<void> close(int fd);
  bool cloexec(int fd) const;
  void set_cloexec(int fd, bool on);
  // One past the highest open fd.
  int end() const { return int(slots_.size()); }

 private:
  friend Result<FdTable*> clone_fdtable(const FdTable& t);
  struct Slot {
    Ref<File> file;
    bool cloexec;
  };
  Vec<Slot> slots_;
};

FdTable& fds();
Result<void> init_fdtable();
// fork: a copy referring to the same open files; the current table swapped
// for another (returns the old one); a table and its references released.
Result<FdTable*> clone_fdtable(const FdTable& t);
FdTable* swap_fdtable(FdTable* t);
void destroy_fdtable(FdTable* t);

}  // namespace mote::fs
