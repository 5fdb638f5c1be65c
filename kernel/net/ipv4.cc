// IPv4 routing and output fragmentation (ipv4.h).
#include "kernel/net/ipv4.h"

#include "kernel/lib/string.h"

namespace mote::net {

bool is_local_address(const InterfaceConfig& cfg, Ipv4 a) {
  return a.loopback() || (!cfg.addr.any() && a == cfg.addr);
}

Route route_for(const InterfaceConfig& cfg, Ipv4 dst) {
  Route r;
  if (is_local_address(cfg, dst)) {
    r.kind = RouteKind::Loopback;
    r.src = dst;  // 127.x answers from 127.x, our address from itself
    r.mtu = kLoopbackMtu;
    return r;
  }
  if (dst.any()) return r;
  if (dst.broadcast() || dst.multicast()) {
    // Limited broadcast and multicast go out of the one interface even
    // before it has an address (a DHCP client sends from 0.0.0.0).
    r.kind = RouteKind::Ethernet;
    r.src = cfg.addr;
    r.mtu = cfg.mtu;
    r.next_hop = dst;
    r.broadcast = dst.broadcast();
    r.multicast = dst.multicast();
    return r;
  }
  if (cfg.addr.any()) return r;
  r.kind = RouteKind::Ethernet;
  r.src = cfg.addr;
  r.mtu = cfg.mtu;
  if (cfg.on_link(dst)) {
    r.next_hop = dst;
    r.broadcast = cfg.subnet_broadcast(dst);
    return r;
  }
  if (cfg.gateway.any()) return Route();
  r.next_hop = cfg.gateway;
  return r;
}

Packet* ip_fragment(const Ipv4Header& base, const u8* payload, usize len, u16 mtu) {
  // Every fragment but the last carries a multiple of 8 data bytes.
  usize per = mtu > Ipv4Header::kMinSize ? (mtu - Ipv4Header::kMinSize) & ~usize(7) : 0;
  if (per == 0) return nullptr;
  Packet* head = nullptr;
  Packet** tail = &head;
  usize base_off = base.frag_offset();
  for (usize off = 0; off < len || (off == 0 && len == 0); off += per) {
    usize n = min(per, len - off);
    Packet* p = Packet::alloc(n);
    if (!p) {
      while (head) {
        Packet* next = head->next;
        Packet::free(head);
        head = next;
      }
      return nullptr;
    }
    if (n) memcpy(p->put(n), payload + off, n);
    Ipv4Header h = base;
    h.ihl = 5;
    h.total_len = u16(Ipv4Header::kMinSize + n);
    bool more = off + n < len || base.mf();
    h.frag = u16((base.frag & Ipv4Header::kFlagDf) | (more ? Ipv4Header::kFlagMf : 0) |
                 ((base_off + off) / 8));
    h.write(p->push(Ipv4Header::kMinSize));
    *tail = p;
    tail = &p->next;
    if (len == 0) break;
  }
  return head;
}

}  // namespace mote::net
