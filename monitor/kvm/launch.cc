#include "monitor/kvm/launch.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>

#include "abi/boot_info.h"
#include "monitor/process/launch.h"
#include "monitor/util/gdb_listen.h"
#include "monitor/util/seccomp.h"
#include "monitor/vm/machine.h"

extern "C" const unsigned char mote_kernel_image[];
extern "C" const unsigned char mote_kernel_image_end[];

namespace mote::kvmrun {

bool start_share_servers(share::Server& shares, bool no_sandbox, std::vector<int>* fds,
                         std::string* error) {
  for (size_t k = 0; k < shares.share_count(); ++k) {
    int sv[2];
    if (!launch::share_socket_pair(sv, error)) return false;
    // A server of one device: the other devices' sockets are not its business.
    std::vector<int> others = *fds;
    others.push_back(sv[0]);
    if (launch::fork_share_server(shares, sv[1], others, no_sandbox, error) < 0) return false;
    close(sv[1]);
    fds->push_back(sv[0]);
  }
  return true;
}

int run(const cli::RunOptions& o, const image::Program& p, share::Server& shares,
        const net::Device* net, std::string* error, bool* unavailable) {
  *unavailable = false;
  // The boot info names the devices the kernel finds at abi/boot_info.h's
  // fixed places: the shares (any share_fd >= 0 lists them; the kernel
  // reaches share k through the virtio-9p device tagged mote<k>) and the
  // network's addresses (net_fd stays -1: the frame fd is the monitor's).
  net::Device blob_net;
  if (net) {
    blob_net = *net;
    blob_net.fd = -1;
  }
  std::vector<uint8_t> blob = launch::make_boot_blob(o, p, error, shares.share_count() ? 0 : -1,
                                                     net ? &blob_net : nullptr);
  if (blob.empty()) return -1;
  if (o.gdb_port) {
    // The monitor serves gdb; the kernel says where the program starts.
    abi::BootInfo h;
    memcpy(&h, blob.data(), sizeof h);
    h.flags |= abi::kBootGdb;
    memcpy(blob.data(), &h, sizeof h);
  }
  if (!o.selftest.empty()) {
    // The kernel's platform self-tests instead of the program.
    abi::BootInfo h;
    memcpy(&h, blob.data(), sizeof h);
    h.flags |= abi::kBootSelftestKernel;
    memcpy(blob.data(), &h, sizeof h);
  }
  // The program image, mapped from its file (the monitor copies it into
  // guest RAM once; the kernel then maps its read-only pages in place). A
  // root filesystem image (cpio newc) takes the program's place when there is
  // one: the kernel tells them apart by its "070701" magic.
  bool rootfs = p.initramfs_fd >= 0;
  uint64_t size = rootfs ? p.initramfs_size : p.size;
  void* image = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, rootfs ? p.initramfs_fd : p.fd,
                     off_t(rootfs ? p.initramfs_offset : 0));
  if (image == MAP_FAILED) {
    *error = p.path + ": " + strerror(errno);
    return -1;
  }
  vm::MachineConfig cfg;
  cfg.kernel_elf = std::span<const uint8_t>(mote_kernel_image,
                                            size_t(mote_kernel_image_end - mote_kernel_image));
  cfg.boot_blob = blob;
  cfg.program = std::span<const uint8_t>(static_cast<const uint8_t*>(image), size);
  cfg.sandbox = !o.no_sandbox;
  cfg.cpus = o.cpus;
  cfg.timeout_ms = o.timeout_ms;
  cfg.tty = o.tty;
  if (o.gdb_port) {
    // Waited for once the VM is set up, as `mote run --gdb` does elsewhere.
    uint16_t port = o.gdb_port;
    cfg.gdb_connect = [port](std::string* err) { return launch::accept_gdb(port, err); };
    cfg.gdb_at_program = true;
  }
  if (o.no_sandbox) sandbox::warn_unsandboxed();
  cfg.ram_bytes = o.mem_bytes + kOverheadBytes + ((size + 0xfff) & ~uint64_t(0xfff));
  if (net) {
    cfg.net_fd = net->fd;
    memcpy(cfg.net_mac, net->mac, sizeof cfg.net_mac);
    cfg.net_mtu = net->mtu;
    cfg.net_vnet_hdr = net->vnet_hdr;
  }
  if (!start_share_servers(shares, o.no_sandbox, &cfg.share_fds, error)) {
    munmap(image, size);
    return -1;
  }
  auto report = vm::run_machine(cfg);
  munmap(image, size);
  if (!report.ok()) {
    *unavailable = report.failure().kind == vm::FailureKind::KvmUnavailable;
    *error = report.failure().message;
    return -1;
  }
  if (report->result.deadline) {
    // The kernel did not end the run at its own deadline (hung with
    // interrupts off): the monitor did, as the qemu platform's launcher does.
    fprintf(stderr, "mote: timeout: the VM did not stop within --timeout %.3f s; killed\n",
            double(o.timeout_ms) / 1000);
    return abi::kTimeoutStatus;
  }
  if (!report->result.stop_message.empty()) {
    // The guest broke the VM contract: stopped, with a status of its own.
    fprintf(stderr, "mote: guest fault: %s\n", report->result.stop_message.c_str());
    return abi::kGuestFaultStatus;
  }
  return report->result.status;
}

}  // namespace mote::kvmrun
