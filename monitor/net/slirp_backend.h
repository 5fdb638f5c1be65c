// `--net user`: the guest's Ethernet frames go through libslirp, a user-space
// TCP/IP stack that NATs the guest's connections onto ordinary host sockets
// (no privileges, no host interfaces). The guest network is guest_net.h's:
// guest 10.0.2.15/24, gateway 10.0.2.2, DNS forwarder 10.0.2.3. Each -p
// becomes a slirp host forward: slirp listens on HOSTIP:HOSTPORT and
// connects through to 10.0.2.15:GUESTPORT.
//
// Frames travel on a SOCK_SEQPACKET socket, one Ethernet frame per packet;
// the guest side (the process platform's core, mote's KVM device model, a
// test) holds the other end. The backend's loop polls that socket, slirp's
// own sockets and its timers, in the thread that calls run(), until the peer
// closes the socket or stop() is called. A peer that closes is a guest that
// ended: as Linux's sockets outlive an exiting process, what its
// connections sent and slirp already acknowledged still goes to the host's
// sockets before run() returns (drain()).
//
// The guest cannot reach the host's loopback (127.0.0.1) through 10.0.2.2,
// as a Docker container cannot: only the host's other addresses and the
// outside world.
#pragma once

#include <poll.h>

#include <cstdint>
#include <string>
#include <vector>

#include "monitor/cli/options.h"

struct Slirp;

namespace mote::net {

class SlirpBackend {
 public:
  SlirpBackend() = default;
  ~SlirpBackend();
  SlirpBackend(const SlirpBackend&) = delete;
  SlirpBackend& operator=(const SlirpBackend&) = delete;

  // Sets up slirp on `frame_fd` (the backend's end; made non-blocking) with
  // a host forward for each port. False with a one-line reason naming the
  // -p that failed ("-p 8080:80: cannot listen on 0.0.0.0:8080/tcp: Address
  // already in use").
  bool start(int frame_fd, const std::vector<cli::PortMapping>& ports,
             const std::vector<std::string>& port_texts, const std::string& hostname,
             std::string* error);
  // The poll loop; returns after stop(), or when the peer closed the frame
  // socket and slirp has written what it held for the host (at most
  // kDrainIdleMs without the host taking any of it). The frame fd stays
  // open (the caller's).
  void run();
  static constexpr int kDrainIdleMs = 10000;
  // From any thread (or a signal handler): run() returns soon.
  void stop();

  // Statistics, for tests and --verbose.
  uint64_t frames_in() const { return frames_in_; }
  uint64_t frames_out() const { return frames_out_; }
  uint64_t frames_dropped() const { return frames_dropped_; }

 private:
  struct Timer;
  static long send_packet(const void* buf, size_t len, void* opaque);
  static int64_t clock_ns(void* opaque);
  static void* timer_new(void (*cb)(void*), void* cb_opaque, void* opaque);
  static void timer_free(void* timer, void* opaque);
  static void timer_mod(void* timer, int64_t expire_ms, void* opaque);
  static int add_poll(int fd, int events, void* opaque);
  static int get_revents(int idx, void* opaque);
  void run_timers();
  // One round's poll set in *polls_: stop()'s eventfd, the frame socket
  // when `guest`, then slirp's sockets. Returns the wait in ms until slirp's
  // or a timer's next deadline (UINT32_MAX: none).
  uint32_t fill_polls(bool guest);
  // Reads every waiting frame from the guest into slirp; false at EOF.
  bool pump_guest();
  // After the guest's end: the published ports close, and slirp's sockets
  // write out what they hold (see run()).
  void drain();

  struct Forward {
    bool udp;
    uint32_t host_addr;  // network order
    int host_port;
  };
  std::vector<Forward> forwards_;
  bool guest_gone_ = false;  // the frame socket's peer closed (a send or the loop saw it)

  Slirp* slirp_ = nullptr;
  int frame_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop()
  std::vector<Timer*> timers_;
  void widen_listen_backlogs();
  std::vector<pollfd>* polls_ = nullptr;  // during one loop iteration
  uint64_t frames_in_ = 0, frames_out_ = 0, frames_dropped_ = 0;
  std::string hostname_;
};

}  // namespace mote::net
