// Which shared libraries a dynamic program needs, found without running
// anything: the program's PT_INTERP and DT_NEEDED closure, searched the way
// the program's own dynamic loader (glibc's ld.so or musl's) will search it
// inside the guest, so that the root filesystem image holds every file the
// loader opens.
//
// Search order for a DT_NEEDED name of object L (glibc, elf/dl-load.c):
//   1. DT_RPATH of L, then of L's loader, and so on up to the program --
//      only when L has no DT_RUNPATH; an object that has DT_RUNPATH
//      contributes no DT_RPATH to the chain;
//   2. LD_LIBRARY_PATH: the *guest's* value (a `-e LD_LIBRARY_PATH=...` of
//      the run), never the host's: the loader in the guest sees only the
//      guest environment; unset means no such directories;
//   3. DT_RUNPATH of L itself;
//   4. the directories of /etc/ld.so.conf (with its `include` globs), in
//      place of /etc/ld.so.cache, which ldconfig builds from them;
//   5. /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64, /lib, /usr/lib.
// musl (PT_INTERP ld-musl-*): LD_LIBRARY_PATH, then DT_RUNPATH (else DT_RPATH)
// of L and of its loaders, then /etc/ld-musl-x86_64.path (else /lib,
// /usr/local/lib, /usr/lib); libc.so, libm.so... are musl's loader itself.
// Dynamic string tokens: $ORIGIN / ${ORIGIN} (the directory of the object:
// the program's real path, a library's path as found, as glibc does),
// $LIB (lib/x86_64-linux-gnu, Debian's glibc) and $PLATFORM (x86_64); musl
// expands $ORIGIN only. A file of the wrong ELF class or machine is skipped
// and the search goes on, as the loaders do.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace mote::image {

// What a dynamic loader reads from one ELF file's headers.
struct ElfDeps {
  uint16_t type = 0;                 // ET_EXEC, ET_DYN
  std::string interp;                // PT_INTERP; empty for static files
  std::string soname;                // DT_SONAME
  std::vector<std::string> needed;   // DT_NEEDED, in order
  std::vector<std::string> rpath;    // DT_RPATH, split at ':', tokens unexpanded
  std::vector<std::string> runpath;  // DT_RUNPATH, likewise
  bool has_rpath = false, has_runpath = false;
};

// Reads the headers of an ELF64 little-endian x86-64 file. False with a
// one-line *error (no path prefix; the wording of kernel/exec/elf.cc) when it
// is not one or is malformed.
bool read_elf_deps(int fd, ElfDeps* out, std::string* error);
bool read_elf_deps(const std::string& path, ElfDeps* out, std::string* error);

enum class Libc { Glibc, Musl };

// musl when the interpreter's file name starts with "ld-musl-".
Libc libc_of_interp(const std::string& interp);

// Where the loader looks, besides the objects' own paths.
struct SearchConfig {
  Libc libc = Libc::Glibc;
  std::vector<std::string> ld_library_path;  // the guest's LD_LIBRARY_PATH, split
  std::vector<std::string> system_dirs;      // ld.so.conf dirs, then the defaults
  std::vector<std::string> config_files;     // the configuration files read
};

// The search configuration of this host for a program with interpreter
// `interp`, with the guest environment `guest_env` (K=V strings).
SearchConfig host_search_config(const std::string& interp,
                                const std::vector<std::string>& guest_env);

// Parses an ld.so.conf file: its directories in order, `include` globs
// followed (relative ones from the including file's directory). Every file
// read is appended to *files.
std::vector<std::string> read_ld_so_conf(const std::string& path, std::vector<std::string>* files);

struct Closure {
  std::string interp;                  // the interpreter's host path; empty when static
  std::vector<std::string> libraries;  // as found (dir/name), load order, interpreter excluded
  std::set<std::string> dirs_searched; // every directory a lookup consulted
};

// Resolves the program's interpreter and DT_NEEDED closure. `program` is an
// absolute path. False with *error = "libfoo.so.1 needed by /path/to/obj not
// found (searched: dir1, dir2, ...)" (status 127) or an ELF problem (126).
bool resolve_program(const std::string& program, const SearchConfig& config, Closure* out,
                     std::string* error, int* status);

// Adds the closures of more objects (modules a program dlopens, e.g.
// Python's lib-dynload), as loaded by `program`; names that cannot be
// resolved, and objects that are not loadable ELF, are skipped silently.
void resolve_modules(const std::vector<std::string>& modules, const std::string& program,
                     const SearchConfig& config, Closure* out);

// Expands $ORIGIN, ${ORIGIN}, $LIB, $PLATFORM (glibc) or $ORIGIN only (musl).
std::string expand_tokens(const std::string& s, const std::string& origin, Libc libc);

}  // namespace mote::image
