// The guest's network device, host side (backend.h).
#include "monitor/net/backend.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "monitor/net/guest_net.h"
#include "monitor/net/tap.h"
#include "monitor/util/seccomp.h"

namespace mote::net {

namespace {

// Frames in flight each way: a unix socketpair's queue is bounded by the
// sender's SO_SNDBUF (the peers of a pair are exempt from max_dgram_qlen),
// capped by net.core.wmem_max (~200 KiB: over a hundred full frames).
constexpr int kSocketBuffer = 1 << 20;

std::string beside_this_binary(const char* name) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return name;
  std::string p(buf, size_t(n));
  return p.substr(0, p.rfind('/') + 1) + name;
}

// Starts mote-net on `frame_fd` (its end) and waits until it listens on
// every published port or has said why it cannot.
bool start_helper(const cli::RunOptions& o, int frame_fd, std::string* error) {
  std::string helper = beside_this_binary("mote-net");
  if (access(helper.c_str(), X_OK) != 0) {
    *error = "--net user needs " + helper + " (installed beside mote-monitor)";
    return false;
  }
  int status[2];
  if (pipe2(status, O_CLOEXEC) != 0) {
    *error = std::string("network: pipe: ") + strerror(errno);
    return false;
  }
  std::vector<std::string> args = {"mote-net", "3", "4", o.hostname};
  if (o.no_sandbox) {
    args.insert(args.begin() + 1, "--no-sandbox");
    sandbox::warn_unsandboxed();
  }
  args.insert(args.end(), o.publish.begin(), o.publish.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("network: fork: ") + strerror(errno);
    close(status[0]);
    close(status[1]);
    return false;
  }
  if (pid == 0) {
    // Twice: mote-net belongs to init (or the nearest subreaper), not to the
    // monitor, which may become the core by exec; it ends when the frame
    // socket's other end closes.
    if (fork() != 0) _exit(0);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    // fds 3 and 4 for it, nothing else of ours (the program's image...).
    int f = fcntl(frame_fd, F_DUPFD_CLOEXEC, 16), s = fcntl(status[1], F_DUPFD_CLOEXEC, 16);
    if (f < 0 || s < 0 || dup2(f, 3) != 3 || dup2(s, 4) != 4) _exit(127);
    close_range(5, ~0u, 0);
    execv(helper.c_str(), argv.data());
    _exit(127);
  }
  close(status[1]);
  int ws;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  std::string said;
  char buf[512];
  for (;;) {
    ssize_t n = read(status[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    said.append(buf, size_t(n));
  }
  close(status[0]);
  while (!said.empty() && said.back() == '\n') said.pop_back();
  if (said == "ok") return true;
  *error = said.empty() ? "--net user: " + helper + " failed to start" : said;
  return false;
}

}  // namespace

bool open_device(const cli::RunOptions& o, Device* out, std::string* error, bool tso4) {
  memcpy(out->mac, kGuestMac, sizeof out->mac);
  out->mtu = kMtu;
  // The guest's addresses: the user network's on a tap too (10.0.2.15/24,
  // gateway 10.0.2.2, DNS 10.0.2.3): give the host side of the tap
  // 10.0.2.2/24 and the guest is reachable at 10.0.2.15.
  // With :dhcp, none: the guest asks (slirp answers with these same
  // addresses; on a tap, the administrator's DHCP server does).
  if (!o.net.dhcp) {
    out->addr = kUserGuest;
    out->prefix_len = kUserPrefixLen;
    out->gateway = kUserGateway;
    out->dns = kUserDns;
  }
  if (o.net.mode == cli::NetMode::Tap) {
    out->vnet_hdr = true;
    out->tso4 = tso4;
    out->fd = open_tap(o.net.tap, &out->vnet_hdr, &out->tso4, error);
    return out->fd >= 0;
  }
  if (o.net.mode != cli::NetMode::User) {
    *error = "network: no device requested";
    return false;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    *error = std::string("network: socketpair: ") + strerror(errno);
    return false;
  }
  for (int fd : sv) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  }
  bool ok = start_helper(o, sv[1], error);
  close(sv[1]);
  if (!ok) {
    close(sv[0]);
    return false;
  }
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  out->fd = sv[0];
  return true;
}

}  // namespace mote::net
