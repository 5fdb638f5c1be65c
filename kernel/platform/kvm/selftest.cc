// Kernel self-tests of the VM platform: what the core will rely on, checked
// on the machine it boots on (QEMU/TCG, mote's KVM monitor). They avoid what
// this development machine's KVM cannot emulate at ring 0 (SSE arithmetic,
// int n, int3; machine-notes.md).
#include "kernel/platform/kvm/selftest.h"

#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/ksyms.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/lib/format.h"
#include "kernel/platform/kvm/smp.h"
#include "kernel/platform/kvm/traps.h"

extern "C" void mote_selftest_syscall_entry();

namespace mote::kvm {

namespace {

int g_failures;

void report(const char* name, bool ok, const char* detail) {
  kprintf("selftest %s: %s%s%s\n", name, ok ? "ok" : "FAIL", detail[0] ? " " : "", detail);
  if (!ok) ++g_failures;
}

// A fault with the red zone in use: IST gates must leave the 128 bytes below
// %rsp untouched (the CPU would otherwise push its frame there).
void test_invalid_opcode_on_ist() {
  u64 canary_ok = 0;
  u32 before = last_expected_trap().count;
  // Arm first: the call uses the stack below %rsp, where the canaries go next.
  asm volatile(
      "lea 2f(%%rip), %%rdi\n"
      "call *%[arm]\n"
      "movabs $0x6d6f74656d6f7465, %%rax\n"
      "mov $16, %%ecx\n"
      "lea -128(%%rsp), %%rdi\n"
      "1: mov %%rax, (%%rdi)\n"
      "add $8, %%rdi\n"
      "dec %%ecx\n"
      "jnz 1b\n"
      "ud2\n"
      "2: movabs $0x6d6f74656d6f7465, %%rax\n"
      "mov $16, %%ecx\n"
      "lea -128(%%rsp), %%rdi\n"
      "xor %%edx, %%edx\n"
      "3: cmp %%rax, (%%rdi)\n"
      "jne 4f\n"
      "add $8, %%rdi\n"
      "dec %%ecx\n"
      "jnz 3b\n"
      "mov $1, %%edx\n"
      "4: mov %%rdx, %[ok]\n"
      : [ok] "=m"(canary_ok)
      : [arm] "r"(+[](u64 resume) { expect_trap(6, resume); })
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
  const TrapRecord& t = last_expected_trap();
  report("invalid-opcode", t.count == before + 1 && t.vector == 6, "");
  report("ist-red-zone", canary_ok == 1, canary_ok ? "" : "(the red zone below %rsp was overwritten)");
}

void test_page_fault() {
  u32 before = last_expected_trap().count;
  constexpr u64 kUnmapped = 0x10000000000ull;  // 1 TiB: outside the boot tables
  u64 value = 0;
  asm volatile(
      "lea 1f(%%rip), %%rdi\n"
      "call *%[arm]\n"
      "mov (%[addr]), %[val]\n"
      "1:\n"
      : [val] "+r"(value)
      : [arm] "r"(+[](u64 resume) { expect_trap(14, resume); }), [addr] "r"(kUnmapped)
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
  const TrapRecord& t = last_expected_trap();
  bool ok = t.count == before + 1 && t.vector == 14 && t.cr2 == kUnmapped && !(t.error & 1);
  report("page-fault", ok, ok ? "" : "(wrong vector, cr2 or error code)");
}

void test_divide_error() {
  u32 before = last_expected_trap().count;
  asm volatile(
      "lea 1f(%%rip), %%rdi\n"
      "call *%[arm]\n"
      "xor %%ecx, %%ecx\n"
      "mov $7, %%eax\n"
      "xor %%edx, %%edx\n"
      "div %%ecx\n"
      "1:\n"
      :
      : [arm] "r"(+[](u64 resume) { expect_trap(0, resume); })
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
  const TrapRecord& t = last_expected_trap();
  report("divide-error", t.count == before + 1 && t.vector == 0, "");
}

// `syscall` at ring 0 lands on LSTAR with the return address in %rcx and the
// flags in %r11; the entry returns with popfq + jmp *%rcx, never sysret
// (which would drop to ring 3).
void test_lstar_round_trip() {
  wrmsr(Msr::Efer, rdmsr(Msr::Efer) | 1);  // SCE
  wrmsr(Msr::Star, u64(0x08) << 32);       // kernel CS 0x08, SS 0x10
  wrmsr(Msr::Lstar, reinterpret_cast<u64>(&mote_selftest_syscall_entry));
  wrmsr(Msr::Fmask, 0);
  u64 v = 41;
  u64 cs = 0;
  asm volatile("syscall\n mov %%cs, %1" : "+a"(v), "=r"(cs) : : "rcx", "r11", "memory");
  report("lstar-syscall", v == 42 && cs == 0x08, v == 42 ? "" : "(the entry did not run)");
}

u32 g_ticks;  // written by the timer interrupt; read through volatile below
void on_tick() { g_ticks = g_ticks + 1; }  // NOLINT: one writer (the interrupt)

// xAPIC one-shot timer (SDM 3A 10.5.4): vector 48, divide by 1.
void test_lapic_timer() {
  if (!(cpuid(1).edx & (1u << 9))) {
    report("lapic-timer", false, "(no local APIC)");
    return;
  }
  auto reg = [](u32 off) { return reinterpret_cast<volatile u32*>(0xfee00000ull + off); };
  wrmsr(Msr::ApicBase, rdmsr(Msr::ApicBase) | (1u << 11));  // global enable
  *reg(0xf0) = 0x100 | kSpuriousVector;                       // SVR: software enable
  *reg(0x3e0) = 0xb;                                          // divide by 1
  *reg(0x320) = kTimerVector;                                 // LVT timer: one-shot
  set_timer_handler(on_tick);
  g_ticks = 0;
  auto ticks = []() { return *static_cast<volatile u32*>(&g_ticks); };
  *reg(0x380) = 100000;                                       // initial count
  u64 start = rdtsc();
  // Check with interrupts off, then `sti; hlt` as one step (sti's one-
  // instruction shadow): an interrupt between the check and hlt would
  // otherwise leave hlt waiting for a second one that never comes.
  while (ticks() == 0 && rdtsc() - start < 20000000000ull) asm volatile("sti; hlt; cli" ::: "memory");
  report("lapic-timer", ticks() == 1, ticks() == 1 ? "" : "(no interrupt, or more than one)");
}

void test_tsc() {
  u64 a = rdtsc();
  asm volatile("mov $100, %%ecx\n1: dec %%ecx\n jnz 1b" : : : "rcx");
  u64 b = rdtsc();
  report("tsc", b > a, "");
}

// The application processors come online (INIT-SIPI-SIPI) and park.
void test_smp(u64 rsdp, u32 hint) {
  u32 ids[64];
  u32 found = smp_find_cpus(rsdp, hint, ids, 64);
  const char* problem = "";
  u32 online = found > 1 ? smp_start_parked(rsdp, hint, &problem) : 1;
  char detail[96];
  format(detail, sizeof detail, "(%u of %u CPUs online%s%s)", online, found, problem[0] ? ": " : "",
         problem);
  report("smp", online == found, detail);
}

// The generated symbol table names a function from inside it: scope and name
// decoded (gen_ksyms.py's compact form), anonymous namespaces left out.
void test_ksyms() {
  struct Want {
    u64 addr;
    const char* scope;
    const char* name;
    u64 offset;
  } want[] = {
      {reinterpret_cast<u64>(&run_selftests) + 3, "mote::kvm::", "run_selftests", 3},
      {reinterpret_cast<u64>(&report) + 1, "mote::kvm::", "report", 1},
      {reinterpret_cast<u64>(&ksym), "mote::kvm::", "ksym", 0},
  };
  char detail[160] = "";
  bool ok = true;
  for (const Want& w : want) {
    Ksym k;
    if (!ksym(w.addr, &k)) k = {"", "nothing", 0};
    if (StrView(k.scope) == StrView(w.scope) && StrView(k.name) == StrView(w.name) &&
        k.offset == w.offset)
      continue;
    format(detail, sizeof detail, "(%#lx: %s%s+%#lx, want %s%s+%#lx)", (unsigned long)w.addr,
           k.scope, k.name, (unsigned long)k.offset, w.scope, w.name, (unsigned long)w.offset);
    ok = false;
    break;
  }
  report("ksyms", ok, detail);
}

// Core memory given back is mapped again for the next blocks of its size,
// zeroed, and no frame is lost on the way (memory.cc's free blocks): a
// thread's stack, made and freed over and over, does not grow the region.
void test_core_reuse() {
  constexpr u64 kLen = 32768;  // a kernel stack
  // The first block may make page tables for the region: they stay.
  auto first = core_map(kLen);
  if (first.ok()) core_unmap(first.value(), kLen);
  u64 frames_before = frames_free();
  u64 used_before = core_region_used();
  const char* problem = first.ok() ? nullptr : "core_map failed";
  for (int i = 0; i < 64 && !problem; ++i) {
    auto a = core_map(kLen);
    if (!a.ok()) {
      problem = "core_map failed";
      break;
    }
    auto* p = reinterpret_cast<volatile u64*>(a.value());
    if (p[0] != 0 || p[kLen / 8 - 1] != 0) problem = "a block came back with old bytes";
    p[0] = 0x6d6f7465;  // what the next round must not see
    p[kLen / 8 - 1] = 0x6d6f7465;
    core_unmap(a.value(), kLen);
  }
  char detail[120] = "";
  if (problem) format(detail, sizeof detail, "(%s)", problem);
  else if (core_region_used() != used_before)
    format(detail, sizeof detail, "(the region grew by %lu bytes over 64 rounds)",
           (unsigned long)(core_region_used() - used_before));
  else if (frames_free() != frames_before)
    format(detail, sizeof detail, "(%lu frames free before, %lu after)",
           (unsigned long)frames_before, (unsigned long)frames_free());
  report("core-reuse", detail[0] == 0, detail);
}

}  // namespace

u64 g_selftest_rsdp;
u32 g_selftest_cpus;

int run_selftests() {
  g_failures = 0;
  test_invalid_opcode_on_ist();
  test_page_fault();
  test_divide_error();
  test_lstar_round_trip();
  test_tsc();
  test_lapic_timer();
  test_smp(g_selftest_rsdp, g_selftest_cpus);
  test_ksyms();
  kprintf("selftest: %d failed\n", g_failures);
  return g_failures;
}

int run_memory_selftests() {
  g_failures = 0;
  test_core_reuse();
  kprintf("selftest: %d failed\n", g_failures);
  return g_failures;
}

}  // namespace mote::kvm
