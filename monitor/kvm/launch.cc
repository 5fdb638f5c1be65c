#include "monitor/kvm/launch.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>

#include "abi/boot_info.h"
#include "monitor/process/launch.h"
#include "monitor/util/seccomp.h"
#include "monitor/vm/machine.h"

extern "C" const unsigned char mote_kernel_image[];
extern "C" const unsigned char mote_kernel_image_end[];

namespace mote::kvmrun {

int run(const cli::RunOptions& o, const image::Program& p, std::string* error, bool* unavailable) {
  *unavailable = false;
  if (o.cpus > 1)
    fprintf(stderr, "mote: --platform kvm runs one vCPU so far (--cpus %u: the program's "
                    "threads share it)\n", o.cpus);
  std::vector<uint8_t> blob = launch::make_boot_blob(o, p, error);
  if (blob.empty()) return -1;
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
  if (o.no_sandbox) sandbox::warn_unsandboxed();
  cfg.ram_bytes = o.mem_bytes + kOverheadBytes + ((size + 0xfff) & ~uint64_t(0xfff));
  auto report = vm::run_machine(cfg);
  munmap(image, size);
  if (!report.ok()) {
    *unavailable = report.failure().kind == vm::FailureKind::KvmUnavailable;
    *error = report.failure().message;
    return -1;
  }
  if (!report->result.stop_message.empty()) {
    // The guest broke the VM contract: stopped, with a status of its own.
    fprintf(stderr, "mote: guest fault: %s\n", report->result.stop_message.c_str());
    return abi::kGuestFaultStatus;
  }
  return report->result.status;
}

}  // namespace mote::kvmrun
