// x86-64 architectural bits the direct 64-bit entry sets, as typed flags.
// Each group cites the Intel SDM (Vol. 3A) section it comes from.
#pragma once

#include <stdint.h>

namespace mote::boot {

// A set of flags of one register; only flags of that register combine.
template <typename Flag>
class Flags {
 public:
  constexpr Flags() = default;
  constexpr Flags(Flag f) : bits_(uint64_t(f)) {}  // NOLINT: implicit by design
  constexpr Flags operator|(Flags o) const { return Flags(bits_ | o.bits_); }
  constexpr Flags& operator|=(Flags o) {
    bits_ |= o.bits_;
    return *this;
  }
  constexpr bool has(Flag f) const { return (bits_ & uint64_t(f)) == uint64_t(f); }
  constexpr uint64_t bits() const { return bits_; }

 private:
  constexpr explicit Flags(uint64_t bits) : bits_(bits) {}
  uint64_t bits_ = 0;
};

template <typename Flag>
constexpr Flags<Flag> operator|(Flag a, Flag b) { return Flags<Flag>(a) | b; }

// SDM 2.5 "Control Registers", CR0.
enum class Cr0 : uint64_t {
  PE = 1ull << 0,   // protection enable
  MP = 1ull << 1,   // monitor coprocessor
  ET = 1ull << 4,   // extension type (fixed 1)
  NE = 1ull << 5,   // native x87 error reporting
  WP = 1ull << 16,  // write protect in ring 0
  PG = 1ull << 31,  // paging
};

// SDM 2.5 "Control Registers", CR4.
enum class Cr4 : uint64_t {
  PAE = 1ull << 5,          // physical address extension (required for long mode)
  OSFXSR = 1ull << 9,       // fxsave/fxrstor and SSE enabled by the OS
  OSXMMEXCPT = 1ull << 10,  // unmasked SSE exceptions raise #XM
};

// SDM 2.2.1 "Extended Feature Enable Register" (MSR 0xC0000080).
enum class Efer : uint64_t {
  SCE = 1ull << 0,   // syscall/sysret
  LME = 1ull << 8,   // long mode enable
  LMA = 1ull << 10,  // long mode active
  NXE = 1ull << 11,  // no-execute page bit
};

// SDM 2.3 "System Flags and Fields in the EFLAGS Register": bit 1 reads as 1.
inline constexpr uint64_t kRflagsFixed = 1ull << 1;

// SDM 4.5 "4-Level Paging", Tables 4-15..4-20: paging-structure entry bits.
enum class Pte : uint64_t {
  Present = 1ull << 0,
  Writable = 1ull << 1,
  User = 1ull << 2,
  Large = 1ull << 7,  // PS: this PDPTE maps 1 GiB / this PDE maps 2 MiB
  Global = 1ull << 8,
  NoExecute = 1ull << 63,
};

// A paging-structure entry: a physical address plus flags.
struct PageEntry {
  uint64_t raw = 0;

  static constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;  // bits 51:12
  static constexpr PageEntry make(uint64_t phys, Flags<Pte> flags) {
    return PageEntry{(phys & kAddressMask) | flags.bits()};
  }
  constexpr bool has(Pte f) const { return (raw & uint64_t(f)) != 0; }
  constexpr uint64_t address() const { return raw & kAddressMask; }
};

}  // namespace mote::boot
