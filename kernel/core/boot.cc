// From boot info to the program's first instruction: the same sequence on
// every platform.
#include "kernel/core/fork.h"
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/exec/loader.h"
#include "kernel/exec/start.h"
#include "kernel/fs/console.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/initramfs.h"
#include "kernel/fs/socket.h"
#include "kernel/fs/mounts.h"
#include "kernel/fs/share9p.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/assert.h"
#include "kernel/lib/chacha20.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/timer.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/platform.h"

namespace mote::core {

constinit Process g_proc;
extern Csprng g_rng;

namespace {

constexpr u64 kMaxStack = 8ull << 20;   // RLIMIT_STACK default on Linux
constexpr u64 kMinStack = 128ull << 10;

StrView blob_string(const abi::BootInfo& b, abi::BlobString s) {
  return StrView(reinterpret_cast<const char*>(&b) + s.offset, s.length);
}

void init_rlimits(u64 stack) {
  for (auto& r : g_proc.rlimits) r = {kRlimInfinity, kRlimInfinity};
  g_proc.rlimits[3] = {stack, kRlimInfinity};         // STACK
  g_proc.rlimits[4] = {0, kRlimInfinity};             // CORE
  g_proc.rlimits[6] = {63704, 63704};                 // NPROC
  g_proc.rlimits[7] = {1024, 1u << 20};               // NOFILE
  g_proc.rlimits[8] = {8ull << 20, 8ull << 20};       // MEMLOCK
  g_proc.rlimits[11] = {63704, 63704};                // SIGPENDING
  g_proc.rlimits[12] = {819200, 819200};              // MSGQUEUE
  g_proc.rlimits[13] = {0, 0};                        // NICE
  g_proc.rlimits[14] = {0, 0};                        // RTPRIO
}

// Exit statuses as docker run: 125 when mote itself fails, 126 when the
// program cannot be executed, 127 when it is not found (monitor side).
[[noreturn]] void fail(const char* what, int e) {
  const char* n = errno_name(e);
  console_printf("mote: %s: %s\n", what, n ? n : "error");
  platform::exit(125);
}

Result<void> charge_tmpfs(u64 bytes) { return g_proc.as.charge(bytes); }
void uncharge_tmpfs(u64 bytes) { g_proc.as.uncharge(bytes); }

// The root filesystem: the initramfs when the monitor packed one, else just
// the program file at its path; then /dev, /proc, /tmp and /etc basics.
void init_filesystem(const abi::BootInfo& b) {
  fs::tmpfs_set_charge(fs::MemoryCharge{charge_tmpfs, uncharge_tmpfs});
  fs::freeze_time(true);  // one clock read stamps everything made at boot
  auto r = fs::init_namespace();
  if (r.ok()) r = fs::init_fdtable();
  if (r.ok()) r = fs::install_console_fds();
  if (!r.ok()) fail("filesystem", r.error());
  // The root filesystem image: the initramfs, or a program image that is a
  // cpio archive (mote's KVM monitor loads either at the program's place).
  platform::ImageBytes prog = platform::image(platform::Image::Program);
  platform::Image rootfs = platform::Image::Initramfs;
  if (!platform::image(rootfs).data && prog.size >= 6 && memcmp(prog.data, "070701", 6) == 0)
    rootfs = platform::Image::Program;
  if (platform::image(rootfs).data) {
    u64 bad = 0;
    // Timing only with --verbose: on a VM the first clock read may calibrate
    // the TSC (millions of instructions), which boot must not pay.
    bool verbose = b.flags & abi::kBootVerbose;
    u64 t0 = verbose ? platform::monotonic_ns() : 0;
    auto st = fs::unpack_initramfs(*fs::ns().root, rootfs, &bad);
    if (st.ok() && (b.flags & abi::kBootVerbose))
      console_printf("mote: root filesystem: %lu files, %lu directories, %lu symlinks in %lu us "
                     "(kernel heap %lu KiB)\n",
                     (unsigned long)st.value().files, (unsigned long)st.value().dirs,
                     (unsigned long)st.value().symlinks,
                     (unsigned long)((platform::monotonic_ns() - t0) / 1000),
                     (unsigned long)(mm::heap_footprint() >> 10));
    if (!st.ok()) {
      console_printf("mote: the root filesystem image is malformed at byte %lu (%s)\n",
                     (unsigned long)bad, errno_name(st.error()) ? errno_name(st.error()) : "?");
      platform::exit(125);
    }
  } else if (platform::image(platform::Image::Program).data) {
    StrView path = g_proc.exe_path;
    usize cut = path.size;
    while (cut > 0 && path.data[cut - 1] != '/') --cut;
    auto dir = fs::mkdir_p(StrView(path.data, cut));
    if (!dir.ok()) fail("filesystem", dir.error());
    auto f = fs::tmpfs_image_file(*dir.value(), StrView(path.data + cut, path.size - cut), 0755,
                                  platform::Image::Program, 0, b.program_size);
    if (!f.ok()) fail("filesystem", f.error());
  }
  u64 t1 = (b.flags & abi::kBootVerbose) ? platform::monotonic_ns() : 0;
  r = fs::mount_standard();
  if (!r.ok()) fail("filesystem", r.error());
  if (b.flags & abi::kBootVerbose)
    console_printf("mote: /dev /proc /sys /tmp /etc in %lu us (kernel heap %lu KiB)\n",
                   (unsigned long)((platform::monotonic_ns() - t1) / 1000),
                   (unsigned long)(mm::heap_footprint() >> 10));
  fs::mount_shares(b);  // -v HOST:GUEST: after the standard layout, so they may cover it
  StrView cwd = blob_string(b, b.cwd);
  auto dir = fs::resolve(nullptr, cwd.size ? cwd : StrView("/"), fs::kFollow | fs::kDirectory);
  if (dir.ok()) fs::ns().cwd = dir.value();
  fs::freeze_time(false);
}

}  // namespace

void boot() {
  const abi::BootInfo& b = platform::boot_info();
  g_proc.strace = b.flags & abi::kBootStrace;
  set_run_deadline(b.timeout_ns);
  g_proc.exe_path = blob_string(b, b.program_path);
  g_proc.hostname = blob_string(b, b.hostname);
  u8 seed[32];
  platform::random_seed(seed);
  g_rng.seed(seed);
  memset(seed, 0, sizeof seed);

  if (b.flags & abi::kBootSelftestTimer) platform::exit(timer_selftest() ? 0 : 1);
  init_main_thread();

  auto r = g_proc.as.init(b.mem_limit);
  if (!r.ok()) fail("address space", r.error());

  linux::net_config_boot();  // DHCP, when asked: /etc/hosts and resolv.conf need its answer
  init_filesystem(b);
  fs::init_sockets();      // AF_UNIX
  linux::inet_register();  // AF_INET (the stack itself is made on first use)
  linux::netlink_register();  // AF_NETLINK, NETLINK_ROUTE
  auto exe = fs::resolve(nullptr, g_proc.exe_path, fs::kFollow);
  if (!exe.ok()) {
    console_printf("mote: %s: %s in the image\n", g_proc.exe_path.data,
                   exe.error() == ENOENT ? "not found" : errno_name(exe.error()));
    platform::exit(127);
  }
  exe.value()->ref_get();  // held for the whole run (faults, /proc/self/exe)
  g_proc.exe = exe.value().get();

  exec::LoadProblem problem;
  auto loaded = exec::load_program(g_proc.as, *g_proc.exe, &problem);
  if (problem.interp_missing) {
    console_printf("mote: %s: interpreter %s not found in the image\n", g_proc.exe_path.data,
                   problem.interp);
    platform::exit(127);
  }
  if (problem.problem != elf::Problem::None) {
    if (problem.in_interp)
      console_printf("mote: %s: interpreter %s: %s\n", g_proc.exe_path.data, problem.interp,
                     elf::describe(problem.problem, 0));
    else
      console_printf("mote: %s: %s\n", g_proc.exe_path.data, elf::describe(problem.problem, 0));
    platform::exit(126);
  }
  if (!loaded.ok()) {
    if (loaded.error() == ENOMEM) {
      console_printf("mote: --mem %lu MiB is too small to load %s\n",
                     (unsigned long)(b.mem_limit >> 20), g_proc.exe_path.data);
      platform::exit(125);
    }
    fail("loading the program", loaded.error());
  }
  const exec::Loaded& l = loaded.value();
  g_proc.load_bias = l.bias;
  g_proc.as.set_brk_start(page_up(l.end));

  // A small unikernel gets a smaller stack: a quarter of its memory, between
  // 128 KiB and Linux's 8 MiB default. getrlimit(RLIMIT_STACK) reports it.
  u64 stack = min(kMaxStack, max(kMinStack, page_down(b.mem_limit / 4)));
  g_proc.stack_size = stack;
  init_rlimits(stack);
  // argv/envp from the boot info.
  StrView* argv = static_cast<StrView*>(mm::kalloc((b.argc + b.envc) * sizeof(StrView)));
  if (!argv) fail("boot", ENOMEM);
  StrView* envp = argv + b.argc;
  auto* args = reinterpret_cast<const abi::BlobString*>(reinterpret_cast<const u8*>(&b) +
                                                         b.argv_offset);
  auto* envs = reinterpret_cast<const abi::BlobString*>(reinterpret_cast<const u8*>(&b) +
                                                         b.envp_offset);
  for (u32 i = 0; i < b.argc; ++i) argv[i] = blob_string(b, args[i]);
  for (u32 i = 0; i < b.envc; ++i) envp[i] = blob_string(b, envs[i]);
  auto sp = exec::setup_stack(g_proc.as, l, stack, g_proc.exe_path, argv, b.argc, envp, b.envc);
  mm::kfree(argv);
  if (!sp.ok()) {
    if (sp.error() == E2BIG) {
      console_printf("mote: arguments and environment are too large (E2BIG)\n");
      platform::exit(125);
    }
    if (sp.error() == ENOMEM) {
      console_printf("mote: --mem %lu MiB is too small for %s (image %lu KiB + stack %lu KiB)\n",
                     (unsigned long)(b.mem_limit >> 20), g_proc.exe_path.data,
                     (unsigned long)(l.image_bytes >> 10), (unsigned long)(stack >> 10));
      platform::exit(125);
    }
    fail("stack", sp.error());
  }

  if (b.flags & abi::kBootVerbose)
    console_printf("mote: %s platform: entering %s at %#lx (committed %lu KiB of %lu MiB)\n",
                   platform::name(), g_proc.exe_path.data, (unsigned long)l.entry,
                   (unsigned long)(g_proc.as.charged() >> 10),
                   (unsigned long)(b.mem_limit >> 20));
  if (run_deadline()) linux::timers_rearm();  // --timeout counts from here on
  MOTE_ASSERT(!(b.flags & abi::kBootSelftestAssert));  // --selftest assert
  if (b.flags & abi::kBootSelftestHang) {
    klock();  // never given back: only the deadline can end this run
    for (;;) asm volatile("pause");
  }
  platform::enter_program(platform::EntryState{l.entry, sp.value(), 0});
}

void terminate(int status) { process_exit((status & 0xff) << 8); }

void console_printf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  usize n = vformat(buf, sizeof buf, fmt, ap);
  va_end(ap);
  platform::console_write(2, buf, n);
}

}  // namespace mote::core
