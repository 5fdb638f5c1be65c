// The monitor's 9P2000.L server for `-v HOST:GUEST[:ro|rw]` shares
// (protocol: abi/p9.h; client: kernel/fs/share9p.cc).
//
// Confinement: each share is an O_PATH fd of its host directory. A fid holds
// an O_PATH fd of one object beneath it, reached one name at a time with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) and
// O_NOFOLLOW: the server never follows a symlink (the guest's own VFS does,
// inside the guest), a name is one component (no '/'), and ".." from a share
// root stays at the root. Files are opened by reopening a fid's fd through
// /proc/self/fd (regular files and directories only: a FIFO or device on the
// share could block or reach host hardware). Read-only shares refuse every
// modifying message with EROFS and open read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mote::share {

class Server {
 public:
  Server() = default;
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens a share root (attach name: its index as decimal). False with a
  // one-line reason ("/nope: No such file or directory") in *error.
  bool add_share(const std::string& host_dir, bool read_only, std::string* error);
  size_t share_count() const { return shares_.size(); }

  // Serves one request: `req` is one whole message; the reply goes to
  // `resp` (cap bytes, at least 64). Returns the reply's length.
  size_t dispatch(const uint8_t* req, size_t n, uint8_t* resp, size_t cap);

  // Serves a SOCK_SEQPACKET socket (one message per packet) until the peer
  // closes it or fails.
  void serve(int fd);

 private:
  struct Share {
    int root = -1;  // O_PATH | O_DIRECTORY
    bool read_only = true;
  };
  struct Fid {
    int path = -1;   // O_PATH | O_NOFOLLOW of the object
    int io = -1;     // after Tlopen / Tlcreate
    uint32_t share = 0;
    std::string rel;  // path beneath the share root ("" = the root), for ".."
    bool io_writable = false;  // io was opened for writing (Tsetattr's size uses it)
  };

  void reset();
  void clunk(uint32_t fid);
  Fid* fid(uint32_t n);

  std::vector<Share> shares_;
  std::unordered_map<uint32_t, Fid> fids_;
  uint32_t msize_ = 0;

  friend struct Handlers;
};

}  // namespace mote::share
