// virtio over MMIO, the "modern" interface (virtio 1.1, 4.2 "Virtio Over
// MMIO", Version 2), with one split virtqueue (2.6 "Split Virtqueues") driven
// by polling: the driver posts one descriptor chain, notifies, and spins on
// the used ring. No interrupts (the avail ring asks for none), no event
// index, no indirect descriptors: one request in flight per device.
//
// Devices are found two ways: `virtio_mmio.device=SIZE@BASE:IRQ[:ID]` words
// on the kernel command line (Linux's syntax; QEMU microvm with acpi=off and
// Firecracker add them), and, when the command line names none, a probe of
// QEMU microvm's fixed transport slots (24 of 512 bytes from 0xfeb00000,
// where microvm puts them; with ACPI on it describes them only in the DSDT).
// Register windows live in the direct map's 4th GiB, mapped uncached
// (memory.cc).
#pragma once

#include "abi/virtio.h"
#include "kernel/lib/result.h"
#include "kernel/lib/string.h"
#include "kernel/lib/types.h"

namespace mote::kvm::virtio {

// The transport's layout and constants (abi/virtio.h, shared with mote's
// monitor's devices).
using namespace abi::virtio;
using Reg = MmioReg;
inline constexpr u64 kFeature9pMountTag = k9pFeatureMountTag;

// Where a buffer lives for the device: guest-physical, and who writes it.
struct Segment {
  u64 phys;
  u32 len;
  bool device_writes;  // VIRTQ_DESC_F_WRITE: the device fills it (a reply)
};

// One virtio-mmio device with queue 0 set up.
class Device {
 public:
  // Resets the device at register window `base` (physical), negotiates
  // VERSION_1 plus `wanted` features (those the device offers) and sets up
  // queue 0 with up to `queue_max` descriptors. The status is DRIVER_OK
  // afterwards. Errors: ENODEV (no device, legacy interface), EIO.
  Result<void> init(u64 base, u64 wanted, u32 queue_max);

  // The same in steps, for devices with several queues (virtqueue.h):
  // reset and negotiate (status FEATURES_OK), set up each queue, then
  // DRIVER_OK. The features of `all_or_none` (a subset of `wanted`) are
  // taken only when the device offers every one of them.
  Result<void> negotiate(u64 base, u64 wanted, u64 all_or_none = 0);
  // Queue `index` at the given rings (physical) with `size` entries, at
  // most the device's maximum (QueueNumMax, returned by queue_max).
  u32 queue_max(u32 index);
  Result<void> setup_queue(u32 index, u32 size, u64 desc, u64 avail, u64 used);
  Result<void> driver_ok();
  void notify(u32 index) { write(Reg::QueueNotify, index); }
  // Reads and acknowledges the interrupt status (bit 0: used buffers).
  u32 ack_interrupt();

  u32 device_id() const { return device_id_; }
  u64 features() const { return features_; }
  u32 queue_size() const { return qsize_; }
  // Device configuration space bytes [off, off+len), read consistently
  // (4.2.2: ConfigGeneration before and after).
  void read_config(u32 off, void* out, u32 len);

  // Posts one descriptor chain (device-readable segments first, then
  // device-writable ones), notifies, and polls until the device returns it.
  // The length the device wrote. EIO after a long silence (the device is
  // then left unused: it may still own the buffers).
  Result<u32> transfer(const Segment* segs, usize n);

 private:
  u32 read(Reg r);
  void write(Reg r, u32 v);

  u64 base_ = 0;      // physical
  u32 device_id_ = 0;
  u64 features_ = 0;
  u32 qsize_ = 0;
  u64 ring_phys_ = 0;  // descriptor table, available and used rings
  u16 avail_idx_ = 0;
  u16 used_seen_ = 0;
  bool broken_ = false;
};

// Device discovery. A `virtio_mmio.device=` word adds its base; other words
// return false.
bool parse_cmdline_word(StrView w);
// The register windows found (command line, or the microvm probe when the
// command line named none and the kernel was booted through PVH).
usize device_bases(u64* out, usize cap);
// The interrupt line (GSI, ioapic.h) of the device at `base`: the
// command line's IRQ, or microvm's wiring of a probed slot; kNoGsi when
// unknown. Call after ioapic_init.
inline constexpr u32 kNoGsi = ~0u;
u32 device_gsi(u64 base);

}  // namespace mote::kvm::virtio
