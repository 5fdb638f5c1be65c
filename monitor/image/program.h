// Finding and checking the program before anything starts: the monitor turns
// every kind of bad input into one `mote: ...` line.
#pragma once

#include <string>

#include "kernel/exec/elf.h"

namespace mote::image {

struct Program {
  int fd = -1;            // open O_RDONLY, inherited by the core
  std::string path;       // absolute host path
  uint64_t size = 0;
  bool pie = false;
};

// Resolves `name` (a path, or a command searched in $PATH), opens and checks
// it. On failure returns false with a one-line message in *error.
bool open_program(const std::string& name, Program* out, std::string* error);

}  // namespace mote::image
