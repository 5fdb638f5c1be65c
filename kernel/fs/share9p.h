// Host directory shares (-v HOST:GUEST[:ro|rw]): a filesystem whose inodes
// are 9P2000.L fids (abi/p9.h) on a server outside the unikernel (the
// monitor's monitor/share/server.cc). Lookups walk, attributes come from
// Tgetattr, file data moves with Tread/Twrite at offsets, directories list
// with Treaddir (its offsets are the getdents cookies); creating, removing,
// renaming and linking are the matching 9P2000.L messages. Symlinks are
// followed by the VFS here, inside the unikernel: the server never follows
// one.
//
// Names (not directories) and attributes are trusted for a second
// (kCacheNs in share9p.cc), and on read-only shares the bytes of small
// files: the guest's own changes show at once, the host's within that
// second. Read-only opens of a file share one fid.
//
// Not yet: writable shared mappings write nothing back (file mmap copies
// through Inode::read); an inode is made per lookup (or kept that second),
// so filesystems mounted beneath a share are refused, and getcwd inside a directory renamed since
// it was entered shows the old name.
#pragma once

#include "abi/boot_info.h"
#include "kernel/fs/vfs.h"
#include "kernel/lib/errno.h"

namespace mote::fs {

// Moves one 9P message and its reply. The process platform uses a socket to
// the monitor; the VM platforms will use virtio-9p.
struct P9Transport {
  // Sends `n` bytes of request, receives one reply into resp (cap bytes);
  // returns its length.
  virtual Result<usize> rpc(const u8* req, usize n, u8* resp, usize cap) = 0;
  // A transport that can leave one request in flight while the core goes
  // on (the client's read-ahead): send() it now, recv() its reply later,
  // before any other request. Replies come in the order of the requests.
  virtual bool pipelined() const { return false; }
  virtual Result<void> send(const u8*, usize) { return err(ENOSYS); }
  virtual Result<usize> recv(u8*, usize) { return err(ENOSYS); }

 protected:
  ~P9Transport() = default;
};

// Negotiates 9P2000.L on `t` (once per transport) and attaches `aname`: the
// root directory of the share, to mount.
Result<Ref<Inode>> share9p_attach(P9Transport& t, StrView aname, bool read_only);

// Mounts every share the boot info lists, each at its guest path (created
// like mkdir -p). On failure prints one line and ends the run (status 125).
void mount_shares(const abi::BootInfo& b);

// --verbose, at the end of the run: one line per share with the number of
// 9P requests it took.
void share_report();

}  // namespace mote::fs
