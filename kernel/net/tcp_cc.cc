// Congestion control: slow start and congestion avoidance (RFC 5681 3.1),
// the initial window (RFC 6928), fast retransmit and NewReno fast recovery
// (RFC 6582 3.2), and the loss window after a timeout. Byte counting, no
// floating point.
#include "kernel/net/tcp.h"

#include "kernel/net/tcp_seq.h"

namespace mote::net {
namespace {
constexpr u32 kMaxCwnd = 1u << 30;
}

void Tcp::cc_init(TcpSocket& s) {
  u32 mss = s.snd_mss_;
  s.cwnd_ = min(10 * mss, max(2 * mss, 14600u));
  s.ssthresh_ = 0x7fffffff;  // "arbitrarily high" until the first loss
  s.ca_acked_ = s.dupacks_ = 0;
  s.in_recovery_ = false;
  s.recover_ = s.snd_una_;
}

void Tcp::cc_new_ack(TcpSocket& s, u32 acked, u64 now) {
  u32 mss = s.snd_mss_;
  if (s.in_recovery_) {
    if (seq_geq(s.snd_una_, s.recover_)) {
      // Full acknowledgment (RFC 6582 3.2 step 3): deflate to
      // min(ssthresh, FlightSize + SMSS) and leave recovery.
      u32 flight = s.snd_max_ - s.snd_una_;
      s.cwnd_ = min(s.ssthresh_, flight + mss);
      s.in_recovery_ = false;
      s.dupacks_ = 0;
    } else {
      // Partial acknowledgment (step 4): the next hole is lost too.
      retransmit_head(s, now);
      s.cwnd_ = s.cwnd_ > acked ? s.cwnd_ - acked : 0;
      if (acked >= mss) s.cwnd_ += mss;
      if (s.cwnd_ < mss) s.cwnd_ = mss;
    }
    return;
  }
  s.dupacks_ = 0;
  if (s.cwnd_ < s.ssthresh_) {
    s.cwnd_ += min(acked, mss);  // slow start
  } else {
    // Congestion avoidance: one SMSS per cwnd of data acknowledged.
    s.ca_acked_ += acked;
    if (s.ca_acked_ >= s.cwnd_) {
      s.ca_acked_ -= s.cwnd_;
      s.cwnd_ += mss;
    }
  }
  if (s.cwnd_ > kMaxCwnd) s.cwnd_ = kMaxCwnd;
}

void Tcp::cc_dup_ack(TcpSocket& s, u64 now) {
  u32 mss = s.snd_mss_;
  ++s.dupacks_;
  if (s.in_recovery_) {
    s.cwnd_ = min(s.cwnd_ + mss, kMaxCwnd);  // each dup ACK: a segment left the network
    output(s, now);
    return;
  }
  if (s.dupacks_ != 3) return;
  // RFC 6582 3.2 step 2: only when the ACK covers more than `recover` (the
  // highest sequence number sent, snd_max - 1, when the last recovery or
  // timeout began), so its stray duplicate ACKs do not start another.
  if (seq_lt(s.snd_una_, s.recover_)) return;
  u32 flight = s.snd_max_ - s.snd_una_;
  s.ssthresh_ = max(flight / 2, 2 * mss);
  s.recover_ = s.snd_max_;
  s.in_recovery_ = true;
  retransmit_head(s, now);
  s.cwnd_ = s.ssthresh_ + 3 * mss;
  arm_rto(s, now);
}

void Tcp::cc_timeout(TcpSocket& s) {
  u32 mss = s.snd_mss_;
  if (s.retransmits_ == 1) {
    // The first timeout of a loss episode sets ssthresh (RFC 5681 (4));
    // the backed-off repeats leave it.
    u32 flight = s.snd_max_ - s.snd_una_;
    s.ssthresh_ = max(flight / 2, 2 * mss);
  }
  s.cwnd_ = mss;  // the loss window
  s.ca_acked_ = 0;
  s.dupacks_ = 0;
  s.in_recovery_ = false;
  s.recover_ = s.snd_max_;
}

}  // namespace mote::net

