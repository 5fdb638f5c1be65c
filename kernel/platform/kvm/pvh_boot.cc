// The boot info for a PVH boot (QEMU microvm, Firecracker), which has no mote
// monitor to build it: the program is module 0 (QEMU: -initrd PROGRAM), its
// arguments follow "--" on the kernel command line; before "--" come kernel
// options (selftest and crashtest are main.cc's): strace, verbose, bootstats, mem=SIZE (K/M/G), env=K=V (repeatable),
// timeout_ms=N (the run stops after N ms: --timeout), timertest (--selftest timer: the core's
// one-shot timer self-test instead of the program), profile (profile.h), vdso=0,
// hostname=NAME, exe=PATH, closed=FD, net=ADDR/PREFIX|dhcp gw=ADDR dns=ADDR (a virtio-net device,
// net_virtio.cc), share=GUESTPATH and share_ro=GUESTPATH (share k is
// the k-th of these: a virtio-9p device tagged "mote<k>", platform share_virtio.cc). Words are
// separated by spaces; a word may carry any byte as %XX (the `--platform qemu` launcher encodes
// spaces, '%' and controls). `virtio_mmio.device=...` words, as QEMU microvm (acpi=off) and
// Firecracker append them, name virtio-mmio devices wherever they stand, even after "--" (a
// program argument of that form must be %-encoded: the launcher encodes its first byte).
#include "abi/boot_info.h"
#include "abi/pack.h"
#include "kernel/lib/boot_blob.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/clock.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/initrd.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/net_virtio.h"
#include "kernel/platform/kvm/profile.h"
#include "kernel/platform/kvm/pvh.h"
#include "kernel/platform/kvm/virtio_mmio.h"
#include "kernel/platform/kvm/vm.h"

extern "C" mote::abi::PackDescriptor mote_pack;

namespace mote::kvm {

namespace {

constexpr usize kMaxArgs = 64;

struct Words {
  StrView w[kMaxArgs];
  usize n = 0;
};

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits at spaces and decodes %XX in place (the command line is ours to
// change: it is RAM the kernel owns now).
Words split(char* s) {
  Words out;
  while (*s && out.n < kMaxArgs) {
    while (*s == ' ') ++s;
    if (!*s) break;
    char* start = s;
    char* w = s;
    // A device word is recognised before decoding: an encoded one is an argument.
    usize raw = 0;
    while (s[raw] && s[raw] != ' ') ++raw;
    const bool device = virtio::parse_cmdline_word(StrView(s, raw));
    while (*s && *s != ' ') {
      if (*s == '%' && hex(s[1]) >= 0 && hex(s[2]) >= 0) {
        *w++ = char(hex(s[1]) * 16 + hex(s[2]));
        s += 3;
      } else {
        *w++ = *s++;
      }
    }
    if (!device) out.w[out.n++] = StrView(start, usize(w - start));
  }
  return out;
}

u64 parse_size(StrView v) {
  u64 n = 0;
  usize i = 0;
  for (; i < v.size && v.data[i] >= '0' && v.data[i] <= '9'; ++i) n = n * 10 + u64(v.data[i] - '0');
  if (i < v.size) {
    char u = v.data[i];
    if (u == 'K' || u == 'k') n <<= 10;
    else if (u == 'M' || u == 'm') n <<= 20;
    else if (u == 'G' || u == 'g') n <<= 30;
  }
  return n;
}

// A seed from RDRAND when the CPU has it; else TSC jitter and the RTC, which
// is weak (said on the console with `verbose`).
void seed(u8 out[32], bool* strong) {
  *strong = cpuid(1).ecx & (1u << 30);
  for (int i = 0; i < 4; ++i) {
    u64 v = 0;
    if (*strong) {
      unsigned char ok = 0;
      for (int tries = 0; tries < 10 && !ok; ++tries)
        asm volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
      if (!ok) *strong = false;
    }
    v ^= rdtsc() * 0x9e3779b97f4a7c15ull ^ clock_boot_wall_ns();
    memcpy(out + 8 * i, &v, 8);
  }
}

// "a.b.c.d" (and "/N" after it when prefix is given) in host byte order.
bool parse_ipv4(StrView v, u32* addr, u32* prefix) {
  u32 a = 0, part = 0, dots = 0;
  usize i = 0;
  bool digit = false;
  for (; i < v.size && v.data[i] != '/'; ++i) {
    char c = v.data[i];
    if (c == '.' && digit && dots < 3) {
      a = a << 8 | part;
      part = 0;
      ++dots;
      digit = false;
    } else if (c >= '0' && c <= '9' && part * 10 + u32(c - '0') <= 255) {
      part = part * 10 + u32(c - '0');
      digit = true;
    } else {
      return false;
    }
  }
  if (dots != 3 || !digit) return false;
  *addr = a << 8 | part;
  if (prefix) {
    u32 p = 32;
    if (i < v.size) {
      p = 0;
      for (++i; i < v.size && v.data[i] >= '0' && v.data[i] <= '9'; ++i) p = p * 10 + u32(v.data[i] - '0');
      if (i != v.size || p > 32) return false;
    }
    *prefix = p;
  }
  return true;
}

bool has_separator(const char* s) {
  for (const char* p = s; *p; ++p)
    if (p[0] == '-' && p[1] == '-' && (p == s || p[-1] == ' ') && (p[2] == ' ' || p[2] == 0))
      return true;
  return false;
}

}  // namespace

const abi::BootInfo* boot_info_from_pvh(u64 start_info_phys, u64 ram_bytes) {
  auto* si = static_cast<const HvmStartInfo*>(phys_to_virt(start_info_phys));
  static char empty[1];
  char* cmdline = si->cmdline_paddr ? static_cast<char*>(phys_to_virt(si->cmdline_paddr)) : empty;
  const bool packed = mote_pack.magic == abi::kPackMagic;
  // A packed image's own command line applies when the boot gives no "--".
  if (packed && !has_separator(cmdline)) {
    static char pack_cmdline[sizeof mote_pack.cmdline + 1];
    memcpy(pack_cmdline, mote_pack.cmdline, sizeof mote_pack.cmdline);
    cmdline = pack_cmdline;
  }
  Words words = split(cmdline);
  StrView extra_env[kMaxArgs];
  usize nenv = 0;
  StrView hostname("mote");
  StrView exe;  // the program's path (AT_EXECFN, /proc/self/exe); default "/" + argv[0]
  u32 closed = 0;  // closed=N: the launcher's fd N was closed; the program's is too
  u32 flags = 0;
  u64 mem = 0;
  u32 cpus = 1;
  StrView share_paths[abi::kMaxShares];
  u32 share_flags[abi::kMaxShares];
  u32 nshares = 0;
  // -t (mote run --platform qemu -it): the host terminal's modes and size.
  bool tty = false;
  u8 termios[36] = {};
  u16 rows = 0, cols = 0;
  // The network device (--net): net=ADDR/PREFIX gw=ADDR dns=ADDR, or net=dhcp.
  u64 timeout_ms = 0;
  bool net = false;
  u32 net_addr = 0, net_prefix = 0, net_gw = 0, net_dns = 0;
  usize first_arg = words.n;
  for (usize i = 0; i < words.n; ++i) {
    StrView w = words.w[i];
    if (w == StrView("--")) {
      first_arg = i + 1;
      break;
    }
    if (w == StrView("strace")) flags |= abi::kBootStrace;
    else if (w == StrView("verbose")) flags |= abi::kBootVerbose;
    else if (w == StrView("bootstats")) g_vm.bootstats = true;
    else if (w == StrView("profile")) profile_start();
    else if (w == StrView("vdso=0")) g_vm.no_vdso = true;
    else if (w == StrView("asserttest")) flags |= abi::kBootSelftestAssert;
    else if (w == StrView("timertest")) flags |= abi::kBootSelftestTimer;
    else if (w.starts_with("mem=")) mem = parse_size(StrView(w.data + 4, w.size - 4));
    else if (w.starts_with("env=") && w.size > 4) extra_env[nenv++] = StrView(w.data + 4, w.size - 4);
    else if (w.starts_with("hostname=") && w.size > 9) hostname = StrView(w.data + 9, w.size - 9);
    else if (w.starts_with("clock0=")) clock_set_monotonic_base(parse_size(StrView(w.data + 7, w.size - 7)));
    else if (w.starts_with("cpus=")) cpus = u32(parse_size(StrView(w.data + 5, w.size - 5)));
    else if (w.starts_with("timeout_ms=")) timeout_ms = parse_size(StrView(w.data + 11, w.size - 11));
    else if (w.starts_with("exe=") && w.size > 4) exe = StrView(w.data + 4, w.size - 4);
    else if (w.starts_with("net=")) {
      StrView v(w.data + 4, w.size - 4);
      net = v == StrView("dhcp") || parse_ipv4(v, &net_addr, &net_prefix);
      if (!net) kprintf("mote: %.*s: expected net=ADDR/PREFIX or net=dhcp\n", int(w.size), w.data);
    } else if (w.starts_with("gw=")) parse_ipv4(StrView(w.data + 3, w.size - 3), &net_gw, nullptr);
    else if (w.starts_with("dns=")) parse_ipv4(StrView(w.data + 4, w.size - 4), &net_dns, nullptr);
    else if ((w.starts_with("share=") || w.starts_with("share_ro=")) && nshares < abi::kMaxShares) {
      const bool ro = w.starts_with("share_ro=");
      const usize skip = ro ? 9 : 6;
      share_paths[nshares] = StrView(w.data + skip, w.size - skip);
      share_flags[nshares++] = ro ? u32(abi::kShareReadOnly) : 0u;
    } else if (w.size == 8 && w.starts_with("closed=") && w.data[7] >= '0' && w.data[7] <= '2') {
      closed |= 1u << (w.data[7] - '0');
    } else if (w == StrView("tty")) {
      tty = true;
    } else if (w.starts_with("termios=") && w.size == 8 + 72) {
      for (usize k = 0; k < 36; ++k) {
        auto hex = [](char c) -> int {
          return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        };
        int hi = hex(w.data[8 + 2 * k]), lo = hex(w.data[9 + 2 * k]);
        if (hi < 0 || lo < 0) break;
        termios[k] = u8(hi << 4 | lo);
      }
    } else if (w.starts_with("winsize=")) {
      u32 r = 0, c = 0;
      usize k = 8;
      while (k < w.size && w.data[k] >= '0' && w.data[k] <= '9') r = r * 10 + u32(w.data[k++] - '0');
      if (k < w.size && w.data[k] == 'x') ++k;
      while (k < w.size && w.data[k] >= '0' && w.data[k] <= '9') c = c * 10 + u32(w.data[k++] - '0');
      rows = u16(min<u32>(r, 0xffff));
      cols = u16(min<u32>(c, 0xffff));
    }
    // Other words are not ours.
  }
  // The initrd (module 0) wins over a packed image. It is either the
  // program itself or a root filesystem image (cpio newc, magic "070701")
  // holding the program at exe=PATH.
  u64 program_phys = 0, program_size = 0, rootfs_phys = 0, rootfs_size = 0;
  if (si->nr_modules && si->modlist_paddr) {
    auto* mod = static_cast<const HvmModlistEntry*>(phys_to_virt(si->modlist_paddr));
    program_phys = mod[0].paddr;
    program_size = mod[0].size;
    const u8* bytes = static_cast<const u8*>(phys_to_virt(program_phys));
    bool unpacked = false;
    if (initrd_is_gzip(program_phys, program_size)) {
      // Compressed: the decompressed copy in core memory is the image from
      // now on (platform.cc image_location); the module's frames are free.
      UnpackedImage u = unpack_gzip_initrd(program_phys, program_size, flags & abi::kBootVerbose);
      bytes = reinterpret_cast<const u8*>(u.virt);
      program_phys = 0;
      program_size = u.size;
      unpacked = true;
    }
    const bool cpio = program_size >= 6 && memcmp(bytes, "070701", 6) == 0;
    if (unpacked) g_vm.unpacked[cpio ? 1 : 0] = {reinterpret_cast<u64>(bytes), program_size};
    if (cpio) {
      rootfs_phys = program_phys;
      rootfs_size = program_size;
      program_phys = program_size = 0;
    }
  } else if (packed) {
    program_phys = mote_pack.program_phys;
    program_size = mote_pack.program_size;
    rootfs_phys = mote_pack.initramfs_phys;
    rootfs_size = mote_pack.initramfs_size;
  }
  if (rootfs_size && !exe.size) {
    kprintf("mote: a root filesystem image needs exe=PATH on the command line\n");
    vm_exit(125);
  }
  if (!program_size && !rootfs_size) {
    kprintf("mote: no program: pass it as the initrd (qemu -initrd PROGRAM -append \"-- PROGRAM ARGS\")\n");
    vm_exit(125);
  }

  constexpr usize kBlobBytes = 16 * 1024;
  auto mem_blob = core_map(kBlobBytes);
  if (!mem_blob.ok()) {
    kprintf("mote kernel: no memory for the boot info\n");
    vm_exit(125);
  }
  BootBlobWriter blob(reinterpret_cast<u8*>(mem_blob.value()), kBlobBytes);
  abi::BootInfo h{};
  h.magic = abi::kBootMagic;
  h.version = abi::kBootVersion;
  h.flags = flags | (tty ? u32(abi::kBootTty) : 0u);
  h.cpus = cpus;  // cpus=N (--cpus); 1 without it
  h.timeout_ns = timeout_ms * 1000000;  // timeout_ms=N (--timeout)
  // What the program may commit: --mem if given, else 7/8 of free RAM (the
  // rest feeds page tables and the core's heap).
  u64 avail = frames_free() * kPageSize;
  h.mem_limit = mem && mem < avail ? mem : avail / 8 * 7;
  h.wall_clock_ns = clock_boot_wall_ns();
  h.tsc_khz = clock_tsc_khz_if_known();
  bool strong;
  seed(h.random_seed, &strong);
  if (!strong && (flags & abi::kBootVerbose))
    kprintf("mote kernel: no RDRAND: the random seed comes from timing only (weak)\n");
  h.program_fd = -1;
  h.initramfs_fd = -1;
  h.net_fd = -1;
  // The device itself is virtio-net (net_virtio.cc): its MAC, from its config.
  if (net && net_device_mac(h.net_mac)) {
    h.net_flags = abi::kNetDevice;
    h.net_addr = net_addr;
    h.net_prefix_len = net_prefix;
    h.net_gateway = net_gw;
    h.net_dns = net_dns;
    h.net_mtu = 1500;
  } else if (net) {
    kprintf("mote kernel: net= given but no virtio-net device works: loopback only\n");
  }
  h.program_gpa = program_phys;
  h.program_size = program_size;
  h.initramfs_gpa = rootfs_phys;
  h.initramfs_size = rootfs_size;
  h.ram_bytes = ram_bytes;
  StrView argv0 = first_arg < words.n ? words.w[first_arg] : StrView("program");
  if (exe.size) h.program_path = blob.add(exe);
  else h.program_path = argv0.size && argv0.data[0] == '/' ? blob.add(argv0) : blob.add("/", argv0);
  h.hostname = blob.add(hostname);
  h.cwd = blob.add("/");
  // The environment as `mote run` gives it (kernel/lib/boot_blob.h).
  abi::BlobString args[kMaxArgs], envs[kMaxArgs + 4];
  usize argc = 0;
  if (first_arg >= words.n) args[argc++] = blob.add(argv0);
  for (usize i = first_arg; i < words.n; ++i) args[argc++] = blob.add(words.w[i]);
  char hostname_kv[80];
  if (hostname.size > 64) hostname.size = 64;
  StrView env[kMaxArgs + 4];
  usize envc = guest_environment(hostname, extra_env, nenv, hostname_kv, env, kMaxArgs + 4);
  for (usize i = 0; i < envc; ++i) envs[i] = blob.add(env[i]);
  h.argc = u32(argc);
  h.envc = u32(envc);
  h.argv_offset = blob.table(args, argc);
  h.envp_offset = blob.table(envs, envc);
  for (int k = 0; k < 3; ++k) {  // a serial line, not a tty
    h.console[k].kind = (closed >> k) & 1 ? abi::ConsoleKind::Closed : abi::ConsoleKind::Pipe;
    h.console[k].open_flags = k == 0 ? 0 /*O_RDONLY*/ : 1 /*O_WRONLY*/;
    if (tty && h.console[k].kind != abi::ConsoleKind::Closed) {
      // The host terminal, relayed by the launcher: modes changes go back to
      // it as status lines (console_set_termios).
      h.console[k].kind = abi::ConsoleKind::Tty;
      h.console[k].tty_rdev = (136u << 8) | 0;  // /dev/pts/0
      h.console[k].open_flags = 2;             // O_RDWR, as a terminal is
      memcpy(h.console[k].termios, termios, sizeof termios);
      h.console[k].ws_row = rows;
      h.console[k].ws_col = cols;
    }
  }
  // Shares: ShareMount[] (8-byte aligned, like the string tables).
  abi::ShareMount mounts[abi::kMaxShares];
  for (u32 k = 0; k < nshares; ++k) {
    if (!share_paths[k].size || share_paths[k].data[0] != '/') {
      kprintf("mote: share=%.*s: the guest path must be absolute\n", int(share_paths[k].size),
              share_paths[k].data);
      vm_exit(125);
    }
    mounts[k] = abi::ShareMount{blob.add(share_paths[k]), share_flags[k], 0};
  }
  if (nshares) {
    static_assert(sizeof(abi::ShareMount) == 2 * sizeof(abi::BlobString));
    h.share_fd = -1;
    h.share_count = nshares;
    h.shares_offset = blob.table(reinterpret_cast<const abi::BlobString*>(mounts), 2 * nshares);
  }
  if (!blob.finish(h)) {
    kprintf("mote kernel: the command line does not fit the boot info\n");
    vm_exit(125);
  }
  return reinterpret_cast<const abi::BootInfo*>(mem_blob.value());
}

}  // namespace mote::kvm
