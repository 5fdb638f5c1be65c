// The 9P2000.L client session behind the share filesystem (share9p.cc):
// version negotiation, fid numbers, and one request at a time over a
// P9Transport. Kernel-internal; header-only so share9p.cc stays readable.
#pragma once

#include <new>

#include "abi/p9.h"
#include "kernel/fs/share9p.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/lib/vec.h"

namespace mote::fs::share9p {

inline constexpr u16 kTag = 1;       // one request at a time
inline constexpr u16 kAheadTag = 2;  // ... but for a read-ahead

// One 9P session on a transport: the negotiated size, the fid numbers and
// the message buffers. Requests are strictly one at a time, and a reply is
// consumed before the next request (the buffers are shared).
//
// Read-ahead, on a pipelined transport (P9Transport::pipelined): a read that
// continues the one before it on the same fid (or starts a file) asks, before
// it returns, for the next bytes in Treads of max_io() each, and the next
// reads take their replies in order. The window opens as it pays: one Tread
// ahead after a read that had to ask the server itself, twice as many (up
// to kAheadDepth) after each read that found its bytes ahead -- so a program
// that reads the head of many files costs the server one piece each, while
// one streaming a file keeps the server reading the next pieces all the
// time. (With one Tread ahead at most, nginx sending a large file in 128
// KiB pieces got 0.5-0.9 GB/s from the share, each piece waiting out most of
// a round trip's wake-ups.) Any other request first takes the replies in
// flight and forgets them: a read never sees bytes from before a write,
// truncation or rename of the guest's own. A read of more than one message
// sends up to kBatch Treads before it takes their replies.
class Client {
 public:
  // Read-ahead Treads in flight at most.
  static constexpr u32 kAheadDepth = 4;

  explicit Client(P9Transport* t) : t_(t) {}

  Result<void> start() {
    msize_ = p9::kMsize;
    req_ = static_cast<u8*>(mm::kalloc(msize_));
    resp_ = static_cast<u8*>(mm::kalloc(msize_));
    if (!req_ || !resp_) return err(ENOMEM);
    can_ahead_ = t_->pipelined();  // else no read-ahead
    p9::Writer& w = begin(p9::kTversion, p9::kNoTag);
    w.u32(msize_);
    w.str(p9::kVersion, p9::str_len(p9::kVersion));
    p9::Reader r = TRY(call(p9::kRversion));
    u32 msize = r.u32();
    p9::Str v = r.str();
    if (!r.ok() || !(StrView(v.data, v.size) == StrView(p9::kVersion))) return err(EPROTO);
    if (msize < 4096 || msize > msize_) return err(EPROTO);
    msize_ = msize;
    return ok();
  }

  u32 msize() const { return msize_; }
  // The largest Tread/Twrite/Treaddir payload.
  u32 max_io() const { return msize_ - p9::kIoHeader; }

  Result<u32> new_fid() {
    if (!free_.empty()) {
      u32 f = free_[free_.size() - 1];
      free_.pop();
      return f;
    }
    if (next_fid_ == p9::kNoFid) return err(ENFILE);
    return next_fid_++;
  }

  p9::Writer& begin(u8 type, u16 tag = kTag) {
    w_ = p9::Writer(req_, msize_);
    w_.begin(type, tag);
    return w_;
  }

  // Sends the request begun with begin(); the reply's body, or the errno of
  // an Rlerror.
  Result<p9::Reader> call(u8 rtype) {
    u32 n = w_.finish();
    if (!n) return err(ENAMETOOLONG);  // only names and targets can overflow a request
    forget_ahead();
    usize got = TRY(t_->rpc(req_, n, resp_, msize_));
    return reply(resp_, got, rtype);
  }

  // *tag (when asked): the reply's tag.
  static Result<p9::Reader> reply(const u8* buf, usize got, u8 rtype, u16* tag = nullptr) {
    p9::Reader r(buf, u32(got));
    u8 type;
    u16 t;
    if (got > 0xffffffffu || !r.header(&type, &t)) return err(EIO);
    if (tag) *tag = t;
    if (type == p9::kRlerror) {
      u32 e = r.u32();
      return err(r.ok() && e > 0 && e < 4096 ? int(e) : EIO);
    }
    if (type != rtype) return err(EIO);
    return r;
  }

  // Forgets a fid. Uses buffers of its own: destructors call it, maybe
  // while another reply is being read.
  void clunk(u32 fid) {
    if (fid == p9::kNoFid) return;
    u8 req[16], resp[32];
    p9::Writer w(req, sizeof req);
    w.begin(p9::kTclunk, kTag);
    w.u32(fid);
    u32 n = w.finish();
    forget_ahead();
    auto got = t_->rpc(req, n, resp, sizeof resp);
    // A fid the server no longer knows is free as well; one whose clunk was
    // lost (transport failure) is never reused.
    if (got.ok() && free_.push(fid).ok()) return;
  }

  Result<u32> walk(u32 fid, StrView name) {
    u32 nf = TRY(new_fid());
    p9::Writer& w = begin(p9::kTwalk);
    w.u32(fid);
    w.u32(nf);
    w.u16(name.size ? 1 : 0);
    if (name.size) w.str(name.data, u32(name.size));
    auto r = call(p9::kRwalk);
    if (!r.ok()) {
      (void)free_.push(nf);
      return Error{r.error()};
    }
    p9::Reader rd = r.value();
    u16 nq = rd.u16();
    if (!rd.ok() || nq != (name.size ? 1 : 0)) {
      (void)free_.push(nf);  // a partial walk creates no fid
      return err(ENOENT);
    }
    return nf;
  }

  Result<p9::Attr> getattr(u32 fid) {
    p9::Writer& w = begin(p9::kTgetattr);
    w.u32(fid);
    w.u64(p9::kGetattrBasic);
    p9::Reader r = TRY(call(p9::kRgetattr));
    p9::Attr a = p9::get_attr(r);
    if (!r.ok()) return err(EIO);
    return a;
  }

  Result<void> lopen(u32 fid, u32 flags) {
    p9::Writer& w = begin(p9::kTlopen);
    w.u32(fid);
    w.u32(flags);
    TRY(call(p9::kRlopen));
    return ok();
  }

  Result<void> setattr(u32 fid, const p9::SetAttr& a) {
    p9::Writer& w = begin(p9::kTsetattr);
    w.u32(fid);
    p9::put_setattr(w, a);
    TRY(call(p9::kRsetattr));
    return ok();
  }

  // A new fid for the same object, opened with `flags`.
  Result<u32> open_clone(u32 fid, u32 flags) {
    u32 nf = TRY(walk(fid, StrView()));
    auto r = lopen(nf, flags);
    if (!r.ok()) {
      clunk(nf);
      return Error{r.error()};
    }
    return nf;
  }

  Result<usize> read(u32 fid, u64 off, void* buf, usize len) {
    u8* out = static_cast<u8*>(buf);
    usize done = 0;
    bool end = false;  // the server gave less than asked: the file's end
    const bool sequential = (fid == last_fid_ && off == last_end_) || off == 0;
    bool found_ahead = false;
    while (done < len) {
      if (usize n = take_ahead(fid, off + done, out + done, len - done, &end)) {
        done += n;
        found_ahead = true;
        if (end) break;
        continue;
      }
      if (end) break;
      if (can_ahead_ && len - done > max_io()) {
        auto b = read_batch(fid, off + done, out + done, len - done, &end);
        if (!b.ok()) {
          if (done) break;
          return Error{b.error()};
        }
        done += b.value();
        if (end) break;
        continue;
      }
      u32 want = u32(min<usize>(len - done, max_io()));
      p9::Writer& w = begin(p9::kTread);
      w.u32(fid);
      w.u64(off + done);
      w.u32(want);
      auto r = call(p9::kRread);
      if (!r.ok()) {
        if (done) break;
        return Error{r.error()};
      }
      const u8* data;
      u32 n;
      if (!rread_data(r.value(), want, &data, &n)) return err(EIO);
      memcpy(out + done, data, n);
      done += n;
      if (n < want) {
        end = true;
        break;
      }
    }
    last_fid_ = fid;
    last_end_ = off + done;
    if (sequential && !end && len >= kAheadMin) {
      ahead_window_ = found_ahead ? min(2 * ahead_window_, kAheadDepth) : 1;
      send_ahead(fid, off + done);
    }
    return done;
  }

  // Read-ahead requests sent, and those from which a read took bytes
  // (tests, --verbose).
  u64 ahead_sent() const { return ahead_sent_; }
  u64 ahead_used() const { return ahead_used_; }

  Result<usize> write(u32 fid, u64 off, const void* buf, usize len) {
    const u8* in = static_cast<const u8*>(buf);
    usize done = 0;
    while (done < len) {
      u32 want = u32(min<usize>(len - done, max_io()));
      p9::Writer& w = begin(p9::kTwrite);
      w.u32(fid);
      w.u64(off + done);
      w.u32(want);
      w.bytes(in + done, want);
      auto r = call(p9::kRwrite);
      if (!r.ok()) {
        if (done) break;
        return Error{r.error()};
      }
      p9::Reader rd = r.value();
      u32 n = rd.u32();
      if (!rd.ok() || n > want) return err(EIO);
      done += n;
      if (n < want) break;
    }
    return done;
  }

 private:
  // Reads smaller than this ask for nothing ahead (small files of a
  // read-only share are kept whole anyway).
  static constexpr usize kAheadMin = 16 * 1024;

  // Treads in flight at once for a read of several messages.
  static constexpr u32 kBatch = 4;

  // A Tread on the send half of a pipelined transport; false when it
  // cannot go.
  bool send_tread(u32 fid, u64 off, u32 count, u16 tag) {
    u8 req[p9::kHeader + 16];
    p9::Writer w(req, sizeof req);
    w.begin(p9::kTread, tag);
    w.u32(fid);
    w.u64(off);
    w.u32(count);
    u32 n = w.finish();
    return n && t_->send(req, n).ok();
  }

  // An Rread's bytes (its body, after reply()): false when malformed or
  // more than the `want` asked for.
  static bool rread_data(p9::Reader rd, u32 want, const u8** data, u32* n) {
    *n = rd.u32();
    *data = rd.take(*n);
    return rd.ok() && *n <= want;
  }

  // Up to kBatch Treads for consecutive chunks sent at once, then their
  // replies taken in order (a pipelined transport): the server reads the
  // next chunk while the core copies the last. The bytes read; *end at a
  // short reply (the file's end) or an error after some bytes; the error
  // when there are none. Every reply is taken, whatever came before it.
  Result<usize> read_batch(u32 fid, u64 off, u8* out, usize len, bool* end) {
    forget_ahead();
    const u32 io = max_io();
    const u32 k = u32(min<usize>((len + io - 1) / io, kBatch));
    auto count = [&](u32 i) { return u32(min<usize>(len - usize(i) * io, io)); };  // chunk i's
    u32 sent = 0;
    while (sent < k && send_tread(fid, off + u64(sent) * io, count(sent), kTag)) ++sent;
    if (!sent) return err(EIO);
    usize done = 0;
    int error = 0;
    for (u32 i = 0; i < sent; ++i) {
      auto got = t_->recv(resp_, msize_);
      if (*end || error) continue;
      if (!got.ok()) {
        error = got.error();
        continue;
      }
      auto r = reply(resp_, got.value(), p9::kRread);
      if (!r.ok()) {
        error = r.error();
        continue;
      }
      const u32 want = count(i);
      const u8* data;
      u32 n;
      if (!rread_data(r.value(), want, &data, &n)) {
        error = EIO;
        continue;
      }
      memcpy(out + done, data, n);
      done += n;
      if (n < want) *end = true;
    }
    if (error && !done) return Error{error};
    if (error || sent < k) *end = true;  // the caller stops here; the next read sees it
    return done;
  }

  // One read-ahead Tread: sent (its reply still in the transport), or
  // settled with the bytes not yet taken (none after an error).
  struct Ahead {
    u8* buf = nullptr;  // its reply
    u64 off = 0;        // where its remaining bytes start in the file
    const u8* data = nullptr;
    u32 len = 0;        // bytes not yet taken
    bool settled = false;
    bool taken = false;   // a read took bytes from it (counted in ahead_used_)
    bool failed = false;  // no reply, or not a good one: no bytes
    bool end = false;     // a short reply: the file's end
  };

  Ahead& ahead_at(u32 i) { return ahead_[(ahead_first_ + i) % kAheadDepth]; }

  // Keeps ahead_window_ Treads for the max_io() pieces after `off` in
  // flight (`off`: where the last read ended), unless one already saw the
  // end.
  void send_ahead(u32 fid, u64 off) {
    if (!can_ahead_) return;
    if (ahead_count_ && ahead_fid_ != fid) forget_ahead();
    u64 next = off;
    if (ahead_count_) {
      Ahead& last = ahead_at(ahead_count_ - 1);
      if (last.settled && last.end) return;
      next = ahead_next_;
    }
    while (ahead_count_ < ahead_window_) {
      // A reply buffer the first time the window reaches this slot (a
      // program that never streams a file keeps one).
      Ahead& a = ahead_at(ahead_count_);
      if (!a.buf && !(a.buf = static_cast<u8*>(mm::kalloc(msize_)))) return;
      if (!send_tread(fid, next, max_io(), kAheadTag)) return;
      ++ahead_count_;
      a.off = next;
      a.data = nullptr;
      a.len = 0;
      a.settled = a.taken = a.failed = a.end = false;
      next += max_io();
      ahead_fid_ = fid;
      ahead_next_ = next;
      ++ahead_sent_;
    }
  }

  // Takes the replies in flight up to and including the i-th read-ahead
  // (the transport answers in order).
  void settle_ahead(u32 i) {
    for (u32 k = 0; k <= i && k < ahead_count_; ++k) {
      Ahead& a = ahead_at(k);
      if (a.settled) continue;
      a.settled = true;
      a.failed = true;
      auto got = t_->recv(a.buf, msize_);
      if (!got.ok()) continue;
      u16 tag;
      auto r = reply(a.buf, got.value(), p9::kRread, &tag);
      const u8* data;
      u32 n;
      if (!r.ok() || tag != kAheadTag || !rread_data(r.value(), max_io(), &data, &n)) continue;
      a.failed = false;
      a.data = data;
      a.len = n;
      a.end = n < max_io();
    }
  }

  // Bytes of `fid` at `off` from the read-ahead, when it holds them; *end
  // when they reach the file's end. A read-ahead that failed ends what it
  // gives (and forgets the rest): the read asks the server itself.
  usize take_ahead(u32 fid, u64 off, u8* out, usize len, bool* end) {
    if (!ahead_count_ || fid != ahead_fid_ || off != ahead_at(0).off) return 0;
    usize done = 0;
    while (done < len && ahead_count_) {
      settle_ahead(0);
      Ahead& a = ahead_at(0);
      if (a.failed) {
        forget_ahead();
        break;
      }
      usize n = min<usize>(len - done, a.len);
      memcpy(out + done, a.data, n);
      done += n;
      a.data += n;
      a.off += n;
      a.len -= u32(n);
      if (n && !a.taken) {
        a.taken = true;
        ++ahead_used_;
      }
      if (a.len) break;  // the read is whole
      // Used up: the next one goes on from here, unless this one was the
      // end (what follows it, past the end, is forgotten).
      const bool at_end = a.end;
      ahead_first_ = (ahead_first_ + 1) % kAheadDepth;
      --ahead_count_;
      if (at_end) {
        *end = true;
        forget_ahead();
        break;
      }
    }
    return done;
  }

  // Before any other request: the replies in flight are taken (the
  // transport answers in order) and their bytes forgotten.
  void forget_ahead() {
    if (ahead_count_) settle_ahead(ahead_count_ - 1);
    ahead_count_ = 0;
    ahead_first_ = 0;
  }

  P9Transport* t_;
  u32 msize_ = 0;
  u8* req_ = nullptr;
  u8* resp_ = nullptr;
  p9::Writer w_{nullptr, 0};
  u32 next_fid_ = 1;
  Vec<u32> free_;
  // The read-ahead (only on a pipelined transport): a ring of Treads for
  // consecutive pieces of one fid, the oldest at ahead_first_.
  bool can_ahead_ = false;
  Ahead ahead_[kAheadDepth];
  u32 ahead_first_ = 0, ahead_count_ = 0;
  u32 ahead_window_ = 1;         // how many to keep in flight (1 to kAheadDepth)
  u32 ahead_fid_ = p9::kNoFid;
  u64 ahead_next_ = 0;           // where the piece after the last one in flight starts
  u64 ahead_sent_ = 0, ahead_used_ = 0;
  u32 last_fid_ = p9::kNoFid;    // where the last read ended
  u64 last_end_ = 0;
};

}  // namespace mote::fs::share9p
