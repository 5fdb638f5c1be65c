#include "kernel/platform/process/launcher.h"

#include <asm/unistd_64.h>

#include "abi/boot_info.h"
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

// Opens the program the way the monitor would; -1 when the monitor should
// handle it (not found, not a regular file, not a valid static ELF).
int open_program(const char* name, char** envp, char* path_out, usize cap, u64* size) {
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
  if (elf::parse(pread_fn, &ifd, u64(st.size), &img) != elf::Problem::None || img.interp_size) {
    host::syscall1(__NR_close, fd);
    return -1;
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
  static char path[4096];
  u64 program_size = 0;
  int fd = open_program(argv[i], envp, path, sizeof path, &program_size);
  if (fd < 0) return 0;

  long m = host::mmap(0, kBlobCap, 3 /*RW*/, host::kMapPrivate | host::kMapAnonymous, -1, 0);
  if (host::failed(m)) {
    host::syscall1(__NR_close, fd);
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
    host::syscall1(__NR_close, fd);
    return 0;
  }
  h.program_fd = fd;
  h.initramfs_fd = -1;
  h.program_size = program_size;
  h.program_path = blob.add(path);
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
    host::syscall1(__NR_close, fd);
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
