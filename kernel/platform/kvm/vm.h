// VM-platform state shared by its files.
#pragma once

#include "abi/boot_info.h"
#include "kernel/platform/kvm/console.h"

namespace mote::kvm {

struct VmState {
  Host host;
  const abi::BootInfo* boot;  // through the direct map
  bool bootstats;             // print boot TSC figures before the program starts
  bool no_vdso;               // vdso=0: programs get no vDSO (clock reads are system calls)
  // A gzip initrd decompressed into the core region (initrd.cc), by
  // platform::Image: it, not the boot info's physical range, is the image.
  struct {
    u64 virt, size;
  } unpacked[2];
};
extern VmState g_vm;

// Builds the boot info from the PVH start info (argv from the command line
// after "--", the program from module 0).
const abi::BootInfo* boot_info_from_pvh(u64 start_info_phys, u64 ram_bytes);

// LAPIC one-shot timer at a monotonic deadline (0 disarms); interrupts call
// core::on_timer.
void lapic_init();
void lapic_init_ap();  // an application processor's own LAPIC, like the BSP's
u32 lapic_id();        // this CPU's local APIC ID (SDM 3A 10.4.6)
void lapic_arm(u64 deadline_ns);
// The timer interrupt came: this CPU's timer no longer counts.
void lapic_timer_fired();
// Measures the TSC frequency (if the boot info and CPUID did not give it) and
// the LAPIC timer's rate now, on this CPU. Called before the APs start: they
// share the answers, and two CPUs calibrating at once against the one PIT
// get two different ones (the clock then jumps when the second is stored).
void lapic_calibrate();

// SSE for the program (CR0.MP, CR4.OSFXSR|OSXMMEXCPT; XSAVE/AVX state when
// the CPU has it). The kernel itself never touches vector registers.
void enable_fpu();

}  // namespace mote::kvm
