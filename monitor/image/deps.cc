#include "monitor/image/deps.h"

#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <utility>

#include "kernel/exec/elf.h"
#include "monitor/util/io.h"

namespace mote::image {

namespace {

// ELF gABI "Dynamic Section": the tags a loader's search needs.
constexpr int64_t kDtNull = 0, kDtNeeded = 1, kDtStrtab = 5, kDtStrsz = 10, kDtSoname = 14,
                  kDtRpath = 15, kDtRunpath = 29;
struct Dyn {
  int64_t tag;
  uint64_t val;
};
static_assert(sizeof(Dyn) == 16);

constexpr int kMaxPhnum = 512;
constexpr uint64_t kMaxDynamic = 1 << 20;
constexpr uint64_t kMaxStrtab = 64u << 20;

using util::pread_all;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string dirname_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

void read_conf(const std::string& path, std::vector<std::string>* dirs,
               std::vector<std::string>* files, int depth) {
  if (depth > 8) return;  // include loops
  std::ifstream in(path);
  if (!in) return;
  files->push_back(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    if (line.compare(0, 7, "include") == 0 && line.size() > 7 && isblank(line[7])) {
      // ldconfig: one or more glob patterns, relative to the including file.
      std::string rest = line.substr(8);
      size_t pos = 0;
      while (pos < rest.size()) {
        while (pos < rest.size() && isblank(rest[pos])) ++pos;
        size_t end = pos;
        while (end < rest.size() && !isblank(rest[end])) ++end;
        std::string pattern = rest.substr(pos, end - pos);
        pos = end;
        if (pattern.empty()) continue;
        if (pattern[0] != '/') pattern = dirname_of(path) + "/" + pattern;
        glob_t g;
        if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
          for (size_t i = 0; i < g.gl_pathc; ++i) read_conf(g.gl_pathv[i], dirs, files, depth + 1);
        }
        globfree(&g);
      }
      continue;
    }
    if (line.compare(0, 5, "hwcap") == 0 && line.size() > 5 && isblank(line[5])) continue;
    // "DIR" or, in old files, "DIR=TYPE"; trailing slashes dropped as ldconfig does.
    size_t eq = line.find('=');
    if (eq != std::string::npos) line = trim(line.substr(0, eq));
    while (line.size() > 1 && line.back() == '/') line.pop_back();
    if (!line.empty()) dirs->push_back(line);
  }
}

bool is_loadable_library(const ElfDeps& d) { return d.type == elf::kEtDyn; }

}  // namespace

bool read_elf_deps(int fd, ElfDeps* out, std::string* error) {
  *out = ElfDeps{};
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = strerror(errno);
    return false;
  }
  uint64_t size = uint64_t(st.st_size);
  auto fail = [&](elf::Problem p, uint16_t machine = 0) {
    *error = elf::describe(p, machine);
    if (p == elf::Problem::WrongMachine)
      *error = std::string("ELF file for ") + elf::machine_name(machine) + " (mote runs x86-64 programs)";
    return false;
  };
  elf::Ehdr eh;
  if (size < sizeof eh) {
    char magic[4] = {};
    if (size >= 4 && pread_all(fd, magic, 4, 0) && memcmp(magic, "\x7f" "ELF", 4) == 0)
      return fail(elf::Problem::Truncated);
    return fail(elf::Problem::TooSmall);
  }
  if (!pread_all(fd, &eh, sizeof eh, 0)) return fail(elf::Problem::Truncated);
  if (memcmp(eh.ident, "\x7f" "ELF", 4) != 0) return fail(elf::Problem::NotElf);
  if (eh.ident[4] != 2) return fail(elf::Problem::Not64Bit);
  if (eh.ident[5] != 1) return fail(elf::Problem::NotLittleEndian);
  if (eh.ident[6] != 1 || eh.version != 1) return fail(elf::Problem::BadVersion);
  if (eh.machine != elf::kEmX86_64) return fail(elf::Problem::WrongMachine, eh.machine);
  if (eh.type != elf::kEtExec && eh.type != elf::kEtDyn) return fail(elf::Problem::NotExecutable);
  if (eh.phentsize != sizeof(elf::Phdr) || eh.phnum == 0) return fail(elf::Problem::BadHeaders);
  if (eh.phnum > kMaxPhnum) return fail(elf::Problem::TooManySegments);
  uint64_t ph_bytes = uint64_t(eh.phnum) * sizeof(elf::Phdr);
  if (eh.phoff > size || size - eh.phoff < ph_bytes) return fail(elf::Problem::Truncated);
  std::vector<elf::Phdr> ph(eh.phnum);
  if (!pread_all(fd, ph.data(), ph_bytes, eh.phoff)) return fail(elf::Problem::Truncated);
  out->type = eh.type;

  const elf::Phdr* dynamic = nullptr;
  for (const auto& p : ph) {
    if (p.type == elf::kPtInterp) {
      if (p.filesz == 0 || p.filesz > PATH_MAX || p.offset > size || size - p.offset < p.filesz)
        return fail(elf::Problem::BadSegment);
      std::string s(p.filesz, '\0');
      if (!pread_all(fd, s.data(), s.size(), p.offset)) return fail(elf::Problem::Truncated);
      s.resize(strnlen(s.c_str(), s.size()));
      out->interp = s;
    } else if (p.type == elf::kPtDynamic) {
      dynamic = &p;
    }
  }
  if (!dynamic) return true;
  if (dynamic->filesz > kMaxDynamic || dynamic->offset > size ||
      size - dynamic->offset < dynamic->filesz)
    return fail(elf::Problem::BadSegment);
  std::vector<Dyn> dyn(dynamic->filesz / sizeof(Dyn));
  if (!pread_all(fd, dyn.data(), dyn.size() * sizeof(Dyn), dynamic->offset))
    return fail(elf::Problem::Truncated);
  uint64_t strtab = 0, strsz = 0;
  bool have_strtab = false;
  for (const auto& d : dyn) {
    if (d.tag == kDtNull) break;
    if (d.tag == kDtStrtab) strtab = d.val, have_strtab = true;
    if (d.tag == kDtStrsz) strsz = d.val;
  }
  if (!have_strtab) return true;  // nothing named
  // DT_STRTAB is an address: the PT_LOAD segment that maps it gives its offset.
  uint64_t str_off = 0;
  bool mapped = false;
  for (const auto& p : ph) {
    if (p.type != elf::kPtLoad || strtab < p.vaddr || strtab - p.vaddr >= p.filesz) continue;
    str_off = p.offset + (strtab - p.vaddr);
    uint64_t room = p.filesz - (strtab - p.vaddr);
    if (strsz > room) strsz = room;
    mapped = true;
    break;
  }
  if (!mapped || strsz > kMaxStrtab || str_off > size || size - str_off < strsz)
    return fail(elf::Problem::BadSegment);
  std::string strings(strsz, '\0');
  if (!pread_all(fd, strings.data(), strsz, str_off)) return fail(elf::Problem::Truncated);
  auto str = [&](uint64_t off, std::string* s) {
    if (off >= strings.size()) return false;
    *s = std::string(strings.c_str() + off, strnlen(strings.c_str() + off, strings.size() - off));
    return true;
  };
  for (const auto& d : dyn) {
    if (d.tag == kDtNull) break;
    std::string s;
    if (d.tag != kDtNeeded && d.tag != kDtSoname && d.tag != kDtRpath && d.tag != kDtRunpath)
      continue;
    if (!str(d.val, &s)) return fail(elf::Problem::BadSegment);
    if (d.tag == kDtNeeded) out->needed.push_back(s);
    else if (d.tag == kDtSoname) out->soname = s;
    else if (d.tag == kDtRpath) out->rpath = split(s, ':'), out->has_rpath = true;
    else out->runpath = split(s, ':'), out->has_runpath = true;
  }
  return true;
}

bool read_elf_deps(const std::string& path, ElfDeps* out, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = strerror(errno);
    return false;
  }
  bool ok = read_elf_deps(fd, out, error);
  close(fd);
  return ok;
}

Libc libc_of_interp(const std::string& interp) {
  return basename_of(interp).rfind("ld-musl-", 0) == 0 ? Libc::Musl : Libc::Glibc;
}

std::vector<std::string> read_ld_so_conf(const std::string& path, std::vector<std::string>* files) {
  std::vector<std::string> dirs;
  read_conf(path, &dirs, files, 0);
  return dirs;
}

SearchConfig host_search_config(const std::string& interp,
                                const std::vector<std::string>& guest_env) {
  SearchConfig c;
  c.libc = libc_of_interp(interp);
  for (const auto& kv : guest_env) {
    if (kv.rfind("LD_LIBRARY_PATH=", 0) != 0) continue;
    c.ld_library_path.clear();
    // glibc and musl accept ':' (glibc also ';') between directories.
    for (auto& part : split(kv.substr(16), ':'))
      for (auto& dir : split(part, ';'))
        if (!dir.empty()) c.ld_library_path.push_back(dir);
  }
  if (c.libc == Libc::Musl) {
    // musl: /etc/ld-musl-ARCH.path (':' or newline separated), else its defaults.
    const std::string file = "/etc/ld-musl-x86_64.path";
    std::ifstream in(file);
    if (in) {
      c.config_files.push_back(file);
      std::string line;
      while (std::getline(in, line))
        for (auto& dir : split(line, ':'))
          if (!trim(dir).empty()) c.system_dirs.push_back(trim(dir));
    } else {
      c.system_dirs = {"/lib", "/usr/local/lib", "/usr/lib"};
    }
    return c;
  }
  c.system_dirs = read_ld_so_conf("/etc/ld.so.conf", &c.config_files);
  for (const char* d : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib",
                        "/usr/lib"})
    c.system_dirs.push_back(d);
  return c;
}

std::string expand_tokens(const std::string& s, const std::string& origin, Libc libc) {
  if (s.find('$') == std::string::npos) return s;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '$') {
      out += s[i++];
      continue;
    }
    auto token = [&](const char* name, const std::string& value) {
      size_t n = strlen(name);
      auto ident = [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_'; };
      if (s.compare(i + 1, n, name) == 0 && (i + 1 + n == s.size() || !ident(s[i + 1 + n]))) {
        out += value;
        i += 1 + n;
        return true;
      }
      if (s.compare(i + 1, n + 2, "{" + std::string(name) + "}") == 0) {
        out += value;
        i += 3 + n;
        return true;
      }
      return false;
    };
    if (token("ORIGIN", origin)) continue;
    if (libc == Libc::Glibc && token("LIB", "lib/x86_64-linux-gnu")) continue;
    if (libc == Libc::Glibc && token("PLATFORM", "x86_64")) continue;
    out += s[i++];
  }
  return out;
}

namespace {

class Resolver {
 public:
  Resolver(const SearchConfig& config, Closure* out) : config_(config), out_(out) {}

  // Object 0: the program.
  bool add_program(const std::string& program, std::string* error, int* status) {
    ElfDeps d;
    if (!read_elf_deps(program, &d, error)) {
      *error = program + ": " + *error;
      *status = 126;
      return false;
    }
    std::string origin;
    char real[PATH_MAX];
    if (config_.libc == Libc::Glibc && realpath(program.c_str(), real)) origin = dirname_of(real);
    else origin = dirname_of(program);
    add(program, std::move(d), origin, -1);
    struct stat st;
    if (stat(program.c_str(), &st) == 0) files_[{st.st_dev, st.st_ino}] = 0;
    if (objs_[0].deps.interp.empty()) return true;
    // The interpreter: loaded by the kernel from its absolute path, and
    // already present when the loader resolves names (glibc matches
    // ld-linux-x86-64.so.2 by its DT_SONAME; musl is libc itself).
    const std::string interp = objs_[0].deps.interp;
    ElfDeps id;
    int fd = open(interp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *error = program + ": its interpreter " + interp + " " +
               (errno == ENOENT || errno == ENOTDIR ? "is not on this host" : strerror(errno));
      *status = errno == ENOENT || errno == ENOTDIR ? 127 : 126;
      return false;
    }
    bool ok = read_elf_deps(fd, &id, error);
    if (ok && fstat(fd, &st) == 0) files_[{st.st_dev, st.st_ino}] = 1;
    close(fd);
    if (!ok) {
      *error = program + ": its interpreter " + interp + ": " + *error;
      *status = 126;
      return false;
    }
    out_->interp = interp;
    known_[basename_of(interp)] = 1;
    if (!id.soname.empty()) known_[id.soname] = 1;
    add(interp, std::move(id), dirname_of(interp), 0);
    return true;
  }

  // Loads every DT_NEEDED of objects [first, end) breadth first.
  bool load(size_t first, bool strict, std::string* error, int* status) {
    for (size_t i = first; i < objs_.size(); ++i) {
      if (i == 1 && !out_->interp.empty()) continue;  // the loader needs nothing
      for (const std::string& name : objs_[i].deps.needed) {
        if (known_.count(name) || is_musl_self(name)) continue;
        std::vector<std::string> searched;
        int found = find(int(i), name, &searched);
        if (found >= 0) {
          known_[name] = found;
          continue;
        }
        if (!strict) continue;
        *error = name + " needed by " + objs_[i].path + " not found (searched: ";
        for (size_t k = 0; k < searched.size(); ++k) *error += (k ? ", " : "") + searched[k];
        *error += ")";
        *status = 127;
        return false;
      }
    }
    return true;
  }

  size_t count() const { return objs_.size(); }

  // A module the program loads itself (dlopen): its loader is the program.
  bool add_module(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ElfDeps d;
    std::string error;
    struct stat st;
    bool ok = read_elf_deps(fd, &d, &error) && is_loadable_library(d) && fstat(fd, &st) == 0;
    close(fd);
    if (!ok) return false;
    if (files_.count({st.st_dev, st.st_ino})) return true;
    files_[{st.st_dev, st.st_ino}] = int(objs_.size());
    add(path, std::move(d), dirname_of(path), 0);
    modules_.insert(objs_.size() - 1);
    return true;
  }

  bool is_module(size_t i) const { return modules_.count(i) != 0; }
  const std::string& path(size_t i) const { return objs_[i].path; }

 private:
  struct Obj {
    std::string path;
    ElfDeps deps;
    std::string origin;
    int loader;
  };

  void add(const std::string& path, ElfDeps d, const std::string& origin, int loader) {
    if (!d.soname.empty() && !known_.count(d.soname)) known_[d.soname] = int(objs_.size());
    objs_.push_back({path, std::move(d), origin, loader});
  }

  bool is_musl_self(const std::string& name) const {
    if (config_.libc != Libc::Musl || out_->interp.empty()) return false;
    // musl's ldso/dynlink.c: these libraries are the loader itself.
    for (const char* r : {"libc.", "libpthread.", "librt.", "libm.", "libdl.", "libutil.", "libxnet."})
      if (name.rfind(r, 0) == 0) return true;
    return name == out_->interp;
  }

  void push_dirs(const std::vector<std::string>& list, const std::string& origin,
                 std::vector<std::string>* dirs) {
    for (const auto& d : list)
      if (!d.empty()) dirs->push_back(expand_tokens(d, origin, config_.libc));
  }

  // The directories searched for a name needed by object `from`, in order.
  std::vector<std::string> search_dirs(int from) {
    std::vector<std::string> dirs;
    const Obj& l = objs_[size_t(from)];
    if (config_.libc == Libc::Glibc) {
      if (!l.deps.has_runpath) {
        for (int k = from; k >= 0; k = objs_[size_t(k)].loader) {
          const Obj& o = objs_[size_t(k)];
          if (!o.deps.has_runpath) push_dirs(o.deps.rpath, o.origin, &dirs);
        }
      }
      push_dirs(config_.ld_library_path, objs_[0].origin, &dirs);
      push_dirs(l.deps.runpath, l.origin, &dirs);
    } else {
      push_dirs(config_.ld_library_path, objs_[0].origin, &dirs);
      for (int k = from; k >= 0; k = objs_[size_t(k)].loader) {
        const Obj& o = objs_[size_t(k)];
        push_dirs(o.deps.has_runpath ? o.deps.runpath : o.deps.rpath, o.origin, &dirs);
      }
    }
    dirs.insert(dirs.end(), config_.system_dirs.begin(), config_.system_dirs.end());
    return dirs;
  }

  // Tries one candidate file; the object's index, or -1.
  int try_file(int from, const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    ElfDeps d;
    std::string error;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read_elf_deps(fd, &d, &error) &&
              is_loadable_library(d);
    close(fd);
    if (!ok) return -1;  // wrong class or machine, not ELF: the loaders go on searching
    auto it = files_.find({st.st_dev, st.st_ino});
    if (it != files_.end()) return it->second;
    int idx = int(objs_.size());
    files_[{st.st_dev, st.st_ino}] = idx;
    out_->libraries.push_back(path);
    add(path, std::move(d), dirname_of(path), from);
    return idx;
  }

  int find(int from, const std::string& name, std::vector<std::string>* searched) {
    if (name.find('/') != std::string::npos) {
      // A path: used as it is (relative to the guest's working directory, /).
      std::string p = expand_tokens(name, objs_[size_t(from)].origin, config_.libc);
      if (p[0] != '/') p = "/" + p;
      searched->push_back(dirname_of(p));
      return try_file(from, p);
    }
    std::set<std::string> seen;
    for (const auto& dir : search_dirs(from)) {
      if (!seen.insert(dir).second) continue;
      searched->push_back(dir);
      out_->dirs_searched.insert(dir);
      int idx = try_file(from, dir + "/" + name);
      if (idx >= 0) return idx;
    }
    return -1;
  }

  const SearchConfig& config_;
  Closure* out_;
  std::vector<Obj> objs_;
  std::map<std::string, int> known_;
  std::map<std::pair<dev_t, ino_t>, int> files_;
  std::set<size_t> modules_;
};

}  // namespace

bool resolve_program(const std::string& program, const SearchConfig& config, Closure* out,
                     std::string* error, int* status) {
  *out = Closure{};
  Resolver r(config, out);
  if (!r.add_program(program, error, status)) return false;
  if (out->interp.empty()) return true;  // static: the loader is not involved
  return r.load(0, true, error, status);
}

void resolve_modules(const std::vector<std::string>& modules, const std::string& program,
                     const SearchConfig& config, Closure* out) {
  Closure again;
  Resolver r(config, &again);
  std::string error;
  int status = 0;
  if (!r.add_program(program, &error, &status) || !r.load(0, false, &error, &status)) return;
  size_t first = r.count();
  for (const auto& m : modules) r.add_module(m);
  r.load(first, false, &error, &status);
  // Keep the program's own closure order, then what the modules added.
  std::set<std::string> have(out->libraries.begin(), out->libraries.end());
  for (const auto& lib : again.libraries)
    if (have.insert(lib).second) out->libraries.push_back(lib);
  out->dirs_searched.insert(again.dirs_searched.begin(), again.dirs_searched.end());
}

}  // namespace mote::image
