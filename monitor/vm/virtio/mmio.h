// The virtio-mmio transport, device side (virtio 1.1, 4.2 "Virtio Over MMIO",
// version 2 only: the legacy interface is not offered), and the bus that
// routes the vCPU's MMIO exits to the transports.
//
// A Transport is the register window of one device: feature negotiation,
// status, queue setup, notifications, the interrupt status and the device's
// configuration space. The device model behind it (net.h, p9.h) sees only
// ready queues and notifications. Every access from the guest goes through
// access(), under the transport's lock; a device's own thread (the network
// receive side) takes the same lock through Transport::Locked.
//
// A guest that breaks the transport's rules is stopped, as for a broken
// hypercall: registers below 0x100 accessed other than as one aligned
// 32-bit word (4.2.2: "The driver MUST only use 32 bit wide and aligned
// reads and writes"), a queue made ready with a bad layout (queue.h), a
// broken descriptor chain. The reason goes to the GuestFault every device of
// the VM shares, which the run loop checks after each exit.
#pragma once

#include <stdint.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "abi/virtio.h"
#include "monitor/vm/action.h"
#include "monitor/vm/exit.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/virtio/queue.h"

namespace mote::vm::virtio {

inline constexpr uint32_t kVendorId = 0x45544f4d;    // "MOTE"
inline constexpr uint64_t kWindowBytes = 0x200;      // registers 0x000..0x0ff, config 0x100..
using Reg = MmioReg;  // abi/virtio.h (through queue.h)

// The first way the guest broke a device rule, shared by all devices of a
// VM (any thread may report; the first reason wins). `on_fault` runs once,
// outside every device lock: the machine uses it to kick the vCPU out of
// KVM_RUN when the report came from a device thread.
class GuestFault {
 public:
  void report(std::string reason);
  std::optional<std::string> reason() const;
  void set_on_fault(std::function<void()> f) { on_fault_ = std::move(f); }

 private:
  mutable std::mutex m_;
  std::optional<std::string> reason_;
  std::function<void()> on_fault_;
};

class Transport;

// A device model. Called with the transport's lock held.
class Device {
 public:
  virtual ~Device() = default;
  virtual uint32_t device_id() const = 0;
  // Feature bits offered besides VERSION_1 (which the transport adds).
  virtual uint64_t features() const = 0;
  virtual uint16_t queue_count() const = 0;
  virtual uint16_t queue_max() const = 0;
  virtual std::span<const uint8_t> config() const = 0;
  // The driver notified queue `q` (ready, status DRIVER_OK). A broken rule
  // is reported through t.fault().
  virtual void notify(Transport& t, uint16_t q) = 0;
  // The driver's features were accepted (status FEATURES_OK).
  virtual void features_ok(uint64_t /*driver_features*/) {}
  // Status went to 0: the driver reset the device (the queues are gone).
  virtual void reset() {}
};

class Transport {
 public:
  // `name` is for messages ("virtio-net"); `fault` outlives the transport.
  Transport(const GuestMemory& mem, std::unique_ptr<Device> device, std::string name,
            GuestFault& fault);

  // One guest access at byte `offset` of the window, `data` its bytes (a
  // write's value, or where a read's value goes). Locks.
  void access(uint64_t offset, bool write, std::span<uint8_t> data);

  // The interrupt line, raised (true) while InterruptStatus is not zero.
  // Unset: the device never interrupts (the driver polls).
  void set_irq(std::function<void(bool)> line) { irq_ = std::move(line); }

  // For the device model, with the lock held.
  Queue* queue(uint16_t q);                // null unless ready and DRIVER_OK
  void used_buffers(uint16_t q);           // interrupt for queue q unless suppressed
  void fault(std::string reason);          // stop the guest
  bool driver_ok() const { return status_ & kStatusDriverOk; }
  const std::string& name() const { return name_; }
  uint64_t driver_features() const { return driver_features_; }

  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(m_); }
  Device& device() { return *device_; }

 private:
  struct QueueState {
    QueueLayout layout;
    std::optional<Queue> live;  // made when QueueReady is written 1 with a good layout
  };
  uint32_t read_reg(Reg r);
  void write_reg(Reg r, uint32_t v);
  void reset();
  void set_isr(uint32_t isr);

  const GuestMemory& mem_;
  std::unique_ptr<Device> device_;
  std::string name_;
  GuestFault& fault_;
  std::function<void(bool)> irq_;
  std::mutex m_;

  uint32_t status_ = 0;
  uint32_t isr_ = 0;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t queue_sel_ = 0;
  std::vector<QueueState> queues_;
};

// The transports of a VM at their guest-physical windows.
class MmioBus {
 public:
  void add(uint64_t base, Transport* t) { slots_.push_back({base, t}); }
  // Handles an MMIO exit in a transport's window (nullopt: in none). A
  // fault the access caused stops the VM.
  std::optional<Action> handle(const MmioAccess& a, GuestFault& fault);
  bool empty() const { return slots_.empty(); }

 private:
  struct Slot {
    uint64_t base;
    Transport* t;
  };
  std::vector<Slot> slots_;
};

}  // namespace mote::vm::virtio
