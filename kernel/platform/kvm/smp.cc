// Application processors: found in the ACPI MADT (or `cpus=N` on the
// command line, APIC IDs 0..N-1, when the machine has no ACPI tables) and
// started with INIT-SIPI-SIPI through the local APIC (SDM 3A 9.4.4), by the
// real-mode trampoline of smp_trampoline.S. This first step brings them
// online and parks them (kernel self-test `smp`); running program threads on
// them comes next (docs/kernel-vm.md).
#include "kernel/platform/kvm/smp.h"

#include "kernel/lib/string.h"
#include "kernel/platform/kvm/acpi.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/cpu.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/sched.h"
#include "kernel/platform/kvm/traps.h"

extern "C" mote::u8 mote_ap_trampoline[], mote_ap_trampoline_end[], mote_ap_trampoline_efer[];
extern "C" char mote_ap_entry64[];

extern "C" {
// The stack the next AP starts on, and the page tables it switches to (0:
// stay on the boot tables) (smp_trampoline.S reads them).
mote::u64 mote_ap_stack;
mote::u64 mote_ap_cr3;
}

namespace mote::kvm {

namespace {

constexpr u64 kApBase = 0x8000;  // the trampoline's page (KAP_BASE in smp_trampoline.S)
constexpr u64 kApStack = 4096;

volatile u32 g_online = 1;        // the BSP
u32 g_apic_ids[64];
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

// Physical memory: identity-mapped on the boot page tables (self-tests),
// through the direct map on the kernel's.
bool g_direct_map;

}  // namespace

}  // namespace mote::kvm

namespace mote::kvm {
namespace {
volatile u32 g_ap_index;   // the g_cpus slot of the AP starting now
bool g_ap_run;             // APs join the scheduler (else they park)
}  // namespace
}  // namespace mote::kvm

// An AP's first C code: parks (self-test), or sets itself up as a CPU of
// the scheduler: per-CPU data, descriptor tables, LAPIC, syscall entry,
// FPU; then runs threads.
extern "C" [[noreturn]] void mote_ap_main() {
  using namespace mote::kvm;
  if (!g_ap_run) {
    __atomic_add_fetch(&g_online, 1, __ATOMIC_RELEASE);
    for (;;) asm volatile("cli; hlt");
  }
  Cpu* c = &g_cpus[g_ap_index];
  c->self = c;
  c->index = g_ap_index;
  wrmsr(Msr::GsBase, reinterpret_cast<mote::u64>(c));
  cpu_setup_ap(c);
  __atomic_add_fetch(&g_online, 1, __ATOMIC_RELEASE);
  sched_enter_ap();
}

namespace mote::kvm {

u32 smp_find_cpus(u64 rsdp_phys, u32 hint, u32* ids, u32 cap) {
  // The MADT's enabled local APICs (acpi.h).
  static acpi::Madt madt;
  u32 n = 0;
  if (acpi::read_madt(rsdp_phys, g_direct_map, &madt))
    for (; n < madt.nlapics && n < cap; ++n) ids[n] = madt.lapic_ids[n];
  if (n) return n;
  if (hint > cap) hint = cap;
  for (u32 i = 0; i < hint; ++i) ids[i] = i;
  return hint ? hint : 1;
}

void send_ipi_to(u32 cpu, u8 vector) { send_ipi(g_cpus[cpu].apic_id, 0x4000 | vector); }

void tlb_service() {
  Cpu* c = this_cpu();
  if (!__atomic_load_n(&c->tlb_flush, __ATOMIC_ACQUIRE)) return;
  u64 cr3;
  asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
  __atomic_store_n(&c->tlb_flush, 0, __ATOMIC_RELEASE);
}

void tlb_shootdown() {
  if (g_ncpus < 2) return;
  Cpu* me = this_cpu();
  for (u32 i = 0; i < g_ncpus; ++i) {
    if (&g_cpus[i] == me) continue;
    __atomic_store_n(&g_cpus[i].tlb_flush, 1, __ATOMIC_RELEASE);
    send_ipi_to(i, kTlbVector);
  }
  for (u32 i = 0; i < g_ncpus; ++i) {
    if (&g_cpus[i] == me) continue;
    while (__atomic_load_n(&g_cpus[i].tlb_flush, __ATOMIC_ACQUIRE)) {
      tlb_service();  // another CPU may wait for us the same way
      asm volatile("pause");
    }
  }
}

u32 smp_start(u64 rsdp_phys, u32 hint, u32 want) {
  g_direct_map = true;
  // The program's CPUs: as many as asked for (--cpus) and the machine has.
  u32 n = smp_find_cpus(rsdp_phys, hint, g_apic_ids, kMaxCpus);
  if (want && n > want) n = want;
  if (n > kMaxCpus) n = kMaxCpus;
  u32 bsp = *lapic(0x20) >> 24;
  g_cpus[0].apic_id = bsp;
  if (n < 2) return 1;
  usize size = usize(mote_ap_trampoline_end - mote_ap_trampoline);
  u32 ap_efer = 0x100 | u32(rdmsr(Msr::Efer) & (1u << 11));
  u8* low = static_cast<u8*>(phys_to_virt(kApBase));
  memcpy(low, mote_ap_trampoline, size);
  memcpy(low + (mote_ap_trampoline_efer - mote_ap_trampoline), &ap_efer, 4);
  u64 cr3;
  asm volatile("mov %%cr3, %0" : "=r"(cr3));
  mote_ap_cr3 = cr3;
  g_ap_run = true;
  u32 slot = 1;
  for (u32 i = 0; i < n && slot < kMaxCpus; ++i) {
    if (g_apic_ids[i] == bsp) continue;
    // Everything the AP needs is made here, before it runs: only this CPU
    // changes page tables now.
    auto stack = core_map(16384);
    auto ist = core_map(16384);
    if (!stack.ok() || !ist.ok()) break;
    mote_ap_stack = stack.value() + 16384;
    g_ap_index = slot;
    Cpu* c = &g_cpus[slot];
    c->self = c;
    c->index = slot;
    c->apic_id = g_apic_ids[i];
    c->ist_top = ist.value() + 16384;
    sched_prepare_cpu(c);
    u32 before = g_online;
    // mote's monitor starts the AP in 64-bit mode at mote_ap_entry64 (the
    // boot page tables map it; it switches to mote_ap_cr3 and the stack
    // above); elsewhere, INIT-SIPI-SIPI and the trampoline get it there.
    if (host_kind() == Host::MoteMonitor) {
      i64 r = start_cpu(g_apic_ids[i], reinterpret_cast<u64>(mote_ap_entry64), mote_ap_stack);
      if (r != 0) {
        kprintf("mote: vCPU %u did not start (StartCpu: %ld)\n", g_apic_ids[i], long(r));
        break;
      }
    } else {
      send_ipi(g_apic_ids[i], 0x4500);
      spin(1000000);
      send_ipi(g_apic_ids[i], 0x4600 | u32(kApBase >> 12));
      spin(200000);
      if (g_online == before) send_ipi(g_apic_ids[i], 0x4600 | u32(kApBase >> 12));
    }
    u64 start = rdtsc();
    while (__atomic_load_n(&g_online, __ATOMIC_ACQUIRE) == before && rdtsc() - start < 4000000000ull)
      asm volatile("pause");
    if (g_online == before) break;
    ++slot;
    g_spurious_possible = true;
    __atomic_store_n(&g_ncpus, slot, __ATOMIC_RELEASE);
  }
  return g_ncpus;
}

u32 smp_start_parked(u64 rsdp_phys, u32 hint, const char** problem) {
  *problem = "";
  u32 n = smp_find_cpus(rsdp_phys, hint, g_apic_ids, 64);
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
