// cpio "newc" archives (magic 070701), the format of Linux's initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): written
// streaming into a file, and read back (tests, `mote pack` checks).
//
// mote's images add one property the format allows: the data of every
// regular file of 4096 bytes or more starts at a 4096-byte-aligned offset
// from the start of the archive, so the kernel can map file pages straight
// from the image. The room is taken by extending the NUL padding after the
// name and counting it in c_namesize (readers take the name up to its first
// NUL). Smaller files keep the usual 4-byte alignment. c_namesize stays
// within Linux's limit (PATH_MAX, 4096): where a page of padding would not
// fit in one name, a "." entry (the root directory again: every reader
// accepts it, Linux's initramfs included) is written first to take the room.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mote::image {

inline constexpr uint64_t kCpioAlignedFileMin = 4096;  // files this large are page-aligned
inline constexpr uint64_t kCpioPage = 4096;
inline constexpr uint64_t kCpioMaxNameSize = 4096;  // c_namesize, NULs included

struct CpioEntry {
  std::string path;         // without a leading '/', e.g. "usr/lib/x.so"
  uint32_t mode = 0;        // S_IFDIR, S_IFREG or S_IFLNK | permissions
  uint64_t mtime = 0;       // seconds
  uint64_t size = 0;        // regular files: bytes of data
  std::string host_path;    // regular files: where the data comes from
  std::string link_target;  // symlinks: the target, stored as the data
};

// Writes the archive: `entries` sorted by path (a directory before what it
// holds), inode numbers 1, 2, ... in that order, uid/gid 0, nlink 1 (2 for
// directories), then "TRAILER!!!". Regular file data is copied with
// copy_file_range where the kernel can; a file that changed size since it
// was listed is cut or zero-padded to the listed size. Writes from offset 0
// of `fd`; returns the archive's size, or 0 with *error.
uint64_t write_cpio(int fd, std::vector<CpioEntry> entries, std::string* error);

// One entry read back.
struct CpioItem {
  std::string path;
  uint32_t mode = 0, uid = 0, gid = 0, nlink = 0, ino = 0;
  uint64_t mtime = 0;
  uint64_t data_offset = 0;  // from the start of the archive
  uint64_t size = 0;
  std::string link_target;   // symlinks
};

// Reads an archive of `size` bytes at `offset` of `fd` (offsets in the
// items are from the archive's start). False with *error when it is not a
// well-formed newc archive ending with TRAILER!!!.
bool read_cpio(int fd, uint64_t offset, uint64_t size, std::vector<CpioItem>* out,
               std::string* error);

}  // namespace mote::image
