// The MADT reader (acpi.h). Every table is checked (signature, length
// bounds, checksum) before it is read; a bad one reads as no ACPI.
#include "kernel/platform/kvm/acpi.h"

#include "kernel/lib/string.h"
#include "kernel/platform/kvm/memory.h"

namespace mote::kvm::acpi {

namespace {

constexpr u64 k4GiB = 4ull << 30;

// 5.2.12 table 5.21 "Interrupt Controller Structure Types".
enum class MadtType : u8 {
  LocalApic = 0,         // 5.2.12.2
  IoApic = 1,            // 5.2.12.3
  SourceOverride = 2,    // 5.2.12.5
  LocalX2Apic = 9,       // 5.2.12.12
};
// 5.2.12.2 table 5.23 "Local APIC Flags": Enabled (bit 0), Online Capable (bit 1).
constexpr u32 kLapicUsable = 3;

bool checksum_ok(const u8* p, u32 len) {
  u8 sum = 0;
  for (u32 i = 0; i < len; ++i) sum = u8(sum + p[i]);
  return sum == 0;
}

template <typename T>
T load(const u8* p) {
  T v;
  memcpy(&v, p, sizeof v);
  return v;
}

struct Reader {
  bool direct_map;
  const u8* at(u64 phys) const {
    return direct_map ? static_cast<const u8*>(phys_to_virt(phys)) : reinterpret_cast<const u8*>(phys);
  }
  // A table with a valid header (5.2.6) of at least `min` bytes: its length, else 0.
  u32 table_len(const u8* t, u32 min) const {
    u32 len = load<u32>(t + 4);
    if (len < min || len > 65536 || !checksum_ok(t, len)) return 0;
    return len;
  }
};

void parse(const u8* t, u32 len, Madt* m) {
  // 5.2.12 table 5.20: entries start after the 36-byte header, the LAPIC
  // address (4) and flags (4).
  for (u32 p = 44; p + 2 <= len;) {
    auto type = MadtType(t[p]);
    u8 elen = t[p + 1];
    if (elen < 2 || p + elen > len) break;
    const u8* e = t + p;
    switch (type) {
      case MadtType::LocalApic:
        if (elen >= 8 && (load<u32>(e + 4) & kLapicUsable) && m->nlapics < Madt::kMaxLapics)
          m->lapic_ids[m->nlapics++] = e[3];
        break;
      case MadtType::LocalX2Apic:
        if (elen >= 16 && (load<u32>(e + 8) & kLapicUsable) && load<u32>(e + 4) < 256 &&
            m->nlapics < Madt::kMaxLapics)
          m->lapic_ids[m->nlapics++] = load<u32>(e + 4);
        break;
      case MadtType::IoApic:
        if (elen >= 12 && m->nioapics < Madt::kMaxIoApics)
          m->ioapics[m->nioapics++] = IoApicEntry{e[2], load<u32>(e + 4), load<u32>(e + 8)};
        break;
      case MadtType::SourceOverride:
        // Bus 0 is ISA, the only one defined.
        if (elen >= 10 && e[2] == 0 && m->noverrides < Madt::kMaxOverrides)
          m->overrides[m->noverrides++] = SourceOverride{e[3], load<u32>(e + 4), load<u16>(e + 8)};
        break;
      default:
        break;
    }
    p += elen;
  }
}

}  // namespace

bool read_madt(u64 rsdp_phys, bool direct_map, Madt* out) {
  memset(out, 0, sizeof *out);
  if (!rsdp_phys || rsdp_phys >= k4GiB) return false;
  Reader r{direct_map};
  // 5.2.5.3 "Root System Description Pointer (RSDP) Structure".
  const u8* rsdp = r.at(rsdp_phys);
  if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20)) return false;
  u32 rsdt = load<u32>(rsdp + 16);
  u64 xsdt = rsdp[15] >= 2 ? load<u64>(rsdp + 24) : 0;
  u64 root_phys = xsdt ? xsdt : u64(rsdt);
  if (!root_phys || root_phys >= k4GiB) return false;
  const u8* root = r.at(root_phys);
  u32 root_len = r.table_len(root, 36);
  if (!root_len) return false;
  u32 entry = xsdt ? 8 : 4;
  for (u32 off = 36; off + entry <= root_len; off += entry) {
    u64 table = 0;
    memcpy(&table, root + off, entry);
    if (!table || table >= k4GiB) continue;
    const u8* t = r.at(table);
    if (memcmp(t, "APIC", 4) != 0) continue;
    u32 len = r.table_len(t, 44);
    if (!len) return false;
    parse(t, len, out);
    return true;
  }
  return false;
}

}  // namespace mote::kvm::acpi
