// Small host I/O helpers shared by the monitor's launchers.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace mote::util {

// Writes all `n` bytes (retrying short writes and EINTR); false on error.
inline bool write_all(int fd, const void* data, size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

}  // namespace mote::util
