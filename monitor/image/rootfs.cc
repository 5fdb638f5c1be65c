#include "monitor/image/rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

#include "abi/rootfs_fast.h"
#include "kernel/exec/elf.h"
#include "monitor/image/cpio.h"
#include "monitor/image/deps.h"
#include "monitor/image/program.h"
#include "monitor/image/rootfs_cache.h"
#include "monitor/util/sha256.h"

namespace mote::image {

namespace {

// Bump when the image layout or the manifest changes meaning.
// 3: with the index (abi/rootfs_index.h); 4: glibc programs get libgcc_s.so.1.
constexpr const char* kFormat = "mote-rootfs 4";
constexpr int kMaxSymlinkHops = 40;  // Linux's MAXSYMLINKS

uint64_t now_ns() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec);
}

uint64_t ns(const struct timespec& t) { return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec); }

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string c = path.substr(i, j - i);
    if (!c.empty() && c != ".") out.push_back(c);
    i = j + 1;
  }
  return out;
}

std::string parent_of(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos || slash == 0 ? "" : p.substr(0, slash);
}

// One entry of the image, keyed by its guest path.
struct Node {
  char type = 'd';     // 'd' directory, 'f' regular file, 'l' symlink
  uint32_t mode = S_IFDIR | 0755;
  std::string host;    // empty for directories made up as parents
  uint64_t size = 0, mtime_ns = 0, ctime_ns = 0, dev = 0, ino = 0;
  std::string target;  // symlinks
};

// Which entries of a tree to leave out, by name and type.
using Skip = std::function<bool(const std::string& name, const struct stat& st)>;

// Python's own test suites (never imported at startup), and what only
// building C extensions needs: the static libpython archives (25 MB) and
// the libpython*.so link of config-X.Y-*/.
bool python_skip(const std::string& name, const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return name == "test" || name == "tests" || name == "idle_test";
  if (name.size() > 2 && name.compare(name.size() - 2, 2, ".a") == 0) return true;
  return S_ISLNK(st.st_mode) && name.rfind("libpython", 0) == 0;
}

bool is_shared_object_name(const std::string& name) {
  size_t at = name.find(".so");
  return at != std::string::npos && (at + 3 == name.size() || name[at + 3] == '.');
}

class Collector {
 public:
  std::map<std::string, Node> nodes;    // guest absolute path -> entry
  InputSet inputs;
  std::vector<std::string> modules;     // shared objects found in added trees

  // Adds `path` (absolute; guest path = host path) with every symlink on the
  // way, the directories it passes through and, with `tree`, everything
  // under it when it is a directory. *real: the path reached.
  bool add_path(const std::string& path, bool tree, const Skip& skip, std::string* real,
                std::string* error, int* err_no, bool note_tree_files = true) {
    std::vector<std::string> todo = components(path);
    std::reverse(todo.begin(), todo.end());  // a stack: next component at the back
    std::string cur;                          // "" is the root
    int hops = 0;
    struct stat st;
    bool is_dir = true;
    while (!todo.empty()) {
      std::string c = todo.back();
      todo.pop_back();
      if (c == "..") {
        cur = parent_of(cur);
        continue;
      }
      std::string next = cur + "/" + c;
      if (lstat(next.c_str(), &st) != 0) {
        *err_no = errno;
        *error = next + ": " + strerror(errno);
        return false;
      }
      if (S_ISLNK(st.st_mode)) {
        if (++hops > kMaxSymlinkHops) {
          *err_no = ELOOP;
          *error = path + ": " + strerror(ELOOP);
          return false;
        }
        char buf[PATH_MAX];
        ssize_t n = readlink(next.c_str(), buf, sizeof buf);
        if (n <= 0 || size_t(n) >= sizeof buf) {
          *err_no = errno ? errno : ENAMETOOLONG;
          *error = next + ": cannot read the symlink";
          return false;
        }
        std::string target(buf, size_t(n));
        add_link(next, next, st, target);
        std::vector<std::string> more = components(target);
        for (auto it = more.rbegin(); it != more.rend(); ++it) todo.push_back(*it);
        if (target[0] == '/') cur.clear();
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        add_dir(next, next, st);
        inputs.note(InputKind::Walked, next);
        cur = next;
        is_dir = true;
        continue;
      }
      if (!todo.empty()) {
        *err_no = ENOTDIR;
        *error = next + ": " + strerror(ENOTDIR);
        return false;
      }
      if (!S_ISREG(st.st_mode)) {
        *err_no = EINVAL;
        *error = next + ": not a regular file, directory or symlink";
        return false;
      }
      add_file(next, next, st);
      cur = next;
      is_dir = false;
    }
    *real = cur.empty() ? "/" : cur;
    if (tree && is_dir) add_tree(cur, cur, true, skip, note_tree_files);
    return true;
  }

  // Everything under host directory `host`, at `guest`. With `same` (guest
  // paths = host paths), a symlink's target file is added too. Without
  // `note_files`, the cache checks the tree by its directories only.
  void add_tree(const std::string& host, const std::string& guest, bool same, const Skip& skip,
                bool note_files = true) {
    inputs.note(InputKind::Listing, host.empty() ? "/" : host);
    DIR* d = opendir(host.empty() ? "/" : host.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    closedir(d);
    for (const auto& name : names) {
      std::string hp = host + "/" + name, gp = guest + "/" + name;
      struct stat st;
      if (lstat(hp.c_str(), &st) != 0) continue;
      if (skip && skip(name, st)) continue;
      if (S_ISDIR(st.st_mode)) {
        add_dir(gp, hp, st);
        add_tree(hp, gp, same, skip, note_files);
      } else if (S_ISREG(st.st_mode)) {
        add_file(gp, hp, st, note_files);
        if (is_shared_object_name(name)) modules.push_back(hp);
      } else if (S_ISLNK(st.st_mode)) {
        char buf[PATH_MAX];
        ssize_t n = readlink(hp.c_str(), buf, sizeof buf);
        if (n <= 0 || size_t(n) >= sizeof buf) continue;
        std::string target(buf, size_t(n));
        add_link(gp, hp, st, target, note_files);
        // Where the link leads, when that is a file (not a whole other tree).
        struct stat ts;
        if (same && stat(hp.c_str(), &ts) == 0 && S_ISREG(ts.st_mode)) {
          std::string real, error;
          int e = 0;
          add_path(target[0] == '/' ? target : host + "/" + target, false, nullptr, &real, &error, &e);
        }
      }  // devices, fifos, sockets: not in images
    }
  }

  // --add HOST:GUEST with GUEST != HOST: the guest's parents are made up.
  bool add_as(const std::string& host, const std::string& guest, std::string* error, int* err_no) {
    struct stat st;
    if (stat(host.c_str(), &st) != 0) {
      *err_no = errno;
      *error = host + ": " + strerror(errno);
      return false;
    }
    make_parents(guest);
    inputs.note(InputKind::File, host);
    if (S_ISDIR(st.st_mode)) {
      add_dir(guest, host, st);
      add_tree(host, guest, false, nullptr);
    } else if (S_ISREG(st.st_mode)) {
      add_file(guest, host, st);
    } else {
      *err_no = EINVAL;
      *error = host + ": not a regular file or directory";
      return false;
    }
    return true;
  }

  void make_parents(const std::string& guest) {
    for (std::string p = parent_of(guest); !p.empty(); p = parent_of(p))
      if (!nodes.count(p)) nodes[p] = Node{};
  }

 private:
  void add_dir(const std::string& guest, const std::string& host, const struct stat& st) {
    Node n;
    n.type = 'd';
    n.mode = st.st_mode;
    n.host = host;
    n.dev = st.st_dev;
    n.ino = st.st_ino;
    auto it = nodes.find(guest);
    if (it == nodes.end() || it->second.type == 'd') nodes[guest] = n;
  }
  void add_file(const std::string& guest, const std::string& host, const struct stat& st,
                bool note = true) {
    Node n;
    n.type = 'f';
    n.mode = st.st_mode;
    n.host = host;
    fill(&n, st);
    nodes[guest] = n;
    if (note) inputs.note(InputKind::File, host);
  }
  void add_link(const std::string& guest, const std::string& host, const struct stat& st,
                const std::string& target, bool note = true) {
    Node n;
    n.type = 'l';
    n.mode = S_IFLNK | 0777;
    n.host = host;
    n.target = target;
    fill(&n, st);
    nodes[guest] = n;
    if (note) inputs.note(InputKind::File, host);
  }
  static void fill(Node* n, const struct stat& st) {
    n->size = uint64_t(st.st_size);
    n->mtime_ns = ns(st.st_mtim);
    n->ctime_ns = ns(st.st_ctim);
    n->dev = st.st_dev;
    n->ino = st.st_ino;
  }
};

// The manifest: every entry, one line each, in guest path order. Directory
// times are left out (and stored as 0), so that installing a package in
// /usr/lib does not make a new image of unchanged files.
std::string manifest_key(const std::map<std::string, Node>& nodes) {
  util::Sha256 h;
  h.update(kFormat);
  h.update("\n", 1);
  char buf[200];
  for (const auto& [guest, n] : nodes) {
    h.update(guest);
    snprintf(buf, sizeof buf, "\t%c %o %llu %llu %llu %llu %llu\t", n.type, n.mode,
             (unsigned long long)(n.type == 'd' ? 0 : n.size),
             (unsigned long long)(n.type == 'd' ? 0 : n.mtime_ns),
             (unsigned long long)(n.type == 'd' ? 0 : n.ctime_ns), (unsigned long long)n.dev,
             (unsigned long long)n.ino);
    h.update(buf, strlen(buf));
    h.update(n.host);
    h.update("\t", 1);
    h.update(n.target);
    h.update("\n", 1);
  }
  return util::Sha256::hex(h.finish());
}

std::vector<CpioEntry> cpio_entries(const std::map<std::string, Node>& nodes) {
  std::vector<CpioEntry> out;
  out.reserve(nodes.size());
  for (const auto& [guest, n] : nodes) {
    CpioEntry e;
    e.path = guest.substr(1);
    e.mode = n.mode;
    if (n.type == 'f') {
      e.size = n.size;
      e.host_path = n.host;
      e.mtime = n.mtime_ns / 1000000000ull;
    } else if (n.type == 'l') {
      e.link_target = n.target;
      e.mtime = n.mtime_ns / 1000000000ull;
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string guest_ld_library_path(const std::vector<std::string>& env) {
  std::string v = "(unset)";
  for (const auto& kv : env)
    if (kv.rfind("LD_LIBRARY_PATH=", 0) == 0) v = kv;
  return v;
}

// The runtime profile of a program, by the name it really has: pythonX.Y
// imports its standard library from /usr/lib/pythonX.Y.
std::string python_stdlib(const std::string& real_program) {
  std::string base = real_program.substr(real_program.rfind('/') + 1);
  if (base.rfind("python", 0) != 0) return "";
  std::string ver = base.substr(6);
  size_t dot = ver.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == ver.size()) return "";
  for (size_t i = 0; i < ver.size(); ++i)
    if (i != dot && !isdigit(static_cast<unsigned char>(ver[i]))) return "";
  std::string dir = "/usr/lib/python" + ver;
  struct stat st;
  return stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? dir : "";
}

int status_of(int err_no) { return err_no == ENOENT || err_no == ENOTDIR ? 127 : 126; }

// The host's separate debug file of the ELF file at `path` (as gdb finds
// it: elf::debug_file_paths), "" when it has none: the fault report in the
// guest reads its symbols and lines (kernel/core/fault.cc). A file under
// the build-ID path must carry the same build ID.
std::string host_debug_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  mote::elf::DebugRefs refs;
  bool any = mote::elf::debug_refs(pread_fn, &fd, &refs);
  close(fd);
  if (!any) return "";
  char paths[mote::elf::kMaxDebugPaths][mote::elf::kDebugPathMax];
  size_t n = mote::elf::debug_file_paths(refs, mote::StrView(path.data(), path.size()), paths);
  for (size_t i = 0; i < n; ++i) {
    int dfd = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (dfd < 0) continue;
    bool same = mote::elf::debug_file_matches(refs, i, pread_fn, &dfd);
    struct stat st;
    bool regular = fstat(dfd, &st) == 0 && S_ISREG(st.st_mode);
    close(dfd);
    if (same && regular) return paths[i];
  }
  return "";
}

// Resolves and lists everything: the slow path.
bool collect(const RootfsRequest& req, Collector* c, std::string* interp, std::string* error,
             int* status) {
  ElfDeps pd;
  if (!read_elf_deps(req.program, &pd, error)) {
    *error = req.program + ": " + *error;
    *status = 126;
    return false;
  }
  SearchConfig config = host_search_config(pd.interp, req.guest_env);
  Closure closure;
  if (!resolve_program(req.program, config, &closure, error, status)) return false;
  *interp = closure.interp;

  std::string real;
  int e = 0;
  if (!c->add_path(req.program, false, nullptr, &real, error, &e)) {
    *status = status_of(e);
    return false;
  }
  std::string program_real = real;
  std::vector<std::string> files;
  if (!closure.interp.empty()) files.push_back(closure.interp);
  files.insert(files.end(), closure.libraries.begin(), closure.libraries.end());
  for (const auto& f : files) {
    if (!c->add_path(f, false, nullptr, &real, error, &e)) {
      *status = status_of(e);
      return false;
    }
  }
  if (!closure.interp.empty()) {
    // What the loader reads at run time besides the libraries.
    const char* conf = config.libc == Libc::Glibc ? "/etc/ld.so.cache" : "/etc/ld-musl-x86_64.path";
    struct stat st;
    if (stat(conf, &st) == 0) c->add_path(conf, false, nullptr, &real, error, &e);
    else c->inputs.note(InputKind::Absent, conf);
  }
  if (!closure.interp.empty() && config.libc == Libc::Glibc) {
    // glibc itself dlopens libgcc_s.so.1 (pthread_cancel and pthread_exit
    // unwind with it; so does backtrace()): part of every dynamic glibc
    // program's runtime, though no DT_NEEDED names it.
    for (const auto& dir : config.system_dirs) {
      std::string p = dir + "/libgcc_s.so.1";
      struct stat st;
      if (stat(p.c_str(), &st) != 0) continue;
      if (!c->add_path(p, false, nullptr, &real, error, &e)) {
        *status = status_of(e);
        return false;
      }
      break;
    }
  }
  c->modules.clear();
  // The standard library is checked by its directories on a cache hit (one
  // stat per directory, not per file): packages replace files by rename,
  // which changes the directory. --add trees are checked file by file.
  std::string stdlib = python_stdlib(program_real);
  if (!stdlib.empty() && !c->add_path(stdlib, true, python_skip, &real, error, &e, false)) {
    *status = 125;
    return false;
  }
  for (const auto& spec : req.adds) {
    std::string host, guest;
    if (!parse_add(spec, &host, &guest, error)) {
      *status = 125;
      return false;
    }
    bool ok = host == guest ? c->add_path(host, true, nullptr, &real, error, &e)
                            : c->add_as(host, guest, error, &e);
    if (!ok) {
      *error = "--add " + spec + ": " + *error;
      *status = 125;
      return false;
    }
  }
  // Libraries the modules of added trees need (Python's lib-dynload needs
  // libssl, libsqlite3...): what cannot be resolved is left out silently.
  if (!c->modules.empty() && !closure.interp.empty()) {
    size_t known = closure.libraries.size();
    resolve_modules(c->modules, req.program, config, &closure);
    for (size_t i = known; i < closure.libraries.size(); ++i)
      c->add_path(closure.libraries[i], false, nullptr, &real, error, &e);
  }
  // Separate debug files of the program and its libraries, where the host
  // has them (Debian's -dbgsym packages, a .gnu_debuglink beside the file).
  if (req.debug_files) {
    std::vector<std::string> elves{req.program};
    elves.insert(elves.end(), files.begin(), files.end());
    elves.insert(elves.end(), closure.libraries.begin(), closure.libraries.end());
    std::sort(elves.begin(), elves.end());
    elves.erase(std::unique(elves.begin(), elves.end()), elves.end());
    for (const auto& f : elves) {
      std::string debug = host_debug_file(f);
      if (!debug.empty()) c->add_path(debug, false, nullptr, &real, error, &e);
    }
  }
  error->clear();
  for (const auto& dir : closure.dirs_searched) c->inputs.note(InputKind::Listing, dir);
  for (const auto& f : config.config_files) {
    c->inputs.note(InputKind::File, f);
    c->inputs.note(InputKind::Listing, f.substr(0, f.rfind('/')));
  }
  return true;
}

bool open_image(const std::string& path, Rootfs* out) {
  int fd = open(path.c_str(), O_RDONLY);  // no O_CLOEXEC: the core maps it
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size == 0) {
    close(fd);
    return false;
  }
  out->fd = fd;
  out->path = path;
  out->size = uint64_t(st.st_size);
  return true;
}

}  // namespace

std::string default_cache_dir() {
  const char* v = getenv("MOTE_CACHE_DIR");
  if (v && *v) return v;
  v = getenv("XDG_CACHE_HOME");
  if (v && *v == '/') return std::string(v) + "/mote";
  v = getenv("HOME");
  if (v && *v == '/') return std::string(v) + "/.cache/mote";
  return "/tmp/mote-cache-" + std::to_string(getuid());
}

std::string absolute_path(const std::string& path) {
  std::string full = path;
  if (path.empty() || path[0] != '/') {
    char cwd[PATH_MAX];
    full = std::string(getcwd(cwd, sizeof cwd) ? cwd : "/") + "/" + path;
  }
  std::string out;
  for (const auto& c : components(full)) {
    if (c == "..") out = parent_of(out);
    else out += "/" + c;
  }
  return out.empty() ? "/" : out;
}

bool parse_add(const std::string& spec, std::string* host, std::string* guest, std::string* error) {
  size_t colon = spec.find(':');
  std::string h = spec.substr(0, colon);
  if (h.empty()) {
    *error = "--add " + spec + ": needs HOST[:GUEST]";
    return false;
  }
  *host = absolute_path(h);
  if (colon == std::string::npos) {
    *guest = *host;
    return true;
  }
  std::string g = spec.substr(colon + 1);
  if (g.empty() || g[0] != '/') {
    *error = "--add " + spec + ": the guest path must be absolute";
    return false;
  }
  *guest = absolute_path(g);
  if (*guest == "/") {
    *error = "--add " + spec + ": the guest path cannot be /";
    return false;
  }
  return true;
}

namespace {

// The fast pointer (abi/rootfs_fast.h) for a plain request, rewritten only
// when it says something else.
void note_fast(const std::string& dir, const RootfsRequest& req, const std::string& index) {
  if (!req.adds.empty() || req.debug_files || guest_ld_library_path(req.guest_env) != "(unset)")
    return;
  if (req.program.find('\n') != std::string::npos) return;
  char key[17];
  snprintf(key, sizeof key, "%016llx",
           (unsigned long long)abi::fast_key(req.program.data(), req.program.size()));
  std::string path = dir + "/fast-" + key;
  std::string want = std::string(abi::kFastMagic) + "\n" + req.program + "\n" +
                     index.substr(index.rfind('/') + 1) + "\n";
  std::string have;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n > 0) have.assign(buf, size_t(n));
  }
  if (have == want) return;
  std::string ignored;
  write_atomically(path, [&](int out) {
    return write(out, want.data(), want.size()) == ssize_t(want.size());
  }, &ignored);  // only an accelerator
}

}  // namespace

bool build_rootfs(const RootfsRequest& req, Rootfs* out, std::string* error, int* status) {
  uint64_t t0 = now_ns();
  *out = Rootfs{};
  *status = 125;
  std::string dir = req.cache_dir.empty() ? default_cache_dir() : req.cache_dir;
  if (!make_dirs(dir, error)) return false;

  // The request: what the image is made from, before any file is read.
  util::Sha256 rh;
  rh.update(kFormat);
  for (const auto& s : {std::string("\nprogram="), req.program, std::string("\n"),
                        guest_ld_library_path(req.guest_env)})
    rh.update(s);
  for (const auto& a : req.adds) {
    rh.update("\nadd=");
    rh.update(a);
    if (!a.empty() && a[0] != '/') {  // relative to the working directory
      rh.update(" from ");
      rh.update(absolute_path("."));
    }
  }
  if (req.debug_files) rh.update("\ndebug-files");
  std::string index = dir + "/index-" + util::Sha256::hex(rh.finish()).substr(0, 32);

  std::string key, interp;
  if (index_still_valid(index, &key, &interp) &&
      open_image(dir + "/rootfs-" + key + ".cpio", out)) {
    out->key = key;
    out->interp = interp;
    out->index_hit = out->image_hit = true;
    note_fast(dir, req, index);
    out->build_ns = now_ns() - t0;
    return true;
  }

  Collector c;
  if (!collect(req, &c, &interp, error, status)) return false;
  key = manifest_key(c.nodes);
  std::string image = dir + "/rootfs-" + key + ".cpio";
  out->entries = c.nodes.size();
  if (open_image(image, out)) {
    out->image_hit = true;
  } else {
    std::vector<CpioEntry> entries = cpio_entries(c.nodes);
    bool ok = write_atomically(
        image, [&](int fd) { return write_cpio(fd, std::move(entries), error) != 0; }, error);
    if (!ok || !open_image(image, out)) {
      if (error->empty()) *error = image + ": " + strerror(errno);
      *error = "cannot write the root filesystem image: " + *error;
      *status = 125;
      return false;
    }
  }
  out->key = key;
  out->interp = interp;
  std::string ignored;
  if (write_index(index, key, interp, c.inputs, &ignored))  // only an accelerator
    note_fast(dir, req, index);
  out->build_ns = now_ns() - t0;
  return true;
}

}  // namespace mote::image
