// What the two test drivers share: mote-vm-test (real KVM, static like mote)
// and mote-vm-emu (the same monitor code on an emulated CPU, for hosts
// without a usable KVM). Both boot a test kernel with the direct 64-bit entry.
//
//   DRIVER [--timing] [--since-ns NS] [--mem MIB] [--page-1g] [--show-cpuid] [--virtio-net]
//          [--gdb PORT [--gdb-at-program]] KERNEL_ELF
//
// --virtio-net gives the guest the monitor's virtio-net device (slot 0) on one
// end of a socket pair; after the run, each frame it sent is printed on
// stdout as "frame: BYTES" (printable bytes as they are, others as \xNN).
//
// --gdb PORT waits for gdb on 127.0.0.1:PORT and serves it from the first
// instruction on (the monitor's stub, monitor/vm/gdb/stub.h); with
// --gdb-at-program, from where the kernel's DebugProgram hypercall says
// the program starts (as `mote run --platform kvm --gdb` does).
//
// Exit status: the guest's status; 125 when the monitor stopped the VM or
// could not start it (one "mote: ..." line on stderr); 77 with a "SKIP: ..."
// line when KVM is not usable here (ctest SKIP_RETURN_CODE); 2 for bad usage.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "monitor/vm/cpuid.h"
#include "monitor/vm/run.h"

namespace mote::vmtest {

inline constexpr int kSkipStatus = 77;

struct DriverOptions {
  std::string kernel_path;
  uint64_t ram_bytes = 64ull << 20;
  bool timing = false;
  bool page_1g = false;       // emulator only: KVM follows the guest's CPUID
  bool show_cpuid = false;    // KVM only: print the CPUID the guest sees (KVM_GET_CPUID2)
  int64_t since_realtime_ns = 0;  // when the caller spawned us (CLOCK_REALTIME), 0 = main()
  bool virtio_net = false;
  uint16_t gdb_port = 0;
  bool gdb_at_program = false;
};

// --virtio-net: the frame socket pair (device end, the test's end), made
// non-blocking; false with a message on failure.
bool make_frame_socket(int fds[2]);
// Prints "frame: ..." for each frame waiting on `fd`.
void print_frames(int fd);

// Parses argv; on error prints usage and returns false.
bool parse_options(int argc, char** argv, DriverOptions* out);

// The kernel file's bytes; on error prints "mote: ..." and returns false.
bool read_kernel(const std::string& path, std::vector<uint8_t>* out);

// A minimal valid boot-info blob (argv = {"test-kernel"}).
std::vector<uint8_t> test_boot_blob();

// Marks main()'s start: the origin of the timing when --since-ns is absent.
void mark_process_start(const DriverOptions& o);

// One line per CPUID entry, on stderr.
void print_cpuid(const vm::CpuidTable& table);

// Prints the stop line (if any) and, with --timing, the figures; returns the status.
int finish(const DriverOptions& o, const vm::RunResult& r, const vm::RunTimes& t, const char* backend);

}  // namespace mote::vmtest
