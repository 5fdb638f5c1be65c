// The process platform's share channel: the core's end of a SOCK_SEQPACKET
// socket whose other end the monitor serves (monitor/share/server.h). One
// write is one request, one read one reply; the seccomp filter allows read
// and write on this fd (sandbox.cc). The server answers in order, so a
// request may wait in the socket while the core goes on (the share
// client's read-ahead).
#include <asm/unistd_64.h>

#include "kernel/lib/errno.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::platform {

using process::g;

u32 share_channel(u32) { return 0; }  // one socket serves every share (aname)

namespace {
bool have_share() { return g.boot->share_count && g.boot->share_fd >= 3; }
}  // namespace

bool share_pipelined(u32) { return have_share(); }

Result<void> share_send(u32, const void* req, usize len) {
  if (!have_share()) return err(ENODEV);
  long r;
  do r = host::write(g.boot->share_fd, req, len);
  while (r == -EINTR);
  if (host::failed(r) || usize(r) != len) return err(EIO);
  return ok();
}

Result<usize> share_recv(u32, void* resp, usize cap) {
  if (!have_share()) return err(ENODEV);
  long r;
  do r = host::read(g.boot->share_fd, resp, cap);
  while (r == -EINTR);
  // 0: the monitor is gone.
  if (host::failed(r) || r == 0) return err(EIO);
  return usize(r);
}

Result<usize> share_rpc(u32 channel, const void* req, usize len, void* resp, usize cap) {
  TRY(share_send(channel, req, len));
  return share_recv(channel, resp, cap);
}

}  // namespace mote::platform
