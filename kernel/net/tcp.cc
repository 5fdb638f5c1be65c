// The Tcp instance: socket lifetimes, the connection and listener tables,
// port allocation, and the state changes shared by the input, output, timer
// and user paths (tcp.h).
#include "kernel/net/tcp.h"

#include <new>

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"
#include "kernel/net/tcp_seq.h"

namespace mote::net {

const char* tcp_state_name(TcpState s) {
  static const char* const names[] = {"CLOSED",      "LISTEN",     "SYN_SENT",   "SYN_RECEIVED",
                                      "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
                                      "CLOSING",     "LAST_ACK",   "TIME_WAIT"};
  return names[u8(s)];
}

Tcp::Tcp(IpSender& ip, const TcpSecret& secret, const TcpConfig& cfg)
    : ip_(ip), secret_(secret), cfg_(cfg) {
  buckets_ = static_cast<TcpSocket**>(mm::kzalloc(kBuckets * sizeof(TcpSocket*)));
  if (cfg_.ephemeral_hi < cfg_.ephemeral_lo) cfg_.ephemeral_hi = cfg_.ephemeral_lo;
}

Tcp::~Tcp() {
  while (all_) destroy(all_);
  mm::kfree(buckets_);
}

Result<TcpSocket*> Tcp::socket() {
  TcpSocket* s = TRY(new_socket());
  return s;
}

Result<TcpSocket*> Tcp::new_socket() {
  if (!buckets_) return err(ENOMEM);
  if (nsockets_ >= cfg_.max_sockets) return err(EMFILE);
  if (!heap_reserve(u32(nsockets_ + 1))) return err(ENOMEM);
  void* mem = mm::kzalloc(sizeof(TcpSocket));
  if (!mem) return err(ENOMEM);
  TcpSocket* s = new (mem) TcpSocket(this);
  s->rcvbuf_ = cfg_.rcvbuf;
  s->sndbuf_ = cfg_.sndbuf;
  s->keep_idle_s_ = cfg_.keep_idle_s;
  s->keep_intvl_s_ = cfg_.keep_intvl_s;
  s->keep_cnt_ = cfg_.keep_cnt;
  s->rto_ = cfg_.init_rto_ns;
  s->all_next_ = all_;
  if (all_) all_->all_prev_ = s;
  all_ = s;
  ++nsockets_;
  return s;
}

void Tcp::destroy(TcpSocket* s) {
  if (s->heap_pos_) heap_remove(*s);
  if (s->hashed_) hash_remove(s);
  if (s->listed_) listener_remove(s);
  if (s->all_prev_) s->all_prev_->all_next_ = s->all_next_;
  else all_ = s->all_next_;
  if (s->all_next_) s->all_next_->all_prev_ = s->all_prev_;
  s->~TcpSocket();
  mm::kfree(s);
  if (--nsockets_ == 0) {  // the heap's array goes with the last socket
    mm::kfree(heap_);
    heap_ = nullptr;
    heap_cap_ = 0;
  }
}

void Tcp::reap() {
  // Sockets nobody holds any more and the protocol is done with.
  if (zombies_ == 0) return;
  zombies_ = 0;
  TcpSocket* s = all_;
  while (s) {
    TcpSocket* next = s->all_next_;
    if (s->state_ == TcpState::Closed && !s->user_ref_ && !s->parent_) destroy(s);
    s = next;
  }
}

u32 Tcp::bucket_of(Endpoint local, Endpoint remote) const {
  return u32(tcp_tuple_hash(secret_, 0, local, remote) % kBuckets);
}

void Tcp::hash_insert(TcpSocket* s) {
  u32 b = bucket_of(s->local_, s->remote_);
  s->hash_next_ = buckets_[b];
  buckets_[b] = s;
  s->hashed_ = true;
}

void Tcp::hash_remove(TcpSocket* s) {
  TcpSocket** p = &buckets_[bucket_of(s->local_, s->remote_)];
  while (*p && *p != s) p = &(*p)->hash_next_;
  if (*p) *p = s->hash_next_;
  s->hash_next_ = nullptr;
  s->hashed_ = false;
}

TcpSocket* Tcp::lookup(Endpoint local, Endpoint remote) const {
  if (!buckets_) return nullptr;
  for (TcpSocket* s = buckets_[bucket_of(local, remote)]; s; s = s->hash_next_)
    if (s->local_ == local && s->remote_ == remote) return s;
  return nullptr;
}

TcpSocket* Tcp::lookup_listener(Endpoint local) const {
  TcpSocket* wildcard = nullptr;
  for (TcpSocket* s = listeners_; s; s = s->listen_next_) {
    if (s->local_.port != local.port) continue;
    if (s->local_.addr == local.addr) return s;
    if (s->local_.addr.any()) wildcard = s;
  }
  return wildcard;
}

void Tcp::listener_add(TcpSocket* s) {
  s->listen_next_ = listeners_;
  listeners_ = s;
  s->listed_ = true;
}

void Tcp::listener_remove(TcpSocket* s) {
  TcpSocket** p = &listeners_;
  while (*p && *p != s) p = &(*p)->listen_next_;
  if (*p) *p = s->listen_next_;
  s->listen_next_ = nullptr;
  s->listed_ = false;
}

bool ports_overlap(const TcpSocket& a, Endpoint la, const TcpSocket& b, Endpoint lb) {
  if (la.port != lb.port) return false;
  if (la.addr == lb.addr) return true;
  // A wildcard covers every address of its own kind: an IPv4 (or
  // dual-stack) wildcard leaves an IPv6-only socket's port alone, as Linux
  // lets 0.0.0.0:P and an IPV6_V6ONLY [::]:P coexist.
  return (la.addr.any() || lb.addr.any()) && a.v6only_ == b.v6only_;
}

bool Tcp::bind_conflict(const TcpSocket* s, Endpoint local) const {
  for (const TcpSocket* o = all_; o; o = o->all_next_) {
    if (o == s || !o->bound_) continue;
    if (!ports_overlap(*o, o->local_, *s, local)) continue;
    // SO_REUSEADDR (Linux semantics): binding over TIME_WAIT, or over
    // sockets that set it too and are not listening.
    if (s->reuseaddr_ &&
        (o->state_ == TcpState::TimeWait || (o->reuseaddr_ && o->state_ != TcpState::Listen)))
      continue;
    return true;
  }
  return false;
}

bool Tcp::port_reserved(u16 port) const {
  // Ports taken by bind() or a listener are not handed out for connect().
  for (const TcpSocket* o = all_; o; o = o->all_next_)
    if (o->bound_ && o->local_.port == port && (o->user_bound_ || o->state_ == TcpState::Listen))
      return true;
  return false;
}

Result<u16> Tcp::ephemeral_for_bind(TcpSocket* s, Ipv4 addr) {
  u32 n = u32(cfg_.ephemeral_hi - cfg_.ephemeral_lo) + 1;
  u32 start = u32(tcp_tuple_hash(secret_, 3, Endpoint{addr, 0}, Endpoint{Ipv4(next_ephemeral_), 0}));
  for (u32 i = 0; i < n; ++i) {
    u16 port = u16(cfg_.ephemeral_lo + (start + i) % n);
    bool used = false;
    for (const TcpSocket* o = all_; o && !used; o = o->all_next_)
      used = o != s && o->bound_ && o->local_.port == port;
    if (!used) {
      next_ephemeral_ += i + 1;
      return port;
    }
  }
  return err(EADDRINUSE);
}

Result<u16> Tcp::ephemeral_for_connect(Ipv4 local, Endpoint remote) {
  // RFC 6056 algorithm 3: a per-destination offset plus a global counter.
  u32 n = u32(cfg_.ephemeral_hi - cfg_.ephemeral_lo) + 1;
  u32 offset = u32(tcp_tuple_hash(secret_, 4, Endpoint{local, 0}, remote));
  for (u32 i = 0; i < n; ++i) {
    u16 port = u16(cfg_.ephemeral_lo + (offset + next_ephemeral_ + i) % n);
    if (lookup(Endpoint{local, port}, remote) || port_reserved(port)) continue;
    next_ephemeral_ += i + 1;
    return port;
  }
  return err(EADDRNOTAVAIL);
}

Result<void> Tcp::setup_buffers(TcpSocket& s) {
  TRY(s.sbuf_.init(s.sndbuf_));
  TRY(s.rbuf_.init(s.rcvbuf_));
  return ok();
}

void Tcp::init_syn_params(TcpSocket& s, u64 now) {
  s.iss_ = tcp_isn(secret_, s.local_, s.remote_, now);
  s.snd_una_ = s.snd_nxt_ = s.snd_max_ = s.iss_;
  s.recover_ = s.iss_;
  s.ts_offset_ = u32(tcp_tuple_hash(secret_, 2, s.local_, s.remote_));
  // The largest shift that still lets the whole buffer be advertised: the
  // buffer it may grow to (tcp_autotune.cc) unless the program fixed it.
  u32 largest = s.rcvbuf_locked_ ? s.rcvbuf_ : max(s.rcvbuf_, cfg_.max_buf);
  u8 ws = 0;
  while (ws < 14 && (largest >> ws) > 0xffff) ++ws;
  s.rcv_wscale_ = ws;
  u32 mtu = ip_.mtu_for(s.remote_.addr);
  u32 mss = mtu > 40 + 88 ? mtu - 40 : 88;
  if (s.user_mss_ && s.user_mss_ < mss) mss = s.user_mss_;
  s.adv_mss_ = u16(min<u32>(mss, 0xffff));
  s.rto_ = cfg_.init_rto_ns;
  s.backoff_ = s.retransmits_ = 0;
}

void Tcp::wake(TcpSocket& s, u32 events) {
  if (s.wake_fn_ && s.user_ref_) s.wake_fn_(s.wake_ctx_, &s, events);
}

void Tcp::set_closed(TcpSocket& s, int error) {
  if (s.state_ == TcpState::Closed) return;
  if (s.hashed_) hash_remove(&s);
  if (s.listed_) listener_remove(&s);
  s.state_ = TcpState::Closed;
  s.t_rtx_ = 0;
  s.t_delack_ = 0;
  s.t_keep_ = 0;
  s.persist_ = false;
  s.sbuf_.release();
  if (!s.user_ref_) s.rbuf_.release();
  if (error) s.so_error_ = error;
  if (!s.user_bound_) s.bound_ = false;
  if (!s.user_ref_) ++zombies_;
  if (TcpSocket* l = s.parent_) {
    if (s.in_acceptq_) {
      TcpSocket** p = &l->acceptq_head_;
      TcpSocket* prev = nullptr;
      while (*p && *p != &s) prev = *p, p = &(*p)->q_next_;
      if (*p) *p = s.q_next_;
      if (l->acceptq_tail_ == &s) l->acceptq_tail_ = prev;
      --l->acceptq_len_;
    } else {
      --l->synq_len_;
    }
    s.parent_ = nullptr;
    s.in_acceptq_ = false;
  }
  wake(s, kPollIn | kPollOut | kPollErr | kPollHup | kPollRdHup);
}

void Tcp::enter_time_wait(TcpSocket& s, u64 now) {
  s.state_ = TcpState::TimeWait;
  s.t_rtx_ = 0;
  s.t_delack_ = 0;
  s.persist_ = false;
  s.t_keep_ = now + 2 * cfg_.msl_ns;
  s.sbuf_.release();
  if (!s.user_ref_) s.rbuf_.release();
  wake(s, kPollIn | kPollHup | kPollRdHup);
}

void Tcp::established(TcpSocket& s, u64 now) {
  s.state_ = s.fin_queued_ ? TcpState::FinWait1 : TcpState::Established;
  s.was_connected_ = true;
  s.last_rcv_ns_ = now;
  cc_init(s);
  arm_keepalive(s, now);
  if (TcpSocket* l = s.parent_) {
    --l->synq_len_;
    s.in_acceptq_ = true;
    s.q_next_ = nullptr;
    if (l->acceptq_tail_) l->acceptq_tail_->q_next_ = &s;
    else l->acceptq_head_ = &s;
    l->acceptq_tail_ = &s;
    ++l->acceptq_len_;
    wake(*l, kPollIn);
  }
  wake(s, kPollOut);
}

}  // namespace mote::net
