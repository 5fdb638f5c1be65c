#include "monitor/boot/gdt.h"

#include <array>

#include "monitor/boot/layout.h"

namespace mote::boot {

vm::Expected<void> write_gdt(const vm::GuestMemory& mem) {
  const std::array<uint64_t, kGdtEntries> gdt = {0, kCode64.encode(), kData.encode()};
  static_assert(kCodeSelector == 1 * 8 && kDataSelector == 2 * 8);
  if (!mem.write(kGdtGpa, gdt)) return vm::fail("guest RAM too small for the boot GDT");
  return {};
}

}  // namespace mote::boot
