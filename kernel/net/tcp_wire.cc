// Parsing and building TCP headers (tcp_wire.h).
#include "kernel/net/tcp_wire.h"

#include "kernel/lib/string.h"

namespace mote::net {

void tcp_parse_options(const u8* p, usize len, TcpOptions* o) {
  // RFC 9293 3.1: kind 0 ends the list, kind 1 is one byte of padding, every
  // other kind has a length byte that counts kind and length. A length that
  // is short or runs off the end stops parsing; what was read so far stays.
  usize i = 0;
  while (i < len) {
    u8 kind = p[i];
    if (kind == kTcpOptEnd) break;
    if (kind == kTcpOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= len) break;
    u8 olen = p[i + 1];
    if (olen < 2 || i + olen > len) break;
    const u8* v = p + i + 2;
    switch (kind) {
      case kTcpOptMss:
        if (olen == 4) o->has_mss = true, o->mss = load_be16(v);
        break;
      case kTcpOptWscale:
        // RFC 7323 2.3: a shift above 14 is treated as 14.
        if (olen == 3) o->has_wscale = true, o->wscale = v[0] > 14 ? 14 : v[0];
        break;
      case kTcpOptSackOk:
        if (olen == 2) o->sack_ok = true;
        break;
      case kTcpOptTimestamp:
        if (olen == 10) o->has_ts = true, o->tsval = load_be32(v), o->tsecr = load_be32(v + 4);
        break;
      default:
        break;  // unknown options are skipped (RFC 9293 3.2)
    }
    i += olen;
  }
}

bool tcp_parse(const IpInfo& ip, const u8* seg, usize len, TcpSegment* out) {
  if (len < kTcpHeaderLen || len > 0xffff) return false;
  usize hlen = usize(seg[12] >> 4) * 4;
  if (hlen < kTcpHeaderLen || hlen > len) return false;
  // The checksum covers pseudo-header, header and payload; correct data sums
  // to 0xffff, which folds to zero.
  if (!ip.csum_ok) {
    u32 sum = csum_pseudo(ip.src, ip.dst, kProtoTcp, u16(len));
    if (csum_fold(csum_add(sum, seg, len)) != 0) return false;
  }
  *out = TcpSegment{};
  out->sport = load_be16(seg);
  out->dport = load_be16(seg + 2);
  out->seq = load_be32(seg + 4);
  out->ack = load_be32(seg + 8);
  out->flags = seg[13];
  out->wnd = load_be16(seg + 14);
  tcp_parse_options(seg + kTcpHeaderLen, hlen - kTcpHeaderLen, &out->opt);
  out->data = seg + hlen;
  out->len = u32(len - hlen);
  return true;
}

usize tcp_options_len(const TcpHeaderOut& h) {
  usize n = 0;
  if (h.has_mss) n += 4;
  if (h.has_wscale) n += 4;  // NOP + 3
  if (h.has_ts) n += 12;     // NOP NOP + 10 (RFC 7323 appendix A layout)
  return n;
}

void tcp_build(Packet* pkt, const TcpHeaderOut& h, Ipv4 src, Ipv4 dst, bool partial) {
  usize olen = tcp_options_len(h);
  usize hlen = kTcpHeaderLen + olen;
  u8* p = pkt->push(hlen);
  store_be16(p, h.sport);
  store_be16(p + 2, h.dport);
  store_be32(p + 4, h.seq);
  store_be32(p + 8, h.ack);
  p[12] = u8((hlen / 4) << 4);
  p[13] = h.flags;
  store_be16(p + 14, h.wnd);
  store_be16(p + 16, 0);  // checksum, filled below
  store_be16(p + 18, 0);  // urgent pointer: mote never sends urgent data
  u8* o = p + kTcpHeaderLen;
  if (h.has_mss) {
    o[0] = kTcpOptMss, o[1] = 4;
    store_be16(o + 2, h.mss);
    o += 4;
  }
  if (h.has_wscale) {
    o[0] = kTcpOptNop, o[1] = kTcpOptWscale, o[2] = 3, o[3] = h.wscale;
    o += 4;
  }
  if (h.has_ts) {
    o[0] = kTcpOptNop, o[1] = kTcpOptNop, o[2] = kTcpOptTimestamp, o[3] = 10;
    store_be32(o + 4, h.tsval);
    store_be32(o + 8, h.tsecr);
    o += 12;
  }
  u16 len = u16(pkt->size());
  if (partial) {
    store_be16(p + 16, csum_partial_field(csum_pseudo(src, dst, kProtoTcp, len)));
    pkt->set_csum_partial(16);
    return;
  }
  u32 sum = csum_add(csum_pseudo(src, dst, kProtoTcp, len), pkt->data(), len);
  store_be16(p + 16, csum_fold(sum));
}

}  // namespace mote::net
