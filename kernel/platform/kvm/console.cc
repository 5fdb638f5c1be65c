#include "kernel/platform/kvm/console.h"

#include <stdarg.h>

#include "abi/hypercall.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/profile.h"

namespace mote::kvm {

namespace {

Host g_host = Host::Pvh;

// 16550 UART registers (PC16550D datasheet): THR at +0, LSR at +5 (bit 5:
// transmit holding register empty), scratch at +7.
// Under PVH: COM1 carries stdout (and stderr when there is no COM2), COM2
// stderr, COM3 the exit status line for the `--platform qemu` launcher.
constexpr u16 kCom1 = 0x3f8, kCom2 = 0x2f8, kCom3 = 0x3e8, kCom4 = abi::kStdinUartPort;
bool g_com2, g_com3, g_com4;
bool g_stdin_end;      // the launcher said end of input
bool g_stdin_escaped;  // the last byte was kStdinEscape

// A UART answers its scratch register; an absent port reads 0xff.
bool uart_present(u16 base) {
  outb(base + 7, 0x5a);
  if (inb(base + 7) != 0x5a) return false;
  outb(base + 7, 0xa5);
  return inb(base + 7) == 0xa5;
}

void uart_init(u16 base) {
  outb(base + 1, 0x00);  // no interrupts
  outb(base + 3, 0x80);  // DLAB
  outb(base + 0, 0x01);  // 115200 baud
  outb(base + 1, 0x00);
  outb(base + 3, 0x03);  // 8N1
  outb(base + 2, 0xc7);  // FIFO on, cleared
}

// Bytes go out unchanged (no \n -> \r\n): the program's output must reach
// the host as it wrote it.
void uart_write(u16 base, const char* s, usize n) {
  for (usize i = 0; i < n; ++i) {
    while (!(inb(base + 5) & 0x20)) {
    }
    outb(base, u8(s[i]));
  }
}

// Hypercall argument blocks live in the kernel image: below 4 GiB
// physically, as `outl` requires.
abi::HcConsoleWrite g_hc_write;
abi::HcConsoleRead g_hc_read;
abi::HcExit g_hc_exit;
abi::HcDebugProgram g_hc_debug;
abi::HcStartCpu g_hc_start;
abi::HcConsoleTermios g_hc_termios;
// Hypercall buffers go through here: their physical address must be below
// 4 GiB and known, and the caller's buffer may be anywhere (the program's
// memory, a kernel stack in the core region).
char g_bounce[4096];

}  // namespace

void console_init(Host host) {
  g_host = host;
  if (host != Host::Pvh) return;
  uart_init(kCom1);
  g_com2 = uart_present(kCom2);
  if (g_com2) uart_init(kCom2);
  g_com3 = uart_present(kCom3);
  if (g_com3) uart_init(kCom3);
  // COM4 is left as it is: programming its FIFO control register would drop
  // input that arrived before boot got here (the launcher sends at once).
  g_com4 = uart_present(kCom4);
}

Host host_kind() { return g_host; }

isize console_write(int stream, const void* buf, usize len) {
  if (g_host == Host::MoteMonitor) {
    // One exit per bounce-buffer load.
    usize done = 0;
    while (done < len) {
      usize n = min<usize>(len - done, sizeof g_bounce);
      memcpy(g_bounce, static_cast<const char*>(buf) + done, n);
      g_hc_write = abi::HcConsoleWrite{virt_to_phys(g_bounce), n, u32(stream), 0, 0};
      outl(abi::hypercall_port(abi::Hypercall::ConsoleWrite), u32(virt_to_phys(&g_hc_write)));
      isize r = isize(g_hc_write.ret);
      if (r < 0) return done ? isize(done) : r;
      done += usize(r);
      if (usize(r) < n) break;
    }
    return isize(done);
  }
  uart_write(stream == 2 && g_com2 ? kCom2 : kCom1, static_cast<const char*>(buf), len);
  return isize(len);
}

isize console_read(int stream, void* buf, usize len) {
  (void)stream;
  if (g_host == Host::MoteMonitor) {
    g_hc_read = abi::HcConsoleRead{virt_to_phys(g_bounce), min<usize>(len, sizeof g_bounce), 0};
    outl(abi::hypercall_port(abi::Hypercall::ConsoleRead), u32(virt_to_phys(&g_hc_read)));
    isize r = isize(g_hc_read.ret);
    if (r > 0) memcpy(buf, g_bounce, usize(r));
    return r;
  }
  // UART: wait for the first byte (LSR bit 0: data ready), then take what is
  // there. COM4, when present, carries the launcher's encoded stdin, whose
  // end of input becomes read() == 0; bare COM1 input never ends.
  auto* p = static_cast<u8*>(buf);
  usize n = 0;
  u16 port = g_com4 ? kCom4 : kCom1;
  while (n < len && !g_stdin_end) {
    if (!(inb(port + 5) & 0x01)) {
      if (n) break;
      asm volatile("pause");
      continue;
    }
    u8 c = inb(port);
    if (g_com4 && !g_stdin_escaped) {
      if (c == abi::kStdinEscape) {
        g_stdin_escaped = true;
        continue;
      }
      if (c == abi::kStdinEnd) {
        g_stdin_end = true;
        break;
      }
    }
    g_stdin_escaped = false;
    p[n++] = c;
  }
  return isize(n);
}

void kprintf(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  usize n = vformat(buf, sizeof buf, fmt, ap);
  va_end(ap);
  console_write(2, buf, n);  // diagnostics: stderr (COM1 when there is no COM2)
}

bool console_status_line(const char* s, usize n) {
  if (g_host == Host::MoteMonitor || !g_com3) return false;
  uart_write(kCom3, s, n);
  return true;
}

void debug_program(u64 rip, u64 rsp) {
  if (g_host != Host::MoteMonitor) return;
  g_hc_debug = abi::HcDebugProgram{rip, rsp};
  outl(abi::hypercall_port(abi::Hypercall::DebugProgram), u32(virt_to_phys(&g_hc_debug)));
}

i64 start_cpu(u32 apic_id, u64 rip, u64 rsp) {
  if (g_host != Host::MoteMonitor) return -38;  // ENOSYS
  g_hc_start = abi::HcStartCpu{apic_id, 0, rip, rsp, -38};
  outl(abi::hypercall_port(abi::Hypercall::StartCpu), u32(virt_to_phys(&g_hc_start)));
  return g_hc_start.ret;
}

i64 console_termios(int stream, u32 cmd, const u8* termios) {
  if (g_host != Host::MoteMonitor) return -38;  // ENOSYS
  g_hc_termios = abi::HcConsoleTermios{u32(stream), cmd, {}, 0, -38};
  memcpy(g_hc_termios.termios, termios, sizeof g_hc_termios.termios);
  outl(abi::hypercall_port(abi::Hypercall::ConsoleTermios), u32(virt_to_phys(&g_hc_termios)));
  return g_hc_termios.ret;
}

void vm_exit(int status) {
  status &= 0xff;
  profile_report();
  if (g_host == Host::MoteMonitor) {
    g_hc_exit = abi::HcExit{status, 0};
    outl(abi::hypercall_port(abi::Hypercall::Exit), u32(virt_to_phys(&g_hc_exit)));
  } else {
    // QEMU: isa-debug-exit, with the full status first as a line on COM3
    // (abi/hypercall.h). Without those devices this falls through.
    if (g_com3) {
      char line[32];
      usize n = format(line, sizeof line, "mote-exit: %d\n", status);
      uart_write(kCom3, line, n);
    }
    outl(abi::kIsaDebugExitPort, u32(status));
  }
  for (;;) asm volatile("cli; hlt");
}

}  // namespace mote::kvm
