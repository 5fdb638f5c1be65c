// The libslirp backend of `--net user` (slirp_backend.h).
#include "monitor/net/slirp_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <libslirp.h>

#include "monitor/net/guest_net.h"

namespace mote::net {

namespace {

in_addr addr(uint32_t host_order) {
  in_addr a;
  a.s_addr = htonl(host_order);
  return a;
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// SLIRP_POLL_* <-> poll(2) events.
short to_poll(int e) {
  short p = 0;
  if (e & SLIRP_POLL_IN) p |= POLLIN;
  if (e & SLIRP_POLL_OUT) p |= POLLOUT;
  if (e & SLIRP_POLL_PRI) p |= POLLPRI;
  return p;
}
int from_poll(short p) {
  int e = 0;
  if (p & POLLIN) e |= SLIRP_POLL_IN;
  if (p & POLLOUT) e |= SLIRP_POLL_OUT;
  if (p & POLLPRI) e |= SLIRP_POLL_PRI;
  if (p & (POLLERR | POLLNVAL)) e |= SLIRP_POLL_ERR;
  if (p & POLLHUP) e |= SLIRP_POLL_HUP;
  return e;
}

}  // namespace

struct SlirpBackend::Timer {
  void (*cb)(void*);
  void* cb_opaque;
  int64_t expire_ms;  // -1: not armed
};

SlirpBackend::~SlirpBackend() {
  if (slirp_) slirp_cleanup(slirp_);
  for (Timer* t : timers_) delete t;
  if (wake_fd_ >= 0) close(wake_fd_);
}

long SlirpBackend::send_packet(const void* buf, size_t len, void* opaque) {
  auto* self = static_cast<SlirpBackend*>(opaque);
  // Never block the loop on a guest that does not read: a full socket drops
  // the frame, as a NIC with a full ring would (TCP retransmits).
  ssize_t n;
  do n = send(self->frame_fd_, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    ++self->frames_dropped_;
    // A guest that ended (its end closed: the loop has yet to see it, or the
    // drain runs) takes no more frames: they go nowhere, quietly.
    if (errno == EPIPE || errno == ECONNRESET || errno == ECONNREFUSED) self->guest_gone_ = true;
    return (errno == EAGAIN || errno == ENOBUFS || self->guest_gone_) ? long(len) : -1;
  }
  ++self->frames_out_;
  return long(len);
}

int64_t SlirpBackend::clock_ns(void*) { return now_ns(); }

void* SlirpBackend::timer_new(void (*cb)(void*), void* cb_opaque, void* opaque) {
  auto* self = static_cast<SlirpBackend*>(opaque);
  auto* t = new Timer{cb, cb_opaque, -1};
  self->timers_.push_back(t);
  return t;
}

void SlirpBackend::timer_free(void* timer, void* opaque) {
  auto* self = static_cast<SlirpBackend*>(opaque);
  auto* t = static_cast<Timer*>(timer);
  self->timers_.erase(std::remove(self->timers_.begin(), self->timers_.end(), t), self->timers_.end());
  delete t;
}

void SlirpBackend::timer_mod(void* timer, int64_t expire_ms, void*) {
  static_cast<Timer*>(timer)->expire_ms = expire_ms;
}

int SlirpBackend::add_poll(int fd, int events, void* opaque) {
  auto* self = static_cast<SlirpBackend*>(opaque);
  self->polls_->push_back(pollfd{fd, to_poll(events), 0});
  return int(self->polls_->size() - 1);
}

int SlirpBackend::get_revents(int idx, void* opaque) {
  auto* self = static_cast<SlirpBackend*>(opaque);
  if (idx < 0 || size_t(idx) >= self->polls_->size()) return 0;
  return from_poll((*self->polls_)[size_t(idx)].revents);
}

bool SlirpBackend::start(int frame_fd, const std::vector<cli::PortMapping>& ports,
                         const std::vector<std::string>& port_texts, const std::string& hostname,
                         std::string* error) {
  frame_fd_ = frame_fd;
  hostname_ = hostname;
  int fl = fcntl(frame_fd, F_GETFL);
  if (fl < 0 || fcntl(frame_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    *error = std::string("network: frame socket: ") + strerror(errno);
    return false;
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    *error = std::string("network: eventfd: ") + strerror(errno);
    return false;
  }
  SlirpConfig cfg{};
  cfg.version = 4;
  cfg.restricted = 0;       // outbound NAT on
  cfg.in_enabled = true;
  cfg.vnetwork = addr(kUserNetwork);
  cfg.vnetmask = addr(~0u << (32 - kUserPrefixLen));
  cfg.vhost = addr(kUserGateway);
  cfg.in6_enabled = false;  // the guest's stack is IPv4
  cfg.vhostname = hostname_.c_str();
  cfg.vdhcp_start = addr(kUserGuest);  // DHCP (if asked) hands out the static address
  cfg.vnameserver = addr(kUserDns);
  cfg.if_mtu = kMtu;
  cfg.if_mru = kMtu;
  // 10.0.2.2 reaches the host's own loopback services too, as with QEMU's
  // user network (and Docker's host.docker.internal): a guest talks to a
  // database or test server on the host's 127.0.0.1.
  cfg.disable_host_loopback = false;
  cfg.enable_emu = false;

  static const SlirpCb callbacks = [] {
    SlirpCb cb{};
    cb.send_packet = &SlirpBackend::send_packet;
    cb.guest_error = [](const char*, void*) {};  // a misbehaving guest only hurts itself
    cb.clock_get_ns = &SlirpBackend::clock_ns;
    cb.timer_new = &SlirpBackend::timer_new;
    cb.timer_free = &SlirpBackend::timer_free;
    cb.timer_mod = &SlirpBackend::timer_mod;
    cb.register_poll_fd = [](int, void*) {};  // every loop asks slirp afresh
    cb.unregister_poll_fd = [](int, void*) {};
    cb.notify = [](void*) {};                 // the loop always comes round
    return cb;
  }();
  slirp_ = slirp_new(&cfg, &callbacks, this);
  if (!slirp_) {
    *error = "network: libslirp failed to start";
    return false;
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    const cli::PortMapping& m = ports[i];
    in_addr host;
    if (inet_pton(AF_INET, m.host_ip.c_str(), &host) != 1) {
      *error = "-p " + port_texts[i] + ": bad host address";
      return false;
    }
    errno = 0;
    if (slirp_add_hostfwd(slirp_, m.udp ? 1 : 0, host, m.host_port, addr(kUserGuest),
                          m.guest_port) < 0) {
      int e = errno;
      *error = "-p " + port_texts[i] + ": cannot listen on " + m.host_ip + ":" +
               std::to_string(m.host_port) + "/" + (m.udp ? "udp" : "tcp") +
               (e ? std::string(": ") + strerror(e) : std::string());
      return false;
    }
    forwards_.push_back(Forward{m.udp, host.s_addr, m.host_port});
  }
  widen_listen_backlogs();
  return true;
}

// libslirp listens on a published TCP port with a backlog of 1: a burst of
// clients (redis-benchmark -c 50) then waits on the host's SYN retries,
// seconds apart. Listening again on the same socket only raises the backlog
// (listen(2) on a listening socket), so every listening socket slirp polls
// gets SOMAXCONN.
void SlirpBackend::widen_listen_backlogs() {
  std::vector<pollfd> polls;
  polls_ = &polls;
  uint32_t timeout = UINT32_MAX;
  slirp_pollfds_fill(slirp_, &timeout, &SlirpBackend::add_poll, this);
  polls_ = nullptr;
  for (const pollfd& p : polls) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(p.fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
      listen(p.fd, SOMAXCONN);
  }
}

void SlirpBackend::run_timers() {
  int64_t ms = now_ns() / 1000000;
  // A callback may free or re-arm timers: collect the due ones first.
  std::vector<Timer*> due;
  for (Timer* t : timers_)
    if (t->expire_ms >= 0 && t->expire_ms <= ms) due.push_back(t);
  for (Timer* t : due) {
    if (std::find(timers_.begin(), timers_.end(), t) == timers_.end()) continue;
    t->expire_ms = -1;
    t->cb(t->cb_opaque);
  }
}

bool SlirpBackend::pump_guest() {
  uint8_t frame[65536];
  // A bounded batch: slirp's own sockets get their turn between batches.
  for (int k = 0; k < 64; ++k) {
    ssize_t n = recv(frame_fd_, frame, sizeof frame, MSG_DONTWAIT);
    if (n == 0) return false;  // the guest side closed
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN;
    }
    ++frames_in_;
    slirp_input(slirp_, frame, int(n));
  }
  return true;
}

uint32_t SlirpBackend::fill_polls(bool guest) {
  std::vector<pollfd>& polls = *polls_;
  polls.clear();
  polls.push_back(pollfd{wake_fd_, POLLIN, 0});
  if (guest) polls.push_back(pollfd{frame_fd_, POLLIN, 0});
  uint32_t timeout = UINT32_MAX;
  slirp_pollfds_fill(slirp_, &timeout, &SlirpBackend::add_poll, this);
  int64_t now_ms = now_ns() / 1000000;
  for (Timer* t : timers_)
    if (t->expire_ms >= 0)
      timeout = uint32_t(std::min<int64_t>(timeout, std::max<int64_t>(0, t->expire_ms - now_ms)));
  return timeout;
}

void SlirpBackend::run() {
  std::vector<pollfd> polls;
  polls_ = &polls;
  for (;;) {
    uint32_t timeout = fill_polls(true);
    int wait = timeout == UINT32_MAX ? -1 : int(std::min<uint32_t>(timeout, 60000));
    int r = poll(polls.data(), polls.size(), wait);
    if (r < 0 && errno != EINTR) break;
    if (r > 0 && polls[0].revents) break;  // stop()
    if (r > 0 && polls[1].revents) {
      if (!pump_guest() ||
          ((polls[1].revents & (POLLHUP | POLLERR)) && !(polls[1].revents & POLLIN))) {
        // What the guest's last frames carried goes to slirp's sockets
        // before the drain looks at them.
        slirp_pollfds_poll(slirp_, 0, &SlirpBackend::get_revents, this);
        drain();
        break;
      }
    }
    slirp_pollfds_poll(slirp_, r < 0 ? 1 : 0, &SlirpBackend::get_revents, this);
    run_timers();
  }
  polls_ = nullptr;
}

// slirp asks to poll one of its sockets for writing only while it holds
// bytes the guest sent for it (or while it connects): the drain lasts until
// none does, or until the host has taken nothing for kDrainIdleMs.
void SlirpBackend::drain() {
  guest_gone_ = true;
  for (const Forward& f : forwards_) {
    in_addr a;
    a.s_addr = f.host_addr;
    slirp_remove_hostfwd(slirp_, f.udp ? 1 : 0, a, f.host_port);
  }
  forwards_.clear();
  int64_t idle_until = now_ns() / 1000000 + kDrainIdleMs;
  std::vector<pollfd>& polls = *polls_;
  for (;;) {
    uint32_t timeout = fill_polls(false);  // polls[0]: stop()'s eventfd, then slirp's
    bool holding = false;
    for (size_t i = 1; i < polls.size(); ++i) holding |= (polls[i].events & POLLOUT) != 0;
    int64_t now_ms = now_ns() / 1000000;
    if (!holding || now_ms >= idle_until) return;
    int wait = int(std::min<int64_t>(timeout, idle_until - now_ms));
    int r = poll(polls.data(), polls.size(), wait);
    if (r < 0 && errno != EINTR) return;
    if (r > 0 && polls[0].revents) return;  // stop()
    for (size_t i = 1; r > 0 && i < polls.size(); ++i)
      if (polls[i].revents & POLLOUT) idle_until = now_ns() / 1000000 + kDrainIdleMs;
    slirp_pollfds_poll(slirp_, r < 0 ? 1 : 0, &SlirpBackend::get_revents, this);
    run_timers();
  }
}

void SlirpBackend::stop() {
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
}

}  // namespace mote::net
