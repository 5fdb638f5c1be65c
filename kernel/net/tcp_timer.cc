// TCP's timers: retransmission (RFC 6298, exponential backoff, giving up
// after syn_retries/synack_retries/retries2), persist (zero-window probes,
// RFC 9293 3.8.6.1), delayed ACK, keepalive (RFC 9293 3.8.4, RFC 1122
// 4.2.3.6), FIN_WAIT_2 for orphans and TIME_WAIT; and the RTT estimator.
#include "kernel/net/tcp.h"

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"
#include "kernel/net/tcp_seq.h"

namespace mote::net {

void Tcp::tick(u64 now) {
  for (TcpSocket* s = all_; s; s = s->all_next_) run_timers(*s, now);
  reap();
}

u64 Tcp::next_deadline() const { return heap_len_ ? heap_[0].key : ~u64(0); }

// ---- The heap of sockets by earliest deadline -------------------------------------

bool Tcp::deadlines_consistent() const {
  u32 with_timer = 0;
  u64 best = ~u64(0);
  for (const TcpSocket* s = all_; s; s = s->all_next_) {
    u64 k = s->earliest_timer();
    if (!k) {
      if (s->heap_pos_) return false;
      continue;
    }
    ++with_timer;
    best = min(best, k);
    if (!s->heap_pos_ || s->heap_pos_ > heap_len_) return false;
    const HeapEntry& e = heap_[s->heap_pos_ - 1];
    if (e.s != s || e.key != k) return false;
  }
  if (with_timer != heap_len_) return false;
  for (u32 i = 1; i < heap_len_; ++i)
    if (heap_[i].key < heap_[(i - 1) / 2].key) return false;
  return next_deadline() == best;
}

u64 TcpSocket::earliest_timer() const {
  u64 best = 0;
  const u64 timers[] = {t_rtx_, t_delack_, t_keep_};
  for (u64 t : timers)
    if (t && (!best || t < best)) best = t;
  return best;
}

TcpTimer& TcpTimer::operator=(u64 at) {
  if (at != at_) {
    at_ = at;
    owner_->tcp_->timer_changed(*owner_);
  }
  return *this;
}

void Tcp::timer_changed(TcpSocket& s) {
  u64 key = s.earliest_timer();
  if (!key) {
    if (s.heap_pos_) heap_remove(s);
    return;
  }
  if (!s.heap_pos_) {  // (its slot was reserved when it was made)
    heap_[heap_len_] = HeapEntry{key, &s};
    s.heap_pos_ = ++heap_len_;
  } else if (heap_[s.heap_pos_ - 1].key == key) {
    return;  // a later timer moved: the earliest, and so the order, stand
  } else {
    heap_[s.heap_pos_ - 1].key = key;
  }
  heap_place(s.heap_pos_ - 1);
}

bool Tcp::heap_reserve(u32 sockets) {
  if (sockets <= heap_cap_) return true;
  u32 cap = heap_cap_ ? heap_cap_ * 2 : 64;
  while (cap < sockets) cap *= 2;
  auto* grown = static_cast<HeapEntry*>(mm::kalloc(cap * sizeof(HeapEntry)));
  if (!grown) return false;
  if (heap_len_) memcpy(grown, heap_, heap_len_ * sizeof(HeapEntry));
  mm::kfree(heap_);
  heap_ = grown;
  heap_cap_ = cap;
  return true;
}

void Tcp::heap_remove(TcpSocket& s) {
  u32 i = s.heap_pos_ - 1;
  s.heap_pos_ = 0;
  HeapEntry last = heap_[--heap_len_];
  if (i == heap_len_) return;
  heap_[i] = last;
  last.s->heap_pos_ = i + 1;
  heap_place(i);
}

void Tcp::heap_place(u32 i) {
  auto key = [this](u32 k) { return heap_[k].key; };
  auto swap = [this](u32 a, u32 b) {
    HeapEntry t = heap_[a];
    heap_[a] = heap_[b], heap_[b] = t;
    heap_[a].s->heap_pos_ = a + 1, heap_[b].s->heap_pos_ = b + 1;
  };
  while (i > 0 && key(i) < key((i - 1) / 2)) {
    swap(i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  for (;;) {
    u32 l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_len_ && key(l) < key(m)) m = l;
    if (r < heap_len_ && key(r) < key(m)) m = r;
    if (m == i) return;
    swap(i, m);
    i = m;
  }
}

void Tcp::run_timers(TcpSocket& s, u64 now) {
  if (s.t_rtx_ && s.t_rtx_ <= now) {
    s.t_rtx_ = 0;
    if (s.persist_) on_persist(s, now);
    else on_rto(s, now);
  }
  if (s.t_delack_ && s.t_delack_ <= now) {
    s.t_delack_ = 0;
    if (s.synchronized() && s.state_ != TcpState::TimeWait) send_ack(s, now);
  }
  if (s.t_keep_ && s.t_keep_ <= now) {
    s.t_keep_ = 0;
    on_keep(s, now);
  }
}

u64 Tcp::current_rto(const TcpSocket& s) const {
  u64 rto = s.rto_;
  for (u32 i = 0; i < s.backoff_ && rto < cfg_.max_rto_ns; ++i) rto *= 2;
  return min(rto, cfg_.max_rto_ns);
}

void Tcp::arm_rto(TcpSocket& s, u64 now) {
  s.persist_ = false;
  s.persist_backoff_ = 0;
  s.t_rtx_ = now + current_rto(s);
}

void Tcp::arm_persist(TcpSocket& s, u64 now) {
  u64 t = max(s.rto_, cfg_.min_rto_ns);
  for (u32 i = 0; i < s.persist_backoff_ && t < cfg_.max_rto_ns; ++i) t *= 2;
  s.persist_ = true;
  s.t_rtx_ = now + min(t, cfg_.max_rto_ns);
}

void Tcp::arm_keepalive(TcpSocket& s, u64 now) {
  bool on = s.keepalive_ &&
            (s.state_ == TcpState::Established || s.state_ == TcpState::CloseWait);
  if (on) {
    s.keep_probes_ = 0;
    s.t_keep_ = now + u64(s.keep_idle_s_) * kTcpNsPerSec;
  } else if (s.state_ == TcpState::Established || s.state_ == TcpState::CloseWait) {
    s.t_keep_ = 0;
  }
}

void Tcp::rtt_sample(TcpSocket& s, u64 r) {
  // RFC 6298 2.2, 2.3 in integer nanoseconds; G is taken as 1 ms.
  if (r == 0) r = 1;
  if (s.srtt_ == 0) {
    s.srtt_ = r;
    s.rttvar_ = r / 2;
  } else {
    u64 d = s.srtt_ > r ? s.srtt_ - r : r - s.srtt_;
    s.rttvar_ = (3 * s.rttvar_ + d) / 4;
    s.srtt_ = (7 * s.srtt_ + r) / 8;
  }
  u64 rto = s.srtt_ + max<u64>(kTcpNsPerMs, 4 * s.rttvar_);
  s.rto_ = min(max(rto, cfg_.min_rto_ns), cfg_.max_rto_ns);
  s.backoff_ = 0;  // Karn: a valid sample ends the backoff
}

void Tcp::on_rto(TcpSocket& s, u64 now) {
  int give_up = s.soft_error_ ? s.soft_error_ : ETIMEDOUT;
  if (s.state_ == TcpState::SynSent || s.state_ == TcpState::SynReceived) {
    bool active = s.state_ == TcpState::SynSent;
    if (++s.retransmits_ > (active ? cfg_.syn_retries : cfg_.synack_retries)) {
      set_closed(s, s.parent_ ? 0 : give_up);
      return;
    }
    ++s.backoff_;
    s.rtt_timing_ = false;
    ++stats_.retrans_segs;
    send_segment(s, s.iss_, 0, active ? kTcpSyn : kTcpSyn | kTcpAck, now);
    arm_rto(s, now);
    return;
  }
  if (!s.synchronized() || s.state_ == TcpState::TimeWait || s.snd_una_ == s.snd_max_) return;
  if (++s.retransmits_ > cfg_.retries2) {
    set_closed(s, give_up);
    return;
  }
  cc_timeout(s);
  if (s.backoff_ < 30) ++s.backoff_;
  // Go back to the first unacknowledged byte; ACKs pull the rest out again.
  s.snd_nxt_ = s.snd_una_;
  s.snd_nxt_ += retransmit_head(s, now);
  arm_rto(s, now);
}

void Tcp::on_persist(TcpSocket& s, u64 now) {
  s.persist_ = false;
  if (s.sbuf_.size() == 0 || s.snd_una_ != s.snd_max_) return;
  if (s.snd_wnd_ == 0) {
    send_probe(s, now);
    if (s.persist_backoff_ < 30) ++s.persist_backoff_;
    arm_persist(s, now);
    return;
  }
  // Some window, too small for the silly-window rules: send what fits.
  output(s, now, true);
  if (s.t_rtx_ == 0) arm_persist(s, now);
}

void Tcp::on_keep(TcpSocket& s, u64 now) {
  switch (s.state_) {
    case TcpState::TimeWait:
    case TcpState::FinWait2:  // an orphan's fin_timeout
      set_closed(s, 0);
      return;
    case TcpState::Established:
    case TcpState::CloseWait:
      break;
    default:
      return;
  }
  if (!s.keepalive_) return;
  u64 idle = u64(s.keep_idle_s_) * kTcpNsPerSec, intvl = u64(s.keep_intvl_s_) * kTcpNsPerSec;
  if (s.snd_una_ != s.snd_max_ || s.sbuf_.size() > 0) {
    // Data outstanding: retransmission decides the connection's fate.
    s.t_keep_ = now + idle;
    return;
  }
  if (s.keep_probes_ == 0 && now - s.last_rcv_ns_ < idle) {
    s.t_keep_ = s.last_rcv_ns_ + idle;
    return;
  }
  if (s.keep_probes_ >= s.keep_cnt_) {
    send_rst(s);
    set_closed(s, ETIMEDOUT);
    return;
  }
  send_probe(s, now);
  ++s.keep_probes_;
  s.t_keep_ = now + intvl;
}

}  // namespace mote::net
