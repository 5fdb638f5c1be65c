// x86-64 privileged-instruction wrappers and register layouts for the VM
// platform. References: Intel SDM vol. 3A (chapter and section per item).
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

inline constexpr u64 kKernelVma = 0xffffffff80000000ull;

inline constexpr u64 kDirectMapBase = 0xffff800000000000ull;

// Physical address of kernel memory: the kernel image (at kKernelVma) or the
// direct map; before the kernel's own tables, low addresses are identity.
inline u64 virt_to_phys(const void* p) {
  u64 v = reinterpret_cast<u64>(p);
  if (v >= kKernelVma) return v - kKernelVma;
  if (v >= kDirectMapBase && v < kDirectMapBase + (1ull << 46)) return v - kDirectMapBase;
  return v;
}

inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory"); }
inline u8 inb(u16 port) {
  u8 v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

// SDM 4 "Model-Specific Registers" (vol. 4): the ones the kernel uses.
enum class Msr : u32 {
  Efer = 0xc0000080,       // SDM 3A 2.2.1: SCE bit 0, LME 8, LMA 10, NXE 11
  Star = 0xc0000081,       // SDM 3A 5.8.8: syscall CS/SS selectors
  Lstar = 0xc0000082,      // syscall entry RIP (64-bit)
  Fmask = 0xc0000084,      // RFLAGS bits cleared on syscall
  FsBase = 0xc0000100,
  GsBase = 0xc0000101,
  ApicBase = 0x1b,         // SDM 3A 10.4.4
  TscDeadline = 0x6e0,     // SDM 3A 10.5.4.1
};

inline u64 rdmsr(Msr m) {
  u32 lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(u32(m)));
  return (u64(hi) << 32) | lo;
}
inline void wrmsr(Msr m, u64 v) {
  asm volatile("wrmsr" : : "c"(u32(m)), "a"(u32(v)), "d"(u32(v >> 32)) : "memory");
}

inline u64 read_cr2() {
  u64 v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}

inline u64 rdtsc() {
  u32 lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (u64(hi) << 32) | lo;
}

struct Cpuid {
  u32 eax, ebx, ecx, edx;
};
inline Cpuid cpuid(u32 leaf, u32 sub = 0) {
  Cpuid r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
  return r;
}

}  // namespace mote::kvm
