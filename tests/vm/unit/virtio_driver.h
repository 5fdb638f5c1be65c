// A virtio-mmio driver written from the spec (virtio 1.1, 3.1 and 4.2.3) for
// driving the monitor's device models from tests: register accesses go
// through Transport::access exactly as the vCPU's MMIO exits do, and the
// rings live in a GuestMemory.
#pragma once

#include <stdint.h>

#include <cstring>
#include <optional>
#include <vector>

#include "monitor/vm/memory.h"
#include "monitor/vm/virtio/mmio.h"

namespace mote::vmtest {

using namespace mote::vm;
using namespace mote::vm::virtio;

struct Seg {
  uint64_t gpa;
  uint32_t len;
  bool device_writes;
};

class VirtioDriver {
 public:
  VirtioDriver(Transport& t, const GuestMemory& mem) : t_(t), mem_(mem) {}

  uint32_t read(Reg r) {
    uint8_t b[4];
    t_.access(uint32_t(r), false, b);
    uint32_t v;
    std::memcpy(&v, b, 4);
    return v;
  }
  void write(Reg r, uint32_t v) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    t_.access(uint32_t(r), true, b);
  }
  uint8_t config_byte(uint32_t off) {
    uint8_t b[1];
    t_.access(uint32_t(Reg::Config) + off, false, b);
    return b[0];
  }

  // 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; whether the
  // device kept FEATURES_OK.
  bool negotiate(uint64_t features) {
    write(Reg::Status, 0);
    write(Reg::Status, kStatusAcknowledge);
    write(Reg::Status, kStatusAcknowledge | kStatusDriver);
    for (uint32_t sel = 0; sel < 2; ++sel) {
      write(Reg::DriverFeaturesSel, sel);
      write(Reg::DriverFeatures, uint32_t(features >> (32 * sel)));
    }
    write(Reg::Status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    return read(Reg::Status) & kStatusFeaturesOk;
  }

  // Queue q's rings at `base` (desc, then avail at +16n, used at the next
  // 4-aligned address after the avail ring).
  void setup_queue(uint16_t q, uint16_t size, uint64_t base) {
    Ring r;
    r.size = size;
    r.desc = base;
    r.avail = base + 16ull * size;
    r.used = (r.avail + 6 + 2ull * size + 3) & ~3ull;
    setup_queue(q, r);
  }
  struct Ring {
    uint16_t size = 0;
    uint64_t desc = 0, avail = 0, used = 0;
    uint16_t next_desc = 0, avail_idx = 0, used_seen = 0;
  };
  void setup_queue(uint16_t q, const Ring& r) {
    if (rings_.size() <= q) rings_.resize(q + 1);
    rings_[q] = r;
    write(Reg::QueueSel, q);
    write(Reg::QueueNum, r.size);
    write(Reg::QueueDescLow, uint32_t(r.desc));
    write(Reg::QueueDescHigh, uint32_t(r.desc >> 32));
    write(Reg::QueueDriverLow, uint32_t(r.avail));
    write(Reg::QueueDriverHigh, uint32_t(r.avail >> 32));
    write(Reg::QueueDeviceLow, uint32_t(r.used));
    write(Reg::QueueDeviceHigh, uint32_t(r.used >> 32));
    write(Reg::QueueReady, 1);
  }
  void driver_ok() {
    write(Reg::Status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }

  Ring& ring(uint16_t q) { return rings_.at(q); }

  // Writes one chain into the descriptor table (taking the next free
  // entries, round robin) and makes it available; returns its head. No
  // notification.
  uint16_t post(uint16_t q, const std::vector<Seg>& segs) {
    Ring& r = rings_.at(q);
    uint16_t head = r.next_desc;
    for (size_t i = 0; i < segs.size(); ++i) {
      uint16_t at = uint16_t((head + i) % r.size);
      uint16_t next = uint16_t((head + i + 1) % r.size);
      Desc d{segs[i].gpa, segs[i].len, uint16_t((segs[i].device_writes ? kDescWrite : 0) |
                                                (i + 1 < segs.size() ? kDescNext : 0)),
             uint16_t(i + 1 < segs.size() ? next : 0)};
      mem_.write(r.desc + 16ull * at, d);
    }
    r.next_desc = uint16_t((head + segs.size()) % r.size);
    make_available(q, head);
    return head;
  }
  void make_available(uint16_t q, uint16_t head) {
    Ring& r = rings_.at(q);
    mem_.write<uint16_t>(r.avail + 4 + 2ull * (r.avail_idx % r.size), head);
    ++r.avail_idx;
    mem_.write<uint16_t>(r.avail + 2, r.avail_idx);
  }
  void set_avail_flags(uint16_t q, uint16_t flags) { mem_.write<uint16_t>(rings_.at(q).avail, flags); }
  void notify(uint16_t q) { write(Reg::QueueNotify, q); }

  struct Used {
    uint32_t id, len;
  };
  std::optional<Used> take_used(uint16_t q) {
    Ring& r = rings_.at(q);
    uint16_t idx = *mem_.read<uint16_t>(r.used + 2);
    if (idx == r.used_seen) return std::nullopt;
    Used u = *mem_.read<Used>(r.used + 4 + 8ull * (r.used_seen % r.size));
    ++r.used_seen;
    return u;
  }
  uint16_t used_idx(uint16_t q) { return *mem_.read<uint16_t>(rings_.at(q).used + 2); }

 private:
  Transport& t_;
  const GuestMemory& mem_;
  std::vector<Ring> rings_;
};

}  // namespace mote::vmtest
