// libFuzzer target: the KVM monitor's virtio devices (monitor/vm/virtio:
// the virtio-mmio transport, the split virtqueue, virtio-net and virtio-9p)
// against a hostile driver that chooses every register access, every byte
// of guest RAM (rings and descriptors included) and when frames and 9P
// replies arrive from the host side. Input:
//   [script length u16][script][guest RAM from GPA 0 (kRam bytes, zero past the input)]
// The script is a sequence of operations (op byte, then its arguments; see
// run()). It ends early when a device reports a guest fault: the monitor
// stops the VM there.
// Guest RAM sits between two PROT_NONE guard pages, so a host access past it
// faults. Beyond "no crash", after every operation:
//   - each interrupt line is up exactly while its InterruptStatus is not 0;
//   - every chain a device took from a live queue is back in the used ring
//     (no buffer is kept or lost, whatever the driver did);
//   - every frame the backend gets is at most the largest Ethernet frame.
// VIRTQUEUE_FUZZ_TRACE=1 prints what an input did (frames, 9P status, fault).
// (What the device writes into used rings cannot be checked from RAM: the
// driver may point buffers at its own rings.)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "abi/p9.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/virtio/mmio.h"
#include "monitor/vm/virtio/net.h"
#include "monitor/vm/virtio/p9.h"

using namespace mote;
using namespace mote::vm;
using namespace mote::vm::virtio;

namespace {

#define NOT_FUZZED __attribute__((no_sanitize("coverage")))

constexpr uint64_t kRam = 64 * 1024;
constexpr size_t kMaxScriptFrame = 2000;
constexpr uint8_t kMac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};

uint8_t* g_ram;

const GuestMemory& memory() {
  static GuestMemory* mem = [] {
    // Guard pages on both sides (as hypercall_fuzz.cc).
    auto* hole = static_cast<uint8_t*>(
        mmap(nullptr, kRam + 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (hole == MAP_FAILED || munmap(hole + 4096, kRam) != 0) abort();
    auto m = GuestMemory::create(kRam);
    if (!m.ok()) abort();
    g_ram = static_cast<uint8_t*>(m->host_mapping());
    return new GuestMemory(std::move(*m));
  }();
  return *mem;
}

struct Reader {
  const uint8_t* p;
  size_t n;
  uint64_t take(size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= uint64_t(i < n ? p[i] : 0) << (8 * i);
    size_t used = bytes < n ? bytes : n;
    p += used;
    n -= used;
    return v;
  }
  bool done() const { return n == 0; }
};

struct Line {
  bool level = false;
};

struct Dev {
  std::unique_ptr<Transport> t;
  Line line;
};

NOT_FUZZED uint32_t reg(Transport& t, Reg r) {
  uint8_t b[4];
  t.access(uint32_t(r), false, b);
  uint32_t v;
  memcpy(&v, b, 4);
  return v;
}

NOT_FUZZED void set_reg(Transport& t, Reg r, uint32_t v) {
  uint8_t b[4];
  memcpy(b, &v, 4);
  t.access(uint32_t(r), true, b);
}

// The checks listed at the top, for one device.
NOT_FUZZED void check(Dev& d) {
  uint32_t isr = reg(*d.t, Reg::InterruptStatus);
  if (d.line.level != (isr != 0)) abort();
  auto lock = d.t->lock();
  for (uint16_t q = 0; q < d.t->device().queue_count(); ++q) {
    Queue* queue = d.t->queue(q);
    if (queue && queue->taken() != queue->returned()) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const GuestMemory& mem = memory();
  Reader in{data, size};
  size_t script_len = size_t(in.take(2)) % 1024;
  if (script_len > in.n) script_len = in.n;
  Reader script{in.p, script_len};
  memset(g_ram, 0, kRam);
  memcpy(g_ram, in.p + script_len, std::min<size_t>(in.n - script_len, kRam));

  int net_fds[2], p9_fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, net_fds) != 0) abort();
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p9_fds) != 0) abort();
  // The device's end never blocks: a request without a queued reply gets
  // the device's own Rlerror, which the script cannot wait for otherwise.
  fcntl(p9_fds[0], F_SETFL, O_NONBLOCK);
  GuestFault fault;
  Dev devs[2];
  // Odd-sized inputs: the backend is a tap with virtio-net headers, so the
  // driver's and the backend's headers are both checked (checksum offload).
  const bool vnet = size & 1;
  devs[0].t = std::make_unique<Transport>(
      mem, std::make_unique<NetDevice>(net_fds[0], kMac, 1500, vnet), "virtio-net", fault);
  devs[1].t = std::make_unique<Transport>(mem, std::make_unique<NinePDevice>("mote0", p9_fds[0]),
                                          "virtio-9p", fault);
  for (Dev& d : devs) d.t->set_irq([&d](bool up) { d.line.level = up; });
  auto* net = static_cast<NetDevice*>(&devs[0].t->device());
  std::vector<uint8_t> buf(70000);

  while (!script.done() && !fault.reason()) {
    uint8_t op = uint8_t(script.take(1));
    Dev& d = devs[op >> 7];
    Transport& t = *d.t;
    switch (op & 7) {
      case 0: {  // register or configuration access, any width
        uint64_t off = script.take(2) % kWindowBytes;
        static const size_t widths[4] = {1, 2, 4, 8};
        size_t w = widths[script.take(1) & 3];
        if (off + w > kWindowBytes) off = kWindowBytes - w;
        uint8_t b[8];
        uint64_t v = script.take(8);
        memcpy(b, &v, 8);
        bool write = op & 8;
        t.access(off, write, std::span<uint8_t>(b, w));
        break;
      }
      case 1: {  // the driver's bring-up, with the script's layout for each queue
        set_reg(t, Reg::Status, 0);
        set_reg(t, Reg::Status, kStatusAcknowledge | kStatusDriver);
        // Indirect descriptor tables, when the script says so and the
        // device offers them (virtio-net).
        set_reg(t, Reg::DriverFeaturesSel, 0);
        set_reg(t, Reg::DriverFeatures,
                uint32_t(script.take(1) & 1 ? t.device().features() & kFeatureIndirectDesc : 0));
        set_reg(t, Reg::DriverFeaturesSel, 1);
        set_reg(t, Reg::DriverFeatures, 1);
        set_reg(t, Reg::Status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
        for (uint16_t q = 0; q < t.device().queue_count() && !fault.reason(); ++q) {
          set_reg(t, Reg::QueueSel, q);
          set_reg(t, Reg::QueueNum, uint32_t(1) << (script.take(1) % 9));
          set_reg(t, Reg::QueueDescLow, uint32_t(script.take(2)) * 16);
          set_reg(t, Reg::QueueDriverLow, uint32_t(script.take(2)) * 2);
          set_reg(t, Reg::QueueDeviceLow, uint32_t(script.take(2)) * 4);
          set_reg(t, Reg::QueueReady, 1);
        }
        set_reg(t, Reg::Status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
        break;
      }
      case 2:  // notification
        set_reg(t, Reg::QueueNotify, uint32_t(script.take(1) & 3));
        break;
      case 3: {  // a frame from the backend
        size_t len = size_t(script.take(2)) % kMaxScriptFrame + 1;
        for (size_t i = 0; i < len; ++i) buf[i] = uint8_t(i * 13 + len);
        if (send(net_fds[1], buf.data(), len, 0) < 0) {
          // the socket is full: the frame is not sent
        }
        break;
      }
      case 4: {  // the receive thread's turn
        auto lock = devs[0].t->lock();
        net->receive(*devs[0].t, unsigned(script.take(1) % 8) + 1);
        break;
      }
      case 5: {  // a 9P reply the server has ready for the next request
        size_t len = size_t(script.take(2)) % 300;
        for (size_t i = 0; i < len; ++i) buf[i] = uint8_t(script.take(1));
        if (len >= 4) {
          uint32_t n = uint32_t(len);
          memcpy(buf.data(), &n, 4);
        }
        if (send(p9_fds[1], buf.data(), len, MSG_DONTWAIT) < 0) {
          // full or empty: nothing queued
        }
        break;
      }
      case 6: {  // the driver writes RAM (rings, descriptors) between accesses
        uint64_t at = script.take(2) % (kRam - 8);
        uint64_t v = script.take(8);
        memcpy(g_ram + at, &v, 8);
        break;
      }
      case 7:  // interrupt acknowledgement
        set_reg(t, Reg::InterruptAck, reg(t, Reg::InterruptStatus));
        break;
    }
    if (fault.reason()) break;
    check(devs[0]);
    check(devs[1]);
    // What reached the backend: whole frames, never more than one can be.
    ssize_t got;
    while ((got = recv(net_fds[1], buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC)) >= 0)
      if (size_t(got) > 65535 + 18) abort();
    // Requests the 9P device forwarded are drained (the server's side).
    while (recv(p9_fds[1], buf.data(), buf.size(), MSG_DONTWAIT) >= 0) {
    }
  }
  if (getenv("VIRTQUEUE_FUZZ_TRACE")) {
    NetStats st = net->stats();
    fprintf(stderr, "net: sent %llu received %llu dropped %llu; 9p status %#x; fault: %s\n",
            (unsigned long long)st.sent, (unsigned long long)st.received,
            (unsigned long long)st.dropped, reg(*devs[1].t, Reg::Status),
            fault.reason().value_or("none").c_str());
  }
  devs[0].t.reset();
  devs[1].t.reset();
  for (int fd : {net_fds[0], net_fds[1], p9_fds[0], p9_fds[1]}) close(fd);
  return 0;
}
