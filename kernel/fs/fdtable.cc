#include "kernel/fs/fdtable.h"

#include "kernel/lib/errno.h"

namespace mote::fs {

namespace {
FdTable* g_fds = nullptr;
}  // namespace

FdTable& fds() { return *g_fds; }

Result<void> init_fdtable() {
  void* m = mm::kzalloc(sizeof(FdTable));
  if (!m) return err(ENOMEM);
  g_fds = new (m) FdTable();
  return ok();
}

Result<FdTable*> clone_fdtable(const FdTable& t) {
  void* m = mm::kzalloc(sizeof(FdTable));
  if (!m) return err(ENOMEM);
  auto* c = new (m) FdTable();
  for (const auto& s : t.slots_) {
    auto r = c->slots_.push(FdTable::Slot{s.file, s.cloexec});
    if (!r.ok()) {
      destroy_fdtable(c);
      return err(ENOMEM);
    }
  }
  return c;
}

FdTable* swap_fdtable(FdTable* t) {
  FdTable* old = g_fds;
  g_fds = t;
  return old;
}

void destroy_fdtable(FdTable* t) {
  if (!t) return;
  t->~FdTable();
  mm::kfree(t);
}

Ref<File> FdTable::get(int fd) const {
  if (fd < 0 || usize(fd) >= slots_.size()) return Ref<File>();
  return slots_[usize(fd)].file;
}

Result<int> FdTable::install(Ref<File> f, bool cloexec, int min_fd, u64 limit) {
  if (min_fd < 0) return err(EINVAL);
  usize fd = usize(min_fd);
  while (fd < slots_.size() && slots_[fd].file) ++fd;
  if (fd >= limit) return err(EMFILE);
  while (slots_.size() <= fd) TRY(slots_.push(Slot{Ref<File>(), false}));
  slots_[fd] = Slot{static_cast<Ref<File>&&>(f), cloexec};
  return int(fd);
}

Result<int> FdTable::install_at(int fd, Ref<File> f, bool cloexec, u64 limit) {
  if (fd < 0 || u64(fd) >= limit) return err(EBADF);
  while (slots_.size() <= usize(fd)) TRY(slots_.push(Slot{Ref<File>(), false}));
  // The old file is released after the slot is updated (its destructor may
  // look at the table).
  Ref<File> old = static_cast<Ref<File>&&>(slots_[usize(fd)].file);
  slots_[usize(fd)] = Slot{static_cast<Ref<File>&&>(f), cloexec};
  return fd;
}

Result<void> FdTable::close(int fd) {
  if (fd < 0 || usize(fd) >= slots_.size() || !slots_[usize(fd)].file) return err(EBADF);
  Ref<File> old = static_cast<Ref<File>&&>(slots_[usize(fd)].file);
  slots_[usize(fd)].cloexec = false;
  while (!slots_.empty() && !slots_[slots_.size() - 1].file) slots_.pop();
  return ok();
}

bool FdTable::cloexec(int fd) const {
  return fd >= 0 && usize(fd) < slots_.size() && slots_[usize(fd)].cloexec;
}

void FdTable::set_cloexec(int fd, bool on) {
  if (fd >= 0 && usize(fd) < slots_.size() && slots_[usize(fd)].file) slots_[usize(fd)].cloexec = on;
}

}  // namespace mote::fs
