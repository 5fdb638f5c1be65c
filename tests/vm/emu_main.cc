// mote-vm-emu: boots a test kernel with mote's monitor code on an emulated
// CPU (tests/vm/emulator.h), for hosts where KVM cannot run the test.
#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>

#include "abi/boot_info.h"
#include "monitor/boot/entry.h"
#include "monitor/util/gdb_listen.h"
#include "monitor/vm/virtio/net.h"
#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/run.h"
#include "tests/vm/driver.h"
#include "tests/vm/emulator.h"

int main(int argc, char** argv) {
  using namespace mote;
  vmtest::DriverOptions opts;
  if (!vmtest::parse_options(argc, argv, &opts)) return 2;
  vmtest::mark_process_start(opts);
  std::vector<uint8_t> kernel;
  if (!vmtest::read_kernel(opts.kernel_path, &kernel)) return vm::kStopStatus;
  std::vector<uint8_t> blob = vmtest::test_boot_blob();

  auto mem = vm::GuestMemory::create(opts.ram_bytes);
  if (!mem.ok()) {
    std::fprintf(stderr, "mote: %s\n", mem.failure().message.c_str());
    return vm::kStopStatus;
  }
  boot::DirectBoot b;
  b.kernel_elf = kernel;
  b.boot_blob = blob;
  b.cpu = boot::CpuFeatures{.nx = true, .syscall = true, .page_1g = opts.page_1g, .fxsr = true, .sse = true};
  int64_t fill_start = vm::monotonic_ns();
  auto entry = boot::prepare_direct_boot(*mem, b);
  int64_t fill_end = vm::monotonic_ns();
  if (!entry.ok()) {
    std::fprintf(stderr, "mote: %s\n", entry.failure().message.c_str());
    return vm::kStopStatus;
  }
  signal(SIGPIPE, SIG_IGN);  // as run_machine does
  vm::ExitDispatcher dispatcher(*mem, vm::HostConsole{});
  // --virtio-net: the monitor's device model at slot 0, polled (no interrupt
  // controller here), exactly as run_machine builds it.
  int frames[2] = {-1, -1};
  vm::virtio::GuestFault fault;
  vm::virtio::MmioBus bus;
  std::unique_ptr<vm::virtio::Transport> net;
  if (opts.virtio_net) {
    if (!vmtest::make_frame_socket(frames)) return vm::kStopStatus;
    const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    net = std::make_unique<vm::virtio::Transport>(
        *mem, std::make_unique<vm::virtio::NetDevice>(frames[0], mac, 1500), "virtio-net", fault);
    bus.add(abi::kMoteVirtioBase, net.get());
    dispatcher.attach_devices(&bus, &fault);
  }
  std::unique_ptr<vm::gdbstub::Stub> stub;
  if (opts.gdb_port) {
    std::string error;
    int fd = launch::accept_gdb(opts.gdb_port, &error);
    if (fd < 0) {
      std::fprintf(stderr, "mote: %s\n", error.c_str());
      return vm::kStopStatus;
    }
    stub = std::make_unique<vm::gdbstub::Stub>(*mem, fd);
    if (opts.gdb_at_program) stub->expect_program_entry();
    dispatcher.attach_debugger(stub.get());
  }
  vm::RunTimes times;
  auto result = vmtest::run_emulated(*mem, *entry, dispatcher, &times,
                                     opts.virtio_net ? abi::kMoteVirtioBase : 0, stub.get());
  if (opts.virtio_net) vmtest::print_frames(frames[1]);
  if (!result.ok()) {
    std::fprintf(stderr, "mote: %s\n", result.failure().message.c_str());
    return vm::kStopStatus;
  }
  if (!vmtest::paging_was_walked(*mem, entry->cr3, entry->rip)) {
    std::fprintf(stderr, "mote-vm-emu: the CPU never walked the boot page tables for rip %#llx\n",
                 static_cast<unsigned long long>(entry->rip));
    return vm::kStopStatus;
  }
  if (opts.timing)
    std::fprintf(stderr, "timing: guest RAM filled (GDT, page tables, kernel, boot info) in %.0f us\n",
                 double(fill_end - fill_start) / 1000.0);
  return vmtest::finish(opts, *result, times, "emulator");
}
