#include "kernel/platform/kvm/clock.h"

#include "abi/vdso_data.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"

extern "C" char mote_vvar_page[];  // vdso/vdso_blob.S

namespace mote::kvm {

namespace {

u64 g_tsc0;
u64 g_khz;
u64 g_wall0;
u64 g_mono_base;  // CLOCK_MONOTONIC at boot: 0, or the host's (clock0=)

abi::VdsoData& vdso_data() { return *reinterpret_cast<abi::VdsoData*>(mote_vvar_page); }

// The conversion from TSC ticks to nanoseconds, for the kernel's clock and
// the programs' vDSO alike (abi/vdso_data.h): ns = ticks * 1e6 / kHz as a
// multiplication by (1e6 << 40) / kHz and a shift, exact to 2^-39 for any
// frequency over 1 GHz (a microsecond a week). Set before the program runs
// (boot: clock_init, clock0=) or by the first calibration; readers see
// `ready` last.
void publish() {
  abi::VdsoData& d = vdso_data();
  d.tsc0 = g_tsc0;
  d.shift = 40;
  d.mult = (1000000ull << 40) / g_khz;
  d.mono_base = g_mono_base;
  d.wall0 = g_wall0;
  __atomic_store_n(&d.ready, 1u, __ATOMIC_RELEASE);
}

// CPUID 0x40000010 (hypervisor timing leaf: eax = TSC kHz), then 0x15/0x16.
u64 khz_from_cpuid() {
  Cpuid h = cpuid(0x40000000);
  if (h.eax >= 0x40000010) {
    Cpuid t = cpuid(0x40000010);
    if (t.eax) return t.eax;
  }
  u32 max = cpuid(0).eax;
  if (max >= 0x15) {
    Cpuid c = cpuid(0x15);  // SDM 3B 18.7.3: TSC = crystal * ebx / eax
    if (c.eax && c.ebx && c.ecx) return u64(c.ecx) * c.ebx / c.eax / 1000;
  }
  if (max >= 0x16) {
    Cpuid c = cpuid(0x16);  // base frequency, MHz
    if (c.eax) return u64(c.eax) * 1000;
  }
  return 0;
}

// The PIT (8254) counts at 1.193182 MHz: program channel 0 as a free-running
// rate generator and count TSC ticks while it advances (khz_from_pit), reading the
// counter with latch commands (port 0x61 / channel 2 is absent on microvm).
u16 pit_read() {
  outb(0x43, 0x00);  // latch channel 0
  u8 lo = inb(0x40);
  u8 hi = inb(0x40);
  return u16(lo | (hi << 8));
}

// One measurement: TSC ticks over `ticks` PIT ticks, from a counter edge to
// the read that passes the mark, each read bracketed by the TSC (its
// middle is when it happened). 0 when the counter never moves.
u64 pit_measure(u32 ticks) {
  constexpr u32 kPitHz = 1193182;
  u16 prev = pit_read();
  u64 start = 0;
  u32 elapsed = 0;
  for (u64 reads = 0; reads < 10000000; ++reads) {
    u64 a = rdtsc();
    u16 now = pit_read();
    u64 mid = a + (rdtsc() - a) / 2;
    if (now == prev) continue;
    if (!start) {
      start = mid;  // aligned to a counter edge
      prev = now;
      continue;
    }
    elapsed += u16(prev - now);  // counts down, wraps at 65536
    prev = now;
    if (elapsed >= ticks) return (mid - start) * kPitHz / elapsed / 1000;
  }
  return 0;
}

// The TSC frequency against the PIT: the median of five 2 ms measurements.
// A measurement the vCPU was descheduled in (TCG on a loaded host) can come
// out wrong (a read paired with a late TSC, or more than one 55 ms counter
// wrap missed); the median leaves it out.
u64 khz_from_pit() {
  constexpr u32 kTicks = 1193182 / 500;  // 2 ms
  outb(0x43, 0x34);                      // channel 0, lo/hi, mode 2
  outb(0x40, 0);
  outb(0x40, 0);                         // count 65536
  u64 khz[5];
  for (u64& k : khz) {
    k = pit_measure(kTicks);
    if (!k) return 0;  // the counter never moved: no PIT
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4 - i; ++j)
      if (khz[j] > khz[j + 1]) {
        u64 t = khz[j];
        khz[j] = khz[j + 1], khz[j + 1] = t;
      }
  return khz[2];
}

u8 cmos(u8 reg) {
  outb(0x70, reg);
  return inb(0x71);
}

u64 bcd(u8 v, bool binary) { return binary ? v : (v & 0xf) + (v >> 4) * 10; }

// Days from 1970-01-01 to y-m-d (proleptic Gregorian).
u64 days_from_civil(u64 y, u64 m, u64 d) {
  y -= m <= 2;
  u64 era = y / 400;
  u64 yoe = y - era * 400;
  u64 doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  u64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// MC146818 RTC (CMOS registers 0x00-0x09, status B at 0x0b). 0 if absent.
u64 wall_from_rtc() {
  for (int tries = 0; tries < 1000 && (cmos(0x0a) & 0x80); ++tries) {
  }
  u8 sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04);
  u8 day = cmos(0x07), mon = cmos(0x08), year = cmos(0x09), b = cmos(0x0b);
  if (sec == 0xff && b == 0xff) return 0;
  bool binary = b & 0x04;
  u64 y = 2000 + bcd(year, binary);
  u64 days = days_from_civil(y, bcd(mon, binary), bcd(day, binary));
  u64 secs = days * 86400 + bcd(hour & 0x7f, binary) * 3600 + bcd(min, binary) * 60 +
             bcd(sec, binary);
  return secs * 1000000000ull;
}

}  // namespace

// Measuring the TSC against the PIT takes 10 ms: done on first use only, so a
// program that never reads the clock or sleeps does not pay for it at boot.
void calibrate() {
  g_khz = khz_from_pit();
  if (!g_khz) {
    kprintf("mote kernel: cannot tell the TSC frequency (no boot info, CPUID leaf or PIT)\n");
    vm_exit(125);
  }
  publish();
}

void clock_init(u64 tsc_khz, u64 wall_ns) {
  g_tsc0 = rdtsc();
  g_khz = tsc_khz ? tsc_khz : khz_from_cpuid();
  g_wall0 = wall_ns ? wall_ns : wall_from_rtc();
  if (g_khz) publish();
}

namespace {
// Nanoseconds since boot.
u64 elapsed_ns() {
  if (!g_khz) calibrate();
  return abi::vdso_ns_since_boot(vdso_data(), rdtsc());
}
}  // namespace

void clock_set_monotonic_base(u64 ns) {
  g_mono_base = ns;
  if (g_khz) publish();
}

u64 clock_monotonic_ns() { return g_mono_base + elapsed_ns(); }

u64 clock_wall_ns() { return g_wall0 + elapsed_ns(); }
u64 clock_boot_wall_ns() { return g_wall0; }
u64 clock_tsc_khz_if_known() { return g_khz; }
u64 clock_tsc_khz() {
  if (!g_khz) calibrate();
  return g_khz;
}
u64 clock_tsc_at(u64 ns) {
  if (!g_khz) calibrate();
  ns = ns > g_mono_base ? ns - g_mono_base : 0;
  return g_tsc0 + (ns / 1000000) * g_khz + (ns % 1000000) * g_khz / 1000000;
}

}  // namespace mote::kvm
