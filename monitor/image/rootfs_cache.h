// The cache of root filesystem images (monitor/image/rootfs.h).
//
//   <dir>/rootfs-<key>.cpio   an image; <key> = SHA-256 of its manifest
//   <dir>/index-<req>         for one request (program, --add, LD_LIBRARY_PATH):
//                             the image key and every host input it was built
//                             from, with what stat(2) said of each
//
// A run first checks its request's index: when every input still stats the
// same, the image key is known without reading one ELF header or listing
// one directory (the fast path: ~1 stat per file). Otherwise the image is
// resolved again, and its manifest's key may still name an existing image.
// Every file is written to a temporary name and renamed into place, so
// concurrent runs see either nothing or a complete file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace mote::image {

// What an image depends on, and how a change shows.
enum class InputKind : char {
  File = 'F',     // lstat: identity, mode, size, mtime, ctime (files, symlinks, config)
  Listing = 'D',  // stat: a directory whose entries were listed or searched: mtime, ctime
  Walked = 'W',   // lstat: a path component: identity and type only
  Absent = 'A',   // must still not exist
};

struct CacheInput {
  InputKind kind = InputKind::Absent;
  uint64_t dev = 0, ino = 0, mode = 0, size = 0, mtime_ns = 0, ctime_ns = 0;
};

class InputSet {
 public:
  // Records `path` as an input of `kind`, stat'ing it now (Absent when it
  // does not exist). A stronger record replaces a Walked one.
  void note(InputKind kind, const std::string& path);
  const std::map<std::string, CacheInput>& all() const { return inputs_; }

 private:
  std::map<std::string, CacheInput> inputs_;
};

// True when `index_path` exists, is well-formed and every input it lists
// still stats as recorded; sets *image_key and *interp.
bool index_still_valid(const std::string& index_path, std::string* image_key, std::string* interp);

bool write_index(const std::string& index_path, const std::string& image_key,
                 const std::string& interp, const InputSet& inputs, std::string* error);

// Creates `final_path` atomically: `fill` writes a temporary file in the same
// directory (returns false with *error on failure), which is then renamed.
bool write_atomically(const std::string& final_path, const std::function<bool(int fd)>& fill,
                      std::string* error);

// mkdir -p with mode 0700 for what it creates.
bool make_dirs(const std::string& dir, std::string* error);

}  // namespace mote::image
