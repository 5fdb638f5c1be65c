// The network interface ioctls (netdevice(7)), answered on a socket of any
// family as Linux does (glibc's if_nametoindex asks an AF_UNIX socket): the
// programs that list interfaces or ask for an address without netlink
// (SIOCGIFCONF, SIOCGIFADDR, ...). mote has two interfaces: "lo" (index 1,
// 127.0.0.1/8) and, with a network device, "eth0" (index 2, the boot info's
// address, MAC and MTU). Setting interface properties is EPERM, as for a
// process without CAP_NET_ADMIN.
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/inet.h"
#include "kernel/linux/user.h"
#include "kernel/net/netdefs.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

namespace {

// linux/sockios.h.
enum : u32 {
  kSiocgifname = 0x8910, kSiocgifconf = 0x8912, kSiocgifflags = 0x8913,
  kSiocsifflags = 0x8914, kSiocgifaddr = 0x8915, kSiocsifaddr = 0x8916,
  kSiocgifbrdaddr = 0x8919, kSiocgifnetmask = 0x891b, kSiocgifmtu = 0x8921,
  kSiocsifmtu = 0x8922, kSiocgifhwaddr = 0x8927, kSiocgifindex = 0x8933,
};
constexpr u16 kIffBroadcast = 0x2;  // linux/if.h

// struct ifreq: the name, then a 24-byte union.
struct IfReq {
  char name[16];
  u8 u[24];
};
static_assert(sizeof(IfReq) == 40);

void put_sockaddr_in(u8* at, net::Ipv4 a) {
  memset(at, 0, 16);
  at[0] = 2;  // AF_INET
  net::store_be32(at + 4, a.v);
}

// An integer field of the ifreq union (ifr_flags: 2 bytes, ifr_mtu and
// ifr_ifindex: 4), the rest of the union zeroed.
void put_int(IfReq& r, u32 value, usize bytes) {
  memset(r.u, 0, sizeof r.u);
  memcpy(r.u, &value, bytes);
}

u32 netmask(u32 prefix) { return prefix ? ~u32(0) << (32 - prefix) : 0; }

}  // namespace

int net_interfaces(NetIface out[kMaxNetIfaces]) {
  out[0] = NetIface{"lo", 1, net::Ipv4::of(127, 0, 0, 1), 8,
                    u16(kIffUp | kIffLoopback | kIffRunning), kArphrdLoopback, 65536, {}};
  const NetConfig& c = net_config();
  if (!c.device) return 1;
  out[1] = NetIface{"eth0", 2, c.addr, c.prefix_len,
                    u16(kIffUp | kIffBroadcast | kIffRunning | kIffMulticast), kArphrdEther,
                    c.mtu, {}};
  memcpy(out[1].mac, c.mac.b, 6);
  return 2;
}

namespace {

Result<i64> ifconf(u64 arg) {
  struct {
    i32 len;
    i32 pad;
    u64 buf;
  } conf;
  TRY(copy_from_user(&conf, arg, sizeof conf));
  NetIface ifs[kMaxNetIfaces];
  int n = net_interfaces(ifs);
  if (!conf.buf) {  // the size needed
    conf.len = n * i32(sizeof(IfReq));
    TRY(copy_to_user(arg, &conf.len, 4));
    return i64(0);
  }
  if (conf.len < 0) return err(EINVAL);
  int fit = min(n, conf.len / i32(sizeof(IfReq)));
  for (int i = 0; i < fit; ++i) {
    IfReq r{};
    memcpy(r.name, ifs[i].name, strlen(ifs[i].name));
    put_sockaddr_in(r.u, ifs[i].addr);
    TRY(copy_to_user(conf.buf + u64(i) * sizeof(IfReq), &r, sizeof r));
  }
  conf.len = fit * i32(sizeof(IfReq));
  TRY(copy_to_user(arg, &conf.len, 4));
  return i64(0);
}

}  // namespace

Result<i64> netdevice_ioctl(u32 cmd, u64 arg) {
  switch (cmd) {
    case kSiocgifconf: return ifconf(arg);
    case kSiocsifflags:
    case kSiocsifaddr:
    case kSiocsifmtu: return err(EPERM);
    case kSiocgifname: case kSiocgifflags: case kSiocgifaddr: case kSiocgifbrdaddr:
    case kSiocgifnetmask: case kSiocgifmtu: case kSiocgifhwaddr: case kSiocgifindex: break;
    default: return err(ENOTTY);
  }
  IfReq r;
  TRY(copy_from_user(&r, arg, sizeof r));
  NetIface ifs[kMaxNetIfaces];
  int n = net_interfaces(ifs);
  const NetIface* f = nullptr;
  for (int i = 0; i < n; ++i) {
    if (cmd == kSiocgifname) {
      i32 index;
      memcpy(&index, r.u, 4);
      if (index == ifs[i].index) f = &ifs[i];
    } else if (strnlen(r.name, sizeof r.name) == strlen(ifs[i].name) &&
               memcmp(r.name, ifs[i].name, strlen(ifs[i].name)) == 0) {
      f = &ifs[i];
    }
  }
  if (!f) return err(ENODEV);
  switch (cmd) {
    case kSiocgifname:
      memset(r.name, 0, sizeof r.name);
      memcpy(r.name, f->name, strlen(f->name));
      break;
    case kSiocgifflags: put_int(r, f->flags, 2); break;
    case kSiocgifaddr: put_sockaddr_in(r.u, f->addr); break;
    case kSiocgifnetmask: put_sockaddr_in(r.u, net::Ipv4(netmask(f->prefix))); break;
    case kSiocgifbrdaddr:
      if (!(f->flags & kIffBroadcast)) return err(EADDRNOTAVAIL);
      put_sockaddr_in(r.u, net::Ipv4(f->addr.v | ~netmask(f->prefix)));
      break;
    case kSiocgifmtu: put_int(r, u32(f->mtu), 4); break;
    case kSiocgifhwaddr:
      memset(r.u, 0, sizeof r.u);
      memcpy(r.u, &f->hwtype, 2);  // sa_family: ARPHRD_*
      memcpy(r.u + 2, f->mac, 6);
      break;
    case kSiocgifindex: put_int(r, u32(f->index), 4); break;
  }
  TRY(copy_to_user(arg, &r, sizeof r));
  return i64(0);
}

}  // namespace mote::linux
