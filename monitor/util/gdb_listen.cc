#include "monitor/util/gdb_listen.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace mote::launch {

int accept_gdb(uint16_t port, std::string* error) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0) {
    *error = std::string("--gdb: socket: ") + strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // never reachable from other hosts
  if (bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(ls, 1) != 0) {
    *error = "--gdb " + std::to_string(port) + ": cannot listen on 127.0.0.1:" +
             std::to_string(port) + ": " + strerror(errno);
    close(ls);
    return -1;
  }
  std::fprintf(stderr, "mote: waiting for gdb on 127.0.0.1:%u\n", unsigned(port));
  int fd;
  do fd = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) *error = std::string("--gdb: accept: ") + strerror(errno);
  close(ls);
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace mote::launch
