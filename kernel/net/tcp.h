// mote's TCP (RFC 9293): one Tcp instance holds every socket of a stack,
// takes segments from the IP layer (input, icmp_error), sends through an
// IpSender, and runs its timers when told the time (tick, next_deadline).
//
// What it implements: the full state machine with simultaneous open and
// close and TIME_WAIT; RFC 5961 RST/SYN/ACK checks with challenge ACKs;
// RFC 6528 ISNs and RFC 6056 ephemeral ports (32768-60999); RFC 6298 RTO
// with Karn's rule; RFC 5681 slow start and congestion avoidance; fast
// retransmit and NewReno recovery (RFC 6582); RFC 7323 window scaling,
// timestamps and PAWS; MSS negotiation and PMTU updates from ICMP; delayed
// ACKs; Nagle; keepalive; zero-window probing; bounded out-of-order
// reassembly. Not implemented: SACK (SACK-permitted is never offered), ECN,
// urgent data (URG is ignored, data stays inline), TCP Fast Open, SYN
// cookies, RTT measurement from timestamps (one timed segment at a time).
//
// Single-threaded: the caller serialises every entry point.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"
#include "kernel/net/tcp_isn.h"
#include "kernel/net/tcp_socket.h"
#include "kernel/net/tcp_wire.h"

namespace mote::net {

inline constexpr u64 kTcpNsPerMs = 1000000;
inline constexpr u64 kTcpNsPerSec = 1000000000;

struct TcpConfig {
  u64 msl_ns = 30 * kTcpNsPerSec;          // TIME_WAIT lasts 2*MSL (Linux: 60 s)
  u64 fin_timeout_ns = 60 * kTcpNsPerSec;  // orphaned FIN_WAIT_2 (tcp_fin_timeout)
  u64 delack_ns = 40 * kTcpNsPerMs;
  u64 init_rto_ns = 1 * kTcpNsPerSec;      // RFC 6298 2.1
  u64 min_rto_ns = 200 * kTcpNsPerMs;      // Linux's TCP_RTO_MIN
  u64 max_rto_ns = 120 * kTcpNsPerSec;     // Linux's TCP_RTO_MAX
  u32 syn_retries = 6, synack_retries = 5, retries2 = 15;
  u32 rcvbuf = 128 * 1024, sndbuf = 128 * 1024;  // defaults, as SO_RCVBUF reads
  // The largest SO_RCVBUF/SO_SNDBUF, and what the buffers of a connection
  // whose program set neither grow to (Linux's tcp_wmem/tcp_rmem maximum).
  u32 max_buf = 4 * 1024 * 1024;
  // How far all connections' buffers together may lie beyond the defaults
  // before none grows any more (Linux's tcp_mem); the kernel sets it from
  // the memory limit (linux/inet.cc).
  u64 grown_max = 64ull * 1024 * 1024;
  u32 max_backlog = 4096;                        // somaxconn
  u32 max_sockets = 16384;  // every socket incl. half-open and TIME_WAIT
  u16 ephemeral_lo = 32768, ephemeral_hi = 60999;
  u32 keep_idle_s = 7200, keep_intvl_s = 75, keep_cnt = 9;
};

struct TcpStats {
  u64 in_segs = 0, out_segs = 0, bad_segs = 0, retrans_segs = 0;
  u64 resets_sent = 0, listen_drops = 0, challenge_acks = 0, paws_drops = 0;
  u64 ooo_drops = 0, send_errors = 0;
  u64 mem_drops = 0;  // segments that found no memory for their bytes (TcpRing::reserve)
};

class Tcp {
 public:
  Tcp(IpSender& ip, const TcpSecret& secret, const TcpConfig& cfg = TcpConfig{});
  ~Tcp();  // frees every socket, without sending anything
  Tcp(const Tcp&) = delete;
  Tcp& operator=(const Tcp&) = delete;

  // A new socket (CLOSED, unbound). ENOMEM; EMFILE past max_sockets.
  Result<TcpSocket*> socket();

  // The program's end: every socket it still holds is closed as close()
  // would (Linux closes an exiting process's files). Their data and FINs go
  // on in the background, as Linux's orphans do, for as long as the caller
  // keeps feeding input and ticks: unacked() says when they are through.
  void close_all(u64 now_ns);
  // Bytes sent or queued that the peer has not acknowledged, plus one for
  // each FIN not yet acknowledged, over every connection: 0 once all that
  // was sent has arrived (or its connection is gone).
  u64 unacked() const;

  // --- transport entry points, called by the IP layer --------------------
  // A TCP segment (header onward) that arrived for one of our addresses.
  void input(const IpInfo& ip, const u8* seg, usize len, u64 now_ns);
  // An ICMP error quoting a segment we sent from local to remote: `quoted`
  // is the start of that TCP header (8 bytes suffice). type 3 (destination
  // unreachable): code 4 carries the next-hop MTU (RFC 1191), codes 2 and 3
  // refuse a connection attempt, others are soft errors (RFC 1122 4.2.3.9).
  void icmp_error(Ipv4 local, Ipv4 remote, u8 type, u8 code, u16 mtu, const u8* quoted,
                  usize len, u64 now_ns);
  // Runs the timers due at now_ns.
  void tick(u64 now_ns);
  // The earliest timer deadline, ~0 when none is armed.
  u64 next_deadline() const;
  // For tests: the deadline heap holds exactly the sockets with a timer on,
  // in heap order, and next_deadline() is the earliest of all their timers.
  bool deadlines_consistent() const;

  const TcpConfig& config() const { return cfg_; }
  const TcpStats& stats() const { return stats_; }
  usize socket_count() const { return nsockets_; }

 private:
  friend class TcpSocket;
  static constexpr u32 kBuckets = 1024;

  // tcp.cc: tables and lifetimes.
  Result<TcpSocket*> new_socket();
  void destroy(TcpSocket* s);
  void reap();
  u32 bucket_of(Endpoint local, Endpoint remote) const;
  void hash_insert(TcpSocket* s);
  void hash_remove(TcpSocket* s);
  TcpSocket* lookup(Endpoint local, Endpoint remote) const;
  TcpSocket* lookup_listener(Endpoint local) const;
  void listener_add(TcpSocket* s);
  void listener_remove(TcpSocket* s);
  bool bind_conflict(const TcpSocket* s, Endpoint local) const;
  bool port_reserved(u16 port) const;
  Result<u16> ephemeral_for_bind(TcpSocket* s, Ipv4 addr);
  Result<u16> ephemeral_for_connect(Ipv4 local, Endpoint remote);
  void set_closed(TcpSocket& s, int error);
  void enter_time_wait(TcpSocket& s, u64 now);
  void established(TcpSocket& s, u64 now);
  void wake(TcpSocket& s, u32 events);
  Result<void> setup_buffers(TcpSocket& s);
  void init_syn_params(TcpSocket& s, u64 now);

  // tcp_user.cc: the socket calls.
  Result<void> user_bind(TcpSocket& s, Endpoint local);
  Result<void> user_listen(TcpSocket& s, u32 backlog);
  Result<TcpSocket*> user_accept(TcpSocket& s);
  Result<void> user_connect(TcpSocket& s, Endpoint remote, u64 now);
  Result<usize> user_send(TcpSocket& s, const u8* data, usize len, u64 now);
  Result<usize> user_recv(TcpSocket& s, u8* out, usize len, u64 now, bool peek);
  Result<void> user_shutdown(TcpSocket& s, int how, u64 now);
  void user_close(TcpSocket& s, u64 now);
  void close_held(TcpSocket& s, u64 now);  // user_close without the reap
  void user_abort(TcpSocket& s, u64 now);
  Result<void> user_set_option(TcpSocket& s, TcpOpt opt, int v, u64 now);
  void close_listener(TcpSocket& s, u64 now);

  // tcp_input.cc: segment arrival (RFC 9293 3.10.7).
  void input_closed(const IpInfo& ip, const TcpSegment& seg);
  void input_listen(TcpSocket& l, const IpInfo& ip, const TcpSegment& seg, u64 now);
  void input_syn_sent(TcpSocket& s, const TcpSegment& seg, u64 now);
  void input_synced(TcpSocket& s, TcpSegment seg, u64 now);
  bool time_wait_reusable(const TcpSocket& s, const TcpSegment& seg) const;
  void apply_syn_options(TcpSocket& s, const TcpSegment& seg, u64 now);
  void synced_established(TcpSocket& s, const TcpSegment& seg, u64 now);
  bool process_ack(TcpSocket& s, const TcpSegment& seg, u64 now);
  void process_text(TcpSocket& s, const TcpSegment& seg, u64 now);
  void consume_fin(TcpSocket& s, u64 now);

  // tcp_output.cc: segments out.
  void output(TcpSocket& s, u64 now, bool force = false);
  bool send_segment(TcpSocket& s, u32 seq, u32 len, u8 flags, u64 now);
  void send_ack(TcpSocket& s, u64 now);
  void send_challenge_ack(TcpSocket& s, u64 now);
  void send_probe(TcpSocket& s, u64 now);
  void send_rst(TcpSocket& s);
  void send_rst_reply(const IpInfo& ip, const TcpSegment& seg);
  u32 retransmit_head(TcpSocket& s, u64 now);
  u32 window_field(TcpSocket& s, bool syn);
  u32 ts_now(const TcpSocket& s, u64 now) const;

  // tcp_timer.cc: timers and the RTT estimator.
  void run_timers(TcpSocket& s, u64 now);
  void on_rto(TcpSocket& s, u64 now);
  void on_persist(TcpSocket& s, u64 now);
  void on_keep(TcpSocket& s, u64 now);
  void arm_rto(TcpSocket& s, u64 now);
  friend class TcpTimer;
  void timer_changed(TcpSocket& s);
  void heap_remove(TcpSocket& s);
  void heap_place(u32 i);  // restores the heap order around index i
  bool heap_reserve(u32 sockets);  // room for that many: every socket has its slot
  void arm_persist(TcpSocket& s, u64 now);
  void arm_keepalive(TcpSocket& s, u64 now);
  void rtt_sample(TcpSocket& s, u64 rtt_ns);
  u64 current_rto(const TcpSocket& s) const;

  // tcp_cc.cc: congestion control.
  void cc_init(TcpSocket& s);
  void cc_new_ack(TcpSocket& s, u32 acked, u64 now);
  void cc_dup_ack(TcpSocket& s, u64 now);
  void cc_timeout(TcpSocket& s);

  // tcp_autotune.cc: buffers that grow with the connection's speed, unless
  // the program set SO_SNDBUF/SO_RCVBUF. A send of `want` bytes that does
  // not fit; `n` bytes the program read.
  void autotune_send(TcpSocket& s, usize want);
  void autotune_recv(TcpSocket& s, u32 n, u64 now);
  // Whether a buffer may grow by `more` bytes within cfg_.grown_max.
  bool may_grow(u32 more) const;

  IpSender& ip_;
  TcpSecret secret_;
  TcpConfig cfg_;
  TcpStats stats_;
  TcpSocket** buckets_ = nullptr;
  TcpSocket* all_ = nullptr;
  // Sockets with a timer on, a binary min-heap by their earliest deadline
  // (tcp_timer.cc); grown by doubling.
  // Each entry keeps its socket's earliest deadline, so that ordering the
  // heap compares keys in one array instead of reading three timers from
  // every socket it passes (timer_changed refreshes it).
  struct HeapEntry {
    u64 key;
    TcpSocket* s;
  };
  HeapEntry* heap_ = nullptr;
  u32 heap_len_ = 0, heap_cap_ = 0;
  TcpSocket* listeners_ = nullptr;
  usize nsockets_ = 0;
  u32 next_ephemeral_ = 0;
  u32 zombies_ = 0;  // closed sockets nobody holds, for reap()
};

}  // namespace mote::net
