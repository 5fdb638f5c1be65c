// UDP (RFC 768, RFC 1122 4.1) at the level of socket objects, for the
// syscall layer to wrap: bind (port 0 picks an ephemeral port in Linux's
// 32768-60999), connect (a default destination and a receive filter),
// sendto with the checksum, a receive queue of datagrams with their source
// bounded by a byte budget (SO_RCVBUF), SO_REUSEADDR / SO_REUSEPORT port
// sharing, SO_BROADCAST, SO_ERROR from ICMP errors, readiness and a wakeup
// hook. Datagrams leave through IpSender; the stack feeds input() and
// icmp_error() and answers NoSocket with ICMP port unreachable.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/lib/types.h"
#include "kernel/lib/vec.h"
#include "kernel/net/ipv4.h"
#include "kernel/net/netdefs.h"
#include "kernel/net/transport.h"

namespace mote::net {

class Udp;

// What recvfrom says about the datagram it returned.
struct UdpRecvInfo {
  Endpoint from;
  Ipv4 dst;            // the address it was sent to (IP_PKTINFO)
  usize full_len = 0;  // its length; more than returned when truncated (MSG_TRUNC)
};

class UdpSocket {
 public:
  static constexpr usize kDefaultRcvbuf = 212992;  // Linux's net.core.rmem_default
  static constexpr usize kMaxPayload = 65535 - 20 - 8;
  using WakeFn = void (*)(void* ctx);

  // bind(2): EINVAL if already bound, EADDRNOTAVAIL for an address that is
  // not ours, EADDRINUSE when the port is taken (see may_share), EAGAIN when
  // no ephemeral port is free.
  Result<void> bind(Endpoint local);
  // connect(2): sets the default destination and accepts datagrams from it
  // only; binds first if need be. An any() address with port 0 disconnects
  // (AF_UNSPEC). EACCES for a broadcast without SO_BROADCAST, ENETUNREACH
  // when there is no route.
  Result<void> connect(Endpoint remote);
  // sendto(2)/send(2) with dst null: returns len. EDESTADDRREQ unconnected
  // without dst, EINVAL for port 0, EMSGSIZE over kMaxPayload, EACCES for a
  // broadcast without SO_BROADCAST, and the IP layer's errors.
  Result<usize> sendto(const void* data, usize len, const Endpoint* dst);
  // recvfrom(2): copies up to cap bytes of the oldest datagram (the rest of
  // it is discarded unless peek). A pending SO_ERROR is returned first;
  // EAGAIN when nothing is queued (the caller sleeps until the wakeup).
  Result<usize> recvfrom(void* buf, usize cap, UdpRecvInfo* info, bool peek);

  bool readable() const { return q_head_ || error_; }
  bool writable() const { return true; }  // datagrams leave at once
  // Called whenever the socket may have become readable (a datagram or an
  // error arrived). Runs inside the stack's input path: it must not call
  // back into the stack, only wake waiters.
  void set_wakeup(WakeFn fn, void* ctx) { wake_fn_ = fn, wake_ctx_ = ctx; }
  // SO_ERROR: the pending error, cleared.
  int take_error() {
    int e = error_;
    error_ = 0;
    return e;
  }

  // Socket options. rcvbuf is the byte budget itself (the syscall layer
  // doubles SO_RCVBUF values as Linux does).
  void set_reuse_addr(bool on) { reuse_addr_ = on; }
  void set_reuse_port(bool on) { reuse_port_ = on; }
  // An IPV6_V6ONLY socket of the AF_INET6 layer: its port is apart from
  // IPv4 wildcards (may_bind), as TcpOpt::V6Only.
  void set_v6only(bool on) { v6only_ = on; }
  void set_broadcast(bool on) { broadcast_ = on; }
  void set_rcvbuf(usize bytes) { rcvbuf_ = bytes; }
  void set_tos(u8 tos) { tos_ = tos; }
  bool reuse_addr() const { return reuse_addr_; }
  bool reuse_port() const { return reuse_port_; }
  bool broadcast() const { return broadcast_; }
  usize rcvbuf() const { return rcvbuf_; }

  Endpoint local() const { return local_; }    // getsockname
  Endpoint remote() const { return remote_; }  // getpeername
  bool bound() const { return local_.port != 0; }
  bool connected() const { return connected_; }
  usize queued_bytes() const { return q_bytes_; }
  usize queued() const { return q_count_; }
  u64 drops() const { return drops_; }  // datagrams dropped on a full queue

  // Releases the socket: the pointer is invalid afterwards.
  void close();

 private:
  friend class Udp;
  struct Datagram {
    Datagram* next;
    Endpoint from;
    Ipv4 dst;
    usize len;
    u8* data() { return reinterpret_cast<u8*>(this + 1); }
  };

  explicit UdpSocket(Udp& udp) : udp_(udp) {}
  ~UdpSocket();
  // Queues a copy of data; false (and counted) when over the budget.
  bool enqueue(const IpInfo& ip, Endpoint from, const u8* data, usize len);
  void wake() {
    if (wake_fn_) wake_fn_(wake_ctx_);
  }
  Result<void> autobind();

  Udp& udp_;
  Endpoint local_;
  Endpoint remote_;
  bool connected_ = false;
  bool addr_from_connect_ = false;  // local_.addr chosen by connect, not bind
  bool reuse_addr_ = false, reuse_port_ = false, broadcast_ = false, v6only_ = false;
  u8 tos_ = 0;
  usize rcvbuf_ = kDefaultRcvbuf;
  int error_ = 0;
  Datagram* q_head_ = nullptr;
  Datagram* q_tail_ = nullptr;
  usize q_bytes_ = 0, q_count_ = 0;
  u64 drops_ = 0;
  WakeFn wake_fn_ = nullptr;
  void* wake_ctx_ = nullptr;
};

// The UDP layer: the table of sockets and the demultiplexer.
class Udp {
 public:
  static constexpr u16 kEphemeralLow = 32768;   // net.ipv4.ip_local_port_range
  static constexpr u16 kEphemeralHigh = 60999;

  // Counters, as /proc/net/snmp names them.
  struct Stats {
    u64 in_datagrams = 0, no_ports = 0, in_errors = 0, rcvbuf_errors = 0, in_csum_errors = 0;
    u64 out_datagrams = 0;
  };

  enum class InputResult : u8 {
    Delivered,  // to one socket (unicast) or at least one (broadcast)
    NoSocket,   // the stack answers with ICMP port unreachable
    Dropped,    // malformed or a bad checksum
  };

  Udp(IpSender& ip, const InterfaceConfig& cfg) : ip_(ip), cfg_(cfg) {}
  ~Udp();
  Udp(const Udp&) = delete;
  Udp& operator=(const Udp&) = delete;

  // A new unbound socket; null on ENOMEM. Released with UdpSocket::close().
  UdpSocket* open();

  // A UDP datagram (header first, len = the IP payload length) that arrived
  // for one of our addresses; to_group when sent to a broadcast or multicast
  // address (then every matching socket gets a copy).
  InputResult input(const IpInfo& ip, const u8* seg, usize len, bool to_group);
  // An ICMP error quoting a datagram we sent: a hard error becomes SO_ERROR
  // on the connected socket it belongs to (as Linux does without IP_RECVERR).
  void icmp_error(const IcmpError& e);

  const Stats& stats() const { return stats_; }
  usize sockets() const { return socks_.size(); }

 private:
  friend class UdpSocket;
  // True when s may bind (addr, port) beside the sockets already bound.
  bool may_bind(const UdpSocket& s, Ipv4 addr, u16 port) const;
  bool port_used(u16 port) const;
  Result<u16> pick_ephemeral();
  // The socket a unicast datagram belongs to (Linux's most specific match).
  UdpSocket* lookup(const IpInfo& ip, u16 src_port, u16 dst_port);
  bool matches(const UdpSocket& s, const IpInfo& ip, u16 src_port, u16 dst_port, bool to_group) const;
  bool is_broadcast(Ipv4 a) const { return a.broadcast() || cfg_.subnet_broadcast(a); }
  void remove(UdpSocket* s);

  IpSender& ip_;
  const InterfaceConfig& cfg_;
  Vec<UdpSocket*> socks_;
  u16 next_ephemeral_ = kEphemeralLow;
  Stats stats_;
};

}  // namespace mote::net
