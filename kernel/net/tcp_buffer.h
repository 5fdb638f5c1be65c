// The byte stores behind a TCP connection: a ring buffer for the send queue
// (bytes from snd_una on, kept until acknowledged) and for the receive queue
// (in-order bytes waiting for recv(), with out-of-order bytes written in place
// beyond them), plus the bounded list of out-of-order ranges that says which
// of those bytes are present. Memory is fixed when the ring is set up.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::net {

class TcpRing {
 public:
  TcpRing() = default;
  TcpRing(const TcpRing&) = delete;
  TcpRing& operator=(const TcpRing&) = delete;
  ~TcpRing() { release(); }

  // Allocates cap bytes (discarding any contents). ENOMEM on failure.
  Result<void> init(u32 cap);
  // A larger ring with the same contents, and the bytes written past them
  // (out-of-order data) at the same offsets from the head. ENOMEM: as it was.
  Result<void> grow(u32 cap);
  void release();
  bool ready() const { return buf_ != nullptr; }

  u32 cap() const { return cap_; }
  u32 size() const { return len_; }
  u32 space() const { return cap_ - len_; }

  // Appends up to n bytes at the tail; returns how many fit.
  u32 append(const u8* src, u32 n);
  // Writes n bytes starting `off` bytes past the tail without making them
  // readable (out-of-order data). Requires size() + off + n <= cap().
  void write_at(u32 off, const u8* src, u32 n);
  // Makes n bytes past the tail (written by write_at) part of the contents.
  void commit(u32 n);
  // Copies n bytes starting `off` bytes after the head. Requires off+n <= size().
  void copy_out(u32 off, u8* dst, u32 n) const;
  // Drops n bytes from the head. Requires n <= size().
  void consume(u32 n);

 private:
  void copy_in(u32 pos, const u8* src, u32 n);
  u8* buf_ = nullptr;
  u32 cap_ = 0, head_ = 0, len_ = 0;
};

// Out-of-order sequence ranges held beyond rcv_nxt (RFC 9293 3.10.7.4,
// "segment text"): at most kMax disjoint ranges, sorted and merged, so a
// hostile peer cannot make the list grow.
class TcpReassembly {
 public:
  static constexpr u32 kMax = 16;
  struct Range {
    u32 start, end;  // [start, end) in sequence space
  };

  // Records [start, end). False (nothing recorded) when it is disjoint from
  // every held range and kMax are held already.
  bool add(u32 start, u32 end);
  // rcv_nxt moved to nxt: drops ranges now below it and returns the new
  // rcv_nxt after absorbing every range that touches it.
  u32 advance(u32 nxt);
  void clear() { n_ = 0; }
  u32 count() const { return n_; }
  const Range& at(u32 i) const { return r_[i]; }

 private:
  Range r_[kMax];
  u32 n_ = 0;
};

}  // namespace mote::net
