// Finding and checking the program before anything starts: the monitor turns
// every kind of bad input into one `mote: ...` line.
#pragma once

#include <string>

#include "kernel/exec/elf.h"

namespace mote::image {

// An elf::ReadFn over a host file (ctx: the int fd), short only at its end.
Result<usize> pread_fn(void* ctx, u64 off, void* buf, usize len);

struct Program {
  int fd = -1;            // open O_RDONLY, inherited by the core; -1 with a root filesystem
  std::string path;       // absolute path the guest sees (AT_EXECFN, /proc/self/exe)
  std::string load_path;  // a host path that opens the bytes (QEMU's -initrd): the
                          // program, or the root filesystem image when there is one
  uint64_t size = 0;
  bool pie = false;
  std::string interp;     // PT_INTERP of a dynamic program; empty when static
  std::string named_path; // absolute path as named, symlinks kept (/usr/bin/python3):
                          // the program's path inside a root filesystem image

  // The root filesystem image (cpio newc) holding the program at `path`,
  // when the program is dynamic or files are added: [offset, +size) of the
  // inherited fd (offset a page multiple: a packed image carries it inside).
  int initramfs_fd = -1;
  uint64_t initramfs_offset = 0;
  uint64_t initramfs_size = 0;
};

// Checks an already open program (e.g. extracted from a packed image) as
// open_program does; `name` is for messages. Takes ownership of fd.
bool adopt_program(int fd, const std::string& name, const std::string& guest_path, Program* out,
                   std::string* error, int* status);

// Resolves `name` (a path, or a command searched in $PATH), opens and checks
// it. On failure returns false with a one-line message in *error and the
// exit status in *status: 127 when there is no such program, 126 when it
// cannot be executed (a directory, not ELF, wrong architecture...). A dynamic
// program is accepted with `interp` set; it runs from a root filesystem image
// (use_rootfs).
bool open_program(const std::string& name, Program* out, std::string* error, int* status);

// Makes `p` run from the root filesystem image [offset, +size) of `fd`
// (taking ownership of fd): the program's own fd is closed, its guest path
// becomes `guest_path`, and `load_path` names the image.
void use_rootfs(Program* p, int fd, uint64_t offset, uint64_t size, const std::string& guest_path,
                const std::string& load_path);

}  // namespace mote::image
