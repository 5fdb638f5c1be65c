// Parsing and writing of the wire headers in wire.h. Every parse() reads only
// bytes it has checked are there.
#include "kernel/net/wire.h"

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

namespace mote::net {

namespace {
Mac load_mac(const u8* p) {
  Mac m;
  memcpy(m.b, p, 6);
  return m;
}
void store_mac(u8* p, const Mac& m) { memcpy(p, m.b, 6); }
}  // namespace

Result<EthHeader> EthHeader::parse(const u8* p, usize len) {
  if (len < kSize) return err(EINVAL);
  EthHeader h;
  h.dst = load_mac(p);
  h.src = load_mac(p + 6);
  h.type = load_be16(p + 12);
  if (h.type < 0x0600) return err(EINVAL);  // an 802.3 length field (LLC/SNAP)
  return h;
}

void EthHeader::write(u8* p) const {
  store_mac(p, dst);
  store_mac(p + 6, src);
  store_be16(p + 12, type);
}

Mac mac_for_multicast(Ipv4 group) {
  return Mac{{0x01, 0x00, 0x5e, u8((group.v >> 16) & 0x7f), u8(group.v >> 8), u8(group.v)}};
}

// RFC 826 "Packet format": ar$hrd ar$pro ar$hln ar$pln ar$op ar$sha ar$spa
// ar$tha ar$tpa.
Result<ArpPacket> ArpPacket::parse(const u8* p, usize len) {
  if (len < kSize) return err(EINVAL);
  if (load_be16(p) != 1 || load_be16(p + 2) != u16(EtherType::Ipv4) || p[4] != 6 ||
      p[5] != 4)
    return err(EINVAL);
  ArpPacket a;
  a.op = load_be16(p + 6);
  a.sha = load_mac(p + 8);
  a.spa = Ipv4(load_be32(p + 14));
  a.tha = load_mac(p + 18);
  a.tpa = Ipv4(load_be32(p + 24));
  return a;
}

void ArpPacket::write(u8* p) const {
  store_be16(p, 1);
  store_be16(p + 2, u16(EtherType::Ipv4));
  p[4] = 6, p[5] = 4;
  store_be16(p + 6, op);
  store_mac(p + 8, sha);
  store_be32(p + 14, spa.v);
  store_mac(p + 18, tha);
  store_be32(p + 24, tpa.v);
}

Result<Ipv4Header> Ipv4Header::parse(const u8* p, usize len) {
  if (len < kMinSize) return err(EINVAL);
  if ((p[0] >> 4) != 4) return err(EINVAL);
  Ipv4Header h;
  h.ihl = p[0] & 0xf;
  if (h.ihl < 5 || h.header_len() > len) return err(EINVAL);
  h.tos = p[1];
  h.total_len = load_be16(p + 2);
  if (h.total_len < h.header_len() || h.total_len > len) return err(EINVAL);
  h.id = load_be16(p + 4);
  h.frag = load_be16(p + 6);
  h.ttl = p[8];
  h.proto = p[9];
  h.checksum = load_be16(p + 10);
  h.src = Ipv4(load_be32(p + 12));
  h.dst = Ipv4(load_be32(p + 16));
  if (csum_fold(csum_add(0, p, h.header_len())) != 0) return err(EINVAL);
  return h;
}

void Ipv4Header::write(u8* p) const {
  p[0] = 0x45;
  p[1] = tos;
  store_be16(p + 2, total_len);
  store_be16(p + 4, id);
  store_be16(p + 6, frag);
  p[8] = ttl;
  p[9] = proto;
  store_be16(p + 10, 0);
  store_be32(p + 12, src.v);
  store_be32(p + 16, dst.v);
  store_be16(p + 10, csum_fold(csum_add(0, p, kMinSize)));
}

Result<IcmpHeader> IcmpHeader::parse(const u8* p, usize len) {
  if (len < kSize) return err(EINVAL);
  if (csum_fold(csum_add(0, p, len)) != 0) return err(EINVAL);
  IcmpHeader h;
  h.type = p[0];
  h.code = p[1];
  h.checksum = load_be16(p + 2);
  h.rest = load_be32(p + 4);
  return h;
}

void IcmpHeader::write(u8* p) const {
  p[0] = type;
  p[1] = code;
  store_be16(p + 2, 0);
  store_be32(p + 4, rest);
}

Result<UdpHeader> UdpHeader::parse(const u8* p, usize len) {
  if (len < kSize) return err(EINVAL);
  UdpHeader h;
  h.src_port = load_be16(p);
  h.dst_port = load_be16(p + 2);
  h.length = load_be16(p + 4);
  h.checksum = load_be16(p + 6);
  if (h.length < kSize || h.length > len) return err(EINVAL);
  return h;
}

void UdpHeader::write(u8* p) const {
  store_be16(p, src_port);
  store_be16(p + 2, dst_port);
  store_be16(p + 4, length);
  store_be16(p + 6, checksum);
}

}  // namespace mote::net
