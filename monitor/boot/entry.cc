#include "monitor/boot/entry.h"

#include <string>

#include "monitor/boot/boot_info.h"
#include "monitor/boot/kernel_elf.h"
#include "monitor/boot/layout.h"
#include "monitor/boot/page_tables.h"

namespace mote::boot {

EntryState make_entry_state(uint64_t entry, uint64_t cr3, uint64_t boot_info_gpa, const CpuFeatures& cpu) {
  EntryState s;
  s.rip = entry;
  s.rsp = kBootStackTop;
  s.rflags = kRflagsFixed;
  s.rdi = boot_info_gpa;
  s.rsi = kMoteEntryMagic;
  s.cr0 = Cr0::PE | Cr0::MP | Cr0::ET | Cr0::NE | Cr0::WP | Cr0::PG;
  s.cr3 = cr3;
  s.cr4 = Cr4::PAE;
  // KVM checks CR4 and EFER against the guest's CPUID (KVM_SET_SREGS fails on
  // a bit the guest CPU does not have), so set only what the CPUID offers.
  if (cpu.fxsr) s.cr4 |= Cr4::OSFXSR;
  if (cpu.sse) s.cr4 |= Cr4::OSXMMEXCPT;
  s.efer = Efer::LME | Efer::LMA;
  if (cpu.nx) s.efer |= Efer::NXE;
  if (cpu.syscall) s.efer |= Efer::SCE;
  s.code = SegmentState{kCodeSelector, kCode64};
  s.data = SegmentState{kDataSelector, kData};
  s.gdt_base = kGdtGpa;  // identity-mapped: linear == physical
  s.gdt_limit = kGdtLimit;
  return s;
}

vm::Expected<EntryState> prepare_direct_boot(const vm::GuestMemory& mem, const DirectBoot& boot) {
  if (mem.size() < kMinRamBytes || mem.size() > kMaxRamBytes)
    return vm::fail("guest RAM must be between " + std::to_string(kMinRamBytes >> 20) + " MiB and " +
                    std::to_string(kMaxRamBytes >> 20) + " MiB");
  auto gdt = write_gdt(mem);
  if (!gdt.ok()) return gdt.failure();
  auto cr3 = build_page_tables(mem, boot.cpu.page_1g ? PageSize::Size1G : PageSize::Size2M);
  if (!cr3.ok()) return cr3.failure();
  auto kernel = load_kernel_elf(mem, boot.kernel_elf);
  if (!kernel.ok()) return kernel.failure();
  // The program image goes page-aligned at the top of RAM, where the kernel
  // maps its read-only pages in place (zero-copy) and never allocates.
  uint64_t program_gpa = 0;
  if (!boot.program.empty()) {
    uint64_t bytes = (boot.program.size() + kPageSize - 1) & ~(kPageSize - 1);
    if (bytes >= mem.size() || mem.size() - bytes < kernel->end_gpa)
      return vm::fail("guest RAM too small for the program image");
    program_gpa = mem.size() - bytes;
    if (!mem.copy_in(program_gpa, boot.program)) return vm::fail("guest RAM too small for the program");
  }
  auto info = place_boot_info(mem, boot.boot_blob, boot.tsc_khz, kernel->lowest_gpa, program_gpa,
                              boot.program.size());
  if (!info.ok()) return info.failure();
  return make_entry_state(kernel->entry, *cr3, *info, boot.cpu);
}

}  // namespace mote::boot
