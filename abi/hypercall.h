// The hypercall contract between the mote kernel (a ring-0 x86-64 guest) and
// mote's KVM monitor. One small header of IN/OUT structs and an enum, as
// Solo5's hvt does.
//
// Calling convention: the guest writes the 32-bit guest-physical address of
// the call's struct to I/O port kHypercallPortBase + number with `outl`
// (a KVM_EXIT_IO of size 4 to the monitor: one exit per call, not per byte).
// The monitor validates every address and length in the struct with its one
// checked guest-memory accessor, performs the call, writes the OUT fields and
// resumes the guest. A struct must lie below 4 GiB (its address fits `outl`).
//
// Under QEMU or Firecracker these ports do nothing: the kernel detects the
// mote monitor from the boot path (direct 64-bit entry with a mote boot-info
// block) and otherwise uses the 16550 UART at 0x3f8 and isa-debug-exit.
#pragma once

#include <stdint.h>

namespace mote::abi {

inline constexpr uint16_t kHypercallPortBase = 0x500;

enum class Hypercall : uint16_t {
  ConsoleWrite = 0,  // HcConsoleWrite
  Exit = 1,          // HcExit: never returns
  ConsoleRead = 2,   // HcConsoleRead
  DebugProgram = 3,  // HcDebugProgram: with kBootGdb, just before the program's first instruction
  StartCpu = 4,      // HcStartCpu: an application processor, straight in 64-bit mode
  ConsoleTermios = 5,  // HcConsoleTermios: -t, the program's terminal mode change
  Count,
};

inline constexpr uint16_t hypercall_port(Hypercall h) {
  return uint16_t(kHypercallPortBase + uint16_t(h));
}

struct HcConsoleWrite {
  uint64_t buf_gpa;  // IN: guest-physical address of the bytes
  uint64_t len;      // IN: number of bytes
  uint32_t stream;   // IN: 1 stdout, 2 stderr
  uint32_t pad;
  int64_t ret;       // OUT: bytes written or -errno
};

struct HcConsoleRead {
  uint64_t buf_gpa;  // IN
  uint64_t len;      // IN: capacity
  int64_t ret;       // OUT: bytes read, 0 at end of input, or -errno
};

// --gdb on mote's monitor (kBootGdb): where the program starts, so that the
// monitor's gdb stub stops there (an execute breakpoint) and finds the
// auxiliary vector on the initial stack. Nothing to return.
struct HcDebugProgram {
  uint64_t rip;      // IN: the program's entry point (virtual)
  uint64_t rsp;      // IN: its initial stack pointer (virtual): argc, argv, envp, auxv
};

// The kernel starts application processor `apic_id` (= its vCPU index on
// mote's monitor) at `rip`, in the direct entry's 64-bit state (the
// monitor's boot GDT, page tables, EFER, CR0/CR4; rsp, rdi, rsi as given),
// instead of INIT/SIPI and a real-mode trampoline. The AP starts
// asynchronously: the kernel waits for it as after a SIPI.
struct HcStartCpu {
  uint32_t apic_id;  // IN
  uint32_t pad;
  uint64_t rip;      // IN: a kernel address the boot page tables map
  uint64_t rsp;      // IN
  int64_t ret;       // OUT: 0; -EINVAL: no such vCPU, or vCPU 0; -EBUSY: already started
};

// -t (kBootTty): the program set a console stream's terminal modes
// (TCSETS/TCSETSW/TCSETSF); the monitor applies them to the host terminal
// and puts the original ones back when the run ends.
struct HcConsoleTermios {
  uint32_t stream;      // IN: 0, 1 or 2
  uint32_t cmd;         // IN: TCSETS, TCSETSW or TCSETSF (0x5402..0x5404)
  uint8_t termios[36];  // IN: the kernel's struct termios (c_iflag ... c_cc[19])
  uint32_t pad;
  int64_t ret;          // OUT: 0 or -errno (-ENOTTY without -t or for a stream that is no terminal)
};

struct HcExit {
  int32_t status;    // IN: the unikernel's exit status (0..255)
  uint32_t pad;
};

// QEMU's isa-debug-exit (iobase 0xf4, size 4) turns a written value v into
// the process exit status ((v << 1) | 1) & 0xff: always odd, and only 7 bits
// of v survive. The kernel writes v = status; the full status is also sent as
// the line "mote-exit: N" on the third UART (COM3, 0x3e8) when present, which
// the mote launcher for `--platform qemu` reads, so statuses 128..255
// (signals) are preserved there. Without it, status & 0x7f = (s >> 1).
// UARTs under PVH: COM1 (0x3f8) stdout, COM2 (0x2f8) stderr, COM3 status,
// COM4 (0x2e8) stdin from the launcher, encoded so that the end of input can
// be told: 0xfe escapes the next byte, 0xff alone is end of input.
inline constexpr uint16_t kIsaDebugExitPort = 0xf4;
inline constexpr uint16_t kStderrUartPort = 0x2f8;
inline constexpr uint16_t kStatusUartPort = 0x3e8;
inline constexpr uint16_t kStdinUartPort = 0x2e8;
inline constexpr uint8_t kStdinEscape = 0xfe;
inline constexpr uint8_t kStdinEnd = 0xff;
inline constexpr int qemu_status_to_program_low7(int qemu_status) { return (qemu_status >> 1) & 0x7f; }

}  // namespace mote::abi
