// The byte stores behind a TCP connection: a ring buffer for the send queue
// (bytes from snd_una on, kept until acknowledged) and for the receive queue
// (in-order bytes waiting for recv(), with out-of-order bytes written in place
// beyond them), plus the bounded list of out-of-order ranges that says which
// of those bytes are present.
//
// A ring's capacity (what the window and the send queue count against) is
// not its memory: the memory behind it starts at kFirstStore bytes and
// doubles as bytes are written further from the head, up to the capacity.
// An idle connection, or one that carries requests and replies of a few
// KiB, holds a page or two instead of its whole 128 KiB buffers: taking
// those up front cost every accepted connection 512 KiB of fresh memory
// (two large blocks) and, on the VM platforms, zeroing all of it. When
// memory runs out the capacity shrinks to the memory the ring has, so a
// ring never promises room it cannot hold (the window closes early; what
// arrived beyond it is dropped and sent again by the peer).
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

  static constexpr u32 kFirstStore = 4000;  // with the heap's header, within a 4 KiB block

  // A ring of capacity cap (discarding any contents), with the first of its
  // memory. ENOMEM on failure.
  Result<void> init(u32 cap);
  // A larger capacity, with the same contents and the bytes written past
  // them (out-of-order data) at the same offsets from the head. The memory
  // follows when it is written to. Never shrinks.
  void grow(u32 cap);
  void release();
  bool ready() const { return buf_ != nullptr; }

  u32 cap() const { return cap_; }
  u32 size() const { return len_; }
  u32 space() const { return cap_ - len_; }
  // Bytes of memory behind the ring (for tests and diagnostics).
  u32 store() const { return store_; }

  // Memory for the first `end` bytes from the head (at most cap()). False
  // when it ran out: cap() is then the memory the ring has (>= size()).
  bool reserve(u64 end);
  // Appends up to n bytes at the tail; returns how many fit.
  u32 append(const u8* src, u32 n);
  // Writes n bytes starting `off` bytes past the tail without making them
  // readable (out-of-order data). False (nothing written) when size() + off
  // + n is beyond cap(), or the memory for them ran out.
  bool write_at(u32 off, const u8* src, u32 n);
  // Makes n bytes past the tail (written by write_at) part of the contents.
  void commit(u32 n);
  // Copies n bytes starting `off` bytes after the head. Requires off+n <= size().
  void copy_out(u32 off, u8* dst, u32 n) const;
  // Drops n bytes from the head. Requires n <= size().
  void consume(u32 n);

 private:
  void copy_in(u32 pos, const u8* src, u32 n);
  u8* buf_ = nullptr;
  // Positions wrap at store_ (the memory), not cap_.
  u32 cap_ = 0, store_ = 0, head_ = 0, len_ = 0;
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
