// `mote run --platform kvm`: the kernel image booted on mote's own KVM
// monitor (monitor/vm) with the direct 64-bit entry, the program image in
// guest RAM, console and exit through hypercalls; --net/-p as virtio-net on
// the process platform's backends, -v shares as virtio-9p devices, each
// served by a share server process of its own (monitor/vm/virtio).
#pragma once

#include <string>

#include "monitor/cli/options.h"
#include "monitor/image/program.h"
#include "monitor/net/backend.h"
#include "monitor/share/server.h"

namespace mote::kvmrun {

// Guest RAM beyond what the program may commit (kernel, page tables, the
// core's heap, the program image).
inline constexpr uint64_t kOverheadBytes = 32ull << 20;

// Runs the program and returns its exit status; -1 with *error (one line)
// when the VM could not run, *unavailable telling that KVM itself is missing.
// `shares`: the opened -v directories (share k is device mote<k>); `net`:
// the network device (null: none).
int run(const cli::RunOptions& o, const image::Program& p, share::Server& shares,
        const net::Device* net, std::string* error, bool* unavailable);

// Starts one share server process per share of `shares`, each on its own
// SOCK_SEQPACKET socket (one 9P session per virtio-9p device) and behind
// its own seccomp filter unless `no_sandbox`; the monitor's ends in *fds.
// The servers end when their socket closes, or with this process.
bool start_share_servers(share::Server& shares, bool no_sandbox, std::vector<int>* fds,
                         std::string* error);

}  // namespace mote::kvmrun
