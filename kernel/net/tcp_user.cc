// The socket calls (tcp_socket.h) and their protocol side: RFC 9293 3.10.1-6
// (OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS) in socket form.
#include "kernel/lib/errno.h"
#include "kernel/net/tcp.h"
#include "kernel/net/tcp_seq.h"

namespace mote::net {

// --- TcpSocket: thin forwards into Tcp --------------------------------------

Result<void> TcpSocket::bind(Endpoint local) { return tcp_->user_bind(*this, local); }
Result<void> TcpSocket::listen(u32 backlog) { return tcp_->user_listen(*this, backlog); }
Result<TcpSocket*> TcpSocket::accept() { return tcp_->user_accept(*this); }
Result<void> TcpSocket::connect(Endpoint remote, u64 now) {
  return tcp_->user_connect(*this, remote, now);
}
Result<usize> TcpSocket::send(const void* data, usize len, u64 now) {
  return tcp_->user_send(*this, static_cast<const u8*>(data), len, now);
}
Result<usize> TcpSocket::recv(void* out, usize len, u64 now, bool peek) {
  return tcp_->user_recv(*this, static_cast<u8*>(out), len, now, peek);
}
Result<void> TcpSocket::shutdown(int how, u64 now) { return tcp_->user_shutdown(*this, how, now); }
void TcpSocket::close(u64 now) { tcp_->user_close(*this, now); }
void TcpSocket::abort(u64 now) { tcp_->user_abort(*this, now); }
Result<void> TcpSocket::set_option(TcpOpt opt, int v, u64 now) {
  return tcp_->user_set_option(*this, opt, v, now);
}

int TcpSocket::take_error() {
  int e = so_error_;
  so_error_ = 0;
  return e;
}

Result<Endpoint> TcpSocket::peer() const {
  if (state_ == TcpState::Closed || state_ == TcpState::Listen || state_ == TcpState::SynSent)
    return err(ENOTCONN);
  return remote_;
}

bool TcpSocket::linger_done() const { return fin_acked_ || state_ == TcpState::Closed; }

u32 TcpSocket::poll() const {
  // Modelled on Linux's tcp_poll.
  if (state_ == TcpState::Listen) return acceptq_len_ ? kPollIn : 0;
  u32 ev = so_error_ ? kPollErr : 0;
  if (state_ == TcpState::Closed) {
    ev |= kPollOut | kPollHup;
    if (was_connected_) ev |= kPollIn | kPollRdHup;
    return ev;
  }
  if (state_ == TcpState::SynSent || state_ == TcpState::SynReceived) return ev;
  bool rd_done = fin_rcvd_ || rd_shut_;
  if (rd_done) ev |= kPollIn | kPollRdHup;
  if (rbuf_.size()) ev |= kPollIn;
  if (rd_done && fin_queued_) ev |= kPollHup;
  if (fin_queued_) {
    ev |= kPollOut;  // a write fails at once (EPIPE): it does not block
  } else if (sbuf_.space() > 0 && sbuf_.space() >= sbuf_.size() / 2) {
    ev |= kPollOut;
  }
  return ev;
}

Result<int> TcpSocket::get_option(TcpOpt opt) const {
  switch (opt) {
    case TcpOpt::NoDelay: return int(nodelay_);
    case TcpOpt::KeepAlive: return int(keepalive_);
    case TcpOpt::KeepIdle: return int(keep_idle_s_);
    case TcpOpt::KeepIntvl: return int(keep_intvl_s_);
    case TcpOpt::KeepCnt: return int(keep_cnt_);
    case TcpOpt::RcvBuf: return int(rcvbuf_);
    case TcpOpt::SndBuf: return int(sndbuf_);
    case TcpOpt::Tos: return int(tos_);
    case TcpOpt::ReuseAddr: return int(reuseaddr_);
    case TcpOpt::V6Only: return int(v6only_);
    case TcpOpt::MaxSeg:
      if (synchronized() || state_ == TcpState::SynReceived) return int(snd_mss_);
      return int(user_mss_ ? user_mss_ : 536);
    case TcpOpt::Linger: return int(linger_);
  }
  return err(ENOPROTOOPT);
}

TcpInfo TcpSocket::info() const {
  TcpInfo i{};
  i.state = state_;
  i.snd_mss = snd_mss_, i.rcv_mss = rcv_mss_;
  i.snd_wscale = snd_wscale_, i.rcv_wscale = rcv_wscale_;
  i.wscale_ok = ws_ok_, i.ts_ok = ts_ok_;
  i.cwnd = cwnd_, i.ssthresh = ssthresh_;
  i.snd_wnd = snd_wnd_;
  i.rcv_wnd = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  i.srtt_ns = srtt_, i.rttvar_ns = rttvar_, i.rto_ns = rto_;
  i.backoff = backoff_, i.retransmits = retransmits_, i.dupacks = dupacks_;
  i.in_recovery = in_recovery_;
  i.unacked = snd_max_ - snd_una_;
  i.send_queued = sbuf_.size(), i.recv_queued = rbuf_.size();
  i.ooo_ranges = ooo_.count();
  return i;
}

// --- Tcp: the calls' protocol side -------------------------------------------

Result<void> Tcp::user_bind(TcpSocket& s, Endpoint local) {
  if (s.bound_ || s.state_ != TcpState::Closed) return err(EINVAL);
  if (!local.addr.any() && !ip_.is_local(local.addr)) return err(EADDRNOTAVAIL);
  if (local.port == 0) {
    local.port = TRY(ephemeral_for_bind(&s, local.addr));
  } else if (bind_conflict(&s, local)) {
    return err(EADDRINUSE);
  }
  s.local_ = local;
  s.bound_ = s.user_bound_ = true;
  return ok();
}

Result<void> Tcp::user_listen(TcpSocket& s, u32 backlog) {
  backlog = min(max(backlog, 1u), cfg_.max_backlog);
  if (s.state_ == TcpState::Listen) {
    s.backlog_ = backlog;
    return ok();
  }
  if (s.state_ != TcpState::Closed) return err(EINVAL);
  if (!s.bound_) {
    u16 port = TRY(ephemeral_for_bind(&s, Ipv4()));
    s.local_ = Endpoint{Ipv4(), port};
    s.bound_ = true;
  }
  for (TcpSocket* o = listeners_; o; o = o->listen_next_)
    if (ports_overlap(*o, o->local_, s, s.local_)) return err(EADDRINUSE);
  s.backlog_ = backlog;
  s.state_ = TcpState::Listen;
  listener_add(&s);
  return ok();
}

Result<TcpSocket*> Tcp::user_accept(TcpSocket& s) {
  if (s.state_ != TcpState::Listen) return err(EINVAL);
  TcpSocket* c = s.acceptq_head_;
  if (!c) return err(EAGAIN);
  s.acceptq_head_ = c->q_next_;
  if (!s.acceptq_head_) s.acceptq_tail_ = nullptr;
  --s.acceptq_len_;
  c->q_next_ = nullptr;
  c->in_acceptq_ = false;
  c->parent_ = nullptr;
  c->user_ref_ = true;
  return c;
}

Result<void> Tcp::user_connect(TcpSocket& s, Endpoint remote, u64 now) {
  switch (s.state_) {
    case TcpState::Closed:
      break;
    case TcpState::SynSent:
    case TcpState::SynReceived:
      return err(EALREADY);
    default:
      return err(EISCONN);
  }
  if (remote.addr.broadcast() || remote.addr.multicast()) return err(ENETUNREACH);
  if (remote.addr.any() || remote.port == 0) return err(EADDRNOTAVAIL);
  Ipv4 src = s.local_.addr;
  if (src.any()) src = ip_.source_for(remote.addr);
  if (src.any()) return err(ENETUNREACH);
  u16 port = s.local_.port;
  if (!s.bound_) port = TRY(ephemeral_for_connect(src, remote));
  else if (lookup(Endpoint{src, port}, remote)) return err(EADDRINUSE);
  TRY(setup_buffers(s));
  // A socket may try again after a failed attempt: start from a clean slate.
  s.fin_queued_ = s.fin_acked_ = s.fin_rcvd_ = s.rd_shut_ = s.ooo_fin_ = false;
  s.ooo_.clear();
  s.so_error_ = s.soft_error_ = 0;
  s.srtt_ = s.rttvar_ = 0;
  s.dupacks_ = 0;
  s.in_recovery_ = s.persist_ = false;
  s.local_ = Endpoint{src, port};
  s.remote_ = remote;
  s.bound_ = true;
  init_syn_params(s, now);
  s.state_ = TcpState::SynSent;
  hash_insert(&s);
  send_segment(s, s.iss_, 0, kTcpSyn, now);
  s.snd_nxt_ = s.snd_max_ = s.iss_ + 1;
  s.rtt_timing_ = true, s.rtt_end_ = s.iss_ + 1, s.rtt_start_ = now;
  arm_rto(s, now);
  return ok();
}

Result<usize> Tcp::user_send(TcpSocket& s, const u8* data, usize len, u64 now) {
  if (s.so_error_) return err(s.take_error());
  switch (s.state_) {
    case TcpState::Established:
    case TcpState::CloseWait:
      break;
    case TcpState::SynSent:
    case TcpState::SynReceived:
      return err(EAGAIN);  // the socket layer waits for kPollOut
    case TcpState::Closed:
    case TcpState::Listen:
      return err(s.was_connected_ ? EPIPE : ENOTCONN);
    default:
      return err(EPIPE);  // writing was shut down
  }
  if (s.fin_queued_) return err(EPIPE);
  if (len == 0) return usize(0);
  autotune_send(s, len);
  u32 n = s.sbuf_.append(data, u32(min<usize>(len, 0x40000000)));
  if (n == 0) return err(EAGAIN);
  output(s, now);
  return usize(n);
}

Result<usize> Tcp::user_recv(TcpSocket& s, u8* out, usize len, u64 now, bool peek) {
  if (s.state_ == TcpState::Listen) return err(ENOTCONN);
  if (s.state_ == TcpState::SynSent || s.state_ == TcpState::SynReceived) return err(EAGAIN);
  u32 avail = s.rbuf_.size();
  if (avail && !s.rd_shut_ && len) {
    u32 n = u32(min<usize>(avail, len));
    s.rbuf_.copy_out(0, out, n);
    if (peek) return usize(n);
    u32 cur = seq_gt(s.rcv_adv_, s.rcv_nxt_) ? s.rcv_adv_ - s.rcv_nxt_ : 0;
    s.rbuf_.consume(n);
    autotune_recv(s, n, now);
    // A window update when reading opened the window usefully (otherwise
    // the peer learns of it with our next segment, or by probing).
    bool receiving = s.state_ == TcpState::Established || s.state_ == TcpState::FinWait1 ||
                     s.state_ == TcpState::FinWait2;
    // What a segment could advertise now: the space, up to the largest
    // window the field can carry (without window scaling a buffer larger
    // than 64 KiB would otherwise "open" on every read, and each read sent
    // a pure ACK).
    u32 can = min<u32>(s.rbuf_.space(), s.max_rcv_window());
    u32 useful = min(s.rbuf_.cap() / 2, 2 * s.rcv_mss_);
    if (receiving && can >= cur + useful) send_ack(s, now);
    return usize(n);
  }
  if (s.so_error_) return err(s.take_error());
  if (s.fin_rcvd_ || s.rd_shut_ || s.state_ == TcpState::Closed) {
    if (s.state_ == TcpState::Closed && !s.was_connected_) return err(ENOTCONN);
    return usize(0);
  }
  if (len == 0) return usize(0);
  return err(EAGAIN);
}

Result<void> Tcp::user_shutdown(TcpSocket& s, int how, u64 now) {
  if (how != kShutRd && how != kShutWr && how != kShutRdWr) return err(EINVAL);
  switch (s.state_) {
    case TcpState::Closed:
    case TcpState::Listen:
      return err(ENOTCONN);
    case TcpState::SynSent:
      set_closed(s, 0);
      return ok();
    default:
      break;
  }
  if (how != kShutWr && !s.rd_shut_) {
    s.rd_shut_ = true;
    s.rbuf_.consume(s.rbuf_.size());
    wake(s, kPollIn | kPollRdHup);
  }
  if (how != kShutRd && !s.fin_queued_) {
    // RFC 9293 3.10.4: queue the FIN after the data.
    s.fin_queued_ = true;
    if (s.state_ == TcpState::Established) s.state_ = TcpState::FinWait1;
    else if (s.state_ == TcpState::CloseWait) s.state_ = TcpState::LastAck;
    output(s, now);
    wake(s, kPollOut);
  }
  return ok();
}

void Tcp::close_listener(TcpSocket& s, u64 now) {
  // Connections nobody accepted go with the listener; established ones are
  // told with a reset (as Linux does).
  for (TcpSocket* c = all_; c; c = c->all_next_) {
    if (c->parent_ != &s) continue;
    if (c->synchronized()) send_rst(*c);
    set_closed(*c, 0);
  }
  set_closed(s, 0);
}

void Tcp::user_close(TcpSocket& s, u64 now) {
  close_held(s, now);
  reap();
}

// Frees s when it was closed already; never any other socket (a listener's
// unaccepted children are closed and left to reap).
void Tcp::close_held(TcpSocket& s, u64 now) {
  s.user_ref_ = false;
  s.wake_fn_ = nullptr;
  switch (s.state_) {
    case TcpState::Closed:
      destroy(&s);
      return;
    case TcpState::Listen:
      close_listener(s, now);
      break;
    case TcpState::SynSent:
      set_closed(s, 0);
      break;
    case TcpState::TimeWait:
      s.rbuf_.release();
      break;
    default:
      // Unread data, or SO_LINGER 0, resets the connection (RFC 2525 2.17,
      // as Linux does); otherwise the FIN goes out after the queued data.
      if (s.linger_ == 0 || s.rbuf_.size() > 0) {
        send_rst(s);
        set_closed(s, 0);
        break;
      }
      s.rd_shut_ = true;  // nobody reads any more: incoming data is dropped
      if (!s.fin_queued_) {
        s.fin_queued_ = true;
        if (s.state_ == TcpState::Established) s.state_ = TcpState::FinWait1;
        else if (s.state_ == TcpState::CloseWait) s.state_ = TcpState::LastAck;
        output(s, now);
      }
      if (s.state_ == TcpState::FinWait2) s.t_keep_ = now + cfg_.fin_timeout_ns;
      break;
  }
}

void Tcp::close_all(u64 now) {
  for (TcpSocket* s = all_; s;) {
    TcpSocket* next = s->all_next_;
    if (s->user_ref_) close_held(*s, now);
    s = next;
  }
  reap();
}

u64 Tcp::unacked() const {
  u64 n = 0;
  for (const TcpSocket* s = all_; s; s = s->all_next_) {
    if (!s->synchronized() || s->state_ == TcpState::TimeWait) continue;
    n += s->sbuf_.size();
    if (s->fin_queued_ && !s->fin_acked_) ++n;
  }
  return n;
}

void Tcp::user_abort(TcpSocket& s, u64 now) {
  switch (s.state_) {
    case TcpState::Closed:
      return;
    case TcpState::Listen:
      close_listener(s, now);
      break;
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
    case TcpState::CloseWait:
      send_rst(s);
      set_closed(s, 0);
      break;
    default:
      set_closed(s, 0);
      break;
  }
  reap();
}

Result<void> Tcp::user_set_option(TcpSocket& s, TcpOpt opt, int v, u64 now) {
  bool fresh = s.state_ == TcpState::Closed || s.state_ == TcpState::Listen;
  switch (opt) {
    case TcpOpt::NoDelay:
      s.nodelay_ = v != 0;
      if (s.nodelay_) output(s, now);  // Linux pushes what Nagle held back
      return ok();
    case TcpOpt::KeepAlive:
      s.keepalive_ = v != 0;
      arm_keepalive(s, now);
      return ok();
    case TcpOpt::KeepIdle:
    case TcpOpt::KeepIntvl:
      if (v < 1 || v > 32767) return err(EINVAL);
      (opt == TcpOpt::KeepIdle ? s.keep_idle_s_ : s.keep_intvl_s_) = u32(v);
      if (opt == TcpOpt::KeepIdle) arm_keepalive(s, now);
      return ok();
    case TcpOpt::KeepCnt:
      if (v < 1 || v > 127) return err(EINVAL);
      s.keep_cnt_ = u32(v);
      return ok();
    case TcpOpt::RcvBuf:
    case TcpOpt::SndBuf: {
      // Linux doubles the value (bookkeeping overhead) and reads it back so;
      // here the doubled value is the buffer. Fixed once a connection starts.
      if (!fresh) return ok();
      u32 want = v < 0 ? 0 : u32(v);
      u32 size = min(max(want, 1152u) * 2, cfg_.max_buf);
      (opt == TcpOpt::RcvBuf ? s.rcvbuf_ : s.sndbuf_) = size;
      (opt == TcpOpt::RcvBuf ? s.rcvbuf_locked_ : s.sndbuf_locked_) = true;  // no autotuning
      return ok();
    }
    case TcpOpt::Tos:
      s.tos_ = u8(v);
      return ok();
    case TcpOpt::ReuseAddr:
      s.reuseaddr_ = v != 0;
      return ok();
    case TcpOpt::V6Only:
      if (s.bound_) return err(EINVAL);
      s.v6only_ = v != 0;
      return ok();
    case TcpOpt::MaxSeg:
      if (v != 0 && (v < 88 || v > 32767)) return err(EINVAL);
      s.user_mss_ = u16(v);
      return ok();
    case TcpOpt::Linger:
      s.linger_ = v < 0 ? -1 : v;
      return ok();
  }
  return err(ENOPROTOOPT);
}

}  // namespace mote::net
