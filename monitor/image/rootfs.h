// The root filesystem image of a run: a cpio newc archive (monitor/image/cpio.h)
// holding the program at the path it was named by, its interpreter and
// library closure (monitor/image/deps.h), /etc/ld.so.cache, the files of
// `--add HOST[:GUEST]`, and the files a runtime needs (profiles: python).
// Every host symlink met on the way -- /usr/bin/python3 -> python3.11,
// /lib -> usr/lib, /lib64/ld-linux-x86-64.so.2 -> ... -- is in the image
// as a symlink, so the guest sees the host's paths.
//
// Images are cached by content (rootfs_cache.h): the key is the SHA-256 of a
// manifest of every entry (guest path, type, mode, host path, size, mtime,
// ctime, dev, ino) and a format version. A hit opens the existing file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mote::image {

struct RootfsRequest {
  std::string program;                  // absolute path as named: the program's guest path
  std::vector<std::string> adds;        // --add HOST[:GUEST], as given
  std::vector<std::string> guest_env;   // K=V: LD_LIBRARY_PATH is taken from here
  std::string cache_dir;                // empty: default_cache_dir()
  // --debug-files: the separate debug files of the program and its
  // libraries, where the host has them (fault reports read them; on the VM
  // platforms the whole image is guest RAM, hence only when asked).
  bool debug_files = false;
};

struct Rootfs {
  int fd = -1;           // the image, O_RDONLY, inherited across exec (no O_CLOEXEC)
  std::string path;      // the image file in the cache
  uint64_t size = 0;
  std::string key;       // SHA-256 of the manifest, hex
  std::string interp;    // the program's interpreter; empty when static
  size_t entries = 0;    // cpio entries (0 when known from the index only)
  bool index_hit = false;   // the request's index validated: no resolution was done
  bool image_hit = false;   // the image file existed: nothing was written
  uint64_t build_ns = 0;    // time spent in build_rootfs
};

// Builds (or finds in the cache) the image for `req`. False with a one-line
// *error and *status: 127 a file is missing (the program, its interpreter,
// a library), 126 cannot be executed (not ELF...), 125 mote failed (cache,
// --add).
bool build_rootfs(const RootfsRequest& req, Rootfs* out, std::string* error, int* status);

// $MOTE_CACHE_DIR, else $XDG_CACHE_HOME/mote, else $HOME/.cache/mote, else
// /tmp/mote-cache-<uid>.
std::string default_cache_dir();

// The absolute, lexically normal form of `path` ("." and "//" removed; ".."
// taken lexically), relative to the working directory. Symlinks are kept.
std::string absolute_path(const std::string& path);

// Splits "HOST[:GUEST]" (GUEST defaults to HOST's absolute path). False with
// *error when GUEST is not absolute.
bool parse_add(const std::string& spec, std::string* host, std::string* guest, std::string* error);

}  // namespace mote::image
