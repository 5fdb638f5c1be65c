// Host directory shares on the VM platforms: each share is one virtio-9p
// device (virtio 1.1 5.3 "9P Transport"); share k is the device whose mount
// tag is "mote<k>" (monitor/qemu/launch.cc adds them). Each 9P message is one
// descriptor chain: the request (device-readable), then room for the reply
// (device-writable). The messages go through bounce buffers of whole frames,
// so the core's buffers (heap or stack, anywhere) need no physical address.
#include "abi/p9.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/memory.h"
#include "kernel/platform/kvm/virtio_mmio.h"
#include "kernel/platform/kvm/vm.h"
#include "kernel/platform/platform.h"

namespace mote::kvm {

namespace {

constexpr u32 kBufPages = p9::kMsize / kPageSize;  // each way
// The chain: at most one descriptor per page each way.
constexpr u32 kQueueWanted = 2 * kBufPages;
constexpr usize kMaxShareDevices = 64;

struct ShareDevice {
  virtio::Device dev;
  char tag[32];
  u64 req[kBufPages];   // frames (physical)
  u64 resp[kBufPages];
  bool ready;
};
ShareDevice* g_devs[kMaxShareDevices];
usize g_ndevs;
bool g_found;

bool alloc_frames(u64* out, u32 n) {
  for (u32 i = 0; i < n; ++i)
    if (!(out[i] = frame_alloc())) return false;
  return true;
}

// Resets and sets up every virtio-9p device once, reading its mount tag.
void find_devices() {
  if (g_found) return;
  g_found = true;
  u64 bases[1 + abi::kMaxShares];
  usize n = virtio::device_bases(bases, 1 + abi::kMaxShares);
  const bool verbose = g_vm.boot && (g_vm.boot->flags & abi::kBootVerbose);
  for (usize i = 0; i < n && g_ndevs < kMaxShareDevices; ++i) {
    // Only 9P devices: another kind is not ours to reset.
    if (*static_cast<volatile u32*>(phys_to_virt(bases[i] + u32(virtio::Reg::DeviceId))) !=
        virtio::kDevice9p)
      continue;
    static_assert(sizeof(ShareDevice) <= kPageSize);
    u64 frame = frame_alloc();
    if (!frame) return;
    auto* d = static_cast<ShareDevice*>(phys_to_virt(frame));
    auto r = d->dev.init(bases[i], virtio::kFeature9pMountTag, kQueueWanted);
    u32 version = *static_cast<volatile u32*>(phys_to_virt(bases[i] + u32(virtio::Reg::Version)));
    if (!r.ok()) {
      if (version == 1)
        kprintf("mote kernel: virtio-mmio device at %#lx is legacy (version 1): "
                "qemu needs -global virtio-mmio.force-legacy=false\n", (unsigned long)bases[i]);
      else if (verbose)
        kprintf("mote kernel: virtio-9p at %#lx: setup failed (%d)\n", (unsigned long)bases[i],
                r.error());
      continue;
    }
    if (!(d->dev.features() & virtio::kFeature9pMountTag)) continue;  // no tag: not a share
    // 5.3.4: struct virtio_9p_config { le16 tag_len; u8 tag[tag_len]; }
    u16 len = 0;
    d->dev.read_config(0, &len, 2);
    if (len == 0 || len >= sizeof d->tag) continue;
    d->dev.read_config(2, d->tag, len);
    d->tag[len] = 0;
    if (d->dev.queue_size() < 4 || !alloc_frames(d->req, kBufPages) ||
        !alloc_frames(d->resp, kBufPages))
      continue;
    d->ready = true;
    g_devs[g_ndevs++] = d;
    if (verbose)
      kprintf("mote kernel: virtio-9p \"%s\" at %#lx (queue %u)\n", d->tag,
              (unsigned long)bases[i], d->dev.queue_size());
  }
}

// Describes `len` bytes of the frames in `pages` (merging neighbours).
usize describe(const u64* pages, usize len, bool device_writes, virtio::Segment* out, usize cap) {
  usize n = 0;
  for (u32 p = 0; len > 0; ++p) {
    u32 chunk = u32(min<usize>(len, kPageSize));
    if (n && !device_writes == !out[n - 1].device_writes && out[n - 1].phys + out[n - 1].len == pages[p] &&
        out[n - 1].len % kPageSize == 0) {
      out[n - 1].len += chunk;
    } else {
      if (n == cap) return 0;
      out[n++] = virtio::Segment{pages[p], chunk, device_writes};
    }
    len -= chunk;
  }
  return n;
}

}  // namespace

}  // namespace mote::kvm

namespace mote::platform {

using namespace mote::kvm;

u32 share_channel(u32 share) {
  find_devices();
  char want[16];
  usize n = format(want, sizeof want, "mote%u", share);
  for (usize i = 0; i < g_ndevs; ++i)
    if (StrView(g_devs[i]->tag) == StrView(want, n)) return u32(i);
  return ~0u;  // none: share_rpc says ENODEV
}

Result<usize> share_rpc(u32 channel, const void* req, usize len, void* resp, usize cap) {
  if (channel >= g_ndevs) return err(ENODEV);
  ShareDevice& d = *g_devs[channel];
  const usize buf = usize(kBufPages) * kPageSize;
  if (len > buf || len == 0) return err(EIO);
  cap = min(cap, buf);
  // The request into its frames.
  const u8* in = static_cast<const u8*>(req);
  for (usize off = 0; off < len; off += kPageSize)
    memcpy(phys_to_virt(d.req[off / kPageSize]), in + off, min<usize>(kPageSize, len - off));
  virtio::Segment segs[2 * kBufPages];
  usize nout = describe(d.req, len, false, segs, 2 * kBufPages);
  usize nin = describe(d.resp, cap, true, segs + nout, 2 * kBufPages - nout);
  if (!nout || !nin) return err(EIO);
  if (nout + nin > d.dev.queue_size()) return err(EIO);
  u32 got = TRY(d.dev.transfer(segs, nout + nin));
  if (got > cap) return err(EIO);
  u8* out = static_cast<u8*>(resp);
  for (usize off = 0; off < got; off += kPageSize)
    memcpy(out + off, phys_to_virt(d.resp[off / kPageSize]), min<usize>(kPageSize, got - off));
  return usize(got);
}

}  // namespace mote::platform
