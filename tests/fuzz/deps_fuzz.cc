// libFuzzer target: the dependency resolver's reading of an untrusted ELF
// file (monitor/image/deps.cc: read_elf_deps), which the monitor runs on the
// program and on every library it finds before anything is loaded. The
// input is the whole file (in a memfd, so the real fd-based code path runs).
// Any crash or out-of-bounds access (ASan) is a bug; an accepted file must
// also be self-consistent: every name came from inside the file, and the
// token expansion of its RPATH/RUNPATH entries ($ORIGIN, $LIB, $PLATFORM)
// must terminate with a bounded result.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "monitor/image/deps.h"

namespace {

int memfd() {
  static int fd = memfd_create("deps_fuzz", MFD_CLOEXEC);
  if (fd < 0) abort();
  return fd;
}

void check_expansion(const std::string& entry) {
  using mote::image::Libc;
  for (Libc libc : {Libc::Glibc, Libc::Musl}) {
    std::string out = mote::image::expand_tokens(entry, "/origin/of/object", libc);
    // Each token is at least 4 bytes ("$LIB") and grows to at most the
    // origin or "lib/x86_64-linux-gnu" (20 bytes): a 6x bound is generous.
    if (out.size() > 6 * entry.size() + 64) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd();
  if (ftruncate(fd, 0) != 0) abort();
  if (size && pwrite(fd, data, size, 0) != ssize_t(size)) abort();

  mote::image::ElfDeps deps;
  std::string error;
  if (!mote::image::read_elf_deps(fd, &deps, &error)) {
    if (error.empty()) abort();  // a failure always says why
    return 0;
  }
  if (deps.type != 2 && deps.type != 3) abort();  // ET_EXEC or ET_DYN only
  // Every string is a piece of the file: none can be longer than it.
  auto inside = [&](const std::string& s) {
    if (s.size() > size) abort();
  };
  inside(deps.interp);
  inside(deps.soname);
  for (const auto& n : deps.needed) inside(n);
  if (!deps.has_rpath && !deps.rpath.empty()) abort();
  if (!deps.has_runpath && !deps.runpath.empty()) abort();
  for (const auto& p : deps.rpath) inside(p), check_expansion(p);
  for (const auto& p : deps.runpath) inside(p), check_expansion(p);
  (void)mote::image::libc_of_interp(deps.interp);
  return 0;
}
