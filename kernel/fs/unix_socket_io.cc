// AF_UNIX data transfer (unix_socket.h): the receive queue, sendmsg and
// recvmsg for streams (bytes read across sends, MSG_WAITALL, partial writes
// when non-blocking) and for records (SOCK_DGRAM, SOCK_SEQPACKET: one
// message per call, MSG_TRUNC), MSG_PEEK, sender addresses, and SCM_RIGHTS
// (files in flight are held by their message; the receiver gets new fds,
// MSG_CMSG_CLOEXEC, MSG_CTRUNC when its buffer is short). SCM_CREDENTIALS
// is accepted on send and never delivered (docs/compat.md).
#include "kernel/core/process.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/unix_socket.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

namespace mote::fs {
namespace unix_impl {

namespace {

constexpr int kScmRights = 1, kScmCredentials = 2, kScmMaxFd = 253;

struct CmsgHdr {
  u64 len;
  i32 level, type;
};
constexpr usize kCmsgHdr = sizeof(CmsgHdr);
constexpr usize cmsg_align(usize n) { return (n + 7) & ~usize(7); }

Msg* new_msg(usize len) {
  auto* m = static_cast<Msg*>(mm::kzalloc(sizeof(Msg) + len));
  return m;
}

// The files of a message being built; freed unless handed to a message.
struct Rights {
  Ref<File>* fds = nullptr;
  u32 n = 0;
  ~Rights() { free_rights(fds, n); }
  void give(Msg* m) {
    m->fds = fds;
    m->nfds = n;
    fds = nullptr;
    n = 0;
  }
};

}  // namespace

void free_rights(Ref<File>* fds, u32 nfds) {
  if (!fds) return;
  for (u32 i = 0; i < nfds; ++i) fds[i].~Ref<File>();
  mm::kfree(fds);
}

void free_msg(Msg* m) {
  free_rights(m->fds, m->nfds);
  mm::kfree(m);
}

Result<void> take_rights(const SocketMsg& msg, Ref<File>** out, u32* out_n) {
  *out = nullptr;
  *out_n = 0;
  // First pass: validate and count (__scm_send).
  u32 total = 0;
  for (usize off = 0; off + kCmsgHdr <= msg.control_len;) {
    CmsgHdr c;
    memcpy(&c, msg.control + off, sizeof c);
    if (c.len < kCmsgHdr || c.len > msg.control_len - off) return err(EINVAL);
    if (c.level == kSolSocket) {
      if (c.type == kScmRights) {
        total += u32((c.len - kCmsgHdr) / sizeof(i32));
        if (total > kScmMaxFd) return err(EINVAL);
      } else if (c.type != kScmCredentials) {
        return err(EINVAL);
      }
    }
    off += cmsg_align(c.len);
  }
  if (!total) return ok();
  auto* files = static_cast<Ref<File>*>(mm::kzalloc(total * sizeof(Ref<File>)));
  if (!files) return err(ENOMEM);
  for (u32 i = 0; i < total; ++i) new (&files[i]) Ref<File>();
  u32 k = 0;
  for (usize off = 0; off + kCmsgHdr <= msg.control_len;) {
    CmsgHdr c;
    memcpy(&c, msg.control + off, sizeof c);
    if (c.level == kSolSocket && c.type == kScmRights) {
      for (usize p = kCmsgHdr; p + sizeof(i32) <= c.len; p += sizeof(i32)) {
        i32 fd;
        memcpy(&fd, msg.control + off + p, sizeof fd);
        Ref<File> f = fds().get(fd);
        if (!f || (f->flags & kOPath)) {
          free_rights(files, total);
          return err(EBADF);
        }
        files[k++] = f;
      }
    }
    off += cmsg_align(c.len);
  }
  *out = files;
  *out_n = total;
  return ok();
}

void deliver_rights(Msg* m, SocketMsg& msg, int flags) {
  usize space = msg.control_cap - msg.control_len;
  usize fit = space > kCmsgHdr ? (space - kCmsgHdr) / sizeof(i32) : 0;
  u32 n = u32(min<usize>(fit, m->nfds));
  u8* at = msg.control + msg.control_len;
  u32 done = 0;
  for (; done < n; ++done) {
    auto fd = fds().install(m->fds[done], flags & kMsgCmsgCloexec, 0,
                            core::g_proc.rlimits[7].cur);  // RLIMIT_NOFILE
    if (!fd.ok()) break;
    i32 v = fd.value();
    memcpy(at + kCmsgHdr + done * sizeof(i32), &v, sizeof v);
  }
  if (done) {
    CmsgHdr c{kCmsgHdr + done * sizeof(i32), kSolSocket, kScmRights};
    memcpy(at, &c, sizeof c);
    msg.control_len += min(cmsg_align(c.len), space);
  }
  if (done < m->nfds) msg.flags_out |= kMsgCtrunc;
  if (!(flags & kMsgPeek)) {
    // The files go with the message's first read (closed if they did not fit).
    free_rights(m->fds, m->nfds);
    m->fds = nullptr;
    m->nfds = 0;
  }
}

void UnixSocket::enqueue(Msg* m) {
  if (tail) tail->next = m;
  else head = m;
  tail = m;
  queued += m->len + kMsgCost;
  ++count;
  changed();
}

void UnixSocket::drop_head() {
  Msg* m = head;
  head = m->next;
  if (!head) tail = nullptr;
  queued -= m->len - m->off + kMsgCost;
  --count;
  free_msg(m);
}

Result<usize> UnixSocket::sendmsg(SocketMsg& msg, int flags) {
  if (flags & kMsgOob) return err(EOPNOTSUPP);
  bool to_addr = msg.addr && msg.addr->len && type == kSockDgram;
  if (stream() && msg.addr && msg.addr->len) return err(connected ? EISCONN : EOPNOTSUPP);
  if (connection() && (!connected || listening)) return err(ENOTCONN);
  UnixAddr dest{};
  if (to_addr) dest = TRY(parse_addr(*msg.addr));
  Rights rights;
  TRY(take_rights(msg, &rights.fds, &rights.n));
  if (!connection() && opts.passcred) TRY(autobind());
  usize total = iov_total(msg.iov, msg.iovcnt);
  if (!stream() && total + 32 > usize(opts.sndbuf)) return err(EMSGSIZE);
  u64 deadline = socket_deadline(sndtimeo_ns);
  usize sent = 0;
  for (;;) {
    if (shut & kShutSend) return sent ? Result<usize>(sent) : err(EPIPE);
    UnixSocket* to = peer;
    if (to_addr) {
      to = TRY(find_bound(dest, type));
    } else if (!to) {
      if (connection()) return sent ? Result<usize>(sent) : err(EPIPE);
      if (refused) {
        refused = connected = false;
        peer_name = UnixAddr{};
        return err(ECONNREFUSED);
      }
      return err(ENOTCONN);
    }
    if (!connection() && to->peer && to->peer != this) return err(EPERM);  // unix_may_send
    if (to->shut & kShutRecv) return sent ? Result<usize>(sent) : err(EPIPE);
    usize want = stream() ? min(total - sent, kMaxChunk) : total;
    if (stream()) {
      // As much as fits now (at least something once the queue is not full).
      usize limit = usize(opts.sndbuf), used = to->queued + kMsgCost;
      usize room = !to->head ? want : used < limit ? limit - used : 0;
      want = min(want, room);
    }
    bool fits = stream() ? (want > 0 || total == 0) : to->has_room(*this, total);
    if (fits) {
      if (stream() && total == 0) return usize(0);
      Msg* m = new_msg(want);
      if (!m) return sent ? Result<usize>(sent) : err(ENOMEM);
      m->len = want;
      from_iov(msg.iov, msg.iovcnt, sent, m->data(), want);
      m->from = name;
      rights.give(m);
      to->enqueue(m);
      sent += want;
      if (sent == total) return sent;
      continue;
    }
    if (nonblocking(flags)) return sent ? Result<usize>(sent) : err(EAGAIN);
    auto w = socket_wait(g_room_q, deadline);
    if (!w.ok()) return sent ? Result<usize>(sent) : err(w.error());
  }
}

Result<usize> UnixSocket::recvmsg(SocketMsg& msg, int flags) {
  if (flags & kMsgOob) return err(stream() ? EINVAL : EOPNOTSUPP);
  if (stream() && (!connected || listening)) return err(EINVAL);
  if (type == kSockSeqpacket && (!connected || listening)) return err(ENOTCONN);
  usize total = iov_total(msg.iov, msg.iovcnt);
  bool peek = flags & kMsgPeek;
  u64 deadline = socket_deadline(rcvtimeo_ns);
  if (msg.addr) msg.addr->len = 0;
  usize copied = 0;
  for (;;) {
    if (head && !stream()) {
      // One record: the rest of it is dropped (MSG_TRUNC) unless peeking.
      Msg* m = head;
      usize n = min(m->len, total);
      to_iov(msg.iov, msg.iovcnt, 0, m->data(), n);
      if (n < m->len) msg.flags_out |= kMsgTrunc;
      if (msg.want_addr && msg.addr && m->from.len) {
        memcpy(msg.addr->bytes, m->from.bytes, m->from.len);
        msg.addr->len = m->from.len;
      }
      if (m->nfds) deliver_rights(m, msg, flags);
      usize result = (flags & kMsgTrunc) ? m->len : n;
      if (!peek) {
        drop_head();
        changed();
      }
      return result;
    }
    if (head && stream()) {
      // Bytes across messages; a message carrying files starts a read and
      // ends it.
      for (Msg* m = head; m && copied < total;) {
        if (m->nfds && copied) break;
        usize n = min(m->len - m->off, total - copied);
        to_iov(msg.iov, msg.iovcnt, copied, m->data() + m->off, n);
        if (copied == 0 && msg.want_addr && msg.addr && m->from.len) {
          memcpy(msg.addr->bytes, m->from.bytes, m->from.len);
          msg.addr->len = m->from.len;
        }
        copied += n;
        bool had_fds = m->nfds != 0;
        if (had_fds) deliver_rights(m, msg, flags);
        if (peek) {
          m = m->next;
        } else {
          m->off += n;
          queued -= n;
          if (m->off == m->len) drop_head();
          m = head;
        }
        if (had_fds) break;
      }
      if (peek) return copied;
      changed();
      if (copied >= total || !(flags & kMsgWaitall)) return copied;
    }
    if (error) {
      if (copied) return copied;
      int e = error;
      error = 0;
      return err(e);
    }
    if ((shut & kShutRecv) || total == 0) return copied;
    if (nonblocking(flags)) return copied ? Result<usize>(copied) : err(EAGAIN);
    auto w = socket_wait(wq, deadline);
    if (!w.ok()) return copied ? Result<usize>(copied) : err(w.error());
  }
}

}  // namespace unix_impl
}  // namespace mote::fs
