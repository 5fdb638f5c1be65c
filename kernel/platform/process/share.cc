// The process platform's share channel: the core's end of a SOCK_SEQPACKET
// socket whose other end the monitor serves (monitor/share/server.h). One
// write is one request, one read one reply; the seccomp filter allows read
// and write on this fd (sandbox.cc).
#include <asm/unistd_64.h>

#include "kernel/lib/errno.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::platform {

using process::g;

u32 share_channel(u32) { return 0; }  // one socket serves every share (aname)

Result<usize> share_rpc(u32, const void* req, usize len, void* resp, usize cap) {
  if (!g.boot->share_count || g.boot->share_fd < 3) return err(ENODEV);
  int fd = g.boot->share_fd;
  long r;
  do r = host::write(fd, req, len);
  while (r == -EINTR);
  if (host::failed(r)) return err(EIO);
  if (usize(r) != len) return err(EIO);
  do r = host::read(fd, resp, cap);
  while (r == -EINTR);
  // 0: the monitor is gone.
  if (host::failed(r) || r == 0) return err(EIO);
  return usize(r);
}

}  // namespace mote::platform
