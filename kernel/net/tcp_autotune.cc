// Buffer autotuning: a connection's send and receive buffers start at the
// defaults (TcpConfig sndbuf/rcvbuf, 128 KiB) and grow, up to max_buf
// (4 MiB, Linux's tcp_wmem/tcp_rmem maximum), while they are what holds the
// transfer back -- as Linux grows sk_sndbuf (tcp_sndbuf_expand) and
// sk_rcvbuf (tcp_rcv_space_adjust). A program that set SO_SNDBUF or
// SO_RCVBUF keeps its size. Over a tap a fixed 128 KiB held one bulk
// connection to 0.8 GB/s out and 0.65 GB/s in; 4 MiB buffers (SO_*BUF set by
// hand) gave 1.2-1.5 and 0.85-1.3.
//
// Sending: a write that finds the buffer too small while the congestion
// window and the peer's window would both let at least half of it be in
// flight: the buffer, not the path, is the limit. It doubles.
//
// Receiving: the bytes the program reads in one period of a round trip (the
// smoothed RTT, at least a millisecond) are counted; when they reach half
// the buffer, the program keeps up and the sender could use a larger
// window. It doubles, as far as the window scale negotiated can advertise
// (without scaling a window tops out at 64 KiB and nothing grows). Bytes
// that only arrive count for nothing: a peer cannot make a connection whose
// program does not read hold more than the default.
//
// Memory: the buffers of all connections together lie no more than
// grown_max beyond the defaults (a sixteenth of the memory limit, as
// Linux's tcp_mem is a fraction of RAM); past that nothing grows. The sum is
// taken only when a buffer would grow, a few times per connection.
#include "kernel/net/tcp.h"

namespace mote::net {

bool Tcp::may_grow(u32 more) const {
  u64 grown = 0;
  for (const TcpSocket* c = all_; c; c = c->all_next_) {
    if (c->sbuf_.cap() > cfg_.sndbuf) grown += c->sbuf_.cap() - cfg_.sndbuf;
    if (c->rbuf_.cap() > cfg_.rcvbuf) grown += c->rbuf_.cap() - cfg_.rcvbuf;
  }
  return grown + more <= cfg_.grown_max;
}

void Tcp::autotune_send(TcpSocket& s, usize want) {
  if (s.sndbuf_locked_ || !s.sbuf_.ready()) return;
  u32 cap = s.sbuf_.cap();
  if (cap >= cfg_.max_buf || want <= s.sbuf_.space()) return;
  if (s.cwnd_ < cap / 2 || s.max_snd_wnd_ < cap / 2) return;
  u32 grown = min(cap * 2, cfg_.max_buf);
  if (!may_grow(grown - cap)) return;
  s.sbuf_.grow(grown);
  s.sndbuf_ = grown;
}

void Tcp::autotune_recv(TcpSocket& s, u32 n, u64 now) {
  if (s.rcvbuf_locked_ || !s.rbuf_.ready()) return;
  u32 cap = s.rbuf_.cap();
  u32 limit = min(cfg_.max_buf, s.max_rcv_window());
  if (cap >= limit) return;
  if (!s.rcv_auto_start_) s.rcv_auto_start_ = now, s.rcv_auto_bytes_ = 0;
  s.rcv_auto_bytes_ += n;
  u64 period = s.srtt_ > kTcpNsPerMs ? s.srtt_ : kTcpNsPerMs;
  if (now - s.rcv_auto_start_ < period) return;
  if (s.rcv_auto_bytes_ >= cap / 2) {
    u32 grown = min(cap * 2, limit);
    if (may_grow(grown - cap)) {
      s.rbuf_.grow(grown);
      s.rcvbuf_ = grown;
    }
  }
  s.rcv_auto_start_ = now;
  s.rcv_auto_bytes_ = 0;
}

}  // namespace mote::net
