#include "monitor/boot/boot_info.h"

#include <cstddef>
#include <string>

#include "abi/boot_info.h"
#include "monitor/boot/layout.h"

namespace mote::boot {

// The test kernel (tests/vm/guest) reads ram_bytes at this offset.
static_assert(offsetof(abi::BootInfo, ram_bytes) == 104);

vm::Expected<uint64_t> place_boot_info(const vm::GuestMemory& mem, std::span<const uint8_t> blob,
                                       uint64_t tsc_khz, uint64_t kernel_lowest_gpa,
                                       uint64_t program_gpa, uint64_t program_size) {
  if (!abi::boot_info_ok(blob.data(), blob.size())) return vm::fail("boot-info blob is malformed");
  uint64_t end = kBootInfoGpa + blob.size();
  if (end > kBootInfoLimit || end > kernel_lowest_gpa)
    return vm::fail("boot info (" + std::to_string(blob.size()) +
                    " bytes: arguments and environment) does not fit below the kernel");
  bool ok = mem.copy_in(kBootInfoGpa, blob) &&
            mem.write(kBootInfoGpa + offsetof(abi::BootInfo, ram_bytes), uint64_t{mem.size()}) &&
            mem.write(kBootInfoGpa + offsetof(abi::BootInfo, tsc_khz), uint64_t{tsc_khz}) &&
            (program_size == 0 ||
             (mem.write(kBootInfoGpa + offsetof(abi::BootInfo, program_gpa), program_gpa) &&
              mem.write(kBootInfoGpa + offsetof(abi::BootInfo, program_size), program_size)));
  if (!ok) return vm::fail("guest RAM too small for the boot info");
  return kBootInfoGpa;
}

}  // namespace mote::boot
