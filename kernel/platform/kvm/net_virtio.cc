// The VM platforms' network device: a virtio-net device (virtio 1.1 5.1
// "Network Device") over virtio-mmio, driven through two split virtqueues
// (virtqueue.h): receiveq1 (0) kept full of one-page buffers the device
// fills, transmitq1 (1) with one-page buffers reclaimed as the device
// returns them. Features: VERSION_1, MAC and MTU when offered, and the
// checksum offloads CSUM (the device completes a checksum the stack left
// partial: NEEDS_CSUM with csum_start/csum_offset in the header) and
// GUEST_CSUM (received frames may say DATA_VALID, or NEEDS_CSUM when the
// host's own stack left the sum for us: net_receive's csum_ok either way).
// A device offers them only where its backend really does them (mote's
// monitor and QEMU: a tap with virtio-net headers). Transmit segmentation
// offload (HOST_TSO4, with CSUM and INDIRECT_DESC): the stack hands over
// TCP segments of up to 64 KiB (gso_size: the MSS) for the device to cut;
// each goes in one of kBigSlots buffers of kBigPages pages, described by an
// indirect table (one ring entry, however many pages), while frames up to
// the MTU keep their one-page buffers. Receive segmentation (GUEST_TSO4,
// taken only with MRG_RXBUF and GUEST_CSUM): the host's stack may hand over
// a TCP segment of up to 64 KiB uncut; the device spreads it over as many
// one-page receive buffers as it needs (num_buffers in the first one's
// header, 5.1.6.4) and net_receive joins them. 5.1.6: each frame starts with
// the 12-byte struct virtio_net_hdr (num_buffers included in 1.x).
//
// Notification: the receive queue asks for used-buffer interrupts (the
// transmit queue does not: its buffers are reclaimed on the next send). The
// transport's line (virtio_mmio.h device_gsi) is routed through the I/O
// APIC (ioapic.h) to the CPU that set the device up (the boot CPU, at
// boot), level-triggered, active high, as QEMU's virtio-mmio raises it. The
// handler reads InterruptStatus and writes it back to InterruptACK (virtio
// 1.1 4.2.2), which lowers the line before the EOI, then tells the core
// (core::on_net_ready), which drains the ring now or, when its lock is
// busy, from its timer a millisecond later. Without a known line the frames
// wait in the ring until the core calls net_receive.
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/clock.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/ioapic.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/net_virtio.h"
#include "kernel/platform/kvm/profile.h"
#include "kernel/platform/kvm/traps.h"
#include "kernel/platform/kvm/virtqueue.h"
#include "kernel/platform/kvm/vm.h"
#include "kernel/platform/platform.h"

namespace mote::core {
// Until the core's socket layer defines it.
[[gnu::weak]] void on_net_ready() {}
}  // namespace mote::core

namespace mote::kvm {

namespace {

constexpr u64 kFeatureMtu = abi::virtio::kNetFeatureMtu;
constexpr u64 kFeatureMac = abi::virtio::kNetFeatureMac;
constexpr u64 kFeatureCsum = abi::virtio::kNetFeatureCsum;
constexpr u64 kFeatureGuestCsum = abi::virtio::kNetFeatureGuestCsum;
constexpr u64 kFeatureHostTso4 = abi::virtio::kNetFeatureHostTso4;
constexpr u64 kFeatureIndirect = abi::virtio::kFeatureIndirectDesc;
constexpr u64 kFeatureGuestTso4 = abi::virtio::kNetFeatureGuestTso4;
constexpr u64 kFeatureMrgRxbuf = abi::virtio::kNetFeatureMrgRxbuf;
// Uncut segments in: what net_receive needs to take them.
constexpr u64 kRxGso = kFeatureGuestTso4 | kFeatureMrgRxbuf | kFeatureGuestCsum;
constexpr u32 kHeader = 12;             // struct virtio_net_hdr
static_assert(sizeof(abi::virtio::NetHeader) == kHeader);
constexpr u32 kQueueWant = 128;  // Virtqueue::kMaxSize
// How long a send waits for the device to free a transmit buffer before the
// frame is dropped: a burst (a reply to each of 50 clients, and ACKs) can
// fill the ring while QEMU's transmit bottom half is still to run, and a
// dropped segment costs TCP a retransmission timeout (200 ms at least).
constexpr u64 kTxWaitNs = 2000000;
constexpr u32 kMaxFrame = 1514;         // without FCS, no VLAN tag
constexpr u32 kMaxTsoFrame = 14 + 65535;  // an IPv4 packet of the largest size
// Transmit buffers for segments larger than the MTU: the header and the
// largest frame, page by page.
constexpr u32 kBigSlots = 4;
constexpr u32 kBigPages = (kHeader + kMaxTsoFrame + kPageSize - 1) / kPageSize;
static_assert(kBigSlots * kBigPages * sizeof(abi::virtio::Desc) <= kPageSize);

}  // namespace

struct NetDevice {
  virtio::Device dev;
  virtio::Virtqueue rx, tx;
  u64 rx_buf[kQueueWant];  // physical frames
  u64 tx_buf[kQueueWant];
  u16 tx_free[kQueueWant];
  u32 ntx_free;
  // With TSO: transmit ids from `small` on are the big buffers, their
  // indirect tables side by side in the frame `big_tables`.
  bool tso;
  u32 small;
  u64 big_buf[kBigSlots][kBigPages];
  u64 big_tables;
  u16 big_free[kBigSlots];
  u32 nbig_free;
  // With MRG_RXBUF: rx_skip buffers are still to come of a frame that
  // could not be taken whole.
  u32 rx_skip;
  u8 mac[6];
  u16 mtu;
  volatile u32 lock;
  u32 gsi;                   // virtio::kNoGsi: no interrupt, polled only
  volatile u32 interrupts;   // handled so far (self-test)
};
static_assert(sizeof(NetDevice) <= kPageSize);

namespace {


NetDevice* g_net;
bool g_probed;
volatile u32 g_probe_lock;

void lock(volatile u32* l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(l, __ATOMIC_RELAXED)) asm volatile("pause");
}
void unlock(volatile u32* l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

// 4.2.2 InterruptStatus bit 0: "Used Buffer Notification".
constexpr u32 kInterruptUsedBuffer = 1;

// The device's interrupt (traps.cc calls it before the EOI).
void on_interrupt(void* arg) {
  auto* d = static_cast<NetDevice*>(arg);
  u32 status = d->dev.ack_interrupt();  // lowers the level-triggered line
  __atomic_add_fetch(&d->interrupts, 1, __ATOMIC_RELAXED);
  if (status & kInterruptUsedBuffer) core::on_net_ready();
}

// Routes the device's line to this CPU; false when its GSI is unknown or
// no vector or I/O APIC pin is free (the device is then polled only).
bool route_interrupt(NetDevice* d, u64 base) {
  d->gsi = virtio::device_gsi(base);
  if (d->gsi == virtio::kNoGsi) return false;
  u8 vector = device_vector_alloc(on_interrupt, d);
  if (vector && ioapic_route(d->gsi, vector, lapic_id(), Trigger::Level, Polarity::ActiveHigh))
    return true;
  d->gsi = virtio::kNoGsi;
  return false;
}

NetDevice* setup(u64 base) {
  u64 frame = frame_alloc();
  if (!frame) return nullptr;
  auto* d = static_cast<NetDevice*>(phys_to_virt(frame));
  if (!d->dev.negotiate(base,
                        kFeatureMac | kFeatureMtu | kFeatureCsum | kFeatureGuestCsum |
                            kFeatureHostTso4 | kFeatureIndirect | kFeatureGuestTso4 | kFeatureMrgRxbuf,
                        kFeatureGuestTso4 | kFeatureMrgRxbuf)  // uncut segments need merging
           .ok())
    return nullptr;
  if (!d->rx.init(d->dev, 0, kQueueWant, true).ok() || !d->tx.init(d->dev, 1, kQueueWant, false).ok())
    return nullptr;
  if (d->dev.features() & kFeatureMac) d->dev.read_config(0, d->mac, 6);
  d->mtu = 1500;
  if (d->dev.features() & kFeatureMtu) {
    u16 mtu = 0;
    d->dev.read_config(10, &mtu, 2);
    if (mtu >= 68 && mtu < d->mtu) d->mtu = mtu;
  }
  for (u32 i = 0; i < d->rx.size(); ++i)
    if (!(d->rx_buf[i] = frame_alloc())) return nullptr;
  const u64 tso = kFeatureCsum | kFeatureHostTso4 | kFeatureIndirect;
  d->tso = (d->dev.features() & tso) == tso && d->tx.size() > 2 * kBigSlots;
  if (d->tso && !(d->big_tables = frame_alloc())) d->tso = false;
  for (u32 k = 0; d->tso && k < kBigSlots; ++k)
    for (u32 p = 0; p < kBigPages; ++p)
      if (!(d->big_buf[k][p] = frame_alloc())) d->tso = false;  // a small VM: no TSO
  d->small = d->tso ? d->tx.size() - kBigSlots : d->tx.size();
  for (u32 i = 0; i < d->small; ++i) {
    if (!(d->tx_buf[i] = frame_alloc())) return nullptr;
    d->tx_free[d->ntx_free++] = u16(i);
  }
  for (u32 k = 0; d->tso && k < kBigSlots; ++k) d->big_free[d->nbig_free++] = u16(d->small + k);
  if (!d->dev.driver_ok().ok()) return nullptr;
  // 5.1.6.3: the receive ring full before the device needs it.
  for (u32 i = 0; i < d->rx.size(); ++i) d->rx.post(u16(i), d->rx_buf[i], kPageSize, true);
  d->rx.notify();
  if (!route_interrupt(d, base))
    kprintf("mote kernel: virtio-net at %#lx: no interrupt line, polled only\n", (unsigned long)base);
  return d;
}

}  // namespace

NetDevice* net_device() {
  if (__atomic_load_n(&g_probed, __ATOMIC_ACQUIRE)) return g_net;
  lock(&g_probe_lock);
  if (!g_probed) {
    u64 bases[32];
    usize n = virtio::device_bases(bases, 32);
    for (usize i = 0; i < n && !g_net; ++i) {
      // Only net devices: another kind is not ours to reset.
      if (*static_cast<volatile u32*>(phys_to_virt(bases[i] + u32(virtio::Reg::DeviceId))) !=
          virtio::kDeviceNet)
        continue;
      g_net = setup(bases[i]);
      if (!g_net) kprintf("mote kernel: virtio-net at %#lx: setup failed\n", (unsigned long)bases[i]);
    }
    __atomic_store_n(&g_probed, true, __ATOMIC_RELEASE);
  }
  unlock(&g_probe_lock);
  return g_net;
}

u32 net_device_interrupts() {
  NetDevice* d = net_device();
  return d ? __atomic_load_n(&d->interrupts, __ATOMIC_RELAXED) : 0;
}

bool net_device_has_interrupt() {
  NetDevice* d = net_device();
  return d && d->gsi != virtio::kNoGsi;
}

bool net_device_mac(u8 out[6]) {
  NetDevice* d = net_device();
  if (!d) return false;
  memcpy(out, d->mac, 6);
  return true;
}

}  // namespace mote::kvm

namespace mote::platform {

using kvm::NetDevice;

u32 net_offloads() {
  NetDevice* d = kvm::net_device();
  if (!d) return 0;
  u32 f = (d->dev.features() & kvm::kRxGso) == kvm::kRxGso ? kNetRxGso : 0;
  if (d->dev.features() & kvm::kFeatureCsum) f |= kNetTxCsum | (d->tso ? kNetTso4 : 0);
  return f;
}

bool net_send(const void* frame, usize len, const NetTxOffload* off) {
  NetDevice* d = kvm::net_device();
  if (!d || len == 0) return false;
  const bool gso = off && off->gso_size && d->tso;
  const bool big = len > kvm::kMaxFrame;
  if (big && (!gso || len > kvm::kMaxTsoFrame)) return false;
  const u32& free_slots = big ? d->nbig_free : d->ntx_free;  // of the buffers this frame takes
  kvm::lock(&d->lock);
  // Reclaim what the device has sent. A full ring is drained by the device
  // (it was notified, or said it needs no notification because it is at
  // it): wait a little for a buffer.
  u16 id;
  u32 used;
  kvm::Profile* prof = kvm::g_profile;
  const u64 t0 = prof ? kvm::rdtsc() : 0;
  for (u64 until = 0;;) {
    while (d->tx.take(&id, &used)) {
      if (id < d->small) d->tx_free[d->ntx_free++] = id;
      else d->big_free[d->nbig_free++] = id;
    }
    if (free_slots) break;
    u64 now = kvm::clock_monotonic_ns();
    if (!until) until = now + kvm::kTxWaitNs;
    else if (now >= until) break;
    asm volatile("pause");
  }
  if (prof) {
    ++prof->tx_frames;
    if (u64 waited = kvm::rdtsc() - t0; waited > 2000) prof->tx_waits++, prof->tx_wait_tsc += waited;
  }
  if (!free_slots) {
    kvm::unlock(&d->lock);
    return false;  // still full: dropped, as a NIC would
  }
  abi::virtio::NetHeader h{};
  if (off && off->csum_offset && (d->dev.features() & kvm::kFeatureCsum)) {
    h.flags = abi::virtio::kNetHdrNeedsCsum;
    h.csum_start = off->csum_start;
    h.csum_offset = off->csum_offset;
  }
  if (gso) {
    h.gso_type = abi::virtio::kNetGsoTcpv4;
    h.gso_size = off->gso_size;
    h.hdr_len = off->hdr_len;
  }
  const u64 t1 = prof ? kvm::rdtsc() : 0;
  if (!big) {
    id = d->tx_free[--d->ntx_free];
    u8* buf = static_cast<u8*>(kvm::phys_to_virt(d->tx_buf[id]));
    memcpy(buf, &h, kvm::kHeader);
    memcpy(buf + kvm::kHeader, frame, len);
    d->tx.post(id, d->tx_buf[id], u32(kvm::kHeader + len), false);
  } else {
    // The header and the frame page by page, one descriptor each, in the
    // slot's indirect table.
    id = d->big_free[--d->nbig_free];
    const u32 k = id - d->small;
    auto* table = static_cast<abi::virtio::Desc*>(kvm::phys_to_virt(d->big_tables)) +
                  k * kvm::kBigPages;
    const u8* src = static_cast<const u8*>(frame);
    usize left = kvm::kHeader + len;
    u32 n = 0;
    for (; left; ++n) {
      u8* page = static_cast<u8*>(kvm::phys_to_virt(d->big_buf[k][n]));
      usize chunk = min<usize>(left, kPageSize), from = 0;
      if (n == 0) {
        memcpy(page, &h, kvm::kHeader);
        from = kvm::kHeader;
      }
      memcpy(page + from, src, chunk - from);
      src += chunk - from;
      left -= chunk;
      table[n] = abi::virtio::Desc{d->big_buf[k][n], u32(chunk),
                                   u16(left ? abi::virtio::kDescNext : 0), u16(left ? n + 1 : 0)};
    }
    d->tx.post_indirect(id, d->big_tables + k * kvm::kBigPages * sizeof(abi::virtio::Desc), n);
  }
  const u64 t2 = prof ? kvm::rdtsc() : 0;
  d->tx.notify();
  if (prof) prof->tx_copy_tsc += t2 - t1, prof->tx_notify_tsc += kvm::rdtsc() - t2;
  kvm::unlock(&d->lock);
  return true;
}

usize net_receive(void* out, usize cap, bool* csum_ok) {
  if (csum_ok) *csum_ok = false;
  NetDevice* d = kvm::net_device();
  if (!d) return 0;
  kvm::lock(&d->lock);
  usize n = 0;
  u16 id;
  u32 len;
  auto* dst = static_cast<u8*>(out);
  const bool merge = d->dev.features() & kvm::kFeatureMrgRxbuf;
  const bool gso = (d->dev.features() & kvm::kRxGso) == kvm::kRxGso;
  while (d->rx.take(&id, &len)) {
    const u8* buf = static_cast<const u8*>(kvm::phys_to_virt(d->rx_buf[id]));
    if (d->rx_skip) {  // the rest of a frame dropped before
      --d->rx_skip;
      d->rx.post(id, d->rx_buf[id], kPageSize, true);
      continue;
    }
    abi::virtio::NetHeader h{};
    bool ok = len > kvm::kHeader && len <= kPageSize;
    if (ok) memcpy(&h, buf, kvm::kHeader);
    // 5.1.6.4: without MRG_RXBUF, num_buffers is 1; a frame the stack was
    // not promised (an uncut segment without GUEST_TSO4) is dropped.
    u32 more = ok && merge && h.num_buffers > 1 ? h.num_buffers - 1u : 0;
    ok = ok && (h.gso_type == abi::virtio::kNetGsoNone ||
                (h.gso_type == abi::virtio::kNetGsoTcpv4 && gso));
    ok = ok && len - kvm::kHeader <= cap;  // larger than the stack's buffer: dropped
    n = ok ? len - kvm::kHeader : 0;
    if (n) memcpy(dst, buf + kvm::kHeader, n);
    d->rx.post(id, d->rx_buf[id], kPageSize, true);  // back into the ring
    // A merged frame's other buffers: published with the first (QEMU fills
    // them all, then moves the used index once); any not there yet are
    // dropped as they come.
    for (; more; --more) {
      if (!d->rx.take(&id, &len)) {
        d->rx_skip = more;
        ok = false;
        break;
      }
      const u8* part = static_cast<const u8*>(kvm::phys_to_virt(d->rx_buf[id]));
      if (ok && len <= kPageSize && n + len <= cap) {
        memcpy(dst + n, part, len);
        n += len;
      } else {
        ok = false;  // larger than the stack's buffer: dropped
      }
      d->rx.post(id, d->rx_buf[id], kPageSize, true);
    }
    if (!ok || !n) {
      n = 0;
      continue;
    }
    // 5.1.6.4.1: the flags mean something only with GUEST_CSUM.
    if (csum_ok && (d->dev.features() & kvm::kFeatureGuestCsum))
      *csum_ok = h.flags & (abi::virtio::kNetHdrNeedsCsum | abi::virtio::kNetHdrDataValid);
    break;
  }
  d->rx.notify();
  kvm::unlock(&d->lock);
  return n;
}

}  // namespace mote::platform
