// The process platform's clocks. CLOCK_REALTIME and CLOCK_MONOTONIC come
// from the host's vDSO when it has a fast path for them: the core reads the
// clock on every syscall that sleeps, every received frame and every timer,
// and a host system call costs ~1.1 us on the development VMs against ~27 ns
// for the vDSO's read of the clock page.
//
// The vDSO falls back to a `syscall` instruction when the host's clock
// source has no user-mode read (some hypervisors, an unstable TSC). Outside
// the core's text, that call meets the sandbox:
//  - on a program thread, Syscall User Dispatch turns it into SIGSYS, and
//    on_sigsys hands it to serve_vdso_syscall below (SIGSYS is SA_NODEFER,
//    so this works inside on_sigsys too);
//  - on a platform service thread (no dispatch), the seccomp filter lets
//    clock_gettime through from anywhere (sandbox.cc).
// probe_vdso_clock checks once, when dispatch is first on, whether a read
// makes a system call; if it does the vDSO is not used at all, since a
// SIGSYS round trip costs more than the plain call. A clock source that
// changes later only costs speed, never correctness.
//
// The program's own vDSO (kernel/vdso/) calls the same function, found
// through g.vdso_clock_gettime (its data page holds that pointer's
// address), so a program's clock read is no trip through the core either;
// its fallback meets on_sigsys as the core's does.
#include <asm/unistd_64.h>

#include "abi/vdso_data.h"
#include "kernel/exec/vdso.h"
#include "kernel/lib/format.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process {

namespace {

using host::Timespec;

constexpr long kClockRealtime = 0, kClockMonotonic = 1;

}  // namespace

u64 read_clock(long id) {
  Timespec ts;
  auto* vdso = g.vdso_clock_gettime;
  bool got = vdso && (id == kClockRealtime || id == kClockMonotonic) && vdso(id, &ts) == 0;
  if (!got && host::failed(host::syscall2(__NR_clock_gettime, id, long(&ts)))) return 0;
  return u64(ts.sec) * 1000000000ull + u64(ts.nsec);
}

extern "C" char mote_vvar_page[];  // kernel/vdso/vdso_blob.S

void init_vdso_clock() {
  // The program's vDSO reads the pointer below on every call: null (no host
  // vDSO, or one that makes system calls) sends it to the system call. It
  // reads the host's clocks as they are, so only while the core's
  // CLOCK_MONOTONIC is the host's (g.mono0 0, main.cc).
  if (g.mono0 == 0)
    reinterpret_cast<abi::VdsoData*>(mote_vvar_page)->host_clock = u64(&g.vdso_clock_gettime);
  // The auxiliary vector and /proc/self/maps must agree on where it is.
  if (!g.vdso_ehdr || g.vdso_ehdr != g.vdso_start || g.vdso_end <= g.vdso_start) return;
  u64 fn = elf::vdso_lookup(reinterpret_cast<const u8*>(g.vdso_start),
                            usize(g.vdso_end - g.vdso_start), "__vdso_clock_gettime");
  if (!fn) return;
  // Before the sandbox a fallback is an ordinary system call; the first read
  // also shows whether it works at all.
  auto* f = reinterpret_cast<long (*)(long, void*)>(fn);
  Timespec ts{};
  if (f(kClockMonotonic, &ts) != 0 || ts.sec < 0) return;
  g.vdso_clock_gettime = f;
}

namespace {

// --selftest vdso-fallback: a page of the core region, outside its text,
// stands in for the vDSO, and its clock_gettime is always the fallback:
//   mov $228, %eax; syscall; ret
void stand_in_for_vdso() {
  static const u8 code[] = {0xb8, __NR_clock_gettime, 0, 0, 0, 0x0f, 0x05, 0xc3};
  auto page = platform::map_core(kPageSize);
  if (!page.ok()) fatal("no memory for the vDSO stand-in");
  u8* p = reinterpret_cast<u8*>(page.value());
  for (usize i = 0; i < sizeof code; ++i) p[i] = code[i];
  if (host::failed(host::mprotect(page.value(), kPageSize, 5 /*PROT_READ|PROT_EXEC*/)))
    fatal("cannot make the vDSO stand-in executable");
  g.vdso_start = page.value();
  g.vdso_end = page.value() + kPageSize;
  g.vdso_clock_gettime = reinterpret_cast<long (*)(long, void*)>(page.value());
}

}  // namespace

void probe_vdso_clock() {
  const bool selftest = g.boot->flags & abi::kBootSelftestVdsoFallback;
  if (selftest) stand_in_for_vdso();
  if (!g.vdso_clock_gettime) return;
  const u64 before = g.vdso_syscalls;
  Timespec ts;
  g.vdso_clock_gettime(kClockMonotonic, &ts);
  g.vdso_clock_gettime(kClockRealtime, &ts);
  const u64 seen = g.vdso_syscalls - before;
  if (selftest) {
    // Keeps the stand-in, so every clock read of the run takes the
    // fallback: SIGSYS on program threads (nested in on_sigsys too), the
    // seccomp filter's exception on the service threads.
    char msg[96];
    usize n = format(msg, sizeof msg, "mote: selftest: the vDSO probe saw %lu system calls\n",
                     (unsigned long)seen);
    host::write(2, msg, n);
    return;
  }
  if (seen) g.vdso_clock_gettime = nullptr;
}

bool serve_vdso_syscall(u64 call_addr, u64 nr, const u64 args[2], u64* ret) {
  if (call_addr < g.vdso_start || call_addr >= g.vdso_end) return false;
  __atomic_add_fetch(&g.vdso_syscalls, 1, __ATOMIC_RELAXED);
  // The core calls only its clock_gettime, whose fallback is clock_gettime.
  if (nr != __NR_clock_gettime) fatal("the host's vDSO made an unexpected system call");
  *ret = u64(host::syscall2(__NR_clock_gettime, long(args[0]), long(args[1])));
  return true;
}

}  // namespace mote::process

namespace mote::platform {

using process::g;

u64 monotonic_ns() { return process::read_clock(1) - g.mono0; }
u64 wall_ns() { return process::read_clock(0); }
u64 process_cpu_ns() { return process::read_clock(2); }
u64 thread_cpu_ns() { return process::read_clock(3); }
u64 clock_resolution_ns() { return 1; }

}  // namespace mote::platform
