// The network stack's shared vocabulary: addresses, byte order, the Internet
// checksum, the packet buffer, and the contract between the IP layer (ip.h,
// stack.h) and TCP (tcp.h). Freestanding and pure: the stack never calls a
// platform function; time comes in as arguments, frames leave through
// callbacks. That is what lets tests/unit/net/ drive it with crafted frames.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::net {

// ---------------------------------------------------------------------------
// Byte order. Wire fields are read and written through these, never cast.
inline u16 load_be16(const u8* p) { return u16(p[0] << 8 | p[1]); }
inline u32 load_be32(const u8* p) {
  return u32(p[0]) << 24 | u32(p[1]) << 16 | u32(p[2]) << 8 | u32(p[3]);
}
inline void store_be16(u8* p, u16 v) { p[0] = u8(v >> 8), p[1] = u8(v); }
inline void store_be32(u8* p, u32 v) {
  p[0] = u8(v >> 24), p[1] = u8(v >> 16), p[2] = u8(v >> 8), p[3] = u8(v);
}

// ---------------------------------------------------------------------------
// Addresses. Ipv4 holds the address in host order (10.0.2.15 is 0x0a00020f).
struct Ipv4 {
  u32 v = 0;
  constexpr Ipv4() = default;
  constexpr explicit Ipv4(u32 host_order) : v(host_order) {}
  static constexpr Ipv4 of(u8 a, u8 b, u8 c, u8 d) {
    return Ipv4(u32(a) << 24 | u32(b) << 16 | u32(c) << 8 | d);
  }
  constexpr bool operator==(const Ipv4&) const = default;
  constexpr bool any() const { return v == 0; }
  constexpr bool broadcast() const { return v == 0xffffffffu; }
  constexpr bool loopback() const { return (v >> 24) == 127; }
  constexpr bool multicast() const { return (v >> 28) == 0xe; }
};

struct Mac {
  u8 b[6] = {};
  constexpr bool operator==(const Mac&) const = default;
  constexpr bool broadcast() const {
    for (u8 x : b)
      if (x != 0xff) return false;
    return true;
  }
  static constexpr Mac all_ones() { return Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
};

struct Endpoint {
  Ipv4 addr;
  u16 port = 0;  // host order
  constexpr bool operator==(const Endpoint&) const = default;
};

inline constexpr u8 kProtoIcmp = 1;
inline constexpr u8 kProtoTcp = 6;
inline constexpr u8 kProtoUdp = 17;

// ---------------------------------------------------------------------------
// The Internet checksum (RFC 1071): a ones'-complement sum, folded.
// Accumulate with csum_add over any number of pieces (each piece's length may
// be odd only for the last one), then csum_fold to the 16-bit field value.
u32 csum_add(u32 sum, const void* data, usize len);
u16 csum_fold(u32 sum);
// The TCP/UDP pseudo-header sum (RFC 9293 3.1, RFC 768).
u32 csum_pseudo(Ipv4 src, Ipv4 dst, u8 proto, u16 length);

// ---------------------------------------------------------------------------
// A packet on its way down the stack: one heap buffer with headroom, so each
// layer prepends its header in place (push) without copying the payload.
class Packet {
 public:
  static constexpr usize kHeadroom = 14 + 60 + 60;  // Ethernet + IPv4 + TCP max

  // A buffer able to hold `payload` bytes after kHeadroom; null on ENOMEM.
  static Packet* alloc(usize payload);
  static void free(Packet* p);

  u8* data() { return buf_ + head_; }
  const u8* data() const { return buf_ + head_; }
  usize size() const { return len_; }
  // Grows the front by n bytes (a header) and returns its start.
  u8* push(usize n) { head_ -= n, len_ += n; return buf_ + head_; }
  // Appends n bytes at the end (payload) and returns their start.
  u8* put(usize n) { u8* p = buf_ + head_ + len_; len_ += n; return p; }
  usize headroom() const { return head_; }
  usize tailroom() const { return cap_ - head_ - len_; }

  // Checksum offload (Linux's CHECKSUM_PARTIAL, virtio's NEEDS_CSUM): the
  // transport checksum field, `offset` bytes into the transport header that
  // starts at data() now, holds only the folded pseudo-header sum
  // (csum_partial_field); whoever sends the bytes completes it, summing from
  // the transport header to the end: the device (NetDevice::TxOffload), or
  // finish_csum. A packet delivered through loopback never needs it.
  void set_csum_partial(u16 offset) { csum_pos_ = head_, csum_off_ = offset; }
  bool csum_partial() const { return csum_off_ != 0; }
  // Where the sum starts, from data() (headers pushed since move it on).
  usize csum_start() const { return csum_pos_ - head_; }
  u16 csum_offset() const { return csum_off_; }
  // Completes the checksum in software (a device without the offload,
  // before fragmenting); the packet is then whole.
  void finish_csum();
  // TCP segmentation offload: a segment larger than the MTU, for a device
  // that cuts it into segments of `mss` payload bytes (IpSender::tso_max).
  void set_gso(u16 mss) { gso_size_ = mss; }
  u16 gso_size() const { return gso_size_; }

  Packet* next = nullptr;  // for queues owned by whoever holds the packet

 private:
  u8* buf_ = nullptr;
  usize cap_ = 0, head_ = 0, len_ = 0;
  usize csum_pos_ = 0;
  u16 csum_off_ = 0;
  u16 gso_size_ = 0;
};

// What a partial checksum field holds: the pseudo-header sum, folded and
// not complemented (the device adds the rest and complements).
inline u16 csum_partial_field(u32 pseudo) { return u16(~csum_fold(pseudo)); }

// ---------------------------------------------------------------------------
// The IP layer as TCP sees it. The stack (stack.h) implements it; TCP's unit
// tests implement it with a recorder. TCP never touches Ethernet or ARP.
class IpSender {
 public:
  // Sends `pkt` (the TCP segment, header included, checksum filled in) from
  // src to dst with the given protocol and TOS; takes ownership of pkt in
  // every case. Errors: EHOSTUNREACH (no route), ENOBUFS.
  virtual Result<void> ip_send(Ipv4 src, Ipv4 dst, u8 proto, u8 tos, Packet* pkt) = 0;
  // Whether transports may leave checksums partial (Packet::set_csum_partial)
  // on what they send: the stack completes them wherever the device does not
  // (and loopback needs none). A sender that records segments says no.
  virtual bool csum_offload() { return false; }
  // The largest TCP segment (header included) a connection to dst may hand
  // over at once, for the device to cut into MSS-sized ones (segmentation
  // offload: Packet::set_gso, with a partial checksum); 0: none, every
  // segment fits the MTU.
  virtual u32 tso_max(Ipv4 dst) { return 0; }
  // The local address a connection to dst should use (any() if no route).
  virtual Ipv4 source_for(Ipv4 dst) = 0;
  // The IP MTU towards dst (1500 on Ethernet, 65535 on loopback).
  virtual u16 mtu_for(Ipv4 dst) = 0;
  // True when addr is one of this host's addresses (bind checks).
  virtual bool is_local(Ipv4 addr) = 0;
 protected:
  ~IpSender() = default;
};

// What an IP packet arrived with, for the transport layers' input paths.
struct IpInfo {
  Ipv4 src, dst;
  u8 tos = 0, ttl = 0;
  // The transport checksum needs no check: the device verified it or the
  // sender left it partial for the device (checksum offload on a tap), or
  // the datagram never left this host (loopback). Never set on a
  // reassembled datagram.
  bool csum_ok = false;
};

}  // namespace mote::net
