// The PVH boot ABI (Xen's "HVM direct boot", arch-x86/hvm/start_info.h), as
// QEMU microvm, Firecracker and Cloud Hypervisor implement it.
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

inline constexpr u32 kHvmStartMagic = 0x336ec578;

struct HvmStartInfo {
  u32 magic;
  u32 version;
  u32 flags;
  u32 nr_modules;
  u64 modlist_paddr;
  u64 cmdline_paddr;
  u64 rsdp_paddr;
  u64 memmap_paddr;   // version >= 1
  u32 memmap_entries;
  u32 reserved;
};

struct HvmModlistEntry {
  u64 paddr;
  u64 size;
  u64 cmdline_paddr;
  u64 reserved;
};

struct HvmMemmapEntry {
  u64 addr;
  u64 size;
  u32 type;  // 1 = RAM (E820 types)
  u32 reserved;
};

}  // namespace mote::kvm
