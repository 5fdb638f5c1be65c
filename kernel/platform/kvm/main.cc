// The VM platform's C++ entry: console, descriptor tables, then either the
// kernel self-tests or the program. Running programs on this platform (the
// core on page tables, LSTAR entry, the program from the initramfs) is the
// next step of issue 3; until then the kernel says so and exits 125.
#include "abi/boot_info.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/pvh.h"
#include "kernel/platform/kvm/selftest.h"
#include "kernel/platform/kvm/traps.h"

using namespace mote;
using namespace mote::kvm;

namespace {

constexpr u32 kMoteMagic = 0x45544f4d;  // "MOTE" in %rsi: direct entry by mote's monitor

bool has_word(const char* cmdline, const char* word) {
  usize n = strlen(word);
  for (const char* p = cmdline; *p;) {
    while (*p == ' ') ++p;
    const char* start = p;
    while (*p && *p != ' ') ++p;
    if (usize(p - start) == n && memcmp(start, word, n) == 0) return true;
  }
  return false;
}

}  // namespace

extern "C" [[noreturn]] void mote_kernel_main(u64 info_phys, u64 magic) {
  bool selftest = false;
  if (u32(magic) == kMoteMagic) {
    console_init(Host::MoteMonitor);
    auto* b = reinterpret_cast<const abi::BootInfo*>(info_phys);  // identity-mapped
    kprintf("mote kernel: entered by the mote monitor (%lu MiB RAM)\n",
            (unsigned long)(b->ram_bytes >> 20));
    selftest = b->flags & abi::kBootSelftestKernel;
  } else {
    console_init(Host::Pvh);
    auto* si = reinterpret_cast<const HvmStartInfo*>(info_phys);
    if (si->magic != kHvmStartMagic) {
      kprintf("mote kernel: no PVH start info (magic %#x)\n", si->magic);
      vm_exit(125);
    }
    const char* cmdline = si->cmdline_paddr ? reinterpret_cast<const char*>(si->cmdline_paddr) : "";
    u64 ram = 0;
    if (si->version >= 1 && si->memmap_paddr) {
      auto* mm = reinterpret_cast<const HvmMemmapEntry*>(si->memmap_paddr);
      for (u32 i = 0; i < si->memmap_entries; ++i)
        if (mm[i].type == 1) ram += mm[i].size;
    }
    kprintf("mote kernel: PVH boot (%lu MiB RAM, %u modules, cmdline \"%s\")\n",
            (unsigned long)(ram >> 20), si->nr_modules, cmdline);
    selftest = has_word(cmdline, "selftest");
  }
  traps_init();
  if (selftest) vm_exit(run_selftests() ? 1 : 0);
  kprintf("mote: running programs on the VM platform is not implemented yet "
          "(use --platform process)\n");
  vm_exit(125);
}
