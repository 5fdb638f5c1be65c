// virtio 1.x over MMIO (virtio 1.1: 2.1 status, 2.6 split virtqueues, 4.2
// the MMIO transport, 5.1 network and 5.3 9P devices), declared once for
// both sides: the guest kernel's driver (kernel/platform/kvm/virtio_mmio.h,
// which also drives QEMU's and Firecracker's devices) and mote's KVM
// monitor's device models (monitor/vm/virtio/). Fixed-width types only.
#pragma once

#include <stdint.h>

namespace mote::abi::virtio {

// 2.6.5 "The Virtqueue Descriptor Table".
struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Desc) == 16);
enum : uint16_t { kDescNext = 1, kDescWrite = 2, kDescIndirect = 4 };
// 2.6.6 / 2.6.8: the driver's "no interrupt, please", the device's "no
// notification, please".
enum : uint16_t { kAvailNoInterrupt = 1, kUsedNoNotify = 1 };

// 4.2.2 "MMIO Device Register Layout": byte offsets in the register window.
enum class MmioReg : uint32_t {
  Magic = 0x000,              // "virt"
  Version = 0x004,            // 2 (1 is the legacy interface)
  DeviceId = 0x008,           // 5 "Device Types"
  VendorId = 0x00c,
  DeviceFeatures = 0x010,
  DeviceFeaturesSel = 0x014,
  DriverFeatures = 0x020,
  DriverFeaturesSel = 0x024,
  QueueSel = 0x030,
  QueueNumMax = 0x034,
  QueueNum = 0x038,
  QueueReady = 0x044,
  QueueNotify = 0x050,
  InterruptStatus = 0x060,
  InterruptAck = 0x064,
  Status = 0x070,
  QueueDescLow = 0x080,
  QueueDescHigh = 0x084,
  QueueDriverLow = 0x090,     // the available ring
  QueueDriverHigh = 0x094,
  QueueDeviceLow = 0x0a0,     // the used ring
  QueueDeviceHigh = 0x0a4,
  ConfigGeneration = 0x0fc,
  Config = 0x100,             // device-specific configuration space
};
inline constexpr uint32_t kMagic = 0x74726976;  // "virt", little-endian

// 2.1 "Device Status Field".
enum : uint32_t {
  kStatusAcknowledge = 1,
  kStatusDriver = 2,
  kStatusDriverOk = 4,
  kStatusFeaturesOk = 8,
  kStatusNeedsReset = 64,
  kStatusFailed = 128,
};

// 5 "Device Types".
inline constexpr uint32_t kDeviceNet = 1;
inline constexpr uint32_t kDevice9p = 9;

// 6 "Reserved Feature Bits", 5.1.3 (network), 5.3.3 (9P).
inline constexpr uint64_t kFeatureVersion1 = 1ull << 32;    // VIRTIO_F_VERSION_1
inline constexpr uint64_t kNetFeatureCsum = 1ull << 0;      // VIRTIO_NET_F_CSUM
inline constexpr uint64_t kNetFeatureGuestCsum = 1ull << 1; // VIRTIO_NET_F_GUEST_CSUM
inline constexpr uint64_t kNetFeatureMtu = 1ull << 3;       // VIRTIO_NET_F_MTU
inline constexpr uint64_t kNetFeatureMac = 1ull << 5;       // VIRTIO_NET_F_MAC
inline constexpr uint64_t kNetFeatureStatus = 1ull << 16;   // VIRTIO_NET_F_STATUS
inline constexpr uint64_t kNetFeatureGuestTso4 = 1ull << 7; // VIRTIO_NET_F_GUEST_TSO4
inline constexpr uint64_t kNetFeatureHostTso4 = 1ull << 11; // VIRTIO_NET_F_HOST_TSO4
inline constexpr uint64_t kNetFeatureMrgRxbuf = 1ull << 15; // VIRTIO_NET_F_MRG_RXBUF
inline constexpr uint64_t kFeatureIndirectDesc = 1ull << 28; // VIRTIO_F_INDIRECT_DESC
inline constexpr uint64_t k9pFeatureMountTag = 1ull << 0;   // VIRTIO_9P_MOUNT_TAG

// 5.1.6 struct virtio_net_hdr (the 1.x layout, num_buffers included: 12
// bytes, little-endian), which a tap opened with IFF_VNET_HDR and a vnet
// header size of 12 reads and writes before each frame too.
struct NetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == 12);
inline constexpr uint8_t kNetHdrNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kNetHdrDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
inline constexpr uint8_t kNetGsoNone = 0;       // VIRTIO_NET_HDR_GSO_NONE
inline constexpr uint8_t kNetGsoTcpv4 = 1;      // VIRTIO_NET_HDR_GSO_TCPV4

}  // namespace mote::abi::virtio
