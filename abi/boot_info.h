// The boot-info contract between the mote monitor and the kernel core.
//
// Declared once here and used by both sides. The monitor builds one contiguous
// blob: a BootInfo header followed by a string area. Every string is referred
// to by a byte offset from the start of the blob, so the blob can be copied
// into guest memory (VM platforms) or handed over as a memfd (process platform)
// without fix-ups. Fixed-width types only; no pointers.
#pragma once

#include <stdint.h>

namespace mote::abi {

inline constexpr uint64_t kBootMagic = 0x31544f4f42544f4dull;  // "MOTBOOT1"
inline constexpr uint32_t kBootVersion = 3;

// What the program's standard streams are connected to on the host. The core
// synthesizes fstat() results and tty ioctls from this, on every platform.
enum class ConsoleKind : uint32_t {
  Closed = 0,
  Tty = 1,
  Pipe = 2,
  File = 3,
  Null = 4,   // /dev/null or another character device that is not a tty
  Socket = 5,
};

struct ConsoleStream {
  ConsoleKind kind;
  uint32_t tty_rdev;       // st_rdev of the tty (major<<8|minor encoding of Linux new_encode_dev)
  uint16_t ws_row, ws_col; // terminal size when kind == Tty
  uint32_t open_flags;     // the host fd's F_GETFL (access mode, O_APPEND, O_NONBLOCK...)
  uint8_t termios[60];     // struct termios2-compatible bytes from TCGETS (36 used), Tty only
  uint32_t pad;
};
static_assert(sizeof(ConsoleStream) == 80);

enum BootFlags : uint32_t {
  kBootStrace = 1u << 0,   // print every syscall on stderr
  kBootVerbose = 1u << 1,  // print boot progress on stderr
  // -t: the program's terminal mode changes (TCSETS*) reach the host
  // terminal, and the original modes come back when the run ends.
  kBootTty = 1u << 2,
  // --gdb PORT. Process platform: gdb_fd is a connected socket to gdb; the
  // core serves the GDB remote protocol on it and stops the program at its
  // first instruction. mote's KVM monitor: the monitor serves gdb, and the
  // kernel tells it where the program starts (HcDebugProgram) just before.
  kBootGdb = 1u << 3,
  // Self-test (tests only): once the sandbox is up, the core itself makes a
  // host call outside its allowlist; the platform must kill the process.
  kBootSelftestEscape = 1u << 8,
  // Self-test (tests only): the core checks its one-shot timer and idle
  // against the platform's clock before the program starts.
  kBootSelftestTimer = 1u << 9,
  // Self-test (tests only), VM platforms: the kernel runs its platform
  // self-tests (traps on IST stacks, LSTAR, LAPIC timer) instead of a program.
  kBootSelftestKernel = 1u << 10,
  // Self-test (tests only), process platform with a network device: once
  // the sandbox is up, the platform sends ARP and ICMP to the gateway
  // through the device and checks the answers arrive through its event path.
  kBootSelftestNet = 1u << 11,
  // Self-test (tests only) of --timeout: the kernel takes its own lock and
  // spins forever before the program starts, so only the deadline, checked
  // without that lock, can end the run (VM platforms: `hangtest` on the
  // command line spins with interrupts off, for the monitor's own deadline).
  kBootSelftestHang = 1u << 12,
  // Self-test (tests only): a kernel assertion fails on purpose before the
  // program starts; the report must name it with its file:line.
  kBootSelftestAssert = 1u << 13,
  // Self-test (tests only), process platform: the core's clock is a stand-in
  // for a host vDSO without a user-mode clock read, whose every read is a
  // system call from outside the core's text; the run must behave as
  // usual, and stderr names what the start-up probe saw.
  kBootSelftestVdsoFallback = 1u << 14,
};

// A string in the blob: offset from the blob start, length without the NUL.
struct BlobString {
  uint32_t offset;
  uint32_t length;
};

struct BootInfo {
  uint64_t magic;
  uint32_t version;
  uint32_t total_size;       // header + string area, bytes
  uint32_t flags;            // BootFlags
  uint32_t cpus;             // vCPUs requested (--cpus)
  uint64_t mem_limit;        // bytes the program may commit (--mem)
  uint64_t wall_clock_ns;    // host CLOCK_REALTIME when the monitor built this
  uint64_t tsc_khz;          // VM platforms: TSC frequency; 0 when unknown
  uint8_t random_seed[32];   // from the host's getrandom()

  // Program image, when there is no root filesystem image: the program file
  // itself. Process platform: an open host fd (-1 when absent). VM platforms:
  // location in guest-physical memory (size 0 when absent).
  int32_t program_fd;
  // Root filesystem image (cpio newc, file data page-aligned in it), holding
  // the program at program_path, its interpreter and libraries. Process
  // platform: an open host fd (-1 when absent) and the image starts at byte
  // initramfs_gpa of it (a page multiple: a packed image carries it inside).
  int32_t initramfs_fd;
  uint64_t program_gpa;
  uint64_t program_size;

  // VM platforms: guest RAM is [0, ram_bytes); the initramfs, when present,
  // is at guest-physical [initramfs_gpa, +initramfs_size).
  uint64_t ram_bytes;
  uint64_t initramfs_gpa;
  uint64_t initramfs_size;

  BlobString program_path;   // absolute guest path: AT_EXECFN, /proc/self/exe
  BlobString hostname;
  BlobString cwd;
  uint32_t argc;             // BlobString[argc] at argv_offset
  uint32_t envc;             // BlobString[envc] at envp_offset
  uint32_t argv_offset;
  uint32_t envp_offset;

  ConsoleStream console[3];  // fds 0, 1, 2

  // Host directory shares (-v HOST:GUEST[:ro|rw]), served over 9P2000.L
  // (abi/p9.h). ShareMount[share_count] at shares_offset; share k is
  // attached with aname "k". Process platform: share_fd is the core's end of
  // a SOCK_SEQPACKET socket to the monitor (one message per packet);
  // meaningful only when share_count > 0.
  int32_t share_fd;
  uint32_t share_count;
  uint32_t shares_offset;
  uint32_t pad_shares;

  // Networking (--net, -p). Without a device (--net none) the program still
  // has loopback. Process platform: net_fd is the core's end of a
  // SOCK_SEQPACKET socket to the monitor's backend, one Ethernet frame per
  // packet (-1: no device). VM platforms: a virtio-net device (net_fd -1).
  // Addresses are IPv4 in host byte order (10.0.2.15 is 0x0a00020f); a
  // present device with net_addr 0 means: ask DHCP.
  int32_t net_fd;
  uint32_t net_flags;        // NetFlags
  uint32_t net_addr;
  uint32_t net_prefix_len;
  uint32_t net_gateway;
  uint32_t net_dns;
  uint8_t net_mac[6];
  uint16_t net_mtu;          // IP MTU of the device (1500 when 0)

  // --gdb (kBootGdb): the core's end of the connection to gdb, a host fd
  // (process platform only).
  int32_t gdb_fd;
  uint32_t pad_gdb;

  // --timeout: the kernel ends the run this long after boot, hung program
  // or not, with kTimeoutStatus (0: no limit).
  uint64_t timeout_ns;
};

// The exit status of a run --timeout stopped (as timeout(1)'s).
inline constexpr int kTimeoutStatus = 124;
// The exit status of a run the monitor stopped because the guest broke the
// VM contract (a triple fault, a malformed hypercall, an access to memory
// that is not there, a VM that ended without an exit status): after one
// `mote: guest fault: ...` line. docs/exit-status.md lists them all.
inline constexpr int kGuestFaultStatus = 71;
// The exit status of a kernel that stopped itself (a panic, a failed
// assertion): after one line naming why.
inline constexpr int kInternalErrorStatus = 70;

enum NetFlags : uint32_t {
  kNetDevice = 1u << 0,      // a network device is present
  // Process platform: net_fd is a tap opened with IFF_VNET_HDR (header size
  // 12, abi/virtio.h NetHeader) and TUN_F_CSUM: each frame read or written
  // follows a virtio-net header, and checksums may be partial both ways.
  kNetVnetHdr = 1u << 1,
  // With kNetVnetHdr: TCP segmentation offload both ways (TUN_F_TSO4): the
  // core may write TCP segments of up to 64 KiB for the tap to cut up
  // (GSO_TCPV4), and the host's stack hands over such segments uncut.
  kNetTso4 = 1u << 2,
};

// mote's KVM monitor gives the kernel no ACPI tables and no command line:
// its virtio-mmio transports (virtio 1.x) sit at fixed places, QEMU
// microvm's. Slot k's register window is kMoteVirtioBase + k *
// kMoteVirtioStride. Slot 0 is the network device, present when net_flags
// has kNetDevice, on GSI kMoteVirtioNetGsi of the I/O APIC at 0xfec00000;
// slot 1 + k is share k's virtio-9p device (mount tag "mote<k>"), which
// raises no interrupt (the kernel polls it).
inline constexpr uint64_t kMoteVirtioBase = 0xfeb00000;
inline constexpr uint64_t kMoteVirtioStride = 0x200;
inline constexpr uint32_t kMoteVirtioNetGsi = 5;

inline constexpr uint32_t kMaxShares = 64;  // share_count's bound

enum ShareFlags : uint32_t {
  kShareReadOnly = 1u << 0,
};

struct ShareMount {
  BlobString guest_path;  // absolute
  uint32_t flags;         // ShareFlags
  uint32_t pad;
};
static_assert(sizeof(ShareMount) == 16);

// Validates a boot-info blob of `blob_size` bytes before anything trusts an
// offset in it: header, tables, and every string (argv and envp included).
// Both sides use this; the kernel rejects a blob that fails it.
inline bool blob_string_ok(const BootInfo& b, BlobString s) {
  uint64_t end = uint64_t(s.offset) + s.length + 1;  // the NUL
  return s.offset >= sizeof(BootInfo) && end <= b.total_size;
}

inline bool boot_info_ok(const void* blob, uint64_t blob_size) {
  if (blob_size < sizeof(BootInfo)) return false;
  const uint8_t* base = static_cast<const uint8_t*>(blob);
  BootInfo b;
  __builtin_memcpy(&b, base, sizeof b);
  if (b.magic != kBootMagic || b.version != kBootVersion) return false;
  if (b.total_size < sizeof(BootInfo) || b.total_size > blob_size) return false;
  uint64_t argv_end = uint64_t(b.argv_offset) + uint64_t(b.argc) * sizeof(BlobString);
  uint64_t envp_end = uint64_t(b.envp_offset) + uint64_t(b.envc) * sizeof(BlobString);
  if (b.argc == 0 || b.argv_offset < sizeof(BootInfo) || argv_end > b.total_size) return false;
  if (b.envp_offset < sizeof(BootInfo) || envp_end > b.total_size) return false;
  if (b.argv_offset % alignof(BlobString) || b.envp_offset % alignof(BlobString)) return false;
  if (!blob_string_ok(b, b.program_path) || !blob_string_ok(b, b.hostname) ||
      !blob_string_ok(b, b.cwd))
    return false;
  // Every argv/envp string too: the kernel turns them into views unchecked.
  for (uint32_t i = 0; i < b.argc + b.envc; ++i) {
    uint64_t at = i < b.argc ? b.argv_offset + uint64_t(i) * sizeof(BlobString)
                             : b.envp_offset + uint64_t(i - b.argc) * sizeof(BlobString);
    BlobString s;
    __builtin_memcpy(&s, base + at, sizeof s);
    if (!blob_string_ok(b, s)) return false;
  }
  if (b.share_count) {
    uint64_t shares_end = uint64_t(b.shares_offset) + uint64_t(b.share_count) * sizeof(ShareMount);
    if (b.share_count > kMaxShares || b.shares_offset < sizeof(BootInfo) || shares_end > b.total_size ||
        b.shares_offset % alignof(ShareMount))
      return false;
    for (uint32_t i = 0; i < b.share_count; ++i) {
      ShareMount m;
      __builtin_memcpy(&m, base + b.shares_offset + uint64_t(i) * sizeof m, sizeof m);
      if (!blob_string_ok(b, m.guest_path) || m.guest_path.length == 0) return false;
    }
  }
  return true;
}

}  // namespace mote::abi
