// A split virtqueue with many buffers in flight (virtqueue.h).
#include "kernel/platform/kvm/virtqueue.h"

#include "kernel/lib/errno.h"
#include "kernel/platform/kvm/memory.h"

namespace mote::kvm::virtio {

namespace {


// The rings in one zeroed frame, as virtio_mmio.cc lays out queue 0: 128
// descriptors (2048 bytes, align 16), the available ring at 2048 (4 + 2 per
// entry + 2, align 2), the used ring at 2560 (4 + 8 per entry + 2, align 4).
constexpr u32 kAvailOffset = 2048;
constexpr u32 kUsedOffset = 2560;

void mb() { asm volatile("mfence" ::: "memory"); }

}  // namespace

Result<void> Virtqueue::init(Device& dev, u32 index, u32 want, bool interrupts) {
  dev_ = &dev;
  index_ = index;
  u32 max = dev.queue_max(index);
  if (!max) return err(EIO);
  size_ = min(min(max, want), kMaxSize);
  ring_ = frame_alloc();
  if (!ring_) return err(ENOMEM);
  if (!interrupts) *static_cast<volatile u16*>(phys_to_virt(ring_ + kAvailOffset)) = kAvailNoInterrupt;
  return dev.setup_queue(index, size_, ring_, ring_ + kAvailOffset, ring_ + kUsedOffset);
}

void Virtqueue::post(u16 id, u64 phys, u32 len, bool device_writes) {
  put(id, phys, len, device_writes ? kDescWrite : 0);
}

void Virtqueue::post_indirect(u16 id, u64 table, u32 n) {
  put(id, table, n * u32(sizeof(Desc)), kDescIndirect);
}

void Virtqueue::put(u16 id, u64 phys, u32 len, u16 flags) {
  auto* desc = static_cast<volatile Desc*>(phys_to_virt(ring_)) + id;
  desc->addr = phys;
  desc->len = len;
  desc->flags = flags;
  desc->next = 0;
  auto* avail = static_cast<volatile u16*>(phys_to_virt(ring_ + kAvailOffset));
  avail[2 + avail_idx_ % size_] = id;  // ring[idx]: the chain's head
  mb();                                // descriptor and entry before the index
  avail[1] = ++avail_idx_;
  posted_ = true;
}

void Virtqueue::notify() {
  if (!posted_) return;
  posted_ = false;
  mb();  // the index before the flags: a device that clears NO_NOTIFY then
         // looks at the index again (2.7.10)
  // A device busy with the queue says it needs no notification (QEMU's
  // virtio-net while its receive ring has buffers, and while it drains the
  // transmit queue): each one is an exit, under TCG a costly one.
  auto* used = static_cast<volatile u16*>(phys_to_virt(ring_ + kUsedOffset));
  if (used[0] & kUsedNoNotify) return;
  dev_->notify(index_);
}

bool Virtqueue::take(u16* id, u32* len) {
  auto* used = static_cast<volatile u8*>(phys_to_virt(ring_ + kUsedOffset));
  u16 idx = *reinterpret_cast<volatile u16*>(used + 2);
  if (idx == used_seen_) return false;
  mb();  // the index before the element
  struct UsedElem {
    u32 id;
    u32 len;
  };
  auto* elem = reinterpret_cast<volatile UsedElem*>(used + 4) + used_seen_ % size_;
  *id = u16(elem->id);
  *len = elem->len;
  ++used_seen_;
  return *id < size_;
}

}  // namespace mote::kvm::virtio
