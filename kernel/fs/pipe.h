// Pipes and FIFOs: a 64 KiB ring buffer between a read end and a write end,
// with Linux's semantics for EOF (no writers), EPIPE/SIGPIPE (no readers),
// O_NONBLOCK (EAGAIN), atomic writes up to PIPE_BUF, and FIONREAD.
//
// With one thread of execution nobody can fill an empty pipe while its only
// reader waits, so a blocking read of an empty pipe with live writers (or a
// blocking write to a full one) would wait forever: it fails with EDEADLK
// until threads arrive (docs/compat.md).
#pragma once

#include "kernel/fs/vfs.h"

namespace mote::fs {

// pipe2(2): the read end and the write end.
Result<void> make_pipe(u32 flags, Ref<File>* read_end, Ref<File>* write_end);

// open(2) of a FIFO inode.
Result<Ref<File>> open_fifo(Ref<Inode> node, u32 flags);

}  // namespace mote::fs
