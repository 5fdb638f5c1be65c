// Segments out: the send loop with its window, congestion, Nagle and sender
// silly-window rules (RFC 9293 3.7.4, 3.8.6.2.1), the advertised receive
// window (3.8.6.2.2, RFC 7323 2.3), and ACKs, probes and resets.
#include "kernel/net/tcp.h"

#include "kernel/net/tcp_seq.h"

namespace mote::net {

u32 Tcp::ts_now(const TcpSocket& s, u64 now) const {
  // A 1 ms timestamp clock (RFC 7323 5.4) with a per-connection offset.
  return u32(now / kTcpNsPerMs) + s.ts_offset_;
}

u32 Tcp::window_field(TcpSocket& s, bool syn) {
  u32 space = s.rbuf_.ready() ? s.rbuf_.space() : s.rcvbuf_;
  if (syn) return min<u32>(space, 0xffff);  // a SYN's window is never scaled
  u8 ws = s.ws_ok_ ? s.rcv_wscale_ : 0;
  u32 cur = seq_gt(s.rcv_adv_, s.rcv_nxt_) ? s.rcv_adv_ - s.rcv_nxt_ : 0;
  u32 wnd = min<u32>(space, s.max_rcv_window());
  if (wnd < cur) {
    wnd = cur;  // the right edge never moves back (RFC 9293 3.8.6)
  } else if (wnd - cur < min<u32>(s.rbuf_.cap() / 2, s.rcv_mss_)) {
    wnd = cur;  // receiver SWS avoidance: only worthwhile increases
  }
  u32 field = wnd >> ws;
  if ((u64(field) << ws) < cur) ++field;  // scaling must not shrink it either
  if (field > 0xffff) field = 0xffff;
  u32 edge = s.rcv_nxt_ + (field << ws);
  if (seq_gt(edge, s.rcv_adv_)) s.rcv_adv_ = edge;
  return field;
}

bool Tcp::send_segment(TcpSocket& s, u32 seq, u32 len, u8 flags, u64 now) {
  Packet* p = Packet::alloc(len);
  if (!p) {
    ++stats_.send_errors;
    return false;
  }
  if (len) s.sbuf_.copy_out(seq - s.snd_una_, p->put(len), len);
  bool syn = flags & kTcpSyn, ack = flags & kTcpAck;
  TcpHeaderOut h;
  h.sport = s.local_.port;
  h.dport = s.remote_.port;
  h.seq = seq;
  h.ack = ack ? s.rcv_nxt_ : 0;
  h.flags = flags;
  h.wnd = u16(window_field(s, syn));
  if (syn) {
    // Our SYN offers everything; a SYN-ACK answers only what was offered.
    h.has_mss = true, h.mss = s.adv_mss_;
    if (!ack || s.ws_ok_) h.has_wscale = true, h.wscale = s.rcv_wscale_;
    h.has_ts = !ack || s.ts_ok_;
  } else {
    h.has_ts = s.ts_ok_;
  }
  if (h.has_ts) h.tsval = ts_now(s, now), h.tsecr = ack ? s.ts_recent_ : 0;
  // A SYN-ACK's (unscaled) window is the first right edge the peer sees.
  if (syn && ack && seq_gt(s.rcv_nxt_ + h.wnd, s.rcv_adv_)) s.rcv_adv_ = s.rcv_nxt_ + h.wnd;
  tcp_build(p, h, s.local_.addr, s.remote_.addr, ip_.csum_offload());
  // More than one MSS: only from output() with tso_max() room; the device
  // cuts it up (the checksum is partial whenever tso_max is not 0).
  if (len > s.snd_mss_) p->set_gso(u16(s.snd_mss_));
  ++stats_.out_segs;
  if (!ip_.ip_send(s.local_.addr, s.remote_.addr, kProtoTcp, s.tos_, p).ok()) ++stats_.send_errors;
  if (ack) {
    s.last_ack_sent_ = s.rcv_nxt_;
    s.ack_now_ = false;
    s.t_delack_ = 0;
    s.unacked_bytes_ = 0;
  }
  return true;
}

void Tcp::send_ack(TcpSocket& s, u64 now) {
  // The sequence number: the highest one sent, as BSD's pure ACKs carry,
  // within the peer's window. After a timeout SND.NXT falls back to
  // SND.UNA; a peer that has those bytes already finds an ACK at SND.NXT
  // below its RCV.NXT unacceptable and drops it unread (RFC 9293 3.10.7.4),
  // so two peers retransmitting to each other each ignored the other's ACKs
  // for good.
  u32 seq = s.snd_max_, end = s.snd_una_ + s.snd_wnd_;
  if (seq_gt(seq, end)) seq = seq_gt(end, s.snd_nxt_) ? end : s.snd_nxt_;
  send_segment(s, seq, 0, kTcpAck, now);
}

void Tcp::send_challenge_ack(TcpSocket& s, u64 now) {
  // RFC 5961 3.2, 4.2, 5.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
  ++stats_.challenge_acks;
  send_ack(s, now);
}

void Tcp::send_probe(TcpSocket& s, u64 now) {
  // An ACK for old sequence space (SND.UNA - 1) makes the peer answer with
  // its current ACK and window: the zero-window and keepalive probe.
  send_segment(s, s.snd_una_ - 1, 0, kTcpAck, now);
}

void Tcp::send_rst(TcpSocket& s) {
  // RFC 9293 3.10.4 ABORT: <SEQ=SND.NXT><CTL=RST> (with ACK, as Linux does).
  Packet* p = Packet::alloc(0);
  if (!p) return;
  TcpHeaderOut h;
  h.sport = s.local_.port;
  h.dport = s.remote_.port;
  h.seq = s.snd_max_;
  h.ack = s.rcv_nxt_;
  h.flags = kTcpRst | kTcpAck;
  tcp_build(p, h, s.local_.addr, s.remote_.addr, ip_.csum_offload());
  ++stats_.out_segs, ++stats_.resets_sent;
  if (!ip_.ip_send(s.local_.addr, s.remote_.addr, kProtoTcp, s.tos_, p).ok()) ++stats_.send_errors;
}

void Tcp::send_rst_reply(const IpInfo& ip, const TcpSegment& seg) {
  // RFC 9293 3.10.7.1: answer a segment no connection wants. With an ACK:
  // <SEQ=SEG.ACK><CTL=RST>; without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  Packet* p = Packet::alloc(0);
  if (!p) return;
  TcpHeaderOut h;
  h.sport = seg.dport;
  h.dport = seg.sport;
  if (seg.has(kTcpAck)) {
    h.seq = seg.ack;
    h.flags = kTcpRst;
  } else {
    h.ack = seg.seq + seg.seq_len();
    h.flags = kTcpRst | kTcpAck;
  }
  tcp_build(p, h, ip.dst, ip.src, ip_.csum_offload());
  ++stats_.out_segs, ++stats_.resets_sent;
  if (!ip_.ip_send(ip.dst, ip.src, kProtoTcp, ip.tos, p).ok()) ++stats_.send_errors;
}

u32 Tcp::retransmit_head(TcpSocket& s, u64 now) {
  // The first unacknowledged segment, whatever the windows say (RTO, fast
  // retransmit, NewReno partial ACKs). Returns the sequence space it covers.
  u32 n = min(s.sbuf_.size(), s.snd_mss_);
  u8 flags = kTcpAck;
  if (n == s.sbuf_.size() && s.fin_queued_ && seq_gt(s.snd_max_, s.data_end())) flags |= kTcpFin;
  if (n == 0 && !(flags & kTcpFin)) return 0;
  if (n) flags |= kTcpPsh;
  if (!send_segment(s, s.snd_una_, n, flags, now)) return 0;
  ++stats_.retrans_segs;
  s.rtt_timing_ = false;  // Karn: a retransmitted range is never timed
  // Data queued since the original went out may ride along: it counts as sent.
  u32 end = s.snd_una_ + n + ((flags & kTcpFin) ? 1 : 0);
  if (seq_gt(end, s.snd_max_)) s.snd_max_ = end;
  if (seq_gt(end, s.snd_nxt_) && s.snd_nxt_ != s.snd_una_) s.snd_nxt_ = end;
  return end - s.snd_una_;
}

void Tcp::output(TcpSocket& s, u64 now, bool force) {
  switch (s.state_) {
    case TcpState::Established:
    case TcpState::CloseWait:
    case TcpState::FinWait1:
    case TcpState::Closing:
    case TcpState::LastAck:
      break;
    default:
      return;
  }
  // Segmentation offload: as many whole MSS as one segment the device cuts
  // up can carry (its header with options counted), else one MSS.
  u32 seg_max = s.snd_mss_;
  if (u32 tso = ip_.tso_max(s.remote_.addr); tso && s.snd_mss_ <= 0xffff) {
    u32 room = tso > kTcpMaxHeaderLen ? tso - kTcpMaxHeaderLen : 0;
    seg_max = max(seg_max, room / s.snd_mss_ * s.snd_mss_);
  }
  for (;;) {
    u32 end = s.data_end();
    if (seq_gt(s.snd_nxt_, end)) break;  // the FIN is out already
    u32 inflight = s.snd_nxt_ - s.snd_una_;
    u32 avail = s.sbuf_.size() - inflight;
    u32 wnd = min(s.snd_wnd_, s.cwnd_);
    u32 usable = wnd > inflight ? wnd - inflight : 0;
    u32 n = min(min(avail, usable), seg_max);
    // A cut-up segment ends on a whole MSS unless it ends the data: the
    // tail waits as it would one MSS at a time (the rules below).
    if (n > s.snd_mss_ && n < avail) n -= n % s.snd_mss_;
    bool fin = s.fin_queued_ && n == avail;
    if (n == 0 && !fin) break;
    if (!force && !fin && n < s.snd_mss_) {
      if (n < avail) {
        // Window-limited: wait for at least half the largest window seen.
        if (n < s.max_snd_wnd_ / 2) break;
      } else if (!s.nodelay_ && inflight > 0) {
        break;  // Nagle: one small segment unacknowledged at a time
      }
    }
    u8 flags = kTcpAck | (fin ? kTcpFin : 0) | (n && n == avail ? kTcpPsh : 0);
    bool fresh = s.snd_nxt_ == s.snd_max_;
    if (!send_segment(s, s.snd_nxt_, n, flags, now)) break;
    if (!fresh) ++stats_.retrans_segs;
    if (fresh && n && !s.rtt_timing_) {
      s.rtt_timing_ = true;
      s.rtt_end_ = s.snd_nxt_ + n;
      s.rtt_start_ = now;
    }
    s.snd_nxt_ += n + (fin ? 1 : 0);
    if (seq_gt(s.snd_nxt_, s.snd_max_)) s.snd_max_ = s.snd_nxt_;
    if (s.t_rtx_ == 0 || s.persist_) arm_rto(s, now);
    if (fin || force) break;
  }
  // Data waiting and nothing in flight to bring an ACK (a zero or tiny
  // window): the persist timer probes, or forces a segment out.
  if (s.snd_una_ == s.snd_max_ && s.sbuf_.size() > 0 && s.t_rtx_ == 0) arm_persist(s, now);
}

}  // namespace mote::net
