// The boot GDT: null, 64-bit code (selector 0x08), data (selector 0x10).
// The same descriptors fill guest memory and the vCPU's segment-register
// caches, so the two never disagree.
#pragma once

#include <stdint.h>

#include "monitor/vm/expected.h"
#include "monitor/vm/memory.h"

namespace mote::boot {

// SDM Vol. 3A 3.4.5 "Segment Descriptors" (Figure 3-8), fields unpacked.
struct SegmentDescriptor {
  uint64_t base = 0;
  uint32_t limit = 0;  // the 20-bit limit field (in 4 KiB units when g)
  uint8_t type = 0;    // SDM 3.4.5.1 "Code- and Data-Segment Descriptor Types"
  bool s = true;       // code or data (not system)
  uint8_t dpl = 0;
  bool present = true;
  bool avl = false;
  bool l = false;      // 64-bit code segment
  bool db = false;     // default operation size 32 (must be 0 when l)
  bool g = true;       // limit in 4 KiB units

  constexpr uint64_t encode() const {
    return (uint64_t(limit) & 0xffff) | ((base & 0xffffff) << 16) | (uint64_t(type & 0xf) << 40) |
           (uint64_t(s) << 44) | (uint64_t(dpl & 3) << 45) | (uint64_t(present) << 47) |
           ((uint64_t(limit) >> 16 & 0xf) << 48) | (uint64_t(avl) << 52) | (uint64_t(l) << 53) |
           (uint64_t(db) << 54) | (uint64_t(g) << 55) | (((base >> 24) & 0xff) << 56);
  }
  // The limit in bytes, as the segment-register cache holds it.
  constexpr uint32_t byte_limit() const { return g ? (limit << 12) | 0xfff : limit; }
};

inline constexpr uint8_t kTypeCodeExecReadAccessed = 0xb;
inline constexpr uint8_t kTypeDataReadWriteAccessed = 0x3;

inline constexpr uint16_t kCodeSelector = 0x08;
inline constexpr uint16_t kDataSelector = 0x10;
inline constexpr int kGdtEntries = 3;
inline constexpr uint16_t kGdtLimit = kGdtEntries * 8 - 1;

inline constexpr SegmentDescriptor kCode64{.limit = 0xfffff, .type = kTypeCodeExecReadAccessed, .l = true};
inline constexpr SegmentDescriptor kData{.limit = 0xfffff, .type = kTypeDataReadWriteAccessed, .db = true};

static_assert(kCode64.encode() == 0x00af9b000000ffffull);
static_assert(kData.encode() == 0x00cf93000000ffffull);

// Writes the GDT at kGdtGpa.
vm::Expected<void> write_gdt(const vm::GuestMemory& mem);

}  // namespace mote::boot
