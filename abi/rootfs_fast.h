// The pointer `mote` follows to boot a cached dynamic program without the
// C++ monitor (kernel/platform/process/launcher.cc).
//
// For a plain request (no --add, no LD_LIBRARY_PATH), the monitor writes
// <cache>/fast-<FNV-1a-64 of the program's absolute path, 16 hex digits>:
//
//   mote-fast 1
//   <the program's absolute path, symlinks kept>
//   <the name of its index file in the cache: index-...>
//
// The index file (monitor/image/rootfs_cache.h) lists every input with what
// stat(2) said of it; the launcher boots from the image only when all of them
// still stat the same, else it hands the run to the monitor, which decides.
#pragma once

#include <stdint.h>

namespace mote::abi {

inline constexpr const char* kFastMagic = "mote-fast 1";
// Bumped with monitor/image/rootfs.cc's kFormat: the launcher then ignores
// index files of images packed the old way.
inline constexpr const char* kIndexFileMagic = "mote-rootfs-index 2";

inline uint64_t fast_key(const char* path, uint64_t len) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (uint64_t i = 0; i < len; ++i) h = (h ^ uint8_t(path[i])) * 1099511628211ull;
  return h;
}

}  // namespace mote::abi
