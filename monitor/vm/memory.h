// Guest RAM: guest-physical [0, size) backed by ONE host mapping, and THE
// checked accessor through which the monitor touches any guest address.
//
// The guest is hostile: every guest-physical address (GPA) and length the
// monitor receives — in a hypercall struct, in an ELF header, anywhere — goes
// through at() before use, which rejects ranges that wrap around 2^64 and
// ranges that do not lie entirely inside RAM.
//
// The mapping is MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE: RAM the guest never
// touches costs the host nothing, and fresh RAM reads as zero (so the loader
// never writes a .bss).
#pragma once

#include <stdint.h>

#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

#include "monitor/vm/expected.h"

namespace mote::vm {

class GuestMemory {
 public:
  // `size` bytes of RAM at GPA 0; a multiple of 4 KiB, not zero.
  static Expected<GuestMemory> create(uint64_t size);

  GuestMemory(GuestMemory&& o) noexcept;
  GuestMemory& operator=(GuestMemory&& o) noexcept;
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  ~GuestMemory();

  uint64_t size() const { return size_; }

  // The bytes [gpa, gpa + len) when that range lies inside RAM, else nullopt.
  // One rule covers every edge: valid iff gpa + len does not wrap and
  // gpa + len <= size(). So a zero-length range is valid anywhere in
  // [0, size()] (including exactly at the end) and invalid past it.
  std::optional<std::span<uint8_t>> at(uint64_t gpa, uint64_t len) const;

  // Typed copies in and out (never references into guest RAM: the guest may
  // change the bytes under us, so the monitor reads a struct once, then checks it).
  template <typename T>
  std::optional<T> read(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    auto bytes = at(gpa, sizeof(T));
    if (!bytes) return std::nullopt;
    T value;
    std::memcpy(&value, bytes->data(), sizeof(T));
    return value;
  }

  template <typename T>
  bool write(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    auto bytes = at(gpa, sizeof(T));
    if (!bytes) return false;
    std::memcpy(bytes->data(), &value, sizeof(T));
    return true;
  }

  // Copies `bytes` to [gpa, gpa + bytes.size()); false (nothing written) if out of range.
  bool copy_in(uint64_t gpa, std::span<const uint8_t> bytes) const;

  // For registering the mapping with KVM (KVM_SET_USER_MEMORY_REGION) or an
  // emulator. Not for reading or writing guest memory: use at().
  void* host_mapping() const { return base_; }

 private:
  GuestMemory(uint8_t* base, uint64_t size) : base_(base), size_(size) {}

  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace mote::vm
