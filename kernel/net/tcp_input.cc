// Segment arrival, RFC 9293 3.10.7: no connection, LISTEN, SYN-SENT, and the
// synchronized states (sequence check with PAWS, RST and SYN checks per
// RFC 5961, ACK processing, text with out-of-order reassembly, FIN). Also
// ICMP errors for our connections.
#include "kernel/net/tcp.h"

#include "kernel/lib/errno.h"
#include "kernel/net/tcp_seq.h"

namespace mote::net {
namespace {

// RFC 7323 5.5: a TS.Recent older than 24 days may no longer be compared.
constexpr u64 kPawsIdleNs = 24ull * 24 * 3600 * kTcpNsPerSec;

// Addresses for answering a segment that arrived on a connection.
IpInfo reply_info(Endpoint local, Endpoint remote) {
  IpInfo ip;
  ip.src = remote.addr;
  ip.dst = local.addr;
  return ip;
}

}  // namespace

void Tcp::input(const IpInfo& ip, const u8* bytes, usize len, u64 now) {
  ++stats_.in_segs;
  TcpSegment seg;
  if (!tcp_parse(ip, bytes, len, &seg)) {
    ++stats_.bad_segs;
    return;
  }
  // RFC 1122 4.2.3.10: nothing to or from broadcast/multicast addresses.
  if (ip.src.any() || ip.src.broadcast() || ip.src.multicast() || ip.dst.broadcast() ||
      ip.dst.multicast() || seg.sport == 0 || seg.dport == 0) {
    ++stats_.bad_segs;
    return;
  }
  Endpoint local{ip.dst, seg.dport}, remote{ip.src, seg.sport};
  TcpSocket* s = lookup(local, remote);
  if (s && s->state_ == TcpState::TimeWait && seg.flags & kTcpSyn &&
      !(seg.flags & (kTcpAck | kTcpRst)) && time_wait_reusable(*s, seg) &&
      lookup_listener(local)) {
    set_closed(*s, 0);  // a new incarnation of the connection (RFC 6191)
    s = nullptr;
  }
  if (!s) {
    if (TcpSocket* l = lookup_listener(local)) input_listen(*l, ip, seg, now);
    else input_closed(ip, seg);
  } else if (s->state_ == TcpState::SynSent) {
    input_syn_sent(*s, seg, now);
  } else {
    input_synced(*s, seg, now);
  }
  reap();
}

bool Tcp::time_wait_reusable(const TcpSocket& s, const TcpSegment& seg) const {
  if (s.ts_ok_ && seg.opt.has_ts) return seq_gt(seg.opt.tsval, s.ts_recent_);
  return seq_gt(seg.seq, s.rcv_nxt_);
}

void Tcp::input_closed(const IpInfo& ip, const TcpSegment& seg) {
  if (!seg.has(kTcpRst)) send_rst_reply(ip, seg);
}

void Tcp::apply_syn_options(TcpSocket& s, const TcpSegment& seg, u64 now) {
  const TcpOptions& o = seg.opt;
  s.ws_ok_ = o.has_wscale;
  s.snd_wscale_ = s.ws_ok_ ? o.wscale : 0;
  if (!s.ws_ok_) s.rcv_wscale_ = 0;
  s.ts_ok_ = o.has_ts;
  if (s.ts_ok_) s.ts_recent_ = o.tsval, s.ts_recent_at_ = now;
  // RFC 9293 3.7.1: 536 when the peer sends no MSS; our own limit (MTU or
  // TCP_MAXSEG) applies too; options ride in the same segment.
  u32 mss = min<u32>(o.has_mss ? o.mss : 536, s.adv_mss_);
  if (s.ts_ok_) mss = mss > 12 ? mss - 12 : 0;
  s.snd_mss_ = max<u32>(mss, 64);  // a hostile MSS of 1 must not cost a segment per byte
  s.rcv_mss_ = s.snd_mss_;
}

void Tcp::input_listen(TcpSocket& l, const IpInfo& ip, const TcpSegment& seg, u64 now) {
  // RFC 9293 3.10.7.2.
  if (seg.has(kTcpRst)) return;
  if (seg.has(kTcpAck)) {
    send_rst_reply(ip, seg);
    return;
  }
  if (!seg.has(kTcpSyn) || seg.has(kTcpFin)) return;
  if (l.synq_len_ >= l.backlog_ || l.acceptq_len_ >= l.backlog_) {
    ++stats_.listen_drops;
    return;
  }
  auto r = new_socket();
  if (!r.ok()) {
    ++stats_.listen_drops;
    return;
  }
  TcpSocket& c = *r.value();
  c.user_ref_ = false;
  c.parent_ = &l;
  ++l.synq_len_;
  c.nodelay_ = l.nodelay_, c.keepalive_ = l.keepalive_, c.reuseaddr_ = l.reuseaddr_;
  c.keep_idle_s_ = l.keep_idle_s_, c.keep_intvl_s_ = l.keep_intvl_s_, c.keep_cnt_ = l.keep_cnt_;
  c.rcvbuf_ = l.rcvbuf_, c.sndbuf_ = l.sndbuf_, c.tos_ = l.tos_, c.user_mss_ = l.user_mss_;
  c.rcvbuf_locked_ = l.rcvbuf_locked_, c.sndbuf_locked_ = l.sndbuf_locked_;
  c.linger_ = l.linger_;
  c.bound_ = true;
  c.local_ = Endpoint{ip.dst, seg.dport};
  c.remote_ = Endpoint{ip.src, seg.sport};
  c.state_ = TcpState::SynReceived;
  if (!setup_buffers(c).ok()) {
    ++stats_.listen_drops;
    set_closed(c, 0);
    return;
  }
  hash_insert(&c);
  init_syn_params(c, now);
  c.irs_ = seg.seq;
  c.rcv_nxt_ = c.rcv_adv_ = seg.seq + 1;
  apply_syn_options(c, seg, now);
  c.snd_wnd_ = c.max_snd_wnd_ = seg.wnd;  // a SYN's window is unscaled
  c.snd_wl1_ = seg.seq;
  c.snd_wl2_ = c.iss_;
  c.last_rcv_ns_ = now;
  send_segment(c, c.iss_, 0, kTcpSyn | kTcpAck, now);
  c.snd_nxt_ = c.snd_max_ = c.iss_ + 1;
  c.rtt_timing_ = true, c.rtt_end_ = c.iss_ + 1, c.rtt_start_ = now;
  arm_rto(c, now);
}

void Tcp::input_syn_sent(TcpSocket& s, const TcpSegment& seg, u64 now) {
  // RFC 9293 3.10.7.3.
  if (seg.has(kTcpAck) && (seq_leq(seg.ack, s.iss_) || seq_gt(seg.ack, s.snd_max_))) {
    if (!seg.has(kTcpRst)) send_rst_reply(reply_info(s.local_, s.remote_), seg);
    return;
  }
  if (seg.has(kTcpRst)) {
    if (seg.has(kTcpAck)) set_closed(s, ECONNREFUSED);
    return;
  }
  if (!seg.has(kTcpSyn)) return;
  s.irs_ = seg.seq;
  s.rcv_nxt_ = s.rcv_adv_ = seg.seq + 1;
  apply_syn_options(s, seg, now);
  s.snd_wnd_ = s.max_snd_wnd_ = seg.wnd;
  s.snd_wl1_ = seg.seq;
  s.snd_wl2_ = seg.ack;
  s.last_rcv_ns_ = now;
  if (seg.has(kTcpAck)) {
    s.snd_una_ = seg.ack;
    if (s.rtt_timing_) rtt_sample(s, now - s.rtt_start_);
    s.rtt_timing_ = false;
    s.t_rtx_ = 0;
    s.retransmits_ = s.backoff_ = 0;
    established(s, now);
    send_ack(s, now);  // the handshake's third segment
    output(s, now);
    return;
  }
  // Simultaneous open (RFC 9293 3.5, figure 8): answer with SYN-ACK.
  s.state_ = TcpState::SynReceived;
  send_segment(s, s.iss_, 0, kTcpSyn | kTcpAck, now);
  arm_rto(s, now);
}

void Tcp::input_synced(TcpSocket& s, TcpSegment seg, u64 now) {
  if (s.state_ == TcpState::SynReceived && seg.has(kTcpSyn) && !seg.has(kTcpRst) &&
      seg.seq == s.irs_) {
    // The peer's SYN again: our SYN-ACK was lost, send it again. A SYN-ACK
    // here is the other half of a simultaneous open: its SYN is old news.
    if (!seg.has(kTcpAck)) {
      send_segment(s, s.iss_, 0, kTcpSyn | kTcpAck, now);
      return;
    }
    seg.flags &= u8(~kTcpSyn);
    ++seg.seq;
  }
  // PAWS (RFC 7323 5.3): a timestamp older than TS.Recent is an old duplicate.
  if (s.ts_ok_ && seg.opt.has_ts && !seg.has(kTcpRst) && seq_lt(seg.opt.tsval, s.ts_recent_) &&
      now - s.ts_recent_at_ < kPawsIdleNs) {
    ++stats_.paws_drops;
    send_ack(s, now);
    return;
  }
  // Sequence check (RFC 9293 3.10.7.4 first): the segment must overlap the
  // receive window. With a zero window only an empty segment at RCV.NXT is,
  // but a probe's ACK still counts (its text is trimmed below).
  u32 wnd = seq_gt(s.rcv_adv_, s.rcv_nxt_) ? s.rcv_adv_ - s.rcv_nxt_ : 0;
  u32 slen = seg.seq_len();
  u32 rend = s.rcv_nxt_ + wnd;
  bool acceptable;
  if (slen == 0) acceptable = wnd == 0 ? seg.seq == s.rcv_nxt_ : seq_in(seg.seq, s.rcv_nxt_, rend);
  else acceptable = wnd && (seq_in(seg.seq, s.rcv_nxt_, rend) || seq_in(seg.seq + slen - 1, s.rcv_nxt_, rend));
  if (!acceptable && wnd == 0 && seg.seq == s.rcv_nxt_) acceptable = true;
  if (!acceptable) {
    if (!seg.has(kTcpRst)) {
      send_ack(s, now);
      // A retransmitted FIN in TIME_WAIT restarts the 2*MSL wait.
      if (s.state_ == TcpState::TimeWait && seg.has(kTcpFin)) s.t_keep_ = now + 2 * cfg_.msl_ns;
    }
    return;
  }
  // RFC 7323 4.3: remember the timestamp to echo.
  if (s.ts_ok_ && seg.opt.has_ts && seq_leq(seg.seq, s.last_ack_sent_) &&
      seq_geq(seg.opt.tsval, s.ts_recent_)) {
    s.ts_recent_ = seg.opt.tsval;
    s.ts_recent_at_ = now;
  }
  // RST (RFC 5961 3.2): only an exact match resets; in-window ones are
  // answered with a challenge ACK, which a genuine peer answers with the
  // exact RST.
  if (seg.has(kTcpRst)) {
    if (seg.seq != s.rcv_nxt_) {
      send_challenge_ack(s, now);
      return;
    }
    switch (s.state_) {
      case TcpState::SynReceived:
        set_closed(s, s.parent_ ? 0 : ECONNREFUSED);  // passive: back to LISTEN
        return;
      case TcpState::Established:
      case TcpState::FinWait1:
      case TcpState::FinWait2:
      case TcpState::CloseWait:
        set_closed(s, ECONNRESET);
        return;
      default:
        set_closed(s, 0);
        return;
    }
  }
  // A SYN in a synchronized state (RFC 5961 4.2): challenge ACK, drop.
  if (seg.has(kTcpSyn)) {
    send_challenge_ack(s, now);
    return;
  }
  // Trim what was received already, then what lies beyond the window.
  if (seq_lt(seg.seq, s.rcv_nxt_)) {
    u32 d = s.rcv_nxt_ - seg.seq;
    if (d > seg.len) {
      seg.flags &= u8(~kTcpFin);
      d = seg.len;
    }
    seg.data += d, seg.len -= d;
    seg.seq = s.rcv_nxt_;
    s.ack_now_ = true;  // a (partial) duplicate: tell the peer where we are
  }
  u32 off = seg.seq - s.rcv_nxt_;
  u32 room = wnd > off ? wnd - off : 0;
  if (seg.len > room) {
    seg.len = room;
    seg.flags &= u8(~kTcpFin);
    s.ack_now_ = true;
  }
  if (!seg.has(kTcpAck)) return;
  if (s.state_ == TcpState::SynReceived) {
    if (!seq_gt(seg.ack, s.snd_una_) || seq_gt(seg.ack, s.snd_max_)) {
      send_rst_reply(reply_info(s.local_, s.remote_), seg);
      return;
    }
    if (s.parent_ && s.parent_->acceptq_len_ >= s.parent_->backlog_) {
      // Accept queue full: ignore the ACK; the SYN-ACK timer retries.
      ++stats_.listen_drops;
      return;
    }
    synced_established(s, seg, now);
  }
  if (!process_ack(s, seg, now)) return;
  s.last_rcv_ns_ = now;
  s.keep_probes_ = 0;
  switch (s.state_) {
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
      process_text(s, seg, now);
      break;
    default:
      break;  // the peer's FIN came already: nothing more to read
  }
  output(s, now);
  if (s.ack_now_) send_ack(s, now);
}

void Tcp::synced_established(TcpSocket& s, const TcpSegment& seg, u64 now) {
  // SYN-RECEIVED -> ESTABLISHED on the ACK of our SYN.
  s.snd_una_ = seg.ack;
  if (s.rtt_timing_ && s.retransmits_ == 0) rtt_sample(s, now - s.rtt_start_);
  s.rtt_timing_ = false;
  s.t_rtx_ = 0;
  s.retransmits_ = s.backoff_ = 0;
  s.snd_wnd_ = u32(seg.wnd) << s.snd_wscale_;
  s.max_snd_wnd_ = max(s.max_snd_wnd_, s.snd_wnd_);
  s.snd_wl1_ = seg.seq;
  s.snd_wl2_ = seg.ack;
  established(s, now);
}

bool Tcp::process_ack(TcpSocket& s, const TcpSegment& seg, u64 now) {
  // RFC 9293 3.10.7.4 fifth, with RFC 5961 5.2's bounds on acceptable ACKs.
  if (seq_gt(seg.ack, s.snd_max_)) {
    send_ack(s, now);
    return false;
  }
  if (seq_lt(seg.ack, s.snd_una_ - s.max_snd_wnd_)) {
    send_challenge_ack(s, now);
    return false;
  }
  u32 wnd = u32(seg.wnd) << s.snd_wscale_;
  bool new_ack = seq_gt(seg.ack, s.snd_una_);
  // RFC 5681 2: a duplicate ACK acknowledges nothing new, carries no data,
  // leaves the window alone, and comes while data is outstanding.
  bool dup = !new_ack && seg.ack == s.snd_una_ && seg.len == 0 &&
             !seg.has(kTcpSyn | kTcpFin) && wnd == s.snd_wnd_ && s.snd_una_ != s.snd_max_;
  if (new_ack) {
    u32 acked = seg.ack - s.snd_una_;
    u32 data = acked;
    if (s.fin_queued_ && seq_gt(seg.ack, s.data_end())) s.fin_acked_ = true, --data;
    s.sbuf_.consume(data);
    s.snd_una_ = seg.ack;
    if (seq_lt(s.snd_nxt_, s.snd_una_)) s.snd_nxt_ = s.snd_una_;
    if (s.rtt_timing_ && seq_geq(seg.ack, s.rtt_end_)) {
      rtt_sample(s, now - s.rtt_start_);
      s.rtt_timing_ = false;
    }
    s.retransmits_ = 0;
    cc_new_ack(s, acked, now);
    if (s.snd_una_ == s.snd_max_) {
      if (!s.persist_) s.t_rtx_ = 0;
    } else {
      arm_rto(s, now);  // RFC 6298 5.3
    }
    if (data) wake(s, kPollOut);
  }
  // Window update, guarded by SND.WL1/WL2 so old segments cannot shrink it.
  if (seq_lt(s.snd_wl1_, seg.seq) || (s.snd_wl1_ == seg.seq && seq_leq(s.snd_wl2_, seg.ack))) {
    s.snd_wnd_ = wnd;
    s.snd_wl1_ = seg.seq;
    s.snd_wl2_ = seg.ack;
    if (wnd > s.max_snd_wnd_) s.max_snd_wnd_ = wnd;
    if (wnd > 0 && s.persist_) {
      s.persist_ = false;
      s.t_rtx_ = 0;
      s.persist_backoff_ = 0;
    }
  }
  if (dup) cc_dup_ack(s, now);
  if (s.fin_acked_) {
    switch (s.state_) {
      case TcpState::FinWait1:
        s.state_ = TcpState::FinWait2;
        s.t_rtx_ = 0;
        s.t_keep_ = s.user_ref_ ? 0 : now + cfg_.fin_timeout_ns;
        break;
      case TcpState::Closing:
        enter_time_wait(s, now);
        break;
      case TcpState::LastAck:
        set_closed(s, 0);
        return false;
      default:
        break;
    }
  }
  return true;
}

void Tcp::process_text(TcpSocket& s, const TcpSegment& seg, u64 now) {
  bool fin = seg.has(kTcpFin);
  if (seg.len == 0 && !fin) return;
  u32 off = seg.seq - s.rcv_nxt_;
  // Memory for what the window lets in; without it the window shrinks to
  // the memory there is, and what lies beyond is dropped (the peer sends it
  // again).
  if (seg.len && off < s.rbuf_.space() && !s.rbuf_.reserve(u64(s.rbuf_.size()) + off + seg.len))
    ++stats_.mem_drops;
  u32 space = s.rbuf_.space();
  u32 n = seg.len;
  if (off >= space) n = 0;
  else if (n > space - off) n = space - off;
  if (n < seg.len) {
    fin = false;  // the FIN follows bytes we could not keep
    s.ack_now_ = true;
  }
  if (off != 0) {
    // Out of order: keep it and send a duplicate ACK at once (RFC 5681 4.2).
    s.ack_now_ = true;
    if (n) {
      if (s.ooo_.add(seg.seq, seg.seq + n)) (void)s.rbuf_.write_at(off, seg.data, n);  // reserved
      else ++stats_.ooo_drops;
    }
    if (fin) s.ooo_fin_ = true, s.ooo_fin_seq_ = seg.seq + n;
    return;
  }
  if (n) {
    (void)s.rbuf_.write_at(0, seg.data, n);  // reserved above
    bool filled_hole = s.ooo_.count() > 0;
    u32 nxt = s.ooo_.advance(s.rcv_nxt_ + n);
    s.rbuf_.commit(nxt - s.rcv_nxt_);
    s.rcv_nxt_ = nxt;
    if (n > s.rcv_mss_) s.rcv_mss_ = min<u32>(n, s.adv_mss_);
    // Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2): at least every second
    // full-sized segment, within delack_ns, and at once when a hole fills.
    s.unacked_bytes_ += n;
    if (filled_hole || s.unacked_bytes_ >= 2 * s.rcv_mss_) s.ack_now_ = true;
    else if (!s.t_delack_) s.t_delack_ = now + cfg_.delack_ns;
    if (s.rd_shut_) s.rbuf_.consume(s.rbuf_.size());
    wake(s, kPollIn);
  }
  if (fin || (s.ooo_fin_ && s.rcv_nxt_ == s.ooo_fin_seq_)) consume_fin(s, now);
}

void Tcp::consume_fin(TcpSocket& s, u64 now) {
  s.rcv_nxt_ += 1;
  s.fin_rcvd_ = true;
  s.ooo_fin_ = false;
  s.ack_now_ = true;
  switch (s.state_) {
    case TcpState::Established:
      s.state_ = TcpState::CloseWait;
      break;
    case TcpState::FinWait1:
      if (s.fin_acked_) enter_time_wait(s, now);
      else s.state_ = TcpState::Closing;  // simultaneous close
      break;
    case TcpState::FinWait2:
      enter_time_wait(s, now);
      break;
    default:
      break;
  }
  wake(s, kPollIn | kPollRdHup);
}

void Tcp::icmp_error(Ipv4 local, Ipv4 remote, u8 type, u8 code, u16 mtu, const u8* q,
                     usize len, u64 now) {
  constexpr u8 kDestUnreachable = 3, kFragNeeded = 4;
  if (type != kDestUnreachable || len < 8) return;
  TcpSocket* s = lookup(Endpoint{local, load_be16(q)}, Endpoint{remote, load_be16(q + 2)});
  if (!s || s->state_ == TcpState::TimeWait) return;
  // RFC 5927 4.1: believe only errors about data actually in flight.
  u32 seq = load_be32(q + 4);
  if (!seq_in(seq, s->snd_una_, s->snd_max_)) return;
  if (code == kFragNeeded) {
    // RFC 1191: a smaller path MTU. Resend what is out in smaller segments.
    if (mtu < 68) return;
    u32 mss = u32(mtu) - 40;
    if (s->ts_ok_) mss -= 12;
    mss = max<u32>(mss, 64);
    if (mss >= s->snd_mss_) return;
    s->snd_mss_ = mss;
    if (s->synchronized() && s->snd_una_ != s->snd_max_) {
      s->snd_nxt_ = s->snd_una_;
      s->rtt_timing_ = false;
      output(*s, now);
    }
    return;
  }
  int e = code == 0 ? ENETUNREACH : code == 2 ? ENOPROTOOPT : code == 3 ? ECONNREFUSED : EHOSTUNREACH;
  if (s->state_ == TcpState::SynSent && (code == 2 || code == 3)) {
    set_closed(*s, e);  // a hard error for a connection attempt
    reap();
    return;
  }
  s->soft_error_ = e;  // RFC 1122 4.2.3.9: soft; reported if we time out
}

}  // namespace mote::net
