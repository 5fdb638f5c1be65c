// The ACPI table the VM platform reads: the MADT ("APIC" signature, ACPI
// 6.4 5.2.12 "Multiple APIC Description Table"), found through the RSDP
// (5.2.5) and the XSDT or RSDT. It names the CPUs' local APICs (smp.cc),
// the I/O APICs with the first GSI of each, and the interrupt source
// overrides that move an ISA IRQ to another GSI or change its trigger
// (ioapic.cc). QEMU microvm builds one unless `acpi=off`; without it the
// callers fall back (cpus=N; the IOAPIC at 0xFEC00000).
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm::acpi {

struct IoApicEntry {
  u32 id;
  u64 phys;      // register window
  u32 gsi_base;  // the GSI of its pin 0
};

// 5.2.12.5 "Interrupt Source Override Structure": ISA IRQ `source` is GSI
// `gsi`, with the MPS INTI flags (5.2.12.5 table 5.26): polarity bits 1:0
// (0 bus default, 1 active high, 3 active low), trigger bits 3:2 (0 bus
// default, 1 edge, 3 level).
struct SourceOverride {
  u8 source;
  u32 gsi;
  u16 flags;
};

struct Madt {
  static constexpr u32 kMaxLapics = 64, kMaxIoApics = 4, kMaxOverrides = 16;
  u32 lapic_ids[kMaxLapics];  // enabled (or online-capable) processors
  u32 nlapics;
  IoApicEntry ioapics[kMaxIoApics];
  u32 nioapics;
  SourceOverride overrides[kMaxOverrides];
  u32 noverrides;
};

// Reads the MADT through the RSDP at rsdp_phys (physical, below 4 GiB).
// direct_map: physical memory is reached through the kernel's direct map
// (else identity-mapped: the boot page tables of the self-tests). False
// when there is no valid RSDP or MADT (*out is then empty).
bool read_madt(u64 rsdp_phys, bool direct_map, Madt* out);

}  // namespace mote::kvm::acpi
