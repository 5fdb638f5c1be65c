// The GDB remote protocol stub of the process platform (--gdb; gdb.cc).
#pragma once

#include "kernel/lib/types.h"

namespace mote::process::gdb {

// The monitor handed over a connection to gdb (kBootGdb).
bool enabled();
// Before the program starts: takes the connection, turns syscall-site
// rewriting off.
void init();
// gdb is attached (not detached, still connected).
bool attached();
// A program thread stopped with a host signal (SIGTRAP: the entry point, a
// breakpoint, a single step; or a fault) in the frame whose gregs/fpstate
// are given: reports it to gdb and serves gdb until it resumes the program;
// the frame then holds what gdb wants (pc, TF for a step...). True: return
// to the program; false: the signal is the program's (the core acts on it).
bool on_stop(int sig, int code, u64* gregs, u8* fpstate, u32 fpsize);
// While another thread is stopped (all-stop): the calling thread waits here
// until gdb resumes the program, its registers readable by gdb.
bool halted();
void park(u64* gregs, u8* fpstate, u32 fpsize);
// The program ends with `status`: tells gdb (W packet).
void on_exit(int status);

}  // namespace mote::process::gdb
