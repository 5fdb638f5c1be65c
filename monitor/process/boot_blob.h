// Builds the boot-info blob (abi/boot_info.h) the kernel core starts from.
#pragma once

#include <string>
#include <vector>

#include "abi/boot_info.h"

namespace mote::launch {

struct BootRequest {
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> envp;
  std::string program_path;
  std::string hostname;
  std::string cwd;
  uint64_t mem_limit = 0;
  uint32_t cpus = 1;
  uint32_t flags = 0;
  int32_t program_fd = -1;
  int32_t initramfs_fd = -1;      // root filesystem image (cpio newc), -1 when none
  uint64_t initramfs_offset = 0;  // where it starts in that file (page multiple)
  uint64_t initramfs_size = 0;
  uint64_t program_size = 0;
  uint8_t seed[32] = {};
  uint64_t wall_clock_ns = 0;
  abi::ConsoleStream console[3] = {};
  // -v shares: the core's end of the share socket and each mount point.
  int32_t share_fd = -1;
  struct Share {
    std::string guest_path;
    uint32_t flags = 0;  // abi::ShareFlags
  };
  std::vector<Share> shares;
  // --net: the device (abi::BootInfo's net_* fields); net_fd -1 and no
  // kNetDevice flag without one.
  int32_t net_fd = -1;
  uint32_t net_flags = 0;
  uint32_t net_addr = 0, net_prefix_len = 0, net_gateway = 0, net_dns = 0;
  uint8_t net_mac[6] = {};
  uint16_t net_mtu = 0;
  // --gdb: the core's end of the gdb connection (-1: none; kBootGdb in flags).
  int32_t gdb_fd = -1;
  // --timeout: the run stops this long after boot (0: never).
  uint64_t timeout_ns = 0;
};

// The blob; it passes abi::boot_info_ok.
std::vector<uint8_t> build_boot_blob(const BootRequest& r);

// Describes what host fds 0-2 are connected to.
abi::ConsoleStream probe_console(int fd);

}  // namespace mote::launch
