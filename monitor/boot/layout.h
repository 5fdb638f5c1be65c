// Guest-physical memory layout of the direct 64-bit entry (docs/vm.md).
//
//   0x0000_0000  page 0: left unused (identity-mapped, so a kernel can unmap it)
//   0x0000_1000  GDT: null, 64-bit code 0x08, data 0x10
//   0x0000_2000  PML4
//   0x0000_3000  PDPT of the identity map (PML4[0])
//   0x0000_4000  PDPT of the higher-half alias (PML4[511])
//   0x0000_5000  4 page directories, 2 MiB pages for 0..4 GiB (unused with 1 GiB pages)
//   0x0000_9000  boot stack, 28 KiB, growing down from kBootStackTop (RSP at entry)
//   0x0001_0000  boot-info blob (abi::BootInfo + strings), at most up to 0x9_f000
//   0x000a_0000  legacy VGA/BIOS hole: never used (kept free for PVH/QEMU layouts)
//   0x0010_0000  the kernel: ELF PT_LOAD segments at p_paddr (>= 1 MiB), up to RAM end
//   RAM end      not backed: an access is an MMIO exit, which stops the VM
//   0xc000_0000  3 GiB..4 GiB: MMIO hole, never RAM (in-kernel IOAPIC 0xfec0_0000,
//                LAPIC 0xfee0_0000, the VMX real-mode TSS at kTssGpa). RAM is at most 3 GiB.
//
// Virtual addresses at entry: [0, 4 GiB) identity-mapped, and
// [0xffff_ffff_8000_0000, +1 GiB) aliasing physical [0, 1 GiB) for a kernel
// linked with -mcmodel=kernel. All writable and executable: the kernel builds
// its own tables.
#pragma once

#include <stdint.h>

namespace mote::boot {

inline constexpr uint64_t kPageSize = 0x1000;
inline constexpr uint64_t kGdtGpa = 0x1000;
inline constexpr uint64_t kPml4Gpa = 0x2000;
inline constexpr uint64_t kPdptIdentityGpa = 0x3000;
inline constexpr uint64_t kPdptHighGpa = 0x4000;
inline constexpr uint64_t kPageDirectoriesGpa = 0x5000;  // 4 pages
inline constexpr uint64_t kBootStackBottom = 0x9000;
inline constexpr uint64_t kBootStackTop = 0x10000;        // 16-byte aligned; the blob starts here
inline constexpr uint64_t kBootInfoGpa = 0x10000;
inline constexpr uint64_t kBootInfoLimit = 0x9f000;      // the blob ends at or below this
inline constexpr uint64_t kKernelMinGpa = 0x100000;       // 1 MiB

inline constexpr uint64_t kIdentityMapBytes = 4ull << 30;  // 4 GiB
inline constexpr uint64_t kHigherHalfBase = 0xffffffff80000000ull;
inline constexpr uint64_t kHigherHalfBytes = 1ull << 30;   // aliases physical [0, 1 GiB)

inline constexpr uint64_t kMmioHoleGpa = 0xc0000000ull;    // RAM ends at or below 3 GiB
inline constexpr uint64_t kMaxRamBytes = kMmioHoleGpa;
inline constexpr uint64_t kMinRamBytes = 2ull << 20;       // 2 MiB: tables, blob and a tiny kernel
// KVM_SET_TSS_ADDR: three pages KVM's VMX code needs for real-mode emulation,
// in the MMIO hole, outside RAM (KVM API doc "KVM_SET_TSS_ADDR").
inline constexpr uint64_t kTssGpa = 0xfffbd000ull;

// Entry registers (besides the control state): RSP = kBootStackTop, a small
// stack the kernel's entry code may push on until it loads its own (a far
// return to reload CS needs one). RSI tells the kernel it was
// entered directly by the mote monitor ("MOTE" little-endian); RDI is the GPA
// of the boot-info blob. A PVH entry (QEMU, Firecracker) arrives differently.
inline constexpr uint64_t kMoteEntryMagic = 0x45544f4d;

}  // namespace mote::boot
