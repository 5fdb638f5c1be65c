// `--net tap:NAME`: attaches to an existing tap device (tap.h).
#include "monitor/net/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mote::net {

namespace {

// Attaches fd to the device; errno on failure.
int attach(int fd, const std::string& name, bool vnet_hdr, bool* tso4) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  // Ethernet frames, without the 4-byte packet-information prefix.
  ifr.ifr_flags = short(IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0));
  memcpy(ifr.ifr_name, name.data(), std::min(name.size(), size_t(IFNAMSIZ - 1)));
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) return errno;
  if (!vnet_hdr) return 0;
  int size = 12;  // struct virtio_net_hdr_v1, num_buffers included
  if (ioctl(fd, TUNSETVNETHDRSZ, &size) != 0) return errno;
  if (*tso4 && ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) == 0) return 0;
  *tso4 = false;
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) != 0) return errno;
  return 0;
}

}  // namespace

int open_tap(const std::string& name, bool* vnet_hdr, bool* tso4, std::string* error) {
  const std::string where = "--net tap:" + name + ": ";
  // TUNSETIFF would create a missing device (with CAP_NET_ADMIN): mote only
  // uses one that exists, so that networking stays the administrator's.
  std::string sys = "/sys/class/net/" + name;
  struct stat st;
  if (stat(sys.c_str(), &st) != 0) {
    *error = where + "no such network interface (create one: ip tuntap add dev " + name +
             " mode tap user $USER)";
    return -1;
  }
  if (stat((sys + "/tun_flags").c_str(), &st) != 0) {
    *error = where + "not a tap device";
    return -1;
  }
  int fd = -1, e = 0;
  for (bool want : {*vnet_hdr, false}) {
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      *error = where + "/dev/net/tun: " + strerror(errno);
      return -1;
    }
    e = attach(fd, name, want, tso4);
    *vnet_hdr = want;
    if (!want) *tso4 = false;
    if (!e) break;
    close(fd);
    fd = -1;
    if (!want) break;
    // Retried without the headers, which an old or odd kernel may refuse
    // (the errors below are the plain attach's).
  }
  if (fd < 0) {
    if (e == EPERM || e == EACCES)
      *error = where + "not permitted (the device belongs to another user: ip tuntap add dev " +
               name + " mode tap user $USER)";
    else if (e == EBUSY)
      *error = where + "in use by another program";
    else if (e == EINVAL)
      *error = where + "not a tap device (a tun device?)";
    else
      *error = where + strerror(e);
    return -1;
  }
  return fd;
}

}  // namespace mote::net
