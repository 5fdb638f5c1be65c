// The VM platform's C++ entry: console, descriptor tables, memory, clock,
// timer, then the kernel self-tests or the core with the program.
#include "abi/boot_info.h"
#include "abi/pack.h"
#include "kernel/core/process.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/clock.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/cpu.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/pvh.h"
#include "kernel/platform/kvm/selftest.h"
#include "kernel/platform/kvm/ioapic.h"
#include "kernel/platform/kvm/net_virtio.h"
#include "kernel/platform/kvm/traps.h"
#include "kernel/platform/kvm/vm.h"

extern "C" char __kernel_end[];

// Filled in by `mote pack` (abi/pack.h): the program built into the image.
extern "C" {
[[gnu::section(".mote_pack"), gnu::used]] mote::abi::PackDescriptor mote_pack = {};
}

using namespace mote;
using namespace mote::kvm;

namespace {

constexpr u32 kMoteMagic = 0x45544f4d;  // "MOTE" in %rsi: direct entry by mote's monitor
constexpr u64 kLowMemory = 0x100000;    // 1 MiB: the kernel image starts here

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

// `crashtest` on the command line: a kernel fault on purpose, two calls deep,
// to check the exception report and its symbolized backtrace.
[[gnu::noinline]] void crash_inner(volatile u64* p) { *p = 1; }
[[gnu::noinline]] void crash_outer() {
  crash_inner(reinterpret_cast<volatile u64*>(0xffff900000000000ull));
  asm volatile("" ::: "memory");  // keep the frame
}

struct Ranges {
  RamRange r[32];
  usize n = 0;
  void add(u64 s, u64 e) {
    if (e > s && n < 32) r[n++] = RamRange{page_down(s), page_up(e)};
  }
};

}  // namespace

extern "C" [[noreturn]] void mote_kernel_main(u64 info_phys, u64 magic) {
  Ranges ram, used;
  used.add(kLowMemory, virt_to_phys(__kernel_end));
  bool selftest = false;
  bool net_selftest_word = false;  // `selftest-net`: net_virtio.h, once memory is up
  bool mem_selftest_word = false;  // `selftest-mem`: selftest.h, once memory is up
  u64 ram_bytes = 0, tsc_khz = 0, wall_ns = 0;
  g_vm.host = u32(magic) == kMoteMagic ? Host::MoteMonitor : Host::Pvh;
  console_init(g_vm.host);
  if (g_vm.host == Host::MoteMonitor) {
    // Low addresses are identity-mapped until memory_init.
    auto* b = reinterpret_cast<const abi::BootInfo*>(info_phys);
    if (!abi::boot_info_ok(b, b->total_size) || b->ram_bytes == 0) {
      kprintf("mote kernel: malformed boot info from the monitor\n");
      vm_exit(125);
    }
    selftest = b->flags & abi::kBootSelftestKernel;
    ram_bytes = b->ram_bytes;
    tsc_khz = b->tsc_khz;
    wall_ns = b->wall_clock_ns;
    ram.add(kLowMemory, ram_bytes);
    used.add(info_phys, info_phys + b->total_size);
    used.add(b->program_gpa, b->program_gpa + b->program_size);
    used.add(b->initramfs_gpa, b->initramfs_gpa + b->initramfs_size);
  } else {
    auto* si = reinterpret_cast<const HvmStartInfo*>(info_phys);
    if (si->magic != kHvmStartMagic) {
      kprintf("mote kernel: no PVH start info (magic %#x)\n", si->magic);
      vm_exit(125);
    }
    const char* cmdline = si->cmdline_paddr ? reinterpret_cast<const char*>(si->cmdline_paddr) : "";
    selftest = has_word(cmdline, "selftest");
    net_selftest_word = has_word(cmdline, "selftest-net");
    mem_selftest_word = has_word(cmdline, "selftest-mem");
    g_selftest_rsdp = si->rsdp_paddr;
    for (u32 n = 2; n <= 64; ++n) {
      char w[12];
      format(w, sizeof w, "cpus=%u", n);
      if (has_word(cmdline, w)) g_selftest_cpus = n;
    }
    // `hangtest` (--selftest hang): a guest that never stops by itself, for
    // the monitor's --timeout.
    if (has_word(cmdline, "hangtest"))
      for (;;) asm volatile("cli; hlt");
    // `tripletest` (--selftest triple): a breakpoint with an empty IDT is a
    // fault in delivering a fault: a triple fault, for the monitor to report.
    if (has_word(cmdline, "tripletest")) {
      struct [[gnu::packed]] {
        u16 limit;
        u64 base;
      } empty{0, 0};
      asm volatile("lidt %0; int3" ::"m"(empty));
    }
    if (has_word(cmdline, "crashtest")) {
      traps_init();
      crash_outer();
    }
    if (si->version >= 1 && si->memmap_paddr) {
      auto* mm = reinterpret_cast<const HvmMemmapEntry*>(si->memmap_paddr);
      for (u32 i = 0; i < si->memmap_entries; ++i) {
        if (mm[i].type != 1) continue;
        // RAM below 1 MiB is used too (every page counts in a 2 MiB VM),
        // except page 0 and what the start info points at (marked used).
        u64 s = max<u64>(mm[i].addr, kPageSize), e = mm[i].addr + mm[i].size;
        ram.add(s, e);
        ram_bytes += mm[i].size;
      }
      used.add(si->memmap_paddr, si->memmap_paddr + si->memmap_entries * sizeof(HvmMemmapEntry));
    }
    used.add(info_phys, info_phys + sizeof(HvmStartInfo));
    used.add(0x8000, 0x9000);  // the application processors' trampoline (smp.cc)
    if (si->cmdline_paddr) used.add(si->cmdline_paddr, si->cmdline_paddr + strlen(cmdline) + 1);
    if (si->modlist_paddr)
      used.add(si->modlist_paddr, si->modlist_paddr + si->nr_modules * sizeof(HvmModlistEntry));
    if (mote_pack.magic == abi::kPackMagic) {
      used.add(mote_pack.program_phys, mote_pack.program_phys + mote_pack.program_size);
      used.add(mote_pack.initramfs_phys, mote_pack.initramfs_phys + mote_pack.initramfs_size);
    }
    auto* mods = reinterpret_cast<const HvmModlistEntry*>(si->modlist_paddr);
    for (u32 i = 0; i < si->nr_modules && si->modlist_paddr; ++i)
      used.add(mods[i].paddr, mods[i].paddr + mods[i].size);
    if (selftest)
      kprintf("mote kernel: PVH boot (%lu MiB RAM, %u modules, cmdline \"%s\")\n",
              (unsigned long)(ram_bytes >> 20), si->nr_modules, cmdline);
  }
  traps_init();
  cpu_init_bsp();
  if (selftest) {
    if (g_vm.host == Host::MoteMonitor)
      kprintf("mote kernel: entered by the mote monitor (%lu MiB RAM)\n",
              (unsigned long)(ram_bytes >> 20));
    vm_exit(run_selftests() ? 1 : 0);
  }

  memory_init(ram.r, ram.n, used.r, used.n);  // from here on, no identity map
  clock_init(tsc_khz, wall_ns);
  lapic_init();
  // Device interrupt lines (QEMU microvm's I/O APICs, or the one at
  // 0xfec00000 of mote's monitor, which has no ACPI); before any driver.
  ioapic_init(g_vm.host == Host::Pvh ? g_selftest_rsdp : 0);
  if (net_selftest_word) vm_exit(net_selftest() ? 1 : 0);
  if (mem_selftest_word) vm_exit(run_memory_selftests() ? 1 : 0);
  if (g_vm.host == Host::MoteMonitor) {
    g_vm.boot = static_cast<const abi::BootInfo*>(phys_to_virt(info_phys));
  } else {
    g_vm.boot = boot_info_from_pvh(info_phys, ram_bytes);
  }
  core::boot();
}
