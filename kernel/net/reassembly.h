// IPv4 fragment reassembly (RFC 791 3.2, RFC 815). Fragments of one datagram
// (same source, destination, protocol and identification) are kept as a
// sorted list of non-overlapping pieces; the datagram is complete when the
// last fragment has arrived and the pieces cover it without a hole.
//
// Overlaps follow Linux (and RFC 5722's reasoning for IPv6): a fragment that
// lies wholly inside data already received is a duplicate and ignored; one
// that partly overlaps received data discards the whole datagram, so no
// overlap trick can make this host see bytes a middlebox did not.
//
// Bounded: kMaxDatagrams reassemblies at once and kMaxBytes of fragment data
// in total (the oldest reassembly is dropped to make room; Linux allows 4 MB
// per namespace, a unikernel less), and each one
// lives at most kTimeoutNs from its first fragment (RFC 1122 3.3.2 suggests
// 60-120 s; Linux uses 30 s).
#pragma once

#include "kernel/lib/types.h"
#include "kernel/net/transport.h"
#include "kernel/net/wire.h"

namespace mote::net {

class Reassembler {
 public:
  static constexpr usize kMaxDatagrams = 64;
  static constexpr usize kMaxBytes = 1024 * 1024;
  static constexpr u64 kTimeoutNs = 30 * kNsPerSec;
  // What is kept of a fragment at offset 0 for ICMP time exceeded: the
  // header (without options) and the first 8 bytes of data (RFC 792).
  static constexpr usize kQuoteLen = Ipv4Header::kMinSize + 8;

  // Told about each reassembly that timed out after its first fragment had
  // come (RFC 1122 3.3.2: then send ICMP time exceeded, code 1).
  class TimeoutSink {
   public:
    virtual void reassembly_timeout(const u8* quote, usize len) = 0;

   protected:
    ~TimeoutSink() = default;
  };

  Reassembler() = default;
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  // Adds one fragment (h describes it; payload is its data). When it
  // completes a datagram, returns a kalloc'd buffer holding the whole
  // datagram, a 20-byte header (no options, no fragment fields) then the
  // data, with its length in *out_len; the caller kfree()s it. Otherwise
  // returns nullptr (waiting, or dropped as malformed).
  u8* add(const Ipv4Header& h, const u8* payload, usize len, u64 now_ns, usize* out_len);
  // Drops reassemblies older than kTimeoutNs.
  void tick(u64 now_ns, TimeoutSink* sink);
  u64 next_deadline() const;

  usize datagrams() const { return count_; }
  usize bytes() const { return bytes_; }

 private:
  struct Piece {
    Piece* next;
    u16 off, len;
    u8* data() { return reinterpret_cast<u8*>(this + 1); }
  };
  struct Datagram {
    bool used = false;
    Ipv4 src, dst;
    u8 proto = 0;
    u16 id = 0;
    u64 started = 0;
    bool have_last = false;
    usize total = 0;     // data length, known once the last fragment came
    usize received = 0;  // data bytes held
    Piece* pieces = nullptr;
    usize quote_len = 0;  // 0 until the fragment at offset 0 came
    u8 quote[kQuoteLen];
  };

  Datagram* find_or_start(const Ipv4Header& h, u64 now_ns);
  void drop(Datagram& d);
  Datagram* oldest();
  // Inserts a piece; false when it partly overlaps what is there.
  bool insert(Datagram& d, usize off, const u8* data, usize len, bool* duplicate);
  u8* assemble(Datagram& d, usize* out_len);

  Datagram slots_[kMaxDatagrams];
  usize count_ = 0;
  usize bytes_ = 0;
};

}  // namespace mote::net
