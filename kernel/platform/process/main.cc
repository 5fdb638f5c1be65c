// Process-platform startup: from the Linux exec of the hosted core to
// core::boot(). The monitor passes the boot-info blob as an fd (argv[1]).
#include <asm/unistd_64.h>

#include "kernel/core/process.h"
#include "kernel/exec/elf.h"
#include "kernel/lib/string.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/launcher.h"
#include "kernel/platform/process/state.h"

extern "C" [[noreturn]] void mote_switch_stack(mote::u64 top, void (*fn)());
extern "C" [[noreturn]] void mote_process_start(mote::u64* sp, mote::u64 base, mote::u64* dynamic);

namespace mote::process {

constinit State g;
constinit Cpu g_cpu0;

namespace {

constexpr u64 kCoreRegion = 64ull << 30;  // address space for the core's heap and stacks
constexpr u64 kCoreStack = 256 * 1024;
constexpr u64 kSignalStack = 128 * 1024;

// Applies R_X86_64_RELATIVE relocations to the core itself. Runs before any
// pointer-holding data is used, so it touches only locals and its arguments.
__attribute__((no_stack_protector)) void relocate(u64 base, const u64* dyn) {
  u64 rela = 0, relasz = 0, relaent = 24;
  for (; dyn[0] != 0; dyn += 2) {
    if (dyn[0] == 7) rela = dyn[1];           // DT_RELA
    else if (dyn[0] == 8) relasz = dyn[1];    // DT_RELASZ
    else if (dyn[0] == 9) relaent = dyn[1];   // DT_RELAENT
  }
  for (u64 off = 0; off < relasz; off += relaent) {
    const u64* r = reinterpret_cast<const u64*>(base + rela + off);
    u32 type = u32(r[1]);
    if (type == 8)  // R_X86_64_RELATIVE
      *reinterpret_cast<u64*>(base + r[0]) = base + r[2];
    else if (type != 0)
      host::exit_group(70);  // the build guarantees only RELATIVE relocations
  }
}

int parse_int(const char* s) {
  int v = 0;
  if (!s || !*s) return -1;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

u64 parse_hex(const char*& p) {
  u64 v = 0;
  for (;; ++p) {
    char c = *p;
    if (c >= '0' && c <= '9') v = v * 16 + u64(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + u64(c - 'a' + 10);
    else return v;
  }
}

// Every host mapping present now (the core image, its region, the host
// stack, vDSO and vvar) becomes a reserved range the program never gets.
void add_host_mapping(const char* line, usize len) {
  const char* p = line;
  u64 s = parse_hex(p);
  if (*p == '-') ++p;
  u64 e = parse_hex(p);
  if (s >= 0x800000000000ull) return;  // [vsyscall]
  if (len > 6 && StrView(line + len - 6, 6) == StrView("[vdso]")) {
    g.vdso_start = s;
    g.vdso_end = e;
  }
  // The host stack may grow down: reserve 8 MiB below it too.
  if (len > 7 && StrView(line + len - 7, 7) == StrView("[stack]"))
    s = s > (8ull << 20) ? s - (8ull << 20) : 0;
  if (g.nreserved == sizeof g.reserved / sizeof g.reserved[0]) fatal("too many host mappings");
  g.reserved[g.nreserved++] = platform::Reserved{s, e};
}

void read_host_maps() {
  long fd = host::syscall4(__NR_openat, -100, long("/proc/self/maps"), 0 /*O_RDONLY*/, 0);
  if (host::failed(fd)) fatal("cannot read /proc/self/maps");
  // Streamed through a small buffer: a line is at most PATH_MAX + ~80 bytes.
  char buf[4352];
  usize have = 0;
  for (;;) {
    long n = host::read(int(fd), buf + have, sizeof buf - 1 - have);
    if (host::failed(n)) fatal("cannot read /proc/self/maps");
    have += usize(n);
    buf[have] = 0;
    usize start = 0;
    for (usize i = 0; i < have; ++i) {
      if (buf[i] != '\n') continue;
      add_host_mapping(buf + start, i - start);
      start = i + 1;
    }
    if (n == 0) {
      if (start < have) add_host_mapping(buf + start, have - start);
      break;
    }
    if (start == 0 && have == sizeof buf - 1) fatal("/proc/self/maps line too long");
    memmove(buf, buf + start, have - start);
    have -= start;
  }
  host::syscall1(__NR_close, fd);
}

void continue_on_core_stack();
[[noreturn]] void start_core();

}  // namespace

[[noreturn]] void fatal(const char* msg) {
  host::write(2, "mote: internal error: ", 22);
  host::write(2, msg, strlen(msg));
  host::write(2, "\n", 1);
  platform::restore_terminal();
  release_net();
  host::exit_group(70);
}

namespace {

u64* g_initial_sp;

void continue_on_core_stack() {
  // Per-CPU data through %gs, which the program never uses.
  g_cpu0.self = &g_cpu0;
  if (host::failed(host::syscall2(__NR_arch_prctl, 0x1001 /*ARCH_SET_GS*/, long(&g_cpu0))))
    fatal("arch_prctl(ARCH_SET_GS)");
  auto ks = platform::map_core(kCoreStack);
  if (!ks.ok()) fatal("no memory for the syscall stack");
  g_cpu0.kstack_base = ks.value();
  g_cpu0.kernel_stack_top = ks.value() + kCoreStack;
  setup_signal_stack(&g_cpu0);
  install_signal_handlers();
  init_cpus();
  g_cpu0.host_tid = g.host_pid;
  read_host_maps();
  init_vdso_clock();
  core::boot();
}

}  // namespace
}  // namespace mote::process

using namespace mote;
using namespace mote::process;

extern "C" void mote_process_start(u64* sp, u64 base, u64* dynamic) {
  // Page faults are expensive under virtualization (~17 us each on the
  // development VMs). Populate the core's writable segment in one call
  // (MADV_POPULATE_WRITE, Linux 5.14+; harmless EINVAL before) instead of
  // taking a fault per page as relocation and boot touch it.
  {
    auto* eh = reinterpret_cast<const elf::Ehdr*>(base);
    auto* ph = reinterpret_cast<const elf::Phdr*>(base + eh->phoff);
    for (int i = 0; i < eh->phnum; ++i)
      if (ph[i].type == elf::kPtLoad && (ph[i].flags & elf::kPfW)) {
        // .data and what relocation writes; most of .bss (buffers for rare
        // paths) is left to fault in if it is ever used.
        u64 s = page_down(base + ph[i].vaddr);
        u64 e = page_up(base + ph[i].vaddr + ph[i].filesz) + 8 * kPageSize;
        e = min(e, page_up(base + ph[i].vaddr + ph[i].memsz));
        host::syscall3(__NR_madvise, long(s), long(e - s), 23 /*MADV_POPULATE_WRITE*/);
      }
  }
  relocate(base, dynamic);
  g.base = base;
  // CLOCK_MONOTONIC is the host's (g.mono0 = 0): a hosted unikernel
  // shares the host's notion of uptime, as a container does, and programs
  // that compute "now minus a while" on it behave as they do natively.
  g_initial_sp = sp;

  // argv/envp/auxv of the core process itself.
  u64 argc = sp[0];
  char** argv = reinterpret_cast<char**>(sp + 1);
  char** envp = argv + argc + 1;
  char** e = envp;
  for (; *e; ++e) {
    if (StrView(*e) == StrView("MOTE_NO_REWRITE=1")) g.rewrite = false;
  }
  u64* auxv = reinterpret_cast<u64*>(e + 1);
  for (; auxv[0] != 0; auxv += 2) {
    if (auxv[0] == 16) g.hwcap = auxv[1];
    else if (auxv[0] == 26) g.hwcap2 = auxv[1];
    else if (auxv[0] == 51) g.minsigstksz = auxv[1];
    else if (auxv[0] == 33) g.vdso_ehdr = auxv[1];  // AT_SYSINFO_EHDR
  }
  if (g.minsigstksz == 0) g.minsigstksz = 2048;

  // The core's text: the executable PT_LOAD of its own headers.
  auto* eh = reinterpret_cast<const elf::Ehdr*>(base);
  auto* ph = reinterpret_cast<const elf::Phdr*>(base + eh->phoff);
  for (int i = 0; i < eh->phnum; ++i) {
    if (ph[i].type == elf::kPtLoad && (ph[i].flags & elf::kPfX)) {
      g.text_start = base + ph[i].vaddr;
      g.text_end = base + ph[i].vaddr + ph[i].memsz;
    }
  }
  if (!g.text_start) fatal("core has no text segment");

  int boot_fd = argc >= 2 ? parse_int(argv[1]) : -1;
  if (boot_fd < 0) {
    // Started by a user: `mote run ...` handled here when it is the common
    // case, else by the C++ monitor (launcher.h).
    u64 size = 0;
    u64 blob = launch_from_cli(int(argc), argv, envp, &size);
    if (!blob) exec_monitor(argv, envp);
    g.boot = reinterpret_cast<const abi::BootInfo*>(blob);
    g.boot_size = size;
    if (!abi::boot_info_ok(g.boot, g.boot_size)) fatal("malformed boot info");
    start_core();
  }
  struct {
    u64 dev, ino, nlink;
    u32 mode, uid, gid, pad;
    u64 rdev;
    i64 size, blksize, blocks;
    i64 t[6];
    i64 unused[3];
  } st;
  if (host::failed(host::syscall2(__NR_fstat, boot_fd, long(&st))) || st.size <= 0)
    fatal("cannot stat the boot info");
  long bi = host::mmap(0, u64(st.size), 1 /*PROT_READ*/, host::kMapPrivate, boot_fd, 0);
  if (host::failed(bi)) fatal("cannot map the boot info");
  host::syscall1(__NR_close, boot_fd);
  g.boot = reinterpret_cast<const abi::BootInfo*>(bi);
  g.boot_size = u64(st.size);
  if (!abi::boot_info_ok(g.boot, g.boot_size)) fatal("malformed boot info");
  start_core();
}

namespace mote::process {
namespace {

// The program file and the root filesystem image, read-only in the core
// region: the core reads headers and file data straight from the host's page
// cache; map_image maps them into the program copy-on-write.
void map_boot_images() {
  const abi::BootInfo& b = *g.boot;
  const int fds[2] = {b.program_fd, b.initramfs_fd};
  const u64 offsets[2] = {0, b.initramfs_gpa};
  const u64 sizes[2] = {b.program_size, b.initramfs_size};
  for (int k = 0; k < 2; ++k) {
    if (fds[k] < 0 || sizes[k] == 0) continue;
    if (!page_aligned(offsets[k])) fatal("boot image offset is not page-aligned");
    u64 len = page_up(sizes[k]);
    if (len > g.core_region_size - g.core_region_used) fatal("boot image too large");
    u64 at = g.core_region + g.core_region_used;
    long r = host::mmap(at, len, 1 /*PROT_READ*/, host::kMapPrivate | host::kMapFixed, fds[k],
                        offsets[k]);
    if (host::failed(r)) fatal("cannot map a boot image");
    g.core_region_used += len;
    g.image_base[k] = at;
    g.image_size[k] = sizes[k];
    g.image_fd[k] = fds[k];
    g.image_file_offset[k] = offsets[k];
  }
}

// The memfd behind shared pages, made while host calls are still allowed.
// Sizing and mapping it wait for the first shared page (platform.cc): most
// programs never map anything shared, and those two calls cost more than
// the memfd (~10 us here). The sandbox allows ftruncate on this fd only.
// Its size is the memory limit: shared pages are tmpfs pages, charged
// against it. Its view is the top of the core region.
void make_shared_memory() {
  u64 size = min<u64>(page_up(g.boot->mem_limit) + (2ull << 20), kCoreRegion / 2);
  long fd = host::syscall2(__NR_memfd_create, long("mote-shared"), 1 /*MFD_CLOEXEC*/);
  if (host::failed(fd)) fatal("memfd_create for shared memory");
  g.core_region_size -= size;
  g.shm_fd = int(fd);
  g.shm_base = g.core_region + g.core_region_size;
  g.shm_size = size;
}

void start_core() {
  long region = host::mmap(0, kCoreRegion, 0 /*PROT_NONE*/,
                           host::kMapPrivate | host::kMapAnonymous | host::kMapNoreserve, -1, 0);
  if (host::failed(region)) fatal("cannot reserve the core region");
  g.core_region = u64(region);
  g.core_region_size = kCoreRegion;
  make_shared_memory();
  map_boot_images();

  auto stack = platform::map_core(kCoreStack);
  if (!stack.ok()) fatal("no memory for the core stack");
  mote_switch_stack(stack.value() + kCoreStack, continue_on_core_stack);
}

}  // namespace
}  // namespace mote::process

namespace mote::process {
u64 signal_stack_size() { return kSignalStack; }
}  // namespace mote::process
