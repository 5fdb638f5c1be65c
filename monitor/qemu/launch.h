// `mote run --platform qemu`: the same kernel image booted by
// qemu-system-x86_64 -M microvm through PVH, the program as the initrd, its
// argv and environment on the kernel command line; the guest's stdout
// (COM1), stderr (COM2) and exit status (COM3 line, isa-debug-exit) wired back
// to mote's own. See docs/kernel-vm.md.
#pragma once

#include <string>
#include <vector>

#include "monitor/cli/options.h"
#include "monitor/image/program.h"

namespace mote::qemu {

// The QEMU command line for a run (argv[0] = the qemu binary): the guest sees
// the program as `program_path`, QEMU loads it from `load_path`. `kernel` is a
// path QEMU can open, `fds` the host fds for COM1/COM2/COM3 (write ends)
// and COM4 (stdin, read end), opened again by QEMU through /proc/self/fd, so
// they must be inherited.
std::vector<std::string> command_line(const cli::RunOptions& o, const std::string& program_path,
                                      const std::string& load_path, const std::string& kernel,
                                      const int fds[4], int net_fd = -1);

// Encodes a word for the kernel command line: spaces, '%', and bytes outside
// printable ASCII become %XX (kernel/platform/kvm/pvh_boot.cc decodes).
std::string encode_word(const std::string& w);

// Runs the program under QEMU and returns its exit status; -1 with *error
// set when the VM could not run.
int run(const cli::RunOptions& o, const image::Program& p, std::string* error);

}  // namespace mote::qemu
