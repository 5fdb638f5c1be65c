// Processes in one address space (fork.cc): fork runs the child first, to
// completion, then resumes the parent.
#pragma once

#include "kernel/lib/types.h"

namespace mote::fs {
class Inode;
}

namespace mote::core {

// fork/vfork/clone without CLONE_VM (or with CLONE_VM|CLONE_VFORK): returns 0
// in the child, the child's pid in the parent (after the child ended), or
// -errno. flags/child_tid/parent_tid as clone(2) (SETTID, CLEARTID).
i64 fork_process(u64 flags, u64 child_tid, u64 parent_tid);

// The current process ends with a wait status (exit code << 8, or the
// signal number). A forked child resumes its parent; the first process ends
// the unikernel with the shell convention (code, or 128 + signal).
[[noreturn]] void process_exit(int wstatus);

// wait4: a child that has ended (pid <= 0: any; > 0: that one). Returns
// its pid with *wstatus, or -ECHILD. Every child has ended by the time its
// parent runs, so there is nothing to wait for and WNOHANG changes nothing.
i64 wait_child(i64 pid, int* wstatus);

bool is_forked_child();
// Signals sent to mote from outside (on_host_signals) reach the running
// process at once and every parent suspended behind it when it resumes:
// they stand for a signal to the whole group (Ctrl-C, `docker stop`), and a
// parent could not act on its own until its child ends.
void note_host_signals(u64 set);
// Drops the reference an execve'd program's inode held (g_proc.exe).
void release_exe(fs::Inode* n);

}  // namespace mote::core
