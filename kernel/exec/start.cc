#include "kernel/exec/start.h"

#include "kernel/core/process.h"
#include "kernel/exec/stack.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/fs/vfs.h"
#include "kernel/mm/heap.h"
#include "kernel/lib/chacha20.h"
#include "kernel/lib/errno.h"
#include "kernel/platform/platform.h"

namespace mote::exec {

namespace {
constexpr usize kStackWindow = 256 * 1024;  // where argv/envp/auxv may go
constexpr u64 AT_SYSINFO_EHDR = 33;

// The platform's vDSO, if it has one (the VM platform: clock reads without
// a system call): its data page read-only, then its image, both mapped in
// place from one file made once. Returns the image's address, or 0 -- a
// program without a vDSO makes the system calls, so failing here is no
// error.
u64 map_vdso(mm::AddressSpace& as) {
  platform::ImageBytes v = platform::image(platform::Image::Vdso);
  if (!v.data || v.size <= kPageSize) return 0;
  static Ref<fs::Inode>* file;
  if (!file) {
    // Stamped with the boot's time: a clock read now could calibrate the
    // TSC (millions of instructions before the program starts).
    fs::freeze_time(true);
    struct Thaw {
      ~Thaw() { fs::freeze_time(false); }
    } thaw;
    auto root = fs::tmpfs_create(0755);
    if (!root.ok()) return 0;
    auto f = fs::tmpfs_image_file(*root.value(), "vdso", 0555, platform::Image::Vdso, 0, v.size);
    void* m = f.ok() ? mm::kzalloc(sizeof(Ref<fs::Inode>)) : nullptr;
    if (!m) return 0;
    file = new (m) Ref<fs::Inode>(f.value());
  }
  auto at = as.map_file(0, page_up(v.size), platform::kProtRead | platform::kProtExec,
                        mm::Placement::Hint, mm::VmaKind::Image, **file, 0);
  if (!at.ok()) return 0;
  if (!as.protect(at.value(), kPageSize, platform::kProtRead).ok()) return 0;
  return at.value() + kPageSize;
}
}  // namespace

Result<u64> setup_stack(mm::AddressSpace& as, const Loaded& l, u64 stack_size, StrView execfn,
                        const StrView* argv, usize argc, const StrView* envp, usize envc) {
  u64 top = TRY(as.map_stack(stack_size));
  core::g_proc.vdso = map_vdso(as);
  u8 random16[16];
  core::g_rng.fill(random16, sizeof random16);
  AuxEntry aux[] = {
      {AT_PHDR, l.phdr},          {AT_PHENT, sizeof(elf::Phdr)},
      {AT_PHNUM, l.phnum},        {AT_PAGESZ, kPageSize},
      {AT_BASE, l.interp_base},   {AT_FLAGS, 0},
      {AT_ENTRY, l.prog_entry},   {AT_UID, 0},
      {AT_EUID, 0},               {AT_GID, 0},
      {AT_EGID, 0},               {AT_SECURE, 0},
      {AT_HWCAP, platform::hwcap()}, {AT_HWCAP2, platform::hwcap2()},
      {AT_CLKTCK, 100},           {AT_MINSIGSTKSZ, platform::min_signal_stack()},
      // Last: left out (AT_IGNORE, which every reader skips) without a vDSO.
      {core::g_proc.vdso ? AT_SYSINFO_EHDR : 1, core::g_proc.vdso},
  };
  StackSpec spec{argv, argc, envp, envc, execfn, "x86_64", random16, aux, sizeof aux / sizeof aux[0]};
  usize window = usize(min<u64>(stack_size, kStackWindow));
  auto sp = build_initial_stack(reinterpret_cast<u8*>(top - window), window, top, spec);
  if (!sp.ok()) return err(E2BIG);
  return sp.value();
}

}  // namespace mote::exec
