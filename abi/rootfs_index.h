// The index after a root filesystem image's cpio archive.
//
// The image is a standard cpio "newc" archive (monitor/image/cpio.cc); after
// its TRAILER!!! entry, where cpio readers stop, the monitor appends this
// index of every entry so the kernel builds its file tree without touching
// each header's page (a page fault costs microseconds, and python's image has
// ~1,500 entries). The archive's last 16 bytes are the footer. A kernel that
// finds no footer, or an index that fails any check, parses the headers.
//
//   [cpio entries ... TRAILER!!!] [IndexHeader] [IndexEntry x count] [names]
//   [IndexFooter]
#pragma once

#include <stdint.h>

namespace mote::abi {

inline constexpr char kIndexMagic[8] = {'M', 'O', 'T', 'E', 'I', 'D', 'X', '1'};

struct IndexHeader {
  char magic[8];
  uint32_t count;         // entries
  uint32_t names_size;    // bytes of the name area after the entries
};

struct IndexEntry {
  uint32_t mode;          // st_mode: type and permissions
  uint32_t name_offset;   // into the name area; no leading '/', no NUL
  uint32_t name_length;
  uint32_t reserved;
  uint64_t mtime;         // seconds
  uint64_t data_offset;   // from the archive start: file bytes or symlink target
  uint64_t size;          // file size or symlink target length
};
static_assert(sizeof(IndexEntry) == 40);

struct IndexFooter {
  uint64_t index_offset;  // where the IndexHeader starts
  char magic[8];          // kIndexMagic again
};
static_assert(sizeof(IndexFooter) == 16);

}  // namespace mote::abi
