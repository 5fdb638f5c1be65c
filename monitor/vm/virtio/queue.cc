#include "monitor/vm/virtio/queue.h"

#include <cstring>

#include "monitor/vm/hex.h"

namespace mote::vm::virtio {

namespace {

// Bytes of each part for `size` entries (2.6: desc 16n, avail 6 + 2n with
// used_event, used 6 + 8n with avail_event).
uint64_t desc_bytes(uint16_t n) { return 16ull * n; }
uint64_t avail_bytes(uint16_t n) { return 6 + 2ull * n; }
uint64_t used_bytes(uint16_t n) { return 6 + 8ull * n; }

// A 16-bit ring field the other side writes concurrently: one atomic load
// (the address was checked and is 2-aligned in host memory too, since guest
// RAM is one page-aligned mapping).
uint16_t load16(const GuestMemory& mem, uint64_t gpa) {
  auto b = mem.at(gpa, 2);
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(b->data()), __ATOMIC_ACQUIRE);
}

void store16(const GuestMemory& mem, uint64_t gpa, uint16_t v) {
  auto b = mem.at(gpa, 2);
  __atomic_store_n(reinterpret_cast<uint16_t*>(b->data()), v, __ATOMIC_RELEASE);
}

}  // namespace

std::string QueueLayout::check(const GuestMemory& mem, uint16_t max) const {
  if (size == 0 || size > max || (size & (size - 1)))
    return "queue size " + std::to_string(size) + " (must be a power of 2 from 1 to " +
           std::to_string(max) + ")";
  struct Part {
    const char* name;
    uint64_t gpa, bytes, align;
  } parts[] = {{"descriptor table", desc, desc_bytes(size), 16},
               {"available ring", avail, avail_bytes(size), 2},
               {"used ring", used, used_bytes(size), 4}};
  for (const Part& p : parts) {
    if (p.gpa % p.align) return std::string(p.name) + " at " + hex(p.gpa) + " is not " +
                                std::to_string(p.align) + "-byte aligned";
    if (!mem.at(p.gpa, p.bytes))
      return std::string(p.name) + " [" + hex(p.gpa) + ", +" + std::to_string(p.bytes) +
             ") is outside guest RAM [0, " + hex(mem.size()) + ")";
  }
  return {};
}

size_t Chain::read(std::span<uint8_t> out, uint64_t from) const {
  size_t done = 0;
  for (const Buffer& b : buffers) {
    if (b.device_writes || done == out.size()) break;
    if (from >= b.bytes.size()) {
      from -= b.bytes.size();
      continue;
    }
    size_t n = std::min(out.size() - done, size_t(b.bytes.size() - from));
    std::memcpy(out.data() + done, b.bytes.data() + from, n);
    done += n;
    from = 0;
  }
  return done;
}

size_t Chain::write(std::span<const uint8_t> in, uint64_t from) const {
  size_t done = 0;
  for (const Buffer& b : buffers) {
    if (!b.device_writes) continue;
    if (done == in.size()) break;
    if (from >= b.bytes.size()) {
      from -= b.bytes.size();
      continue;
    }
    size_t n = std::min(in.size() - done, size_t(b.bytes.size() - from));
    std::memcpy(b.bytes.data() + from, in.data() + done, n);
    done += n;
    from = 0;
  }
  return done;
}

bool Queue::has_available() const {
  return !broken_ && load16(*mem_, l_.avail + 2) != last_avail_;
}

bool Queue::interrupt_suppressed() const {
  return load16(*mem_, l_.avail) & kAvailNoInterrupt;
}

std::optional<Chain> Queue::pop(std::string* fault) {
  if (broken_) return std::nullopt;
  auto broken = [&](std::string why) -> std::optional<Chain> {
    broken_ = true;
    *fault = std::move(why);
    return std::nullopt;
  };
  const uint16_t n = l_.size;
  uint16_t avail_idx = load16(*mem_, l_.avail + 2);  // acquire: the entries before it are written
  uint16_t pending = uint16_t(avail_idx - last_avail_);
  if (pending == 0) return std::nullopt;
  if (pending > n)
    return broken("available index " + std::to_string(avail_idx) + " is " +
                  std::to_string(pending) + " entries ahead of the device, more than the queue's " +
                  std::to_string(n));
  Chain c;
  c.head = load16(*mem_, l_.avail + 4 + 2ull * (last_avail_ % n));
  if (c.head >= n)
    return broken("available ring entry " + std::to_string(last_avail_ % n) + " names descriptor " +
                  std::to_string(c.head) + " of a table of " + std::to_string(n));
  // The chain: from the head in the ring's table, or (a head marked
  // INDIRECT) from entry 0 of the table it points to.
  uint64_t table = l_.desc;
  uint32_t entries = n;
  bool in_table = false;
  auto where = [&](uint16_t at) {
    return (in_table ? "indirect table entry " : "descriptor ") + std::to_string(at);
  };
  uint16_t i = c.head;
  for (uint32_t count = 0;; ++count) {
    if (count == entries)
      return broken(in_table ? "indirect table of descriptor " + std::to_string(c.head) +
                                   " chains in a loop (more than its " + std::to_string(entries) +
                                   " entries)"
                             : "descriptor chain from " + std::to_string(c.head) +
                                   " is longer than the queue (" + std::to_string(n) + "): a loop");
    Desc d = *mem_->read<Desc>(table + 16ull * i);  // once: the guest may change it
    if (d.flags & kDescIndirect) {
      if (!indirect_) return broken(where(i) + " is indirect (not negotiated)");
      if (in_table) return broken("indirect table entry " + std::to_string(i) + " is indirect too");
      if (count != 0) return broken("descriptor " + std::to_string(i) + " is indirect but not the chain's head");
      if (d.flags & kDescNext) return broken("descriptor " + std::to_string(i) + " is indirect and chained");
      if (d.len == 0 || d.len % 16 || d.len / 16 > kMaxIndirect)
        return broken("descriptor " + std::to_string(i) + " points to an indirect table of " +
                      std::to_string(d.len) + " bytes (a multiple of 16, at most " +
                      std::to_string(kMaxIndirect) + " entries)");
      if (!mem_->at(d.addr, d.len))
        return broken("descriptor " + std::to_string(i) + " indirect table [" + hex(d.addr) + ", +" +
                      std::to_string(d.len) + ") is outside guest RAM [0, " + hex(mem_->size()) + ")");
      table = d.addr;
      entries = d.len / 16;
      in_table = true;
      i = 0;
      count = uint32_t(-1);  // the table's chain starts now
      continue;
    }
    bool writes = d.flags & kDescWrite;
    if (!writes && c.writable)
      return broken(where(i) + " is device-readable after a device-writable one");
    auto bytes = mem_->at(d.addr, d.len);
    if (!bytes)
      return broken(where(i) + " buffer [" + hex(d.addr) + ", +" +
                    std::to_string(d.len) + ") is outside guest RAM [0, " + hex(mem_->size()) + ")");
    (writes ? c.writable : c.readable) += d.len;
    if (c.readable + c.writable > 0xffffffffull)
      return broken("descriptor chain from " + std::to_string(c.head) + " holds more than 4 GiB");
    if (d.len) c.buffers.push_back(Buffer{*bytes, writes});
    if (!(d.flags & kDescNext)) break;
    if (d.next >= entries)
      return broken(where(i) + " chains to " + std::to_string(d.next) +
                    " of a table of " + std::to_string(entries));
    i = d.next;
  }
  ++last_avail_;
  return c;
}

void Queue::push(const Chain& chain, uint32_t written, bool publish_now) {
  const uint16_t n = l_.size;
  struct {
    uint32_t id, len;
  } elem{chain.head, written};
  mem_->write(l_.used + 4 + 8ull * (used_idx_ % n), elem);
  ++used_idx_;
  if (publish_now) publish();
}

void Queue::publish() {
  store16(*mem_, l_.used + 2, used_idx_);  // release: the elements before the index
}

}  // namespace mote::vm::virtio
