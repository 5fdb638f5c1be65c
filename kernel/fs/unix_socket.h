// AF_UNIX sockets, shared between unix_socket.cc (lifetimes, names,
// connections, readiness, options) and unix_socket_io.cc (queues, send and
// receive, SCM_RIGHTS).
//
// Each socket has a receive queue of messages: one per datagram or record
// (SOCK_DGRAM, SOCK_SEQPACKET) or per send (SOCK_STREAM, read across
// message boundaries). A sender appends to the receiver's queue; the bytes
// queued there, plus a fixed cost per message standing for Linux's skb
// overhead, are bounded by the sender's SO_SNDBUF (Linux bounds the
// sender's bytes in flight, which is the same for a connected pair), and a
// datagram receiver that is not connected back to the sender takes at most
// net.unix.max_dgram_qlen + 1 messages.
//
// Peers point at each other without references: a socket's destructor
// (its last descriptor closed) unhooks every socket pointing at it, so a
// stream peer then reads EOF and gets EPIPE, a connected datagram sender
// ECONNREFUSED once. Readers and acceptors sleep on their own socket's wait
// queue; writers waiting for room and connectors waiting for backlog room
// sleep on one shared queue that every consumption wakes.
#pragma once

#include "kernel/core/thread.h"
#include "kernel/fs/socket.h"
#include "kernel/lib/vec.h"

namespace mote::fs {
namespace unix_impl {

inline constexpr usize kSunPath = 2;          // offsetof(struct sockaddr_un, sun_path)
inline constexpr usize kSunSize = 110;        // sizeof(struct sockaddr_un)
inline constexpr usize kMsgCost = 256;        // charged per queued message
inline constexpr usize kMaxChunk = 65536;     // largest stream message
inline constexpr usize kMaxDgramQlen = 10;    // net.unix.max_dgram_qlen
inline constexpr u8 kShutRecv = 1, kShutSend = 2, kShutBoth = 3;
inline constexpr u32 kPollWrband = 0x200, kPollRdhup = 0x2000;  // EPOLLWRBAND, EPOLLRDHUP

// A bound name: the sockaddr_un bytes and their length (0: unnamed).
struct UnixAddr {
  u8 bytes[kSunSize + 2];
  u32 len;
};

struct Cred {
  i32 pid, uid, gid;
};
Cred current_cred();

// A queued message; its bytes follow the header.
struct Msg {
  Msg* next;
  usize len, off;     // off: bytes already read (stream)
  Ref<File>* fds;     // SCM_RIGHTS in flight (nfds of them), or null
  u32 nfds;
  UnixAddr from;      // the sender's name when it sent
  u8* data() { return reinterpret_cast<u8*>(this + 1); }
};
void free_msg(Msg* m);

class UnixSocket final : public SocketFile {
 public:
  UnixSocket(Ref<Inode> node, u32 file_flags, int type);
  ~UnixSocket() override;

  Result<void> bind(const SockAddr& addr) override;
  Result<void> listen(int backlog) override;
  Result<Ref<SocketFile>> accept(SockAddr* peer) override;
  Result<void> connect(const SockAddr& addr) override;
  Result<usize> sendmsg(SocketMsg& msg, int flags) override;
  Result<usize> recvmsg(SocketMsg& msg, int flags) override;
  Result<void> shutdown(int how) override;
  Result<void> getsockname(SockAddr* out) override;
  Result<void> getpeername(SockAddr* out) override;
  Result<void> setsockopt(int level, int name, const void* val, u32 len) override;
  Result<void> getsockopt(int level, int name, void* val, u32* len) override;
  u32 poll_ready() override;
  Result<u64> readable_bytes() override;
  Result<i64> ioctl(u32 cmd, u64 arg) override;

  bool stream() const { return type == kSockStream; }
  bool connection() const { return type != kSockDgram; }  // stream or seqpacket
  // Gives this socket an abstract name of five hex digits (Linux's autobind).
  Result<void> autobind();
  // The queue changed: readers, writers and pollers look again.
  void changed();
  // Room for a message of len bytes from `from` in this socket's queue.
  bool has_room(const UnixSocket& from, usize len) const;
  void enqueue(Msg* m);
  // Unlinks and frees the head message.
  void drop_head();

  UnixSocket* peer = nullptr;  // no reference: cleared by the peer's destructor
  UnixSocket* next_all = nullptr;
  bool connected = false;      // stream/seqpacket: ever connected; dgram: has a peer
  bool refused = false;        // dgram: the peer went away (next send: ECONNREFUSED)
  bool owns_name = false;      // bound here (accepted sockets only show the listener's)
  bool embryo = false;         // in a listener's backlog, not accepted yet
  u8 shut = 0;                 // kShutRecv | kShutSend
  int error = 0;               // SO_ERROR (ECONNRESET)
  Msg* head = nullptr;
  Msg* tail = nullptr;
  usize queued = 0;            // bytes plus kMsgCost per message
  usize count = 0;             // messages
  Vec<Ref<UnixSocket>> backlog;  // a listener's connections not yet accepted
  usize max_backlog = 0;
  UnixAddr name{};
  UnixAddr peer_name{};        // as it was at connect time (getpeername, accept)
  Ref<Inode> node;             // the filesystem node of a path name
  Cred cred{}, peer_cred{};
  bool has_peer_cred = false;
  core::WaitQueue wq;          // readers and acceptors of this socket
};

// unix_mkname: the name in a sockaddr_un (EINVAL when malformed).
Result<UnixAddr> parse_addr(const SockAddr& a);
// The socket bound to a name: ENOENT (no such path), ECONNREFUSED (nobody
// bound there), EPROTOTYPE (a socket of another type).
Result<UnixSocket*> find_bound(const UnixAddr& u, int type);

// Writers waiting for room and connectors waiting for backlog room.
extern core::WaitQueue g_room_q;

// SCM_RIGHTS of a sendmsg's control data: the files, or null when none
// (EINVAL for a malformed or unsupported message, EBADF for a bad fd).
Result<void> take_rights(const SocketMsg& msg, Ref<File>** fds, u32* nfds);
void free_rights(Ref<File>* fds, u32 nfds);
// Installs a received message's files in the fd table and writes their
// SCM_RIGHTS cmsg into msg's control buffer (MSG_CTRUNC when it is too
// small). Unless peeking the message gives them up.
void deliver_rights(Msg* m, SocketMsg& msg, int flags);

}  // namespace unix_impl
}  // namespace mote::fs
