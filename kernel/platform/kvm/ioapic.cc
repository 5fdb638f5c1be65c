// I/O APIC driver (ioapic.h). Intel 82093AA datasheet section 3: two
// memory-mapped registers, IOREGSEL (offset 0x00) selecting an internal
// register and IOWIN (offset 0x10) reading or writing it; the internal
// registers are IOAPICID (0x00), IOAPICVER (0x01) and the redirection
// table, two 32-bit halves per pin from 0x10.
#include "kernel/platform/kvm/ioapic.h"

#include "kernel/platform/kvm/acpi.h"
#include "kernel/platform/kvm/memory.h"

namespace mote::kvm {

namespace {

// 82093AA 3.0 table 1 "Memory Mapped Registers": register windows.
enum class Window : u32 { RegSel = 0x00, Win = 0x10 };
// 82093AA 3.0 table 2 "IOAPIC Registers": indexes written to IOREGSEL.
enum class Index : u32 { Id = 0x00, Version = 0x01, RedirectionBase = 0x10 };

// 82093AA 3.2.2 "IOAPICVER": bits 23:16 are the highest redirection entry.
struct VersionReg {
  u32 raw;
  u32 pins() const { return ((raw >> 16) & 0xff) + 1; }
};

// 82093AA 3.2.4 "IOREDTBL[23:0]—I/O Redirection Table Registers".
class RedirectionEntry {
 public:
  static RedirectionEntry fixed(u8 vector, u32 apic_id, Trigger t, Polarity p) {
    u64 bits = vector;  // delivery mode 000 (fixed), destination mode 0 (physical)
    if (p == Polarity::ActiveLow) bits |= kActiveLow;
    if (t == Trigger::Level) bits |= kLevel;
    bits |= u64(apic_id & 0xff) << kDestinationShift;
    return RedirectionEntry(bits);
  }
  static RedirectionEntry masked_entry() { return RedirectionEntry(kMasked); }
  static RedirectionEntry from(u32 low, u32 high) { return RedirectionEntry(u64(high) << 32 | low); }

  RedirectionEntry with_mask(bool m) const {
    return RedirectionEntry(m ? bits_ | kMasked : bits_ & ~kMasked);
  }
  u32 low() const { return u32(bits_); }
  u32 high() const { return u32(bits_ >> 32); }

 private:
  explicit RedirectionEntry(u64 bits) : bits_(bits) {}
  static constexpr u64 kActiveLow = 1ull << 13;       // INTPOL: 1 = low active
  static constexpr u64 kLevel = 1ull << 15;           // trigger mode: 1 = level
  static constexpr u64 kMasked = 1ull << 16;          // interrupt mask
  static constexpr u32 kDestinationShift = 56;        // bits 63:56, an APIC ID
  u64 bits_;
};

// QEMU (hw/i386/x86.h IO_APIC_DEFAULT_ADDRESS): where a PC's first I/O APIC is.
constexpr u64 kDefaultBase = 0xfec00000;

struct IoApic {
  u64 phys;
  u32 gsi_base, pins;
};
IoApic g_ioapics[acpi::Madt::kMaxIoApics];
u32 g_nioapics;
acpi::SourceOverride g_overrides[acpi::Madt::kMaxOverrides];
u32 g_noverrides;
volatile u32 g_lock;  // IOREGSEL then IOWIN: one CPU at a time

void lock() {
  while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(&g_lock, __ATOMIC_RELAXED)) asm volatile("pause");
}
void unlock() { __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE); }

volatile u32* window(const IoApic& a, Window w) {
  return static_cast<volatile u32*>(phys_to_virt(a.phys + u32(w)));
}
u32 read_reg(const IoApic& a, u32 index) {
  *window(a, Window::RegSel) = index;
  return *window(a, Window::Win);
}
void write_reg(const IoApic& a, u32 index, u32 v) {
  *window(a, Window::RegSel) = index;
  *window(a, Window::Win) = v;
}

u32 entry_index(u32 pin) { return u32(Index::RedirectionBase) + 2 * pin; }

void write_entry(const IoApic& a, u32 pin, RedirectionEntry e) {
  // Masked while the halves disagree: the low half (mask, vector) last.
  write_reg(a, entry_index(pin), RedirectionEntry::masked_entry().low());
  write_reg(a, entry_index(pin) + 1, e.high());
  write_reg(a, entry_index(pin), e.low());
}

// The I/O APIC serving `gsi`, and its pin.
const IoApic* find(u32 gsi, u32* pin) {
  for (u32 i = 0; i < g_nioapics; ++i) {
    const IoApic& a = g_ioapics[i];
    if (gsi >= a.gsi_base && gsi < a.gsi_base + a.pins) {
      *pin = gsi - a.gsi_base;
      return &a;
    }
  }
  return nullptr;
}

void add(u64 phys, u32 gsi_base) {
  // Only the 4th GiB is mapped uncached for devices (memory.h).
  if (phys < (3ull << 30) || phys >= (4ull << 30) || g_nioapics == acpi::Madt::kMaxIoApics) return;
  IoApic a{phys, gsi_base, 0};
  u32 v = read_reg(a, u32(Index::Version));
  if (v == ~0u) return;  // nothing answers there
  a.pins = VersionReg{v}.pins();
  for (u32 pin = 0; pin < a.pins; ++pin) write_entry(a, pin, RedirectionEntry::masked_entry());
  g_ioapics[g_nioapics++] = a;
}

}  // namespace

void ioapic_init(u64 rsdp_phys) {
  static acpi::Madt madt;
  if (acpi::read_madt(rsdp_phys, true, &madt) && madt.nioapics) {
    for (u32 i = 0; i < madt.nioapics; ++i) add(madt.ioapics[i].phys, madt.ioapics[i].gsi_base);
    g_noverrides = madt.noverrides;
    for (u32 i = 0; i < g_noverrides; ++i) g_overrides[i] = madt.overrides[i];
  } else {
    add(kDefaultBase, 0);
  }
}

bool ioapic_has_gsi(u32 gsi) {
  u32 pin;
  return find(gsi, &pin) != nullptr;
}

u32 ioapic_isa_gsi(u8 irq, Trigger* trigger, Polarity* polarity) {
  *trigger = Trigger::Edge;  // ISA's own convention
  *polarity = Polarity::ActiveHigh;
  for (u32 i = 0; i < g_noverrides; ++i) {
    const acpi::SourceOverride& o = g_overrides[i];
    if (o.source != irq) continue;
    // MPS INTI flags: 0 means "as the bus does" (ISA: edge, high).
    if ((o.flags & 3) == 3) *polarity = Polarity::ActiveLow;
    if (((o.flags >> 2) & 3) == 3) *trigger = Trigger::Level;
    return o.gsi;
  }
  return irq;
}

bool ioapic_route(u32 gsi, u8 vector, u32 apic_id, Trigger trigger, Polarity polarity) {
  u32 pin;
  const IoApic* a = find(gsi, &pin);
  if (!a) return false;
  lock();
  write_entry(*a, pin, RedirectionEntry::fixed(vector, apic_id, trigger, polarity));
  unlock();
  return true;
}

void ioapic_mask(u32 gsi, bool masked) {
  u32 pin;
  const IoApic* a = find(gsi, &pin);
  if (!a) return;
  lock();
  auto e = RedirectionEntry::from(read_reg(*a, entry_index(pin)), read_reg(*a, entry_index(pin) + 1));
  write_reg(*a, entry_index(pin), e.with_mask(masked).low());
  unlock();
}

}  // namespace mote::kvm
