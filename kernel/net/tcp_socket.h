// A TCP socket: the transmission control block (RFC 9293 3.3.1) plus the
// socket-level calls the syscall layer wraps (bind, listen, accept, connect,
// send, recv, shutdown, close, options, poll). Sockets are made by
// Tcp::socket() and live until the user calls close() *and* the protocol is
// done with them (FIN exchange, TIME_WAIT); Tcp frees them then.
//
// Nothing blocks: calls that would wait return EAGAIN, connect() returns once
// the SYN is out, and the wakeup hook says when poll() may have changed.
// Every call that can send takes the current time.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"
#include "kernel/net/tcp_buffer.h"

namespace mote::net {

class Tcp;
class TcpSocket;

// RFC 9293 3.3.2.
enum class TcpState : u8 {
  Closed,
  Listen,
  SynSent,
  SynReceived,
  Established,
  FinWait1,
  FinWait2,
  CloseWait,
  Closing,
  LastAck,
  TimeWait,
};
const char* tcp_state_name(TcpState s);

// Socket options, named after their Linux counterparts. Values are ints as
// setsockopt passes them; times in seconds, sizes in bytes.
enum class TcpOpt : u8 {
  NoDelay,    // TCP_NODELAY: no Nagle coalescing
  KeepAlive,  // SO_KEEPALIVE
  KeepIdle,   // TCP_KEEPIDLE (s, 1..32767)
  KeepIntvl,  // TCP_KEEPINTVL (s, 1..32767)
  KeepCnt,    // TCP_KEEPCNT (1..127)
  RcvBuf,     // SO_RCVBUF: doubled as Linux does; fixed once connecting
  SndBuf,     // SO_SNDBUF: likewise
  Tos,        // IP_TOS
  ReuseAddr,  // SO_REUSEADDR
  MaxSeg,     // TCP_MAXSEG (88..32767) before connecting; reads the MSS in use
  Linger,     // SO_LINGER: -1 off, else l_linger in seconds (0 = reset on close)
  V6Only,     // an IPV6_V6ONLY socket of the AF_INET6 layer: its port is apart from
              // IPv4 wildcards (see ports_overlap)
};

// poll() bits, with Linux's values.
inline constexpr u32 kPollIn = 0x001;
inline constexpr u32 kPollOut = 0x004;
inline constexpr u32 kPollErr = 0x008;
inline constexpr u32 kPollHup = 0x010;
inline constexpr u32 kPollRdHup = 0x2000;

inline constexpr int kShutRd = 0, kShutWr = 1, kShutRdWr = 2;

// Called (from inside Tcp, with its state mid-update) when the socket's
// poll() result may have changed; `events` hints which bits. It must not call
// back into Tcp: it should only mark waiters runnable.
using TcpWakeFn = void (*)(void* ctx, TcpSocket* s, u32 events);

// A snapshot for TCP_INFO-style diagnostics and for tests.
struct TcpInfo {
  TcpState state;
  u32 snd_mss, rcv_mss;
  u8 snd_wscale, rcv_wscale;
  bool wscale_ok, ts_ok;
  u32 cwnd, ssthresh;  // bytes
  u32 snd_wnd, rcv_wnd;
  u64 srtt_ns, rttvar_ns, rto_ns;
  u32 backoff, retransmits, dupacks;
  bool in_recovery;
  u32 unacked, send_queued, recv_queued, ooo_ranges;
};

class TcpSocket;
// Two bound sockets' ports collide (tcp.cc): the same port and address, or a
// wildcard of the same kind (see TcpOpt::V6Only).
bool ports_overlap(const TcpSocket& a, Endpoint la, const TcpSocket& b, Endpoint lb);

// One socket timer: an absolute deadline in ns, 0 when off. Every change
// goes through operator=, which keeps the socket's place in its Tcp's heap
// of sockets by earliest deadline (Tcp::next_deadline, asked after every
// socket call and frame, reads the top instead of walking every socket).
class TcpTimer {
 public:
  explicit TcpTimer(TcpSocket* owner) : owner_(owner) {}
  TcpTimer(const TcpTimer&) = delete;
  TcpTimer& operator=(const TcpTimer&) = delete;
  TcpTimer& operator=(u64 at);  // tcp_timer.cc
  operator u64() const { return at_; }

 private:
  TcpSocket* owner_;
  u64 at_ = 0;
};

class TcpSocket {
 public:
  // --- socket calls -------------------------------------------------------
  // EINVAL when already bound, EADDRNOTAVAIL for a non-local address,
  // EADDRINUSE on a conflict (SO_REUSEADDR allows TIME_WAIT and non-listening
  // holders that set it too). Port 0 picks an ephemeral port.
  Result<void> bind(Endpoint local);
  // backlog bounds both half-open (SYN_RECEIVED) and accept-ready
  // connections; SYNs beyond either are dropped. Binds an ephemeral port
  // when unbound.
  Result<void> listen(u32 backlog);
  // The next established connection, or EAGAIN; EINVAL when not listening.
  Result<TcpSocket*> accept();
  // Active open: sends the SYN and returns. Completion shows in poll()
  // (kPollOut) or as an error (take_error(): ECONNREFUSED, ETIMEDOUT, ...).
  // EISCONN, EALREADY, EADDRINUSE, ENETUNREACH.
  Result<void> connect(Endpoint remote, u64 now_ns);
  // Copies what fits into the send buffer; EAGAIN when full or not yet
  // connected, EPIPE after shutdown/reset, ENOTCONN when never connected.
  Result<usize> send(const void* data, usize len, u64 now_ns);
  // Reads buffered bytes; 0 at end of stream, EAGAIN when none yet, a pending
  // error (ECONNRESET) once; peek leaves the bytes in place.
  Result<usize> recv(void* out, usize len, u64 now_ns, bool peek = false);
  Result<void> shutdown(int how, u64 now_ns);
  // Gives the socket up. Data still queued is sent and the connection closed
  // in the background; with SO_LINGER 0, or unread received data, it is
  // reset instead. The pointer is invalid afterwards. SO_LINGER > 0 is the
  // socket layer's to honour: wait for linger_done() up to the linger time,
  // before calling close().
  void close(u64 now_ns);
  // Resets the connection (RST when synchronized); the socket stays valid.
  void abort(u64 now_ns);

  Result<void> set_option(TcpOpt opt, int value, u64 now_ns);
  Result<int> get_option(TcpOpt opt) const;

  u32 poll() const;
  // SO_ERROR: the pending error, cleared by reading it (0 when none).
  int take_error();
  Endpoint local() const { return local_; }  // getsockname
  Result<Endpoint> peer() const;             // getpeername; ENOTCONN
  TcpState state() const { return state_; }
  usize readable_bytes() const { return rbuf_.size(); }   // FIONREAD
  usize unsent_bytes() const { return sbuf_.size(); }     // TIOCOUTQ
  usize send_room() const { return sbuf_.ready() ? sbuf_.space() : sndbuf_; }
  // True once everything sent (FIN included) is acknowledged, or the
  // connection is gone: what SO_LINGER waits for.
  bool linger_done() const;
  void set_wakeup(TcpWakeFn fn, void* ctx) { wake_fn_ = fn, wake_ctx_ = ctx; }
  TcpInfo info() const;

 private:
  friend class Tcp;
  friend class TcpTimer;
  friend bool ports_overlap(const TcpSocket& a, Endpoint la, const TcpSocket& b, Endpoint lb);
  explicit TcpSocket(Tcp* tcp) : tcp_(tcp), t_rtx_(this), t_delack_(this), t_keep_(this) {}
  ~TcpSocket() = default;

  bool synchronized() const { return state_ >= TcpState::Established; }
  u32 data_end() const { return snd_una_ + sbuf_.size(); }
  // The largest receive window a segment's 16-bit field can advertise.
  u32 max_rcv_window() const { return 0xffffu << (ws_ok_ ? rcv_wscale_ : 0); }

  Tcp* tcp_;
  // Tcp's tables.
  TcpSocket *all_prev_ = nullptr, *all_next_ = nullptr;
  TcpSocket* hash_next_ = nullptr;
  TcpSocket* listen_next_ = nullptr;
  bool hashed_ = false, listed_ = false;
  // Listener side: children point at their listener until accepted.
  TcpSocket* parent_ = nullptr;
  TcpSocket* q_next_ = nullptr;  // accept queue link
  bool in_acceptq_ = false;
  TcpSocket *acceptq_head_ = nullptr, *acceptq_tail_ = nullptr;
  u32 acceptq_len_ = 0, synq_len_ = 0, backlog_ = 0;

  TcpState state_ = TcpState::Closed;
  bool user_ref_ = true;      // the socket layer still holds it
  bool bound_ = false, user_bound_ = false, was_connected_ = false;
  Endpoint local_, remote_;

  // Options.
  bool nodelay_ = false, keepalive_ = false, reuseaddr_ = false, v6only_ = false;
  u32 keep_idle_s_ = 0, keep_intvl_s_ = 0, keep_cnt_ = 0;
  u32 rcvbuf_ = 0, sndbuf_ = 0;
  // Set by SO_RCVBUF/SO_SNDBUF: that size stays (as Linux's
  // SOCK_RCVBUF_LOCK/SOCK_SNDBUF_LOCK). Otherwise the buffers grow with the
  // connection's speed (tcp_autotune.cc).
  bool rcvbuf_locked_ = false, sndbuf_locked_ = false;
  // Receive autotuning: the period measured (its start, 0: none) and the
  // bytes the program read in it.
  u64 rcv_auto_start_ = 0;
  u32 rcv_auto_bytes_ = 0;
  u8 tos_ = 0;
  u16 user_mss_ = 0;
  i32 linger_ = -1;

  // Send sequence space (RFC 9293 3.3.1). snd_max is the highest sequence
  // number sent; snd_nxt falls back to snd_una on a retransmission timeout.
  u32 iss_ = 0, snd_una_ = 0, snd_nxt_ = 0, snd_max_ = 0;
  u32 snd_wnd_ = 0, snd_wl1_ = 0, snd_wl2_ = 0, max_snd_wnd_ = 0;
  u32 snd_mss_ = 536;  // payload bytes per segment, options accounted for
  u16 adv_mss_ = 536;  // what our SYN announced
  u8 snd_wscale_ = 0, rcv_wscale_ = 0;
  bool ws_ok_ = false, ts_ok_ = false;
  bool fin_queued_ = false;  // shutdown(SHUT_WR) happened: FIN after the data
  bool fin_acked_ = false;
  TcpRing sbuf_;

  // Receive sequence space.
  u32 irs_ = 0, rcv_nxt_ = 0, rcv_adv_ = 0, last_ack_sent_ = 0;
  u32 rcv_mss_ = 536;  // largest segment seen (delayed-ACK accounting)
  u32 unacked_bytes_ = 0;
  bool ack_now_ = false;
  bool fin_rcvd_ = false, rd_shut_ = false;
  bool ooo_fin_ = false;
  u32 ooo_fin_seq_ = 0;
  TcpRing rbuf_;
  TcpReassembly ooo_;

  // Timestamps (RFC 7323 4, 5).
  u32 ts_recent_ = 0, ts_offset_ = 0;
  u64 ts_recent_at_ = 0;

  // RTT and retransmission (RFC 6298).
  u64 srtt_ = 0, rttvar_ = 0, rto_ = 0;
  u32 backoff_ = 0, retransmits_ = 0;
  bool rtt_timing_ = false;
  u32 rtt_end_ = 0;
  u64 rtt_start_ = 0;

  // Congestion control (RFC 5681, NewReno RFC 6582).
  u32 cwnd_ = 0, ssthresh_ = 0, recover_ = 0, ca_acked_ = 0, dupacks_ = 0;
  bool in_recovery_ = false;

  // Timers: absolute deadlines, 0 when off. t_rtx_ is the retransmission
  // timer, or the persist timer when persist_; t_keep_ is keepalive,
  // FIN_WAIT_2 or TIME_WAIT by state.
  TcpTimer t_rtx_, t_delack_, t_keep_;
  u32 heap_pos_ = 0;  // 1 + its index in Tcp's deadline heap, 0 when no timer is on
  u64 earliest_timer() const;
  bool persist_ = false;
  u32 persist_backoff_ = 0, keep_probes_ = 0;
  u64 last_rcv_ns_ = 0;

  int so_error_ = 0;
  int soft_error_ = 0;  // ICMP soft error, reported if the connection times out
  TcpWakeFn wake_fn_ = nullptr;
  void* wake_ctx_ = nullptr;
};

}  // namespace mote::net
