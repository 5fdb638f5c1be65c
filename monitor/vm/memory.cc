#include "monitor/vm/memory.h"

#include <errno.h>
#include <sys/mman.h>

#include <string>
#include <utility>

namespace mote::vm {

Expected<GuestMemory> GuestMemory::create(uint64_t size) {
  if (size == 0 || size % 4096 != 0)
    return fail("guest RAM size " + std::to_string(size) + " is not a positive multiple of 4 KiB");
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return fail("cannot map " + std::to_string(size >> 20) + " MiB of guest RAM: " + strerror(errno));
  return GuestMemory(static_cast<uint8_t*>(p), size);
}

GuestMemory::GuestMemory(GuestMemory&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}

GuestMemory& GuestMemory::operator=(GuestMemory&& o) noexcept {
  if (this != &o) {
    if (base_) munmap(base_, size_);
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

GuestMemory::~GuestMemory() {
  if (base_) munmap(base_, size_);
}

std::optional<std::span<uint8_t>> GuestMemory::at(uint64_t gpa, uint64_t len) const {
  uint64_t end;
  if (__builtin_add_overflow(gpa, len, &end)) return std::nullopt;  // wraps past 2^64
  if (end > size_) return std::nullopt;                             // past the end of RAM
  return std::span<uint8_t>(base_ + gpa, len);
}

bool GuestMemory::copy_in(uint64_t gpa, std::span<const uint8_t> bytes) const {
  auto dst = at(gpa, bytes.size());
  if (!dst) return false;
  if (!bytes.empty()) std::memcpy(dst->data(), bytes.data(), bytes.size());
  return true;
}

}  // namespace mote::vm
