// AF_UNIX sockets (unix_socket.h): creation and socketpair, names (paths
// through the VFS as S_IFSOCK nodes, abstract names, autobind), listen,
// connect and accept, shutdown, readiness for poll/epoll, SO_PEERCRED and
// SO_ERROR, FIONREAD/SIOCOUTQ. Sending and receiving: unix_socket_io.cc.
//
// Bound sockets are found by walking the list of live sockets for the one
// whose path node (or abstract name) matches: a unikernel has few sockets.
#include "kernel/fs/unix_socket.h"

#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/linux/user.h"

namespace mote::fs {
namespace unix_impl {

core::WaitQueue g_room_q;

namespace {

UnixSocket* g_all = nullptr;  // every live AF_UNIX socket
u32 g_autobind_next = 0;

constexpr u32 kSiocoutq = 0x5411, kSiocinq = 0x541b;
constexpr int kSoError = 4, kSoPeercred = 17;

void to_sockaddr(const UnixAddr& u, SockAddr* out) {
  if (u.len == 0) {
    out->bytes[0] = u8(kAfUnix);
    out->bytes[1] = 0;
    out->len = kSunPath;
    return;
  }
  memcpy(out->bytes, u.bytes, u.len);
  out->len = u.len;
}

Result<Ref<UnixSocket>> make_socket(int type, u32 file_flags) {
  Ref<Inode> node = new_socket_inode();
  if (!node) return err(ENOMEM);
  auto s = make_ref<UnixSocket>(static_cast<Ref<Inode>&&>(node), file_flags, type);
  if (!s) return err(ENOMEM);
  return s;
}

// unix_create: protocol 0 (or PF_UNIX); SOCK_RAW is taken as SOCK_DGRAM.
Result<int> check_type(int type, int protocol) {
  if (protocol != 0 && protocol != kAfUnix) return err(EPROTONOSUPPORT);
  switch (type) {
    case kSockStream:
    case kSockDgram:
    case kSockSeqpacket: return type;
    case kSockRaw: return kSockDgram;
    default: return err(ESOCKTNOSUPPORT);
  }
}

Result<Ref<SocketFile>> unix_create(int type, int protocol, u32 file_flags) {
  int t = TRY(check_type(type, protocol));
  return Ref<SocketFile>(TRY(make_socket(t, file_flags)));
}

void join(UnixSocket& a, UnixSocket& b) {
  a.peer = &b;
  b.peer = &a;
  a.connected = b.connected = true;
  a.peer_name = b.name;
  b.peer_name = a.name;
}

Result<void> unix_pair(int type, int protocol, u32 file_flags, Ref<SocketFile>* a,
                       Ref<SocketFile>* b) {
  int t = TRY(check_type(type, protocol));
  auto s0 = TRY(make_socket(t, file_flags));
  auto s1 = TRY(make_socket(t, file_flags));
  join(*s0, *s1);
  s0->peer_cred = s1->peer_cred = current_cred();
  s0->has_peer_cred = s1->has_peer_cred = true;
  *a = Ref<SocketFile>(s0);
  *b = Ref<SocketFile>(s1);
  return ok();
}

constexpr SocketFamily kUnixFamily{unix_create, unix_pair};

}  // namespace

static bool same_name(const UnixAddr& a, const UnixAddr& b) {
  return a.len == b.len && memcmp(a.bytes, b.bytes, a.len) == 0;
}

// unix_mkname: the name in a sockaddr_un. A path ends at its first NUL and
// its length counts one NUL; an abstract name is every byte given.
Result<UnixAddr> parse_addr(const SockAddr& a) {
  if (a.len <= kSunPath || a.len > kSunSize || a.family() != kAfUnix) return err(EINVAL);
  UnixAddr u{};
  memcpy(u.bytes, a.bytes, a.len);
  if (a.bytes[kSunPath] == 0) {
    u.len = a.len;
  } else {
    usize n = 0;
    while (kSunPath + n < a.len && a.bytes[kSunPath + n]) ++n;
    u.bytes[kSunPath + n] = 0;
    u.len = u32(kSunPath + n + 1);
  }
  return u;
}

static StrView path_of(const UnixAddr& u) {
  return StrView(reinterpret_cast<const char*>(u.bytes + kSunPath), u.len - kSunPath - 1);
}

static bool abstract(const UnixAddr& u) { return u.len > kSunPath && u.bytes[kSunPath] == 0; }

// Abstract names are per socket type in Linux (its hash mixes the type in):
// a stream and a datagram socket may hold the same one.
static UnixSocket* find_abstract(const UnixAddr& u, int type) {
  for (UnixSocket* s = g_all; s; s = s->next_all)
    if (s->owns_name && !s->node && s->type == type && same_name(s->name, u)) return s;
  return nullptr;
}

// The socket bound to a name: ENOENT (no such path), ECONNREFUSED (nobody
// there), EPROTOTYPE (another socket type).
Result<UnixSocket*> find_bound(const UnixAddr& u, int type) {
  UnixSocket* found = nullptr;
  if (abstract(u)) {
    found = find_abstract(u, type);
  } else {
    auto n = TRY(resolve(ns().cwd.get(), path_of(u), kFollow));
    if ((n->mode & kIfmt) != kIfsock) return err(ECONNREFUSED);
    for (UnixSocket* s = g_all; s && !found; s = s->next_all)
      if (s->owns_name && s->node.get() == n.get()) found = s;
  }
  if (!found) return err(ECONNREFUSED);
  if (found->type != type) return err(EPROTOTYPE);
  return found;
}

Cred current_cred() { return Cred{core::g_proc.pid, 0, 0}; }  // the program runs as root

UnixSocket::UnixSocket(Ref<Inode> node, u32 file_flags, int type)
    : SocketFile(static_cast<Ref<Inode>&&>(node), file_flags, kAfUnix, type, 0) {
  cred = current_cred();
  next_all = g_all;
  g_all = this;
}

UnixSocket::~UnixSocket() {
  for (UnixSocket** p = &g_all; *p; p = &(*p)->next_all) {
    if (*p == this) {
      *p = next_all;
      break;
    }
  }
  // Whoever points at this socket loses it: a connection sees its peer
  // closed (ECONNRESET when it left data unread or was never accepted), a
  // datagram sender connected here is refused once.
  bool reset = head != nullptr || embryo;
  for (UnixSocket* s = g_all; s; s = s->next_all) {
    if (s->peer != this) continue;
    s->peer = nullptr;
    if (s->connection()) {
      s->shut = kShutBoth;
      if (reset) s->error = ECONNRESET;
    } else {
      s->refused = true;
    }
    s->changed();
  }
  // What follows may destroy more sockets (files in flight, the backlog's
  // connections); this one is off the list by now.
  while (head) drop_head();
  backlog.clear();
  core::wake_all(wq);
  core::wake_all(g_room_q);
  core::notify_poll();
}

void UnixSocket::changed() {
  core::wake_all(wq);
  core::wake_all(g_room_q);
  core::notify_poll();
}

Result<void> UnixSocket::autobind() {
  if (name.len) return ok();
  UnixAddr u{};
  u.bytes[0] = u8(kAfUnix);
  u.len = kSunPath + 6;  // a NUL and five hex digits
  for (u32 tries = 0; tries < 0x100000; ++tries) {
    u32 n = g_autobind_next++ & 0xfffff;
    for (int i = 0; i < 5; ++i) u.bytes[kSunPath + 5 - i] = u8("0123456789abcdef"[(n >> (4 * i)) & 0xf]);
    if (!find_abstract(u, type)) {
      name = u;
      owns_name = true;
      return ok();
    }
  }
  return err(ENOSPC);
}

Result<void> UnixSocket::bind(const SockAddr& addr) {
  if (addr.len == kSunPath && addr.family() == kAfUnix) {
    if (name.len) return err(EINVAL);
    return autobind();
  }
  UnixAddr u = TRY(parse_addr(addr));
  if (abstract(u)) {
    if (name.len) return err(EINVAL);
    if (find_abstract(u, type)) return err(EADDRINUSE);
  } else {
    // As Linux: the node first (an existing path is EADDRINUSE even for a
    // socket bound already), then the socket's own state.
    char leaf[kNameMax + 1];
    auto pn = TRY(resolve_parent(ns().cwd.get(), path_of(u), leaf));
    if (pn.name.size == 0) return err(EADDRINUSE);
    auto made = pn.dir->mknod(pn.name, kIfsock | (0777 & ~ns().umask), 0);
    if (!made.ok()) return err(made.error() == EEXIST ? EADDRINUSE : made.error());
    if (name.len) {
      (void)pn.dir->unlink(pn.name);
      return err(EINVAL);
    }
    node = made.value();
  }
  name = u;
  owns_name = true;
  return ok();
}

Result<void> UnixSocket::listen(int n) {
  if (!connection()) return err(EOPNOTSUPP);
  if (!name.len || (connected && !listening)) return err(EINVAL);
  listening = true;
  max_backlog = usize(n);
  cred = current_cred();  // SO_PEERCRED of the clients: the listener's at listen()
  core::wake_all(g_room_q);  // a larger backlog has room for waiting connectors
  return ok();
}

Result<void> UnixSocket::connect(const SockAddr& addr) {
  if (addr.len < kSunPath) return err(EINVAL);
  if (!connection()) {
    if (addr.family() == 0) {  // AF_UNSPEC: dissolve the association
      peer = nullptr;
      connected = refused = false;
      peer_name = UnixAddr{};
      return ok();
    }
    UnixAddr u = TRY(parse_addr(addr));
    if (opts.passcred) TRY(autobind());
    UnixSocket* other = TRY(find_bound(u, type));
    if (other->peer && other->peer != this) return err(EPERM);
    peer = other;
    connected = true;
    refused = false;
    peer_name = other->name;
    changed();
    return ok();
  }
  UnixAddr u = TRY(parse_addr(addr));
  if (listening) return err(EINVAL);
  if (connected) return err(EISCONN);
  if (opts.passcred) TRY(autobind());
  u64 deadline = socket_deadline(sndtimeo_ns);
  for (;;) {
    UnixSocket* other = TRY(find_bound(u, type));  // again after each wait
    if (!other->listening) return err(ECONNREFUSED);
    if (other->backlog.size() <= other->max_backlog) {
      auto made = make_socket(type, kORdwr);
      if (!made.ok()) return err(made.error());
      Ref<UnixSocket> conn = made.value();
      conn->name = other->name;  // an accepted socket is named after its listener
      conn->opts.sndbuf = other->opts.sndbuf;
      conn->cred = other->cred;
      TRY(other->backlog.push(conn));
      join(*this, *conn);
      peer_cred = other->cred;
      conn->peer_cred = current_cred();
      has_peer_cred = conn->has_peer_cred = true;
      conn->embryo = true;
      other->changed();
      changed();
      return ok();
    }
    if (nonblocking()) return err(EAGAIN);
    TRY(socket_wait(g_room_q, deadline));
  }
}

Result<Ref<SocketFile>> UnixSocket::accept(SockAddr* peer_out) {
  if (!connection()) return err(EOPNOTSUPP);
  if (!listening) return err(EINVAL);
  u64 deadline = socket_deadline(rcvtimeo_ns);
  while (backlog.empty()) {
    if (nonblocking()) return err(EAGAIN);
    TRY(socket_wait(wq, deadline));
    if (!listening) return err(EINVAL);
  }
  Ref<UnixSocket> conn = backlog[0];
  backlog.erase(0);
  conn->embryo = false;
  if (peer_out) to_sockaddr(conn->peer_name, peer_out);
  changed();
  return Ref<SocketFile>(conn);
}

Result<void> UnixSocket::shutdown(int how) {
  u8 mode = u8(how + 1);  // SHUT_RD -> receive, SHUT_WR -> send, SHUT_RDWR -> both
  shut |= mode;
  if (peer && connection()) {
    u8 mirrored = u8(((mode & kShutRecv) ? kShutSend : 0) | ((mode & kShutSend) ? kShutRecv : 0));
    peer->shut |= mirrored;
    peer->changed();
  }
  changed();
  return ok();
}

Result<void> UnixSocket::getsockname(SockAddr* out) {
  to_sockaddr(name, out);
  return ok();
}

Result<void> UnixSocket::getpeername(SockAddr* out) {
  if (!connected || listening) return err(ENOTCONN);
  to_sockaddr(peer_name, out);
  return ok();
}

Result<void> UnixSocket::setsockopt(int level, int name_, const void* val, u32 len) {
  return SocketFile::setsockopt(level, name_, val, len);
}

Result<void> UnixSocket::getsockopt(int level, int name_, void* val, u32* len) {
  if (level == kSolSocket && name_ == kSoError) {
    i32 e = error;
    error = 0;
    memcpy(val, &e, sizeof e);
    *len = sizeof e;
    return ok();
  }
  if (level == kSolSocket && name_ == kSoPeercred && has_peer_cred) {
    memcpy(val, &peer_cred, sizeof peer_cred);
    *len = sizeof peer_cred;
    return ok();
  }
  return SocketFile::getsockopt(level, name_, val, len);
}

bool UnixSocket::has_room(const UnixSocket& from, usize len) const {
  if (!connection() && peer != &from && count > kMaxDgramQlen) return false;
  if (!head) return true;  // one message always fits
  return queued + len + kMsgCost <= usize(from.opts.sndbuf);
}

// unix_poll and unix_dgram_poll.
u32 UnixSocket::poll_ready() {
  u32 ev = 0;
  if (error) ev |= kPollErr;
  if (shut == kShutBoth) ev |= kPollHup;
  if (shut & kShutRecv) ev |= kPollRdhup | kPollIn | kPollRdnorm;
  if (head || !backlog.empty()) ev |= kPollIn | kPollRdnorm;
  if (connection() && !connected && !listening) ev |= kPollHup;
  bool writable = !listening;
  if (writable && peer) {
    writable = peer->queued * 4 <= usize(opts.sndbuf);
    if (!connection() && peer->peer != this && peer->count > kMaxDgramQlen) writable = false;
  }
  if (writable) ev |= kPollOut | kPollWrnorm | kPollWrband;
  return ev;
}

Result<u64> UnixSocket::readable_bytes() {
  if (listening) return err(EINVAL);
  if (!connection()) return u64(head ? head->len : 0);
  u64 n = 0;
  for (Msg* m = head; m; m = m->next) n += m->len - m->off;
  return n;
}

Result<i64> UnixSocket::ioctl(u32 cmd, u64 arg) {
  if (cmd == kSiocinq) return err(EINVAL);  // readable_bytes failed: a listener
  if (cmd == kSiocoutq) {
    if (listening) return err(EINVAL);
    // Bytes sent and not yet read by the peer.
    u64 n = 0;
    if (peer)
      for (Msg* m = peer->head; m; m = m->next) n += m->len - m->off;
    i32 v = i32(min<u64>(n, 0x7fffffff));
    auto w = linux::put_user(arg, v);
    if (!w.ok()) return err(w.error());
    return i64(0);
  }
  return err(ENOTTY);
}

}  // namespace unix_impl

void init_sockets() { register_socket_family(kAfUnix, &unix_impl::kUnixFamily); }

}  // namespace mote::fs
