// The device side of one split virtqueue (virtio 1.1, 2.6 "Split
// Virtqueues") in guest RAM, read and written only through GuestMemory's
// checked accessor.
//
// The guest is hostile: it may put anything in the rings and change them
// while the device reads. Each descriptor and ring index is read exactly
// once, then checked; every rule below the driver breaks ends the walk with a
// Fault whose reason the monitor prints as "mote: guest fault: virtio ...":
//   - the available index moving ahead by more than the queue size;
//   - a head or `next` index outside the table;
//   - a chain with more descriptors than the table has (a loop, 2.6.5.3.1:
//     a chain is at most the queue size long);
//   - a buffer not wholly inside guest RAM (or wrapping 2^64);
//   - a device-readable descriptor after a device-writable one (2.6.4.2);
//   - an indirect descriptor where VIRTIO_F_INDIRECT_DESC was not
//     negotiated, and where it was (2.6.5.3): one that is not the chain's
//     head or has NEXT set, one inside an indirect table, a table whose
//     length is zero, not a multiple of 16 or more than kMaxIndirect
//     entries, or outside guest RAM, and a table entry chaining outside the
//     table or in a loop;
//   - a chain longer than 4 GiB in total.
// Ring addresses and the size are checked when the driver makes the queue
// ready (QueueLayout::check).
#pragma once

#include <stdint.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "abi/virtio.h"
#include "monitor/vm/memory.h"

namespace mote::vm::virtio {

// The layout and constants (abi/virtio.h, shared with the kernel's driver).
using namespace abi::virtio;

// Where the driver put the queue's three parts, and its size.
struct QueueLayout {
  uint16_t size = 0;
  uint64_t desc = 0;   // 16 * size bytes, 16-aligned
  uint64_t avail = 0;  // 6 + 2 * size bytes, 2-aligned
  uint64_t used = 0;   // 6 + 8 * size bytes, 4-aligned

  // Empty when the layout is usable with `max` as the device's QueueNumMax,
  // else why not: a size that is zero, above max or not a power of 2
  // (2.6: "Queue Size value is always a power of 2"; the free-running
  // 16-bit indexes need it), a misaligned part, or a part outside RAM.
  std::string check(const GuestMemory& mem, uint16_t max) const;
};

// One buffer of a chain: its bytes in guest RAM (checked) and direction.
struct Buffer {
  std::span<uint8_t> bytes;
  bool device_writes = false;
};

// A chain the device took from the available ring; give it back with push().
struct Chain {
  uint16_t head = 0;
  std::vector<Buffer> buffers;  // readable ones first, then writable ones
  uint64_t readable = 0;        // total bytes of the device-readable part
  uint64_t writable = 0;        // ... and of the device-writable part

  // Gathers up to out.size() bytes of the readable part from offset `from`.
  size_t read(std::span<uint8_t> out, uint64_t from = 0) const;
  // Scatters `in` into the writable part from offset `from`; the bytes written.
  size_t write(std::span<const uint8_t> in, uint64_t from = 0) const;
};

class Queue {
 public:
  // `indirect`: the driver took VIRTIO_F_INDIRECT_DESC.
  Queue(const GuestMemory& mem, QueueLayout layout, bool indirect = false)
      : mem_(&mem), l_(layout), indirect_(indirect) {}
  // The most entries an indirect table may have (Linux's drivers and QEMU
  // keep to 1024).
  static constexpr uint32_t kMaxIndirect = 1024;

  // The next chain the driver made available, nullopt when there is none;
  // a broken rule sets *fault (and returns nullopt). After a fault the queue
  // gives nothing more.
  std::optional<Chain> pop(std::string* fault);
  // Returns a chain to the driver with `written` bytes of its writable part
  // used. With `publish` false the used index does not move yet: the
  // chains of one merged frame (virtio-net's MRG_RXBUF) reach the driver
  // together, at publish().
  void push(const Chain& chain, uint32_t written, bool publish = true);
  void publish();
  // Gives the last `count` chains taken back to the available ring, as if
  // never taken (none of them pushed): the device could not use them yet.
  void unpop(uint16_t count) { last_avail_ = uint16_t(last_avail_ - count); }
  // Whether the driver asked not to be interrupted for used buffers
  // (VIRTQ_AVAIL_F_NO_INTERRUPT; no event index is negotiated).
  bool interrupt_suppressed() const;
  // Whether chains are waiting (a peek at the available index).
  bool has_available() const;

  const QueueLayout& layout() const { return l_; }
  // Chains taken from the available ring and returned to the used ring so
  // far (mod 2^16); equal whenever no chain is in the device's hands.
  uint16_t taken() const { return last_avail_; }
  uint16_t returned() const { return used_idx_; }

 private:
  const GuestMemory* mem_;
  QueueLayout l_;
  uint16_t last_avail_ = 0;  // the next available entry the device will take
  uint16_t used_idx_ = 0;    // the device's used index
  bool indirect_ = false;
  bool broken_ = false;
};

}  // namespace mote::vm::virtio
