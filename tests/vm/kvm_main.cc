// mote-vm-test: boots a test kernel on KVM with mote's monitor (mote_vm).
// Linked statically, like mote, so --timing figures match mote's own start-up.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "monitor/util/gdb_listen.h"
#include "monitor/vm/machine.h"
#include "tests/vm/driver.h"

int main(int argc, char** argv) {
  using namespace mote;
  vmtest::DriverOptions opts;
  if (!vmtest::parse_options(argc, argv, &opts)) return 2;
  vmtest::mark_process_start(opts);
  std::vector<uint8_t> kernel;
  if (!vmtest::read_kernel(opts.kernel_path, &kernel)) return vm::kStopStatus;
  std::vector<uint8_t> blob = vmtest::test_boot_blob();

  vm::MachineConfig config;
  config.kernel_elf = kernel;
  config.boot_blob = blob;
  config.ram_bytes = opts.ram_bytes;
  int frames[2] = {-1, -1};
  if (opts.virtio_net) {
    if (!vmtest::make_frame_socket(frames)) return vm::kStopStatus;
    config.net_fd = frames[0];
    const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    std::copy(mac, mac + 6, config.net_mac);
  }
  if (opts.gdb_port) {
    uint16_t port = opts.gdb_port;
    config.gdb_connect = [port](std::string* error) { return launch::accept_gdb(port, error); };
    config.gdb_at_program = opts.gdb_at_program;
  }
  auto report = vm::run_machine(config);
  if (opts.virtio_net && report.ok()) vmtest::print_frames(frames[1]);
  if (!report.ok()) {
    const vm::Failure& f = report.failure();
    if (f.kind == vm::FailureKind::KvmUnavailable) {
      std::fprintf(stderr, "SKIP: KVM is not usable on this host, the VM test did not run (mote: %s)\n",
                   f.message.c_str());
      return vmtest::kSkipStatus;
    }
    std::fprintf(stderr, "mote: %s\n", f.message.c_str());
    return vm::kStopStatus;
  }
  if (opts.timing) {
    const vm::SetupTimes& t = report->setup;
    auto us = [](int64_t a, int64_t b) { return double(b - a) / 1000.0; };
    std::fprintf(stderr,
                 "timing: setup: open /dev/kvm %.0f us, VM + RAM + irqchip %.0f us, vCPU %.0f us, CPUID %.0f us, "
                 "guest RAM filled %.0f us, registers %.0f us\n",
                 us(t.start, t.kvm_opened), us(t.kvm_opened, t.vm_created), us(t.vm_created, t.vcpu_created),
                 us(t.vcpu_created, t.cpuid_set), us(t.cpuid_set, t.guest_loaded),
                 us(t.guest_loaded, t.registers_set));
    std::fprintf(stderr, "timing: guest TSC %u kHz\n", report->tsc_khz);
  }
  if (opts.show_cpuid) vmtest::print_cpuid(report->guest_cpuid);
  return vmtest::finish(opts, report->result, report->times, "kvm");
}
