#include "monitor/process/boot_blob.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace mote::launch {

namespace {

class Blob {
 public:
  explicit Blob(size_t header) : bytes_(header, 0) {}
  abi::BlobString add(const std::string& s) {
    abi::BlobString b{uint32_t(bytes_.size()), uint32_t(s.size())};
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    bytes_.push_back(0);
    return b;
  }
  uint32_t align(size_t a) {
    while (bytes_.size() % a) bytes_.push_back(0);
    return uint32_t(bytes_.size());
  }
  uint32_t reserve(size_t n) {
    uint32_t at = uint32_t(bytes_.size());
    bytes_.resize(bytes_.size() + n, 0);
    return at;
  }
  uint8_t* at(size_t off) { return bytes_.data() + off; }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace

std::vector<uint8_t> build_boot_blob(const BootRequest& r) {
  Blob b(sizeof(abi::BootInfo));
  abi::BootInfo h{};
  h.magic = abi::kBootMagic;
  h.version = abi::kBootVersion;
  h.flags = r.flags;
  h.cpus = r.cpus;
  h.mem_limit = r.mem_limit;
  h.wall_clock_ns = r.wall_clock_ns;
  memcpy(h.random_seed, r.seed, sizeof h.random_seed);
  h.program_fd = r.program_fd;
  h.initramfs_fd = r.initramfs_fd;
  h.initramfs_gpa = r.initramfs_offset;
  h.initramfs_size = r.initramfs_size;
  h.program_size = r.program_size;
  h.program_path = b.add(r.program_path);
  h.hostname = b.add(r.hostname);
  h.cwd = b.add(r.cwd);
  std::vector<abi::BlobString> args, envs;
  for (const auto& a : r.argv) args.push_back(b.add(a));
  for (const auto& e : r.envp) envs.push_back(b.add(e));
  std::vector<abi::ShareMount> shares;
  for (const auto& s : r.shares) shares.push_back(abi::ShareMount{b.add(s.guest_path), s.flags, 0});
  h.argc = uint32_t(args.size());
  h.envc = uint32_t(envs.size());
  b.align(alignof(abi::BlobString));
  h.argv_offset = b.reserve(args.size() * sizeof(abi::BlobString));
  h.envp_offset = b.reserve(envs.size() * sizeof(abi::BlobString));
  if (!args.empty()) memcpy(b.at(h.argv_offset), args.data(), args.size() * sizeof(abi::BlobString));
  if (!envs.empty()) memcpy(b.at(h.envp_offset), envs.data(), envs.size() * sizeof(abi::BlobString));
  h.share_fd = r.share_fd;
  h.net_fd = r.net_fd;
  h.net_flags = r.net_flags;
  h.net_addr = r.net_addr;
  h.net_prefix_len = r.net_prefix_len;
  h.net_gateway = r.net_gateway;
  h.net_dns = r.net_dns;
  memcpy(h.net_mac, r.net_mac, sizeof h.net_mac);
  h.net_mtu = r.net_mtu;
  h.gdb_fd = r.gdb_fd;
  h.timeout_ns = r.timeout_ns;
  h.share_count = uint32_t(shares.size());
  if (!shares.empty()) {
    b.align(alignof(abi::ShareMount));
    h.shares_offset = b.reserve(shares.size() * sizeof(abi::ShareMount));
    memcpy(b.at(h.shares_offset), shares.data(), shares.size() * sizeof(abi::ShareMount));
  }
  memcpy(h.console, r.console, sizeof h.console);
  h.total_size = uint32_t(b.bytes().size());
  memcpy(b.at(0), &h, sizeof h);
  return std::move(b.bytes());
}

abi::ConsoleStream probe_console(int fd) {
  abi::ConsoleStream s{};
  struct stat st;
  if (fstat(fd, &st) != 0) {
    s.kind = abi::ConsoleKind::Closed;
    return s;
  }
  int fl = fcntl(fd, F_GETFL);
  s.open_flags = fl < 0 ? 0 : uint32_t(fl);
  if (S_ISCHR(st.st_mode)) {
    struct termios t;
    if (ioctl(fd, TCGETS, &t) == 0) {
      s.kind = abi::ConsoleKind::Tty;
      s.tty_rdev = uint32_t(st.st_rdev);
      static_assert(sizeof(struct termios) >= 36);
      memcpy(s.termios, &t, 36);  // the kernel's struct termios prefix
      struct winsize ws;
      if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
        s.ws_row = ws.ws_row;
        s.ws_col = ws.ws_col;
      }
    } else {
      s.kind = abi::ConsoleKind::Null;
    }
  } else if (S_ISFIFO(st.st_mode)) {
    s.kind = abi::ConsoleKind::Pipe;
  } else if (S_ISSOCK(st.st_mode)) {
    s.kind = abi::ConsoleKind::Socket;
  } else {
    s.kind = abi::ConsoleKind::File;
  }
  return s;
}

}  // namespace mote::launch
