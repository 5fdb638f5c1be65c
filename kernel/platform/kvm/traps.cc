#include "kernel/platform/kvm/traps.h"

#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/ksyms.h"
#include "kernel/core/thread.h"
#include "kernel/platform/kvm/cpu.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/profile.h"
#include "kernel/platform/kvm/sched.h"
#include "kernel/platform/kvm/vm.h"
#include "kernel/platform/platform.h"

extern "C" const mote::u64 mote_vector_table[32];
extern "C" const mote::u64 mote_vector_timer[4];
extern "C" const mote::u64 mote_vector_device[mote::kvm::kDeviceVectors];

namespace mote::kvm {

namespace {

// SDM 3A 7.7: 64-bit TSS.
struct [[gnu::packed]] Tss {
  u32 reserved0;
  u64 rsp[3];
  u64 reserved1;
  u64 ist[7];
  u64 reserved2;
  u16 reserved3;
  u16 iomap_base;
};
static_assert(sizeof(Tss) == 104);

// SDM 3A 6.14.1: 64-bit IDT gate descriptor.
struct IdtGate {
  u16 offset_lo;
  u16 selector;
  u8 ist;
  u8 type_attr;  // P | DPL | type (0xE: interrupt gate)
  u16 offset_mid;
  u32 offset_hi;
  u32 reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct [[gnu::packed]] DescriptorPointer {
  u16 limit;
  u64 base;
};

constexpr u16 kCodeSelector = 0x08;
constexpr u16 kTssSelector = 0x18;

alignas(16) u64 g_gdt[5];
alignas(16) Tss g_tss;
alignas(16) IdtGate g_idt[256];
alignas(16) u8 g_trap_stack[16384];

struct Expectation {
  bool armed;
  u8 vector;
  u64 resume;
} g_expect;
TrapRecord g_record;
void (*g_timer_handler)();

struct DeviceHandler {
  void (*fn)(void*);
  void* arg;
};
DeviceHandler g_device[kDeviceVectors];
volatile u32 g_device_lock;

void set_gate(int vec, u64 handler) {
  g_idt[vec] = IdtGate{u16(handler), kCodeSelector, 1 /*IST1*/, 0x8e,
                       u16(handler >> 16), u32(handler >> 32), 0};
}

const char* kNames[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS",
    "segment not present", "stack fault", "general protection", "page fault", "reserved",
    "x87 error", "alignment check", "machine check", "SIMD error", "virtualization",
    "control protection", "reserved", "reserved", "reserved", "reserved", "reserved",
    "reserved", "hypervisor injection", "VMM communication", "security", "reserved"};

}  // namespace

namespace {
// One CPU's GDT (null, 64-bit code 0x08, data 0x10, its TSS at 0x18) and
// TSS (IST1: its trap stack), loaded, with the segment registers reloaded.
void load_gdt_tss(u64* gdt, Tss& tss, u64 ist_top) {
  gdt[0] = 0;
  gdt[1] = 0x00af9a000000ffffull;  // 0x08: 64-bit code
  gdt[2] = 0x00cf92000000ffffull;  // 0x10: data
  u64 t = reinterpret_cast<u64>(&tss);
  u64 limit = sizeof(Tss) - 1;
  // SDM 3A 7.2.3: 16-byte TSS descriptor, type 9 (available 64-bit TSS).
  gdt[3] = (limit & 0xffff) | ((t & 0xffffff) << 16) | (u64(0x89) << 40) |
           (((limit >> 16) & 0xf) << 48) | (((t >> 24) & 0xff) << 56);
  gdt[4] = t >> 32;
  memset(&tss, 0, sizeof tss);
  tss.ist[0] = ist_top;
  tss.iomap_base = sizeof(Tss);

  DescriptorPointer gdtr{5 * 8 - 1, reinterpret_cast<u64>(gdt)};
  asm volatile(
      "lgdt %0\n"
      "pushq $0x08\n"
      "leaq 1f(%%rip), %%rax\n"
      "pushq %%rax\n"
      "lretq\n"
      "1: mov $0x10, %%eax\n"
      "mov %%eax, %%ds\n"
      "mov %%eax, %%es\n"
      "mov %%eax, %%ss\n"
      "ltr %w1\n"
      :
      : "m"(gdtr), "r"(kTssSelector)
      : "rax", "memory");
}

void load_idt() {
  DescriptorPointer idtr{sizeof g_idt - 1, reinterpret_cast<u64>(g_idt)};
  asm volatile("lidt %0" : : "m"(idtr));
}

alignas(16) u64 g_ap_gdt[kMaxCpus][5];
alignas(16) Tss g_ap_tss[kMaxCpus];
}  // namespace

void traps_init() {
  static_assert(sizeof g_gdt == 5 * 8);
  load_gdt_tss(g_gdt, g_tss, reinterpret_cast<u64>(g_trap_stack + sizeof g_trap_stack));
  for (int v = 0; v < 32; ++v) set_gate(v, mote_vector_table[v]);
  set_gate(kTimerVector, mote_vector_timer[0]);
  set_gate(kSpuriousVector, mote_vector_timer[1]);
  set_gate(kReschedVector, mote_vector_timer[2]);
  set_gate(kTlbVector, mote_vector_timer[3]);
  for (u32 i = 0; i < kDeviceVectors; ++i) set_gate(kDeviceVectorBase + int(i), mote_vector_device[i]);
  load_idt();
}

void traps_init_ap(u32 index, u64 ist_top) {
  load_gdt_tss(g_ap_gdt[index], g_ap_tss[index], ist_top);
  load_idt();  // the gates are the boot CPU's
}

void expect_trap(u8 vector, u64 resume) { g_expect = Expectation{true, vector, resume}; }
const TrapRecord& last_expected_trap() { return g_record; }
void set_timer_handler(void (*fn)()) { g_timer_handler = fn; }

u8 device_vector_alloc(void (*fn)(void*), void* arg) {
  while (__atomic_exchange_n(&g_device_lock, 1, __ATOMIC_ACQUIRE)) asm volatile("pause");
  u8 vector = 0;
  for (u32 i = 0; i < kDeviceVectors && !vector; ++i) {
    if (g_device[i].fn) continue;
    g_device[i].arg = arg;
    __atomic_store_n(&g_device[i].fn, fn, __ATOMIC_RELEASE);
    vector = u8(kDeviceVectorBase + i);
  }
  __atomic_store_n(&g_device_lock, 0, __ATOMIC_RELEASE);
  return vector;
}

u64 g_lapic_virt = 0xfee00000;

// A fault in the program (lower-half code): the signal Linux would send
// (arch/x86/kernel/traps.c conventions), to its handler or as the core's
// report.
void program_fault(TrapFrame* f) {
  core::FaultFrame ff{};
  ff.address = 0;
  switch (f->vector) {
    case 0: ff.signal = 8; ff.code = 1; ff.address = f->rip; break;   // #DE: SIGFPE, FPE_INTDIV
    case 1: ff.signal = 5; ff.code = 2; ff.address = f->rip; break;   // #DB: TRAP_TRACE
    case 3: ff.signal = 5; ff.code = 0x80; break;                     // int3: SI_KERNEL, as Linux
    case 4: ff.signal = 11; ff.code = 0; break;                       // #OF
    case 5: ff.signal = 11; ff.code = 0; break;                       // #BR
    case 6: ff.signal = 4; ff.code = 2; ff.address = f->rip; break;   // #UD: SIGILL, ILL_ILLOPN
    case 7: ff.signal = 8; ff.code = 0; ff.address = f->rip; break;   // #NM
    case 13: ff.signal = 11; ff.code = 0x80; break;                   // #GP: SIGSEGV, SI_KERNEL
    case 14:                                                          // #PF
      ff.signal = 11;
      ff.address = read_cr2();
      {
        // SEGV_ACCERR where a mapping covers the address (present or not:
        // PROT_NONE pages are never backed), else SEGV_MAPERR.
        u32 prot;
        ff.code = ((f->error & 1) || core::program_page_prot(ff.address, &prot)) ? 2 : 1;
      }
      break;
    case 16: case 19: ff.signal = 8; ff.code = 0; ff.address = f->rip; break;  // #MF #XM
    case 17: ff.signal = 7; ff.code = 1; break;                       // #AC: SIGBUS, BUS_ADRALN
    default: ff.signal = 11; ff.code = 0x80; break;
  }
  const u64 regs[18] = {f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp, f->rsp, f->r8,
                        f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14, f->r15, f->rip, f->rflags};
  memcpy(ff.regs, regs, sizeof regs);
  deliver_at_trap(f, &ff);  // returns only when the program's handler will run
}

}  // namespace mote::kvm

using namespace mote;
using namespace mote::kvm;

extern "C" void mote_trap_dispatch(TrapFrame* f) {
  Profile* prof = g_profile;
  const u64 t0 = prof ? rdtsc() : 0;
  if (f->vector == kTimerVector) {
    *reinterpret_cast<volatile u32*>(g_lapic_virt + 0xb0) = 0;  // xAPIC EOI (SDM 3A 10.8.5)
    lapic_timer_fired();
    if (g_timer_handler) g_timer_handler();
    if (prof) prof->timer_tsc += rdtsc() - t0, ++prof->timers;
    // Program code was interrupted: its slice may be over; a signal the
    // timer raised is taken now (on the thread's kernel stack).
    after_interrupt(f);
    return;
  }
  if (f->vector == kSpuriousVector) return;
  if (f->vector >= kDeviceVectorBase && f->vector < kDeviceVectorBase + kDeviceVectors) {
    // The driver acknowledges at its device first (level-triggered lines),
    // then the EOI; then, as for the timer, a slice or a signal the
    // handler's wake-ups made due. No scheduler lock is held here: this CPU
    // takes interrupts only in program code or in idle's hlt.
    DeviceHandler& h = g_device[f->vector - kDeviceVectorBase];
    auto fn = __atomic_load_n(&h.fn, __ATOMIC_ACQUIRE);
    if (fn) fn(h.arg);
    *reinterpret_cast<volatile u32*>(g_lapic_virt + 0xb0) = 0;  // EOI
    if (prof) prof->irq_tsc += rdtsc() - t0, ++prof->irqs;
    after_interrupt(f);
    return;
  }
  if (f->vector == kReschedVector || f->vector == kTlbVector) {
    *reinterpret_cast<volatile u32*>(g_lapic_virt + 0xb0) = 0;  // EOI
    if (f->vector == kTlbVector) tlb_service();
    else on_resched_ipi(f);
    return;
  }
  // Demand paging: a first touch of program memory, by the program or by the
  // core copying to/from it (error code bit 1: write).
  if (f->vector == 14 && read_cr2() < 0x800000000000ull &&
      (!(f->error & 1) || g_spurious_possible)) {
    // fault_in reads the core's mappings and changes page tables: under the
    // kernel lock (this CPU's thread may hold it already: a copy to or from
    // program memory in a system call). Spinning, not sleeping: this is an
    // exception on the IST stack.
    bool mine = core::klock_mine();
    while (!mine && !core::klock_try()) {
      tlb_service();
      asm volatile("pause");
    }
    bool done = fault_in(read_cr2(), f->error & 2, f->error & 1);
    if (!mine) core::kunlock();
    if (done) return;
  }
  if (g_expect.armed && f->vector == g_expect.vector) {
    g_expect.armed = false;
    g_record = TrapRecord{g_record.count + 1, u8(f->vector), f->rip, f->error,
                          f->vector == 14 ? read_cr2() : 0};
    f->rip = g_expect.resume;
    return;
  }
  if (f->vector < 32 && f->rip < 0x800000000000ull) {
    // Off the IST stack first: starting a handler writes to program memory,
    // which may fault again (a nested fault reuses the IST stack).
    if (sched_active()) run_on_kernel_stack(f, program_fault);
    program_fault(f);
    return;
  }
  kprintf("mote kernel: %s (vector %lu, error %#lx) at rip %#lx, rsp %#lx, cr2 %#lx\n",
          f->vector < 32 ? kNames[f->vector] : "interrupt", (unsigned long)f->vector,
          (unsigned long)f->error, (unsigned long)f->rip, (unsigned long)f->rsp,
          (unsigned long)read_cr2());
  print_backtrace(f->rip, f->rbp);
  vm_exit(70);
}
