// Unpredictable numbers for TCP: initial sequence numbers (RFC 6528), the
// ephemeral port search offset (RFC 6056 algorithm 3), per-connection
// timestamp offsets (RFC 7323 5.4), and the connection hash. All are SipHash-2-4
// (Aumasson and Bernstein, 2012) of the connection's addresses under a secret
// key the stack is constructed with.
#pragma once

#include "kernel/lib/types.h"
#include "kernel/net/netdefs.h"

namespace mote::net {

struct TcpSecret {
  u64 k0 = 0, k1 = 0;
};

// SipHash-2-4 of len bytes.
u64 siphash24(const TcpSecret& key, const void* data, usize len);

// Hash of a connection's 4-tuple plus a domain byte, so the uses below do not
// share values.
u64 tcp_tuple_hash(const TcpSecret& key, u8 domain, Endpoint local, Endpoint remote);

// RFC 6528: ISN = M + F(4-tuple, secret), M a timer ticking every 4 us.
u32 tcp_isn(const TcpSecret& key, Endpoint local, Endpoint remote, u64 now_ns);

}  // namespace mote::net
