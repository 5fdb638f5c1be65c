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

int open_tap(const std::string& name, std::string* error) {
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
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = where + "/dev/net/tun: " + strerror(errno);
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  // Ethernet frames, without the 4-byte packet-information prefix.
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name.data(), std::min(name.size(), size_t(IFNAMSIZ - 1)));
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int e = errno;
    close(fd);
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
