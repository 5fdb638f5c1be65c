// A split virtqueue with many buffers in flight (virtio 1.1 2.6 "Split
// Virtqueues"), for devices that stream (virtio-net) rather than make one
// request at a time (virtio_mmio.h's Device::transfer, 9P). Descriptor i
// always describes the driver's buffer i, one segment each: the driver hands
// a buffer to the device by its index and gets the index back when the
// device is done, with the length it wrote.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/platform/kvm/virtio_mmio.h"

namespace mote::kvm::virtio {

class Virtqueue {
 public:
  static constexpr u32 kMaxSize = 128;

  // Sets up queue `index` of `dev` (between Device::negotiate and
  // driver_ok) with up to `want` entries. `interrupts`: whether the device
  // should interrupt when it returns buffers (2.6.7).
  Result<void> init(Device& dev, u32 index, u32 want, bool interrupts);
  u32 size() const { return size_; }

  // Makes buffer `id` (< size) of `len` bytes at `phys` available; the
  // device writes it (`device_writes`) or reads it. Takes effect for the
  // device at notify().
  void post(u16 id, u64 phys, u32 len, bool device_writes);
  // Makes buffer `id` available as an indirect table (2.6.5.3, with
  // VIRTIO_F_INDIRECT_DESC): `n` descriptors at `table` (physical, written
  // by the caller), for a buffer of many segments on one ring entry.
  void post_indirect(u16 id, u64 table, u32 n);
  void notify();
  // The next buffer the device returned: its id and the bytes it wrote.
  // False when there is none.
  bool take(u16* id, u32* len);

 private:
  void put(u16 id, u64 phys, u32 len, u16 flags);

  Device* dev_ = nullptr;
  u32 index_ = 0;
  u32 size_ = 0;
  u64 ring_ = 0;        // physical: descriptors, available ring, used ring
  u16 avail_idx_ = 0;   // next free slot of the available ring
  u16 used_seen_ = 0;   // used ring entries taken so far
  bool posted_ = false; // available entries since the last notify
};

}  // namespace mote::kvm::virtio
