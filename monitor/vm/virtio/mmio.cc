#include "monitor/vm/virtio/mmio.h"

#include <cstring>

#include "monitor/vm/hex.h"

namespace mote::vm::virtio {

void GuestFault::report(std::string reason) {
  std::function<void()> kick;
  {
    std::lock_guard<std::mutex> g(m_);
    if (reason_) return;
    reason_ = std::move(reason);
    kick = on_fault_;
  }
  if (kick) kick();
}

std::optional<std::string> GuestFault::reason() const {
  std::lock_guard<std::mutex> g(m_);
  return reason_;
}

Transport::Transport(const GuestMemory& mem, std::unique_ptr<Device> device, std::string name,
                     GuestFault& fault)
    : mem_(mem), device_(std::move(device)), name_(std::move(name)), fault_(fault) {
  queues_.resize(device_->queue_count());
}

void Transport::fault(std::string reason) { fault_.report(name_ + ": " + std::move(reason)); }

Queue* Transport::queue(uint16_t q) {
  if (q >= queues_.size() || !driver_ok() || !queues_[q].live) return nullptr;
  return &*queues_[q].live;
}

void Transport::set_isr(uint32_t isr) {
  bool was = isr_ != 0;
  isr_ = isr;
  if (irq_ && was != (isr_ != 0)) irq_(isr_ != 0);
}

void Transport::used_buffers(uint16_t q) {
  Queue* queue = this->queue(q);
  if (!queue || queue->interrupt_suppressed()) return;
  // 4.2.2 InterruptStatus bit 0: "Used Buffer Notification". A level line:
  // it stays up until the driver acknowledges (InterruptACK).
  set_isr(isr_ | 1);
}

void Transport::reset() {
  device_->reset();
  status_ = 0;
  device_features_sel_ = driver_features_sel_ = queue_sel_ = 0;
  driver_features_ = 0;
  for (QueueState& q : queues_) q = QueueState{};
  set_isr(0);
}

uint32_t Transport::read_reg(Reg r) {
  switch (r) {
    case Reg::Magic: return kMagic;
    case Reg::Version: return 2;
    case Reg::DeviceId: return device_->device_id();
    case Reg::VendorId: return kVendorId;
    case Reg::DeviceFeatures: {
      uint64_t offered = device_->features() | kFeatureVersion1;
      return device_features_sel_ < 2 ? uint32_t(offered >> (32 * device_features_sel_)) : 0;
    }
    case Reg::QueueNumMax: return queue_sel_ < queues_.size() ? device_->queue_max() : 0;
    case Reg::QueueReady:
      return queue_sel_ < queues_.size() && queues_[queue_sel_].live ? 1 : 0;
    case Reg::InterruptStatus: return isr_;
    case Reg::Status: return status_;
    case Reg::ConfigGeneration: return 0;  // the configuration never changes
    default: return 0;                     // write-only or reserved
  }
}

void Transport::write_reg(Reg r, uint32_t v) {
  QueueState* q = queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
  // 4.2.3.2: the layout may change only while the queue is not ready.
  const bool layout_open = q && !q->live;
  // One 32-bit half (0 low, 1 high) of a 64-bit field written in two registers.
  auto set_half = [v](uint64_t& field, unsigned half) {
    const unsigned shift = 32 * half;
    field = (field & ~(0xffffffffull << shift)) | (uint64_t(v) << shift);
  };
  switch (r) {
    case Reg::DeviceFeaturesSel: device_features_sel_ = v; break;
    case Reg::DriverFeaturesSel: driver_features_sel_ = v; break;
    case Reg::DriverFeatures:
      if (driver_features_sel_ < 2 && !(status_ & kStatusFeaturesOk))
        set_half(driver_features_, driver_features_sel_);
      break;
    case Reg::QueueSel: queue_sel_ = v; break;
    case Reg::QueueNum:
      if (layout_open) q->layout.size = v > 0xffff ? 0 : uint16_t(v);
      break;
    case Reg::QueueDescLow:
    case Reg::QueueDescHigh:
      if (layout_open) set_half(q->layout.desc, r == Reg::QueueDescHigh);
      break;
    case Reg::QueueDriverLow:
    case Reg::QueueDriverHigh:
      if (layout_open) set_half(q->layout.avail, r == Reg::QueueDriverHigh);
      break;
    case Reg::QueueDeviceLow:
    case Reg::QueueDeviceHigh:
      if (layout_open) set_half(q->layout.used, r == Reg::QueueDeviceHigh);
      break;
    case Reg::QueueReady:
      if (!q) break;
      if (!v) {
        q->live.reset();
      } else if (!q->live) {
        std::string why = q->layout.check(mem_, device_->queue_max());
        if (!why.empty()) return fault("queue " + std::to_string(queue_sel_) + ": " + why);
        q->live.emplace(mem_, q->layout, (driver_features_ & kFeatureIndirectDesc) != 0);
      }
      break;
    case Reg::QueueNotify:
      // A notification for a queue that is not live is ignored (as Linux's
      // devices do): the driver may notify before DRIVER_OK.
      if (v < queues_.size() && queue(uint16_t(v))) device_->notify(*this, uint16_t(v));
      break;
    case Reg::InterruptAck: set_isr(isr_ & ~v); break;
    case Reg::Status: {
      if (v == 0) return reset();
      uint32_t next = v;
      // 3.1.1 / 2.2.2: FEATURES_OK only for a subset of what was offered
      // that includes VERSION_1 (this transport has no legacy interface).
      uint64_t offered = device_->features() | kFeatureVersion1;
      bool features_ok = !(driver_features_ & ~offered) && (driver_features_ & kFeatureVersion1);
      if ((next & kStatusFeaturesOk) && !(status_ & kStatusFeaturesOk) && !features_ok)
        next &= ~kStatusFeaturesOk;
      if ((next & kStatusDriverOk) && !(next & kStatusFeaturesOk)) next &= ~kStatusDriverOk;
      bool starting = (next & kStatusDriverOk) && !(status_ & kStatusDriverOk);
      bool accepted = (next & kStatusFeaturesOk) && !(status_ & kStatusFeaturesOk);
      status_ = next;
      if (accepted) device_->features_ok(driver_features_);
      if (starting) {
        // Chains made available before DRIVER_OK (a receive queue filled
        // during setup) are the device's now.
        for (uint16_t i = 0; i < queues_.size(); ++i)
          if (queues_[i].live) device_->notify(*this, i);
      }
      break;
    }
    default: break;  // read-only or reserved: ignored
  }
}

void Transport::access(uint64_t offset, bool write, std::span<uint8_t> data) {
  std::lock_guard<std::mutex> g(m_);
  const size_t len = data.size();
  if (offset < uint64_t(Reg::Config)) {
    if (len != 4 || offset % 4)
      return fault(std::to_string(len) + "-byte " + (write ? "write" : "read") + " of register " +
                   hex(offset) + " (the registers are 32-bit words)");
    uint32_t v = 0;
    if (write) {
      std::memcpy(&v, data.data(), 4);
      write_reg(Reg(offset), v);
    } else {
      v = read_reg(Reg(offset));
      std::memcpy(data.data(), &v, 4);
    }
    return;
  }
  // The configuration space: any width; bytes past its end read as 0 and
  // writes are ignored (no device here has a writable field).
  if (write) return;
  std::span<const uint8_t> config = device_->config();
  for (size_t i = 0; i < len; ++i) {
    uint64_t at = offset - uint64_t(Reg::Config) + i;
    data[i] = at < config.size() ? config[at] : 0;
  }
}

std::optional<Action> MmioBus::handle(const MmioAccess& a, GuestFault& fault) {
  const size_t len = a.data.size();
  for (const Slot& s : slots_) {
    if (a.gpa < s.base || a.gpa - s.base >= kWindowBytes) continue;
    uint64_t off = a.gpa - s.base;
    if (len == 0 || len > 8 || off + len > kWindowBytes)
      return Action::stop(std::to_string(len) + "-byte MMIO " + (a.write ? "write" : "read") +
                          " at " + hex(a.gpa) + " crosses the end of a virtio-mmio window");
    s.t->access(off, a.write, a.data);
    if (auto why = fault.reason()) return Action::stop("virtio: " + *why);
    return Action::resume();
  }
  return std::nullopt;
}

}  // namespace mote::vm::virtio
