// Finding and checking the program before anything starts: the monitor turns
// every kind of bad input into one `mote: ...` line.
#pragma once

#include <string>

#include "kernel/exec/elf.h"

namespace mote::image {

struct Program {
  int fd = -1;            // open O_RDONLY, inherited by the core
  std::string path;       // absolute path the guest sees (AT_EXECFN, /proc/self/exe)
  std::string load_path;  // a host path that opens the bytes (QEMU's -initrd)
  uint64_t size = 0;
  bool pie = false;
};

// Checks an already open program (e.g. extracted from a packed image) as
// open_program does; `name` is for messages. Takes ownership of fd.
bool adopt_program(int fd, const std::string& name, const std::string& guest_path, Program* out,
                   std::string* error, int* status);

// Resolves `name` (a path, or a command searched in $PATH), opens and checks
// it. On failure returns false with a one-line message in *error and the
// exit status in *status: 127 when there is no such program, 126 when it
// cannot be executed (a directory, not ELF, wrong architecture, dynamic...).
bool open_program(const std::string& name, Program* out, std::string* error, int* status);

}  // namespace mote::image
