#include "kernel/platform/process/launcher.h"

#include <asm/unistd_64.h>

#include "abi/boot_info.h"
#include "abi/rootfs_fast.h"
#include "kernel/exec/elf.h"
#include "kernel/lib/boot_blob.h"
#include "kernel/lib/string.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process {

namespace {

constexpr int kAtFdcwd = -100;
constexpr int kAtEmptyPath = 0x1000;
constexpr u64 kBlobCap = 256 * 1024;
constexpr usize kMaxEnv = 256;

struct Stat {
  u64 dev, ino, nlink;
  u32 mode, uid, gid, pad;
  u64 rdev;
  i64 size, blksize, blocks;
  i64 t[6];
  i64 unused[3];
};

bool eq(const char* a, const char* b) { return StrView(a) == StrView(b); }
bool has_slash(const char* s) {
  for (; *s; ++s)
    if (*s == '/') return true;
  return false;
}
bool starts(const char* a, const char* p) { return StrView(a).starts_with(StrView(p)); }

// "--mem=V" / "--mem V" style options; *value set, *i advanced.
bool option(int argc, char** argv, int* i, const char* name, const char** value) {
  const char* a = argv[*i];
  usize n = strlen(name);
  if (eq(a, name)) {
    if (*i + 1 >= argc) return false;
    *value = argv[++*i];
    return true;
  }
  if (starts(a, name) && a[n] == '=') {
    *value = a + n + 1;
    return true;
  }
  return false;
}

// Sizes the monitor accepts in their plain forms (64M, 512k, 1G, 1048576);
// anything else is left to the monitor (it explains the error).
bool parse_mem(const char* v, u64* out) {
  u64 n = 0;
  usize i = 0;
  if (!v[0]) return false;
  for (; v[i] >= '0' && v[i] <= '9'; ++i) {
    if (n > (u64(1) << 50)) return false;
    n = n * 10 + u64(v[i] - '0');
  }
  if (i == 0) return false;
  int shift = 0;
  char u = v[i];
  if (u == 'k' || u == 'K') shift = 10;
  else if (u == 'm' || u == 'M') shift = 20;
  else if (u == 'g' || u == 'G') shift = 30;
  else if (u != 0) return false;
  if (u && v[i + 1] != 0) return false;
  n <<= shift;
  if (n < (u64(1) << 20) || n > (u64(1) << 40)) return false;
  *out = n;
  return true;
}

bool parse_cpus(const char* v, u32* out) {
  u32 n = 0;
  if (!v[0]) return false;
  for (const char* p = v; *p; ++p) {
    if (*p < '0' || *p > '9' || n > 64) return false;
    n = n * 10 + u32(*p - '0');
  }
  if (n < 1 || n > 64) return false;
  *out = n;
  return true;
}

const char* getenv_in(char** envp, StrView name) {
  for (char** e = envp; *e; ++e)
    if (StrView(*e).starts_with(name) && (*e)[name.size] == '=') return *e + name.size + 1;
  return nullptr;
}

bool exists(const char* path) {
  return !host::failed(host::syscall4(__NR_faccessat, kAtFdcwd, long(path), 0 /*F_OK*/, 0));
}

// The platform `mote run` would pick (monitor/cli/platform_choice.cc): this
// path handles only the process platform.
bool auto_is_process() {
  if (!exists("/dev/kvm")) return true;
  if (host::failed(host::syscall4(__NR_faccessat, kAtFdcwd, long("/dev/kvm"), 6 /*R_OK|W_OK*/, 0)))
    return true;
  if (exists("/sys/module/kvm_pvm")) return true;
  return !exists("/sys/module/kvm_intel") && !exists("/sys/module/kvm_amd");
}

Result<usize> pread_fn(void* ctx, u64 off, void* buf, usize len) {
  int fd = *static_cast<int*>(ctx);
  long r = host::syscall4(__NR_pread64, fd, long(buf), long(len), long(off));
  if (host::failed(r)) return err(int(-r));
  return usize(r);
}

// The absolute form of `path` the monitor names a program by (symlinks kept,
// "." and ".." folded: monitor/image/rootfs.cc absolute_path). False when it
// does not fit.
bool absolute_path(const char* path, char* out, usize cap) {
  char full[4096];
  usize n = 0;
  if (path[0] != '/') {
    long r = host::syscall2(__NR_getcwd, long(full), sizeof full);
    if (host::failed(r) || r <= 1) return false;
    n = strlen(full);
    if (n + 1 >= sizeof full) return false;
    full[n++] = '/';
  }
  usize pl = strlen(path);
  if (n + pl + 1 > sizeof full) return false;
  memcpy(full + n, path, pl + 1);
  n += pl;
  usize o = 0;
  for (usize i = 0; i < n;) {
    while (i < n && full[i] == '/') ++i;
    usize s = i;
    while (i < n && full[i] != '/') ++i;
    StrView c(full + s, i - s);
    if (c.size == 0 || c == StrView(".")) continue;
    if (c == StrView("..")) {
      while (o > 0 && out[o - 1] != '/') --o;
      if (o > 0) --o;
      continue;
    }
    if (o + 1 + c.size + 1 > cap) return false;
    out[o++] = '/';
    memcpy(out + o, c.data, c.size);
    o += c.size;
  }
  if (o == 0) out[o++] = '/';
  out[o] = 0;
  return true;
}

// Reads a whole small file into buf; its length, or -1.
long read_small(const char* path, char* buf, usize cap) {
  long fd = host::syscall4(__NR_openat, kAtFdcwd, long(path), 0x80000 /*O_CLOEXEC*/, 0);
  if (host::failed(fd)) return -1;
  usize done = 0;
  for (;;) {
    long r = host::syscall3(__NR_read, fd, long(buf + done), long(cap - done));
    if (r == -4 /*EINTR*/) continue;
    if (host::failed(r)) done = cap;
    if (r <= 0 || done == cap) break;
    done += usize(r);
  }
  host::syscall1(__NR_close, fd);
  return done >= cap ? -1 : long(done);
}

u64 hex_value(const char*& p, const char* end, bool* ok) {
  u64 v = 0;
  const char* s = p;
  for (; p < end; ++p) {
    char c = *p;
    u64 d;
    if (c >= '0' && c <= '9') d = u64(c - '0');
    else if (c >= 'a' && c <= 'f') d = u64(c - 'a' + 10);
    else break;
    v = v << 4 | d;
  }
  if (p == s || p - s > 16) *ok = false;
  return v;
}

// Every input an index lists still stats as recorded
// (monitor/image/rootfs_cache.cc index_still_valid, same fields per kind).
bool index_still_valid(const char* text, usize len, char* key_out) {
  const char* p = text;
  const char* end = text + len;
  auto line = [&](const char** b, usize* n) {
    const char* q = p;
    while (q < end && *q != '\n') ++q;
    if (q == end) return false;
    *b = p;
    *n = usize(q - p);
    p = q + 1;
    return true;
  };
  const char* b;
  usize n;
  if (!line(&b, &n) || !(StrView(b, n) == StrView(abi::kIndexFileMagic))) return false;
  if (!line(&b, &n) || n != 64) return false;
  memcpy(key_out, b, 64);
  key_out[64] = 0;
  if (!line(&b, &n)) return false;  // the interpreter
  static char path[4096];
  while (p < end) {
    if (!line(&b, &n) || n < 2) return false;
    const char* q = b + 1;
    const char* e = b + n;
    char kind = b[0];
    u64 v[6];
    bool ok = true;
    for (auto& x : v) {
      x = hex_value(q, e, &ok);
      if (!ok || q >= e || *q != ' ') return false;
      ++q;
    }
    usize pn = 0;  // unescape %25 and %0A
    for (; q < e; ++q) {
      if (pn + 2 >= sizeof path) return false;
      if (*q == '%' && e - q > 2 && q[1] == '2' && q[2] == '5') path[pn++] = '%', q += 2;
      else if (*q == '%' && e - q > 2 && q[1] == '0' && q[2] == 'A') path[pn++] = '\n', q += 2;
      else path[pn++] = *q;
    }
    path[pn] = 0;
    Stat st;
    int flags = kind == 'D' ? 0 : 0x100 /*AT_SYMLINK_NOFOLLOW*/;
    bool exists = !host::failed(host::syscall4(__NR_newfstatat, kAtFdcwd, long(path), long(&st), flags));
    if (kind == 'A') {
      if (exists) return false;
      continue;
    }
    if (!exists || (kind != 'F' && kind != 'D' && kind != 'W')) return false;
    u64 size = kind == 'F' ? u64(st.size) : 0;
    u64 mtime = 0, ctime = 0;
    if (kind == 'F' || kind == 'D') {
      mtime = u64(st.t[2]) * 1000000000ull + u64(st.t[3]);
      ctime = u64(st.t[4]) * 1000000000ull + u64(st.t[5]);
    }
    if (st.dev != v[0] || st.ino != v[1] || st.mode != v[2] || size != v[3] || mtime != v[4] ||
        ctime != v[5])
      return false;
  }
  return true;
}

// The cached root filesystem image of a plain dynamic program, when its
// inputs have not changed (abi/rootfs_fast.h): an open fd and the size, or
// -1 (the monitor then builds or finds it).
int cached_rootfs(const char* program, char** envp, u64* size) {
  static char dir[4096];
  const char* v = getenv_in(envp, "MOTE_CACHE_DIR");
  usize n = 0;
  auto put = [&](const char* s) {
    usize l = strlen(s);
    if (n + l + 1 > sizeof dir) return false;
    memcpy(dir + n, s, l + 1);
    n += l;
    return true;
  };
  bool ok;
  if (v && *v) {
    ok = put(v);
  } else if ((v = getenv_in(envp, "XDG_CACHE_HOME")) && *v == '/') {
    ok = put(v) && put("/mote");
  } else if ((v = getenv_in(envp, "HOME")) && *v == '/') {
    ok = put(v) && put("/.cache/mote");
  } else {
    return -1;  // /tmp/mote-cache-<uid>: the monitor's business
  }
  if (!ok) return -1;
  static char file[4096 + 64];
  static char text[4096 + 128];  // magic, the path, the index name
  usize plen = strlen(program);
  u64 k = abi::fast_key(program, plen);
  char hex[17];
  for (int i = 15; i >= 0; --i, k >>= 4) hex[i] = "0123456789abcdef"[k & 15];
  hex[16] = 0;
  memcpy(file, dir, n);
  memcpy(file + n, "/fast-", 6);
  memcpy(file + n + 6, hex, 17);
  long len = read_small(file, text, sizeof text);
  if (len <= 0) return -1;
  // "mote-fast 1\n<program>\n<index name>\n"
  StrView magic(abi::kFastMagic);
  usize at = magic.size;
  if (usize(len) < at + 1 || !(StrView(text, at) == magic) || text[at] != '\n') return -1;
  ++at;
  if (usize(len) < at + plen + 1 || !(StrView(text + at, plen) == StrView(program, plen)) ||
      text[at + plen] != '\n')
    return -1;
  at += plen + 1;
  usize e = at;
  while (e < usize(len) && text[e] != '\n') ++e;
  if (e == usize(len) || e - at > 64 || !StrView(text + at, e - at).starts_with("index-")) return -1;
  for (usize i = at; i < e; ++i)
    if (text[i] == '/') return -1;
  memcpy(file + n, "/", 1);
  memcpy(file + n + 1, text + at, e - at);
  file[n + 1 + (e - at)] = 0;
  // The index, in memory of its own: the core's .bss is populated at every
  // start (main.cc), so large buffers do not belong there.
  constexpr usize kIndexCap = 1 << 20;
  long mem = host::mmap(0, kIndexCap, 3 /*RW*/, host::kMapPrivate | host::kMapAnonymous, -1, 0);
  if (host::failed(mem)) return -1;
  char* index = reinterpret_cast<char*>(mem);
  len = read_small(file, index, kIndexCap);
  char key[65];
  bool valid = len > 0 && index_still_valid(index, usize(len), key);
  host::munmap(u64(mem), kIndexCap);
  if (!valid) return -1;
  memcpy(file + n, "/rootfs-", 8);
  memcpy(file + n + 8, key, 64);
  memcpy(file + n + 72, ".cpio", 6);
  long fd = host::syscall4(__NR_openat, kAtFdcwd, long(file), 0 /*O_RDONLY*/, 0);
  if (host::failed(fd)) return -1;
  Stat st;
  if (host::failed(host::syscall2(__NR_fstat, fd, long(&st))) || st.size <= 0) {
    host::syscall1(__NR_close, fd);
    return -1;
  }
  *size = u64(st.size);
  return int(fd);
}

// Opens the program the way the monitor would; -1 when the monitor should
// handle it (not found, not a regular file, not a valid ELF). A dynamic
// program (PT_INTERP) sets *named to its absolute path as named (the path it
// has in its root filesystem image) and *dynamic.
int open_program(const char* name, char** envp, char* path_out, usize cap, u64* size,
                 char* named, usize named_cap, bool* dynamic) {
  char candidate[4096];
  const char* path = name;
  if (!has_slash(name)) {
    const char* dirs = getenv_in(envp, "PATH");
    if (!dirs) dirs = "/usr/local/bin:/usr/bin:/bin";
    path = nullptr;
    for (const char* d = dirs;;) {
      const char* end = d;
      while (*end && *end != ':') ++end;
      usize dl = usize(end - d), nl = strlen(name);
      if (dl + nl + 2 < sizeof candidate) {
        memcpy(candidate, dl ? d : ".", dl ? dl : 1);
        usize at = dl ? dl : 1;
        candidate[at] = '/';
        memcpy(candidate + at + 1, name, nl + 1);
        if (!host::failed(host::syscall4(__NR_faccessat, kAtFdcwd, long(candidate), 1 /*X_OK*/, 0))) {
          path = candidate;
          break;
        }
      }
      if (!*end) break;
      d = end + 1;
    }
    if (!path) return -1;
  }
  long fd = host::syscall4(__NR_openat, kAtFdcwd, long(path), 0 /*O_RDONLY*/, 0);
  if (host::failed(fd)) return -1;
  Stat st;
  if (host::failed(host::syscall2(__NR_fstat, fd, long(&st))) || (st.mode & 0170000) != 0100000) {
    host::syscall1(__NR_close, fd);
    return -1;
  }
  static elf::Image img;
  int ifd = int(fd);
  // A dynamic program (PT_INTERP) runs from a root filesystem image of its
  // libraries, which the monitor builds (monitor/image/rootfs.h).
  *dynamic = false;
  if (elf::parse(pread_fn, &ifd, u64(st.size), &img) != elf::Problem::None) {
    host::syscall1(__NR_close, fd);
    return -1;
  }
  if (img.dynamic) {
    if (!absolute_path(path, named, named_cap)) {
      host::syscall1(__NR_close, fd);
      return -1;
    }
    *dynamic = true;
  }
  // The absolute path, as realpath(3) would give it.
  char link[32] = "/proc/self/fd/";
  usize n = 14;
  char digits[12];
  usize nd = 0;
  for (u64 v = u64(fd); v || !nd; v /= 10) digits[nd++] = char('0' + v % 10);
  while (nd) link[n++] = digits[--nd];
  link[n] = 0;
  long len = host::syscall3(__NR_readlink, long(link), long(path_out), long(cap - 1));
  if (host::failed(len) || len <= 0 || usize(len) >= cap - 1) {
    host::syscall1(__NR_close, fd);
    return -1;
  }
  path_out[len] = 0;
  *size = u64(st.size);
  return int(fd);
}

abi::ConsoleStream probe_console(int fd) {
  abi::ConsoleStream s{};
  Stat st;
  if (host::failed(host::syscall2(__NR_fstat, fd, long(&st)))) {
    s.kind = abi::ConsoleKind::Closed;
    return s;
  }
  long fl = host::syscall2(__NR_fcntl, fd, 3 /*F_GETFL*/);
  s.open_flags = host::failed(fl) ? 0 : u32(fl);
  u32 type = st.mode & 0170000;
  if (type == 0020000) {  // S_IFCHR
    u8 termios[60];
    if (!host::failed(host::syscall3(__NR_ioctl, fd, 0x5401 /*TCGETS*/, long(termios)))) {
      s.kind = abi::ConsoleKind::Tty;
      s.tty_rdev = u32(st.rdev);
      memcpy(s.termios, termios, 36);
      u16 ws[4];
      if (!host::failed(host::syscall3(__NR_ioctl, fd, 0x5413 /*TIOCGWINSZ*/, long(ws)))) {
        s.ws_row = ws[0];
        s.ws_col = ws[1];
      }
    } else {
      s.kind = abi::ConsoleKind::Null;
    }
  } else if (type == 0010000) {
    s.kind = abi::ConsoleKind::Pipe;
  } else if (type == 0140000) {
    s.kind = abi::ConsoleKind::Socket;
  } else {
    s.kind = abi::ConsoleKind::File;
  }
  return s;
}

}  // namespace

u64 launch_from_cli(int argc, char** argv, char** envp, u64* blob_size) {
  if (argc < 3 || !eq(argv[1], "run")) return 0;
  // A closed fd 0-2 could be taken by the program's own fd: the monitor
  // handles that case (it parks /dev/null there first).
  for (int k = 0; k < 3; ++k)
    if (host::failed(host::syscall2(__NR_fcntl, k, 1 /*F_GETFD*/))) return 0;
  u64 mem = u64(1) << 30;
  u32 cpus = 1;
  bool strace = false;
  StrView hostname("mote");
  const char* env_opts[kMaxEnv];
  usize nenv = 0;
  bool forced_process = false;
  int i = 2;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    const char* v = nullptr;
    if (option(argc, argv, &i, "--mem", &v) || option(argc, argv, &i, "-m", &v)) {
      if (!parse_mem(v, &mem)) return 0;
    } else if (option(argc, argv, &i, "--cpus", &v)) {
      if (!parse_cpus(v, &cpus)) return 0;
      // More than the host's CPUs: the monitor explains (or --overcommit).
      u64 mask[16] = {};
      long n = host::syscall3(__NR_sched_getaffinity, 0, sizeof mask, long(mask));
      u32 host_cpus = 0;
      for (long w = 0; w < n / 8; ++w) host_cpus += u32(__builtin_popcountll(mask[w]));
      if (host::failed(n) || cpus > host_cpus) return 0;
    } else if (option(argc, argv, &i, "-e", &v) || option(argc, argv, &i, "--env", &v)) {
      if (!v[0] || v[0] == '=' || nenv == kMaxEnv) return 0;
      env_opts[nenv++] = v;
    } else if (option(argc, argv, &i, "--platform", &v)) {
      if (!eq(v, "process") && !(eq(v, "auto") && auto_is_process())) return 0;
      forced_process = true;
    } else if (option(argc, argv, &i, "--hostname", &v)) {
      usize n = strlen(v);
      if (n == 0 || n > 64) return 0;
      hostname = StrView(v, n);
    } else if (eq(argv[i], "--strace")) {
      strace = true;
    } else {
      return 0;  // anything else (--verbose, --selftest, --add, -p, -v, --, unknown): the monitor
    }
  }
  if (i >= argc) return 0;
  // The platform when none is given: only the process platform is handled here.
  if (!forced_process && !auto_is_process()) return 0;

  // -e K=V as given; `-e K` takes the host's value, or is dropped when unset.
  static char joined[kMaxEnv][512];
  StrView overrides[kMaxEnv];
  usize nover = 0;
  for (usize k = 0; k < nenv; ++k) {
    StrView kv(env_opts[k]);
    usize eqpos = 0;
    while (eqpos < kv.size && kv.data[eqpos] != '=') ++eqpos;
    if (eqpos == kv.size) {
      const char* hv = getenv_in(envp, kv);
      if (!hv) continue;
      usize hl = strlen(hv);
      if (kv.size + 1 + hl >= sizeof joined[k]) return 0;
      memcpy(joined[k], kv.data, kv.size);
      joined[k][kv.size] = '=';
      memcpy(joined[k] + kv.size + 1, hv, hl);
      kv = StrView(joined[k], kv.size + 1 + hl);
    }
    overrides[nover++] = kv;
  }
  static char hostname_kv[80];
  StrView env[kMaxEnv + 4];
  usize n = guest_environment(hostname, overrides, nover, hostname_kv, env, kMaxEnv + 4);
  u32 argc_guest = u32(argc - i);
  static abi::BlobString args[4096], envs[kMaxEnv + 4];
  if (argc_guest > 4096) return 0;

  // Last, the program: nothing after this returns without closing it.
  static char path[4096], named[4096];
  u64 program_size = 0;
  bool dynamic = false;
  int fd = open_program(argv[i], envp, path, sizeof path, &program_size, named, sizeof named,
                        &dynamic);
  if (fd < 0) return 0;
  // A dynamic program boots from its cached root filesystem image when
  // nothing it was built from has changed; anything else is the monitor's.
  int rootfs_fd = -1;
  u64 rootfs_size = 0;
  if (dynamic) {
    host::syscall1(__NR_close, fd);
    fd = -1;
    for (usize k = 0; k < nover; ++k)
      if (overrides[k].starts_with("LD_LIBRARY_PATH=")) return 0;
    rootfs_fd = cached_rootfs(named, envp, &rootfs_size);
    if (rootfs_fd < 0) return 0;
  }
  auto close_all = [&] {
    if (fd >= 0) host::syscall1(__NR_close, fd);
    if (rootfs_fd >= 0) host::syscall1(__NR_close, rootfs_fd);
  };

  long m = host::mmap(0, kBlobCap, 3 /*RW*/, host::kMapPrivate | host::kMapAnonymous, -1, 0);
  if (host::failed(m)) {
    close_all();
    return 0;
  }
  BootBlobWriter blob(reinterpret_cast<u8*>(m), kBlobCap);
  abi::BootInfo h{};
  h.magic = abi::kBootMagic;
  h.version = abi::kBootVersion;
  h.flags = strace ? u32(abi::kBootStrace) : 0u;
  h.cpus = cpus;
  h.mem_limit = mem;
  struct {
    i64 s, ns;
  } now;
  host::syscall2(__NR_clock_gettime, 0 /*CLOCK_REALTIME*/, long(&now));
  h.wall_clock_ns = u64(now.s) * 1000000000ull + u64(now.ns);
  if (host::syscall3(__NR_getrandom, long(h.random_seed), sizeof h.random_seed, 0) !=
      long(sizeof h.random_seed)) {
    close_all();
    return 0;
  }
  h.program_fd = fd;
  h.initramfs_fd = rootfs_fd;
  h.net_fd = -1;  // the launcher fallback has no network backend: loopback only
  h.program_size = dynamic ? 0 : program_size;
  h.initramfs_size = rootfs_size;
  h.program_path = blob.add(dynamic ? named : path);
  h.hostname = blob.add(hostname);
  h.cwd = blob.add("/");

  for (u32 k = 0; k < argc_guest; ++k) args[k] = blob.add(argv[i + int(k)]);
  for (usize k = 0; k < n; ++k) envs[k] = blob.add(env[k]);
  h.argc = argc_guest;
  h.envc = u32(n);
  h.argv_offset = blob.table(args, argc_guest);
  h.envp_offset = blob.table(envs, n);
  for (int k = 0; k < 3; ++k) h.console[k] = probe_console(k);
  if (!blob.finish(h)) {
    close_all();
    return 0;
  }
  *blob_size = blob.size();
  return u64(m);
}

void exec_monitor(char** argv, char** envp) {
  static char path[4096];
  long n = host::syscall3(__NR_readlink, long("/proc/self/exe"), long(path), sizeof path - 32);
  if (host::failed(n) || n <= 0) fatal("cannot find the mote binary (/proc/self/exe)");
  path[n] = 0;
  while (n > 0 && path[n - 1] != '/') --n;
  memcpy(path + n, "mote-monitor", 13);
  host::syscall3(__NR_execve, long(path), long(argv), long(envp));
  host::write(2, "mote: cannot run ", 17);
  host::write(2, path, strlen(path));
  host::write(2, " (installed beside mote?)\n", 26);
  host::exit_group(125);
}

}  // namespace mote::process
