// Application processors: found in the ACPI MADT (or `cpus=N` on the
// command line, APIC IDs 0..N-1, when the machine has no ACPI tables) and
// started with INIT-SIPI-SIPI through the local APIC (SDM 3A 9.4.4), by the
// real-mode trampoline of smp_trampoline.S. This first step brings them
// online and parks them (kernel self-test `smp`); running program threads on
// them comes next (docs/kernel-vm.md).
#include "kernel/platform/kvm/smp.h"

#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/traps.h"

extern "C" mote::u8 mote_ap_trampoline[], mote_ap_trampoline_end[], mote_ap_trampoline_efer[];

extern "C" {
// The stack the next AP starts on (smp_trampoline.S reads it).
mote::u64 mote_ap_stack;
}

namespace mote::kvm {

namespace {

constexpr u64 kApBase = 0x8000;  // the trampoline's page (KAP_BASE in smp_trampoline.S)
constexpr u32 kMaxCpus = 64;
constexpr u64 kApStack = 4096;

volatile u32 g_online = 1;        // the BSP
u32 g_apic_ids[kMaxCpus];
// The stack APs start on, one after the other: each uses it only to reach
// its parking loop (cli; hlt), which needs none.
alignas(16) u8 g_ap_stack[kApStack];

volatile u32* lapic(u32 off) { return reinterpret_cast<volatile u32*>(g_lapic_virt + off); }

// ICR (SDM 3A 10.6.1): destination in the high word, then the command.
void send_ipi(u32 apic_id, u32 command) {
  *lapic(0x310) = apic_id << 24;
  *lapic(0x300) = command;
  for (int i = 0; i < 1000000 && (*lapic(0x300) & (1u << 12)); ++i) asm volatile("pause");
}

void spin(u64 cycles) {
  u64 start = rdtsc();
  while (rdtsc() - start < cycles) asm volatile("pause");
}

bool checksum_ok(const u8* p, u32 len) {
  u8 sum = 0;
  for (u32 i = 0; i < len; ++i) sum = u8(sum + p[i]);
  return sum == 0;
}

// The MADT's enabled local APICs (ACPI 6.x 5.2.12). Physical addresses are
// identity-mapped here (the boot page tables: 0-4 GiB).
u32 madt_apic_ids(u64 rsdp_phys, u32* ids, u32 cap) {
  if (!rsdp_phys || rsdp_phys >= (4ull << 30)) return 0;
  const u8* rsdp = reinterpret_cast<const u8*>(rsdp_phys);
  if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20)) return 0;
  u32 rsdt;
  u64 xsdt = 0;
  memcpy(&rsdt, rsdp + 16, 4);
  if (rsdp[15] >= 2) memcpy(&xsdt, rsdp + 24, 8);
  const u8* root = reinterpret_cast<const u8*>(xsdt ? xsdt : u64(rsdt));
  u32 root_len;
  memcpy(&root_len, root + 4, 4);
  if (root_len < 36 || root_len > 65536 || !checksum_ok(root, root_len)) return 0;
  u32 entry = xsdt ? 8 : 4;
  for (u32 off = 36; off + entry <= root_len; off += entry) {
    u64 table = 0;
    memcpy(&table, root + off, entry);
    if (!table || table >= (4ull << 30)) continue;
    const u8* t = reinterpret_cast<const u8*>(table);
    if (memcmp(t, "APIC", 4) != 0) continue;
    u32 len;
    memcpy(&len, t + 4, 4);
    if (len < 44 || len > 65536 || !checksum_ok(t, len)) return 0;
    u32 n = 0;
    for (u32 p = 44; p + 2 <= len && n < cap;) {
      u8 type = t[p], elen = t[p + 1];
      if (elen < 2 || p + elen > len) break;
      u32 flags;
      if (type == 0 && elen >= 8) {  // processor local APIC
        memcpy(&flags, t + p + 4, 4);
        if (flags & 3) ids[n++] = t[p + 3];
      } else if (type == 9 && elen >= 16) {  // processor local x2APIC
        memcpy(&flags, t + p + 8, 4);
        u32 id;
        memcpy(&id, t + p + 4, 4);
        if ((flags & 3) && id < 256) ids[n++] = id;
      }
      p += elen;
    }
    return n;
  }
  return 0;
}

}  // namespace

}  // namespace mote::kvm

// An AP's first C code: counts itself online and parks (interrupts off).
extern "C" [[noreturn]] void mote_ap_main() {
  __atomic_add_fetch(&mote::kvm::g_online, 1, __ATOMIC_RELEASE);
  for (;;) asm volatile("cli; hlt");
}

namespace mote::kvm {

u32 smp_find_cpus(u64 rsdp_phys, u32 hint, u32* ids, u32 cap) {
  u32 n = madt_apic_ids(rsdp_phys, ids, cap);
  if (n) return n;
  if (hint > cap) hint = cap;
  for (u32 i = 0; i < hint; ++i) ids[i] = i;
  return hint ? hint : 1;
}

u32 smp_start_parked(u64 rsdp_phys, u32 hint, const char** problem) {
  *problem = "";
  u32 n = smp_find_cpus(rsdp_phys, hint, g_apic_ids, kMaxCpus);
  u32 bsp = *lapic(0x20) >> 24;
  // The LAPIC on (spurious-vector register), as the APs' INIT/SIPI need.
  wrmsr(Msr::ApicBase, rdmsr(Msr::ApicBase) | (1u << 11));
  *lapic(0xf0) = 0x100 | kSpuriousVector;
  usize size = usize(mote_ap_trampoline_end - mote_ap_trampoline);
  u64 efer = rdmsr(Msr::Efer);
  u32 ap_efer = 0x100 | u32(efer & (1u << 11));  // LME, and NXE as the BSP has it
  memcpy(reinterpret_cast<void*>(kApBase), mote_ap_trampoline, size);
  memcpy(reinterpret_cast<u8*>(kApBase) + (mote_ap_trampoline_efer - mote_ap_trampoline), &ap_efer, 4);
  for (u32 i = 0; i < n; ++i) {
    if (g_apic_ids[i] == bsp) continue;
    u32 before = g_online;
    mote_ap_stack = reinterpret_cast<u64>(g_ap_stack + kApStack);
    send_ipi(g_apic_ids[i], 0x4500);                           // INIT, assert
    spin(1000000);
    send_ipi(g_apic_ids[i], 0x4600 | u32(kApBase >> 12));      // SIPI
    spin(200000);
    if (g_online == before) send_ipi(g_apic_ids[i], 0x4600 | u32(kApBase >> 12));
    // Up to ~2 s of TSC at 1 GHz or more for it to say it is online.
    u64 start = rdtsc();
    while (__atomic_load_n(&g_online, __ATOMIC_ACQUIRE) == before && rdtsc() - start < 4000000000ull)
      asm volatile("pause");
    if (g_online == before) {
      *problem = "an application processor did not come online";
      break;
    }
  }
  return g_online;
}

}  // namespace mote::kvm
