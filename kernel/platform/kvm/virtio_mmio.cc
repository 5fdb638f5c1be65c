// virtio-mmio transport and a polled split virtqueue (virtio_mmio.h).
#include "kernel/platform/kvm/virtio_mmio.h"

#include "abi/boot_info.h"
#include "kernel/lib/errno.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/ioapic.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/vm.h"
#include "kernel/platform/platform.h"

namespace mote::kvm::virtio {

namespace {

struct UsedElem {
  u32 id;
  u32 len;
};

// The three parts of queue 0 in one zeroed frame: descriptors (16 bytes
// each, align 16), the available ring (4 + 2 per entry + 2, align 2) and the
// used ring (4 + 8 per entry + 2, align 4). 128 entries fit: 2048 + 262 at
// 2048, 1030 at 2560.
constexpr u32 kMaxQueue = 128;
constexpr u32 kAvailOffset = 2048;
constexpr u32 kUsedOffset = 2560;

// QEMU microvm (hw/i386/microvm.h): VIRTIO_MMIO_BASE, 24 transports of 512 bytes.
constexpr u64 kMicrovmBase = 0xfeb00000;
constexpr u32 kMicrovmSlots = 24;
constexpr u64 kSlotSize = 512;

// mote's monitor: the network device and one per share (abi/boot_info.h).
constexpr usize kMaxDevices = 1 + abi::kMaxShares;
u64 g_bases[kMaxDevices];
u32 g_gsis[kMaxDevices];  // kNoGsi when the command line did not say
usize g_nbases;
bool g_probed;            // g_bases came from the microvm probe

// An idle device for this long is given up on (TCG is slow, but a 9P reply
// takes milliseconds).
constexpr u64 kTimeoutNs = 60ull * 1000 * 1000 * 1000;

void mb() { asm volatile("mfence" ::: "memory"); }

bool parse_u64(StrView s, u64* out) {
  u64 v = 0;
  usize i = 0;
  int base = 10;
  if (s.size > 2 && s.data[0] == '0' && (s.data[1] == 'x' || s.data[1] == 'X')) {
    base = 16;
    i = 2;
  }
  if (i >= s.size) return false;
  for (; i < s.size; ++i) {
    char c = s.data[i];
    int d = c >= '0' && c <= '9' ? c - '0'
            : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
            : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
    if (d < 0) return false;
    v = v * u64(base) + u64(d);
  }
  *out = v;
  return true;
}

bool add_base(u64 base, u32 gsi) {
  // Only the 4th GiB is mapped uncached for devices (memory.h).
  if (base < (3ull << 30) || base + kSlotSize > (4ull << 30) || base % 4) return false;
  for (usize i = 0; i < g_nbases; ++i)
    if (g_bases[i] == base) return true;
  if (g_nbases == kMaxDevices) return false;
  g_gsis[g_nbases] = gsi;
  g_bases[g_nbases++] = base;
  return true;
}

}  // namespace

u32 Device::read(Reg r) {
  return *static_cast<volatile u32*>(phys_to_virt(base_ + u32(r)));
}

void Device::write(Reg r, u32 v) {
  *static_cast<volatile u32*>(phys_to_virt(base_ + u32(r))) = v;
}

Result<void> Device::negotiate(u64 base, u64 wanted, u64 all_or_none) {
  base_ = base;
  if (read(Reg::Magic) != kMagic) return err(ENODEV);
  if (read(Reg::Version) != 2) return err(ENODEV);  // 1: legacy, not supported
  device_id_ = read(Reg::DeviceId);
  if (!device_id_) return err(ENODEV);  // an empty slot
  // 3.1.1 "Driver Requirements: Device Initialization".
  write(Reg::Status, 0);  // reset (4.2.3.1: done when Status reads 0)
  for (u32 spins = 0; read(Reg::Status) != 0; ++spins) {
    if (spins > (1u << 20)) return err(EIO);
    asm volatile("pause");
  }
  write(Reg::Status, kStatusAcknowledge);
  write(Reg::Status, kStatusAcknowledge | kStatusDriver);
  u64 offered = 0;
  for (u32 sel = 0; sel < 2; ++sel) {
    write(Reg::DeviceFeaturesSel, sel);
    offered |= u64(read(Reg::DeviceFeatures)) << (32 * sel);
  }
  if (!(offered & kFeatureVersion1)) {
    write(Reg::Status, kStatusFailed);
    return err(ENODEV);
  }
  if ((offered & all_or_none) != all_or_none) wanted &= ~all_or_none;
  features_ = offered & (wanted | kFeatureVersion1);
  for (u32 sel = 0; sel < 2; ++sel) {
    write(Reg::DriverFeaturesSel, sel);
    write(Reg::DriverFeatures, u32(features_ >> (32 * sel)));
  }
  write(Reg::Status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  if (!(read(Reg::Status) & kStatusFeaturesOk)) {
    write(Reg::Status, kStatusFailed);
    return err(EIO);
  }
  return ok();
}

u32 Device::queue_max(u32 index) {
  write(Reg::QueueSel, index);
  return read(Reg::QueueNumMax);
}

Result<void> Device::setup_queue(u32 index, u32 size, u64 desc, u64 avail, u64 used) {
  // 4.2.3.2 "Virtqueue Configuration".
  write(Reg::QueueSel, index);
  if (read(Reg::QueueReady)) return err(EIO);
  u32 qmax = read(Reg::QueueNumMax);
  if (!qmax || size > qmax || !size) return err(EIO);
  write(Reg::QueueNum, size);
  write(Reg::QueueDescLow, u32(desc));
  write(Reg::QueueDescHigh, u32(desc >> 32));
  write(Reg::QueueDriverLow, u32(avail));
  write(Reg::QueueDriverHigh, u32(avail >> 32));
  write(Reg::QueueDeviceLow, u32(used));
  write(Reg::QueueDeviceHigh, u32(used >> 32));
  write(Reg::QueueReady, 1);
  return ok();
}

Result<void> Device::driver_ok() {
  write(Reg::Status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  if (read(Reg::Status) & (kStatusNeedsReset | kStatusFailed)) return err(EIO);
  return ok();
}

u32 Device::ack_interrupt() {
  u32 status = read(Reg::InterruptStatus);
  if (status) write(Reg::InterruptAck, status);
  return status;
}

Result<void> Device::init(u64 base, u64 wanted, u32 queue_max) {
  TRY(negotiate(base, wanted));
  u32 qmax = this->queue_max(0);
  if (!qmax) return err(EIO);
  qsize_ = min(min(qmax, queue_max), kMaxQueue);
  ring_phys_ = frame_alloc();
  if (!ring_phys_) {
    write(Reg::Status, kStatusFailed);
    return err(ENOMEM);
  }
  u64 desc = ring_phys_, avail = ring_phys_ + kAvailOffset, used = ring_phys_ + kUsedOffset;
  // Polled: the device need not interrupt (2.6.7 "Used Buffer Notification Suppression").
  *static_cast<volatile u16*>(phys_to_virt(avail)) = kAvailNoInterrupt;
  TRY(setup_queue(0, qsize_, desc, avail, used));
  return driver_ok();
}

void Device::read_config(u32 off, void* out, u32 len) {
  u8* o = static_cast<u8*>(out);
  u32 gen;
  do {
    gen = read(Reg::ConfigGeneration);
    for (u32 i = 0; i < len; ++i)
      o[i] = *static_cast<volatile u8*>(phys_to_virt(base_ + u32(Reg::Config) + off + i));
  } while (read(Reg::ConfigGeneration) != gen);
}

Result<u32> Device::transfer(const Segment* segs, usize n) {
  if (broken_) return err(EIO);
  if (!n || n > qsize_) return err(E2BIG);
  // One chain at a time: it always occupies descriptors 0..n-1, head 0.
  auto* desc = static_cast<Desc*>(phys_to_virt(ring_phys_));
  for (usize i = 0; i < n; ++i) {
    u16 flags = segs[i].device_writes ? kDescWrite : 0;
    if (i + 1 < n) flags |= kDescNext;
    desc[i] = Desc{segs[i].phys, segs[i].len, flags, u16(i + 1 < n ? i + 1 : 0)};
  }
  auto* avail = static_cast<volatile u16*>(phys_to_virt(ring_phys_ + kAvailOffset));
  avail[2 + avail_idx_ % qsize_] = 0;  // ring[idx]: the chain's head
  mb();                                // descriptors and entry before the index
  avail[1] = ++avail_idx_;
  mb();                                // the index before the notification
  write(Reg::QueueNotify, 0);
  auto* used = static_cast<volatile u8*>(phys_to_virt(ring_phys_ + kUsedOffset));
  auto used_idx = [&] { return *reinterpret_cast<volatile u16*>(used + 2); };
  u64 start = platform::monotonic_ns();
  u32 spins = 0;
  while (used_idx() == used_seen_) {
    asm volatile("pause");
    if (++spins % 4096 == 0 && platform::monotonic_ns() - start > kTimeoutNs) {
      broken_ = true;
      kprintf("mote kernel: virtio device at %#lx did not answer\n", (unsigned long)base_);
      return err(EIO);
    }
  }
  mb();
  auto* elem = reinterpret_cast<volatile UsedElem*>(used + 4) + used_seen_ % qsize_;
  u32 len = elem->len;
  ++used_seen_;
  return len;
}

bool parse_cmdline_word(StrView w) {
  // virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>] (Linux
  // drivers/virtio/virtio_mmio.c's syntax; sizes may carry K/M).
  const StrView prefix("virtio_mmio.device=");
  if (!w.starts_with(prefix)) return false;
  StrView rest(w.data + prefix.size, w.size - prefix.size);
  usize at = 0;
  while (at < rest.size && rest.data[at] != '@') ++at;
  usize colon = at;
  while (colon < rest.size && rest.data[colon] != ':') ++colon;
  usize id = colon + 1;
  while (id < rest.size && rest.data[id] != ':') ++id;
  u64 base, irq = kNoGsi;
  if (colon < rest.size && !parse_u64(StrView(rest.data + colon + 1, id - colon - 1), &irq))
    irq = kNoGsi;
  if (at < rest.size && parse_u64(StrView(rest.data + at + 1, colon - at - 1), &base))
    add_base(base, irq < kNoGsi ? u32(irq) : kNoGsi);
  return true;
}

usize device_bases(u64* out, usize cap) {
  static bool probed;
  if (!g_nbases && !probed && g_vm.host == Host::MoteMonitor && g_vm.boot) {
    // mote's monitor: fixed slots, named by the boot info (abi/boot_info.h).
    probed = true;
    if (g_vm.boot->net_flags & abi::kNetDevice) add_base(abi::kMoteVirtioBase, abi::kMoteVirtioNetGsi);
    for (u32 k = 0; k < g_vm.boot->share_count; ++k)
      add_base(abi::kMoteVirtioBase + (1 + u64(k)) * abi::kMoteVirtioStride, kNoGsi);
  }
  if (!g_nbases && !probed && g_vm.host == Host::Pvh) {
    // QEMU microvm with ACPI describes its transports only in the DSDT; its
    // slots are fixed, and an empty one reads as a device with ID 0.
    probed = true;
    for (u32 i = 0; i < kMicrovmSlots; ++i) {
      u64 b = kMicrovmBase + i * kSlotSize;
      if (*static_cast<volatile u32*>(phys_to_virt(b)) == kMagic) add_base(b, kNoGsi);
    }
    g_probed = g_nbases != 0;
  }
  usize n = min(g_nbases, cap);
  for (usize i = 0; i < n; ++i) out[i] = g_bases[i];
  return n;
}

u32 device_gsi(u64 base) {
  for (usize i = 0; i < g_nbases; ++i) {
    if (g_bases[i] != base) continue;
    if (g_gsis[i] != kNoGsi) return g_gsis[i];
    if (!g_probed || base < kMicrovmBase || base >= kMicrovmBase + kMicrovmSlots * kSlotSize)
      return kNoGsi;
    // QEMU microvm (hw/i386/microvm.c): transport k is wired to GSI 5 + k,
    // or to 24 + k on the second I/O APIC, which it adds when ACPI is on.
    u32 slot = u32((base - kMicrovmBase) / kSlotSize);
    return (ioapic_has_gsi(24) ? 24 : 5) + slot;
  }
  return kNoGsi;
}

}  // namespace mote::kvm::virtio
