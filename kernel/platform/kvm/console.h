// Early console and exit for the VM platforms: mote hypercalls when the
// kernel was entered by mote's monitor, else the 16550 UART (COM1) and QEMU's
// isa-debug-exit (abi/hypercall.h).
#pragma once

#include "kernel/lib/types.h"

namespace mote::kvm {

enum class Host { MoteMonitor, Pvh };

void console_init(Host host);
Host host_kind();
// buf may be anywhere mapped: hypercalls copy through a buffer in the image.
isize console_write(int stream, const void* buf, usize len);
isize console_read(int stream, void* buf, usize len);
void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// A line on the launcher's status channel (QEMU: COM3); false without one.
bool console_status_line(const char* s, usize n);
[[noreturn]] void vm_exit(int status);
// --gdb on mote's monitor (kBootGdb): tells the monitor's gdb stub where the
// program starts (HcDebugProgram), just before it does. Nothing elsewhere.
void debug_program(u64 rip, u64 rsp);
// mote's monitor: starts vCPU `apic_id` at `rip` in 64-bit mode on the boot
// page tables (HcStartCpu); 0, or -errno. Elsewhere -ENOSYS (INIT/SIPI).
i64 start_cpu(u32 apic_id, u64 rip, u64 rsp);
// mote's monitor, -t: a terminal mode change for console stream `stream`
// (HcConsoleTermios); 0 or -errno. Elsewhere -ENOSYS.
i64 console_termios(int stream, u32 cmd, const u8* termios);

}  // namespace mote::kvm
