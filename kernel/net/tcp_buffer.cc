// The TCP ring buffer and out-of-order range list (tcp_buffer.h).
#include "kernel/net/tcp_buffer.h"

#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"
#include "kernel/net/tcp_seq.h"

namespace mote::net {

Result<void> TcpRing::init(u32 cap) {
  release();
  const u32 first = cap < kFirstStore ? (cap ? cap : 1) : kFirstStore;
  buf_ = static_cast<u8*>(mm::kalloc(first));
  if (!buf_) return err(12 /*ENOMEM*/);
  cap_ = cap;
  store_ = first;
  return ok();
}

void TcpRing::grow(u32 cap) {
  if (buf_ && cap > cap_) cap_ = cap;
}

bool TcpRing::reserve(u64 end) {
  if (end > cap_) end = cap_;
  if (end <= store_) return true;
  u64 want = u64(store_) * 2;
  if (want < end) want = end;
  if (want > cap_) want = cap_;
  u8* nb = static_cast<u8*>(mm::kalloc(usize(want)));
  if (!nb) {
    cap_ = store_;  // no more memory: no more room than this
    return false;
  }
  // Every byte of the old memory in order from the head: the contents
  // first, then whatever lies past the tail (out-of-order bytes).
  memcpy(nb, buf_ + head_, store_ - head_);
  memcpy(nb + (store_ - head_), buf_, head_);
  mm::kfree(buf_);
  buf_ = nb;
  store_ = u32(want);
  head_ = 0;
  return true;
}

void TcpRing::release() {
  mm::kfree(buf_);
  buf_ = nullptr;
  cap_ = store_ = head_ = len_ = 0;
}

void TcpRing::copy_in(u32 pos, const u8* src, u32 n) {
  // pos is an offset from the head; the ring wraps at store_ (reserve()
  // made room for pos + n).
  u32 at = u32((u64(head_) + pos) % store_);
  u32 first = min(n, store_ - at);
  memcpy(buf_ + at, src, first);
  if (n > first) memcpy(buf_, src + first, n - first);
}

u32 TcpRing::append(const u8* src, u32 n) {
  n = min(n, space());
  if (n == 0) return 0;
  if (!reserve(u64(len_) + n)) n = min(n, space());  // what the memory holds
  if (n == 0) return 0;
  copy_in(len_, src, n);
  len_ += n;
  return n;
}

bool TcpRing::write_at(u32 off, const u8* src, u32 n) {
  if (n == 0) return true;
  const u64 end = u64(len_) + off + n;
  if (end > cap_ || !reserve(end)) return false;
  copy_in(len_ + off, src, n);
  return true;
}

void TcpRing::commit(u32 n) { len_ += n; }

void TcpRing::copy_out(u32 off, u8* dst, u32 n) const {
  if (n == 0) return;
  u32 at = u32((u64(head_) + off) % store_);
  u32 first = min(n, store_ - at);
  memcpy(dst, buf_ + at, first);
  if (n > first) memcpy(dst + first, buf_, n - first);
}

void TcpRing::consume(u32 n) {
  if (n == 0) return;
  head_ = u32((u64(head_) + n) % store_);
  len_ -= n;
  // The head stays where it is even when empty: out-of-order bytes may sit
  // beyond the tail, at positions relative to it.
}

bool TcpReassembly::add(u32 start, u32 end) {
  if (!seq_lt(start, end)) return true;
  // Find the first range that ends at or after start (could merge with it).
  u32 i = 0;
  while (i < n_ && seq_lt(r_[i].end, start)) ++i;
  if (i < n_ && seq_leq(r_[i].start, end)) {
    // Overlaps or touches r_[i]: widen it, then swallow followers it reaches.
    if (seq_lt(start, r_[i].start)) r_[i].start = start;
    if (seq_gt(end, r_[i].end)) r_[i].end = end;
    u32 j = i + 1;
    while (j < n_ && seq_leq(r_[j].start, r_[i].end)) {
      if (seq_gt(r_[j].end, r_[i].end)) r_[i].end = r_[j].end;
      ++j;
    }
    u32 gone = j - (i + 1);
    for (u32 k = i + 1; k + gone < n_; ++k) r_[k] = r_[k + gone];
    n_ -= gone;
    return true;
  }
  if (n_ == kMax) return false;
  for (u32 k = n_; k > i; --k) r_[k] = r_[k - 1];
  r_[i] = Range{start, end};
  ++n_;
  return true;
}

u32 TcpReassembly::advance(u32 nxt) {
  u32 drop = 0;
  while (drop < n_ && seq_leq(r_[drop].start, nxt)) {
    if (seq_gt(r_[drop].end, nxt)) nxt = r_[drop].end;
    ++drop;
  }
  for (u32 k = 0; k + drop < n_; ++k) r_[k] = r_[k + drop];
  n_ -= drop;
  return nxt;
}

}  // namespace mote::net
