// The I/O APICs of the VM platforms: how device interrupt lines (GSIs) reach
// a CPU. Intel 82093AA I/O APIC datasheet (order 290566-001), section 3
// "Register Description"; ACPI 6.4 5.2.12.3/5.2.12.5 for finding them.
//
// Found in the ACPI MADT (acpi.h); QEMU microvm has one at 0xFEC00000 (GSIs
// 0-23) and, with ACPI on, a second at 0xFEC10000 (GSIs 24-47) that its
// virtio-mmio transports use. Without ACPI tables (microvm's `acpi=off`)
// the first is assumed at its usual address. Every pin starts masked; a
// driver routes its own line (ioapic_route), fixed delivery to one CPU.
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

enum class Trigger : u8 { Edge, Level };
enum class Polarity : u8 { ActiveHigh, ActiveLow };

// Finds the I/O APICs (the MADT through rsdp_phys, else microvm's default)
// and masks every pin. Once, on the boot CPU, after memory_init; only on
// PVH hosts (mote's own monitor has no I/O APIC).
void ioapic_init(u64 rsdp_phys);

// Whether some I/O APIC serves `gsi`.
bool ioapic_has_gsi(u32 gsi);

// The GSI that ISA IRQ `irq` arrives on, with its trigger and polarity
// (the MADT's source overrides; else the same number, edge, active high).
u32 ioapic_isa_gsi(u8 irq, Trigger* trigger, Polarity* polarity);

// Delivers `gsi` as `vector` to the local APIC `apic_id` (fixed delivery,
// physical destination) and unmasks it. False when no I/O APIC serves it.
bool ioapic_route(u32 gsi, u8 vector, u32 apic_id, Trigger trigger, Polarity polarity);
// Masks or unmasks a routed pin.
void ioapic_mask(u32 gsi, bool masked);

}  // namespace mote::kvm
