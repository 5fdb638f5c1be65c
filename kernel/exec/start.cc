#include "kernel/exec/start.h"

#include "kernel/core/process.h"
#include "kernel/exec/stack.h"
#include "kernel/lib/chacha20.h"
#include "kernel/lib/errno.h"
#include "kernel/platform/platform.h"

namespace mote::exec {

namespace {
constexpr usize kStackWindow = 256 * 1024;  // where argv/envp/auxv may go
}  // namespace

Result<u64> setup_stack(mm::AddressSpace& as, const Loaded& l, u64 stack_size, StrView execfn,
                        const StrView* argv, usize argc, const StrView* envp, usize envc) {
  u64 top = TRY(as.map_stack(stack_size));
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
  };
  StackSpec spec{argv, argc, envp, envc, execfn, "x86_64", random16, aux, sizeof aux / sizeof aux[0]};
  usize window = usize(min<u64>(stack_size, kStackWindow));
  auto sp = build_initial_stack(reinterpret_cast<u8*>(top - window), window, top, spec);
  if (!sp.ok()) return err(E2BIG);
  return sp.value();
}

}  // namespace mote::exec
