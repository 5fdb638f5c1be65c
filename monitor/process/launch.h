// Starts the kernel core on the process platform: the mote process becomes
// the hosted core (execveat of the embedded core image), so exit status and
// signals pass straight through and nothing of the monitor stays mapped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "monitor/cli/options.h"
#include "monitor/image/program.h"
#include "monitor/net/backend.h"
#include "monitor/share/server.h"

namespace mote::launch {

// Only returns on failure, with a one-line message in *error.
// `net`: the network device (--net), null for none.
// `gdb_fd`: a connected socket to gdb (--gdb), or -1.
void exec_process_platform(const cli::RunOptions& o, const image::Program& p, std::string* error,
                           const net::Device* net = nullptr, int gdb_fd = -1);

// With -v shares: the core runs as a child process (the same exec as above,
// plus its end of a SOCK_SEQPACKET share socket), the share server as
// another (serving the shares' 9P requests behind its own filter), while
// this process waits for them behind the smallest filter. Returns the
// core's exit status (a signal that killed it is raised again here; a
// failed share server's status instead, after killing the core), or -1
// with a one-line message in *error.
int run_process_platform_shared(const cli::RunOptions& o, const image::Program& p,
                                share::Server& server, std::string* error,
                                const net::Device* net = nullptr, int gdb_fd = -1);

// A SOCK_SEQPACKET socket pair (close-on-exec) for 9P between the core or a
// virtio-9p device and a share server, with room for a whole message each
// way; false with a one-line *error.
bool share_socket_pair(int sv[2], std::string* error);

// Forks a share server serving `server` on `sock` (process platform: one;
// kvm: one per share): in a process group of its own (the terminal's Ctrl-C
// is the program's), ending with this process, without `close_fds` (-1s
// skipped), with as many fds as the hard limit allows and no core dump,
// behind share_server_policy unless `no_sandbox`. Its pid, or -1 with *error.
pid_t fork_share_server(share::Server& server, int sock, const std::vector<int>& close_fds,
                        bool no_sandbox, std::string* error);

// Call first thing: notes which of fds 0-2 are closed (the program will see
// them closed) and puts /dev/null on them, so that no file the monitor opens
// afterwards (program, memfds, pipes) can take their numbers.
void reserve_std_fds();
// Whether fd (0-2) was closed when reserve_std_fds ran.
bool std_fd_closed(int fd);

// The boot-info blob for a run (argv, guest environment, console, seed...):
// the same on every platform. Empty with *error set on failure.
// share_fd: the core's end of the share socket; -1 leaves -v shares out.
// net: the network device (null: none): its addresses, and its fd as net_fd
// (-1 when the device is the monitor's own, as on mote's KVM monitor).
// gdb_fd: the connection to gdb (--gdb), passed as gdb_fd with kBootGdb; -1: none.
std::vector<uint8_t> make_boot_blob(const cli::RunOptions& o, const image::Program& p,
                                    std::string* error, int share_fd = -1,
                                    const net::Device* net = nullptr, int gdb_fd = -1);


}  // namespace mote::launch
