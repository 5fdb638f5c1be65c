// libFuzzer target: the DHCP client's input path (kernel/net/dhcp.cc), which
// reads frames from the network at boot before any stack exists. Input:
//   [state u8][frame...]
// state & 1: the client has an offer from 10.0.2.2 and is REQUESTING (else
// SELECTING, its DISCOVER sent); the frame goes to DhcpClient::input and to
// dhcp_parse_reply. Beyond "no crash" (ASan guards the exact-size frame):
// a lease is only ever an address other than 0.0.0.0 with a prefix of 1 to
// 32, taken from an ACK of the server that made the offer; a parsed reply
// only names the client's own exchange.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel/net/dhcp.h"
#include "kernel/net/wire.h"

using namespace mote;
using namespace mote::net;

namespace {

const Mac kMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
constexpr u32 kXid = 0x6d6f7465;

// A valid OFFER of 10.0.2.15 from 10.0.2.2 (to move the client on).
std::vector<u8> offer() {
  std::vector<u8> m(240, 0);
  m[0] = 2, m[1] = 1, m[2] = 6;
  store_be32(&m[4], kXid);
  store_be32(&m[16], Ipv4::of(10, 0, 2, 15).v);
  memcpy(&m[28], kMac.b, 6);
  m[236] = 99, m[237] = 130, m[238] = 83, m[239] = 99;
  const u8 opts[] = {53, 1, 2, 54, 4, 10, 0, 2, 2, 255};
  m.insert(m.end(), opts, opts + sizeof opts);
  std::vector<u8> f(42 + m.size());
  memset(&f[0], 0xff, 6);
  store_be16(&f[12], 0x0800);
  UdpHeader uh;
  uh.src_port = 67;
  uh.dst_port = 68;
  uh.length = u16(8 + m.size());
  uh.write(&f[34]);  // checksum 0: none
  memcpy(&f[42], m.data(), m.size());
  Ipv4Header ih;
  ih.total_len = u16(20 + uh.length);
  ih.proto = 17;
  ih.src = Ipv4::of(10, 0, 2, 2);
  ih.dst = Ipv4(0xffffffffu);
  ih.write(&f[14]);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::vector<u8> frame(data + 1, data + size);  // exact size: ASan sees any overread
  DhcpReply r;
  if (dhcp_parse_reply(frame.data(), frame.size(), kMac, kXid, &r))
    if (r.xid != kXid || r.type == DhcpType::None) abort();
  DhcpClient c(kMac, kXid, "fuzz", 4);
  u8 buf[DhcpClient::kFrameCap];
  u64 next;
  if (!c.poll(0, buf, &next)) abort();  // the DISCOVER
  if (data[0] & 1) {
    auto o = offer();
    if (!c.input(o.data(), o.size(), 0)) abort();
    if (!c.poll(0, buf, &next)) abort();  // the REQUEST
  }
  c.input(frame.data(), frame.size(), 1);
  if (c.bound()) {
    const DhcpLease& l = c.lease();
    if (!(data[0] & 1)) abort();  // bound straight from SELECTING
    if (l.addr.any() || l.prefix_len == 0 || l.prefix_len > 32) abort();
    if (l.server != Ipv4::of(10, 0, 2, 2)) abort();
  }
  return 0;
}
