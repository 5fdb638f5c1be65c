// The vCPU state of the direct 64-bit entry: the kernel's first instruction
// runs in long mode, paging on, at e_entry, with
//   RDI = GPA of the boot-info blob, RSI = kMoteEntryMagic ("MOTE"),
//   RSP = kBootStackTop (28 KiB of boot stack below the boot info, until the
//   kernel loads its own), RFLAGS = 2 (interrupts off),
//   CS = 0x08 (64-bit code), DS = ES = FS = GS = SS = 0x10, no IDT.
// Plain data, independent of KVM: the monitor hands it to KVM_SET_SREGS /
// KVM_SET_REGS, the tests hand it to an emulator.
#pragma once

#include <stdint.h>

#include <span>

#include "monitor/boot/gdt.h"
#include "monitor/boot/x86.h"
#include "monitor/vm/expected.h"
#include "monitor/vm/memory.h"

namespace mote::boot {

// What the entry state depends on, from the CPUID the guest really sees.
struct CpuFeatures {
  bool nx = false;       // CPUID.80000001H:EDX[20]: EFER.NXE allowed
  bool syscall = false;  // CPUID.80000001H:EDX[11]: EFER.SCE allowed
  bool page_1g = false;  // CPUID.80000001H:EDX[26]: 1 GiB pages
  bool fxsr = false;     // CPUID.01H:EDX[24]: CR4.OSFXSR allowed
  bool sse = false;      // CPUID.01H:EDX[25]: CR4.OSXMMEXCPT meaningful
};

struct SegmentState {
  uint16_t selector = 0;
  SegmentDescriptor descriptor;
};

struct EntryState {
  uint64_t rip = 0, rsp = 0, rflags = 0, rdi = 0, rsi = 0;
  Flags<Cr0> cr0;
  uint64_t cr3 = 0;
  Flags<Cr4> cr4;
  Flags<Efer> efer;
  SegmentState code;  // CS
  SegmentState data;  // DS, ES, FS, GS, SS
  uint64_t gdt_base = 0;
  uint16_t gdt_limit = 0;
};

EntryState make_entry_state(uint64_t entry, uint64_t cr3, uint64_t boot_info_gpa, const CpuFeatures& cpu);

struct DirectBoot {
  std::span<const uint8_t> kernel_elf;
  std::span<const uint8_t> boot_blob;  // passes abi::boot_info_ok
  uint64_t tsc_khz = 0;
  CpuFeatures cpu;
  std::span<const uint8_t> program;    // the program's ELF image (may be empty)
};

// Fills guest RAM (GDT, page tables, kernel, boot info; layout.h) and returns
// the entry state. RAM must be between kMinRamBytes and kMaxRamBytes.
vm::Expected<EntryState> prepare_direct_boot(const vm::GuestMemory& mem, const DirectBoot& boot);

}  // namespace mote::boot
