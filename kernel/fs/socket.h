// Sockets: the open file every socket family implements, and the family
// registry socket(2) and socketpair(2) go through.
//
// The system call layer (kernel/linux/socket.cc) checks program pointers,
// copies socket addresses and option values into kernel memory, and calls
// these methods with the kernel lock held. Data buffers (IoVec) are program
// memory the caller checked, as for File::read/write. A method that must
// wait (accept, connect, a full send buffer, an empty receive queue) sleeps
// itself on a core::WaitQueue, honours the file's O_NONBLOCK and MSG_DONTWAIT
// (EAGAIN / EINPROGRESS), returns -ERESTARTSYS-style errors through
// core::Wake::Interrupted as pipes do, and calls core::notify_poll() whenever
// its poll_ready() answer may have changed.
//
// Families: AF_UNIX (kernel/fs/unix_socket.cc), AF_INET (kernel/net/, through
// kernel/linux/inet_socket.cc). A family registers its factories at boot.
#pragma once

#include "kernel/fs/vfs.h"
#include "kernel/lib/ref.h"
#include "kernel/lib/result.h"
#include "kernel/lib/types.h"

namespace mote::core {
struct WaitQueue;
}

namespace mote::fs {

// Linux constants the socket layer and families share (linux/socket.h,
// linux/net.h, asm-generic/socket.h).
inline constexpr int kAfUnix = 1, kAfInet = 2, kAfInet6 = 10, kAfNetlink = 16;
inline constexpr int kSockStream = 1, kSockDgram = 2, kSockRaw = 3, kSockSeqpacket = 5;
inline constexpr int kSockTypeMask = 0xf;
inline constexpr int kMsgOob = 0x1, kMsgPeek = 0x2, kMsgDontroute = 0x4, kMsgCtrunc = 0x8,
                     kMsgTrunc = 0x20, kMsgDontwait = 0x40, kMsgEor = 0x80,
                     kMsgWaitall = 0x100, kMsgNosignal = 0x4000, kMsgCmsgCloexec = 0x40000000;
inline constexpr int kShutRd = 0, kShutWr = 1, kShutRdwr = 2;
inline constexpr int kSolSocket = 1, kSolIp = 0, kSolTcp = 6, kSolUdp = 17;

// A socket address in kernel memory: the bytes of a struct sockaddr_* and
// their length (as the program passed them, or as the family fills them).
struct SockAddr {
  alignas(8) u8 bytes[128];  // sizeof(struct sockaddr_storage)
  u32 len = 0;
  u16 family() const { return len >= 2 ? u16(bytes[0] | bytes[1] << 8) : 0; }
};

// One piece of a scatter/gather buffer: program memory, already checked.
struct IoVec {
  void* base;
  usize len;
};

// One sendmsg/recvmsg. The syscall layer fills iov/addr/control, the family
// fills the outputs.
struct SocketMsg {
  const IoVec* iov = nullptr;
  usize iovcnt = 0;
  // sendmsg: the destination (len 0: none). recvmsg: where the source
  // address goes when want_addr (len set by the family; 0 when it has none).
  SockAddr* addr = nullptr;
  bool want_addr = false;
  // Ancillary data, in kernel memory: sendmsg's cmsg buffer as the program
  // gave it; recvmsg's output buffer of control_cap bytes, control_len
  // filled by the family (SCM_RIGHTS, SCM_CREDENTIALS, ...).
  u8* control = nullptr;
  usize control_len = 0;
  usize control_cap = 0;
  int flags_out = 0;  // recvmsg: MSG_TRUNC, MSG_CTRUNC, MSG_EOR
};

usize iov_total(const IoVec* iov, usize n);
// Copies between program buffers (checked by the caller) and kernel memory,
// starting `skip` bytes into the iovecs, at most `len` bytes (fewer when the
// iovecs end first).
void from_iov(const IoVec* iov, usize n, usize skip, u8* dst, usize len);
void to_iov(const IoVec* iov, usize n, usize skip, const u8* src, usize len);

class SocketFile : public File {
 public:
  SocketFile(Ref<Inode> node, u32 file_flags, int family, int type, int protocol)
      : File(static_cast<Ref<Inode>&&>(node), file_flags),
        family(family), type(type), protocol(protocol) {}

  bool seekable() const override { return false; }
  bool is_socket() const override { return true; }
  Result<usize> pread(void*, usize, u64) override;    // ESPIPE
  Result<usize> pwrite(const void*, usize, u64) override;
  Result<u64> seek(i64, int) override;                // ESPIPE
  // read(2)/write(2): recvmsg/sendmsg with one IoVec and no flags.
  Result<usize> read(void* buf, usize len) override;
  Result<usize> write(const void* buf, usize len) override;

  // ---- The socket calls; defaults return EOPNOTSUPP. ----
  virtual Result<void> bind(const SockAddr& addr);
  virtual Result<void> listen(int backlog);
  // The new connection's file (its file flags: O_RDWR plus what accept4
  // asked for, set by the caller afterwards); *peer filled when non-null.
  virtual Result<Ref<SocketFile>> accept(SockAddr* peer);
  virtual Result<void> connect(const SockAddr& addr);
  virtual Result<usize> sendmsg(SocketMsg& msg, int flags);
  virtual Result<usize> recvmsg(SocketMsg& msg, int flags);
  virtual Result<void> shutdown(int how);
  virtual Result<void> getsockname(SockAddr* out);
  virtual Result<void> getpeername(SockAddr* out);
  // Option values in kernel memory. The base class answers the SOL_SOCKET
  // options every family shares (SO_TYPE, SO_DOMAIN, SO_PROTOCOL,
  // SO_ACCEPTCONN, SO_RCVTIMEO/SO_SNDTIMEO, ...); families handle the rest
  // first and fall back to it.
  virtual Result<void> setsockopt(int level, int name, const void* val, u32 len);
  virtual Result<void> getsockopt(int level, int name, void* val, u32* len);

  // Non-blocking for this call: O_NONBLOCK on the file or MSG_DONTWAIT.
  bool nonblocking(int msg_flags = 0) const;

  const int family, type, protocol;
  bool listening = false;
  u64 rcvtimeo_ns = 0, sndtimeo_ns = 0;  // SO_RCVTIMEO/SO_SNDTIMEO, 0: none

  // The other SOL_SOCKET options the base class keeps (families read them;
  // a family may change the defaults in its constructor). sndbuf/rcvbuf are
  // what getsockopt reports: Linux doubles the value set, within bounds.
  struct Options {
    bool reuseaddr = false, reuseport = false, keepalive = false, broadcast = false,
         oobinline = false, dontroute = false, passcred = false, timestamp = false;
    int sndbuf = 212992, rcvbuf = 212992;
    int priority = 0, mark = 0, rcvlowat = 1;
    int linger_on = 0, linger_sec = 0;
  } opts;
};

// A fresh anonymous inode for a socket (S_IFSOCK | 0777 on "sockfs"), as
// fstat shows it; /proc/self/fd/N reads "socket:[ino]".
Ref<Inode> new_socket_inode();

// Waiting in a socket call (kernel lock held): the deadline for a timeout
// (SO_RCVTIMEO/SO_SNDTIMEO in ns, 0: none) taken now, then one sleep on q
// until a wake_all, the deadline or a signal. ok(): look again. EAGAIN:
// the deadline passed. EINTR (with a timeout, as Linux) or ERESTARTSYS
// (without) on a signal; EDEADLK when nothing could ever wake the thread
// (docs/compat.md).
u64 socket_deadline(u64 timeo_ns);
Result<void> socket_wait(core::WaitQueue& q, u64 deadline_ns);

// EPIPE from a send on a SOCK_STREAM socket raises SIGPIPE unless
// MSG_NOSIGNAL (as Linux: not for datagrams or SOCK_SEQPACKET): the system
// call layer and SocketFile::write do it, families only return EPIPE.

// A family's constructors. `type` is without SOCK_NONBLOCK/SOCK_CLOEXEC;
// `file_flags` is O_RDWR plus O_NONBLOCK when asked.
struct SocketFamily {
  Result<Ref<SocketFile>> (*create)(int type, int protocol, u32 file_flags);
  // socketpair(2); null: EOPNOTSUPP.
  Result<void> (*pair)(int type, int protocol, u32 file_flags, Ref<SocketFile>* a,
                       Ref<SocketFile>* b);
};
void register_socket_family(int family, const SocketFamily* f);
// EAFNOSUPPORT for an unknown family.
const SocketFamily* socket_family(int family);

// At boot: registers the families kernel/fs implements (AF_UNIX).
void init_sockets();

}  // namespace mote::fs
