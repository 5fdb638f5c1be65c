#include "monitor/process/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "monitor/util/io.h"
#include <cstring>

#include "abi/p9.h"
#include "monitor/process/boot_blob.h"
#include "monitor/util/seccomp.h"
#include "monitor/util/seccomp_policies.h"

extern "C" const unsigned char mote_core_image[];
extern "C" const unsigned char mote_core_image_end[];

namespace mote::launch {

namespace {

using util::write_all;

}  // namespace

namespace {
bool g_std_closed[3];
}  // namespace

void reserve_std_fds() {
  for (int fd = 0; fd < 3; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0) continue;
    g_std_closed[fd] = true;
    int n = open("/dev/null", O_RDWR);
    if (n >= 0 && n != fd) {
      dup2(n, fd);
      close(n);
    }
  }
}

bool std_fd_closed(int fd) { return fd >= 0 && fd < 3 && g_std_closed[fd]; }

std::vector<uint8_t> make_boot_blob(const cli::RunOptions& o, const image::Program& p,
                                    std::string* error, int share_fd, const net::Device* net,
                                    int gdb_fd) {
  BootRequest r;
  r.argv.push_back(o.program);
  r.argv.insert(r.argv.end(), o.args.begin(), o.args.end());
  r.envp = cli::guest_environment(o);
  r.program_path = p.path;
  r.hostname = o.hostname;
  r.cwd = "/";
  r.mem_limit = o.mem_bytes;
  r.cpus = o.cpus;
  r.timeout_ns = o.timeout_ms * 1000000;
  r.flags = (o.strace ? abi::kBootStrace : 0u) | (o.verbose ? abi::kBootVerbose : 0u) |
            (o.tty ? abi::kBootTty : 0u) |
            (o.selftest == "sandbox-escape" ? abi::kBootSelftestEscape : 0u) |
            (o.selftest == "timer" ? abi::kBootSelftestTimer : 0u) |
            (o.selftest == "net" ? abi::kBootSelftestNet : 0u) |
            (o.selftest == "hang" ? abi::kBootSelftestHang : 0u) |
            (o.selftest == "assert" ? abi::kBootSelftestAssert : 0u) |
            (o.selftest == "vdso-fallback" ? abi::kBootSelftestVdsoFallback : 0u);
  r.program_fd = p.fd;
  r.program_size = p.size;
  // A root filesystem image (dynamic programs, --add): the core maps it from
  // this fd and finds the program at program_path in it.
  r.initramfs_fd = p.initramfs_fd;
  r.initramfs_offset = p.initramfs_offset;
  r.initramfs_size = p.initramfs_size;
  if (getrandom(r.seed, sizeof r.seed, 0) != ssize_t(sizeof r.seed)) {
    *error = std::string("getrandom: ") + strerror(errno);
    return {};
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  r.wall_clock_ns = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
  for (int fd = 0; fd < 3; ++fd) {
    r.console[fd] = probe_console(fd);
    if (g_std_closed[fd]) r.console[fd] = abi::ConsoleStream{};  // ConsoleKind::Closed
  }
  if (share_fd >= 0) {
    r.share_fd = share_fd;
    for (const auto& spec : o.volumes) {
      auto v = cli::parse_volume(spec, error);
      if (!v) return {};
      r.shares.push_back(BootRequest::Share{v->guest, v->read_only ? uint32_t(abi::kShareReadOnly) : 0u});
    }
  }
  if (net) {
    r.net_fd = net->fd;  // -1 on mote's KVM monitor: the device is the monitor's
    r.net_flags = abi::kNetDevice | (net->vnet_hdr ? uint32_t(abi::kNetVnetHdr) : 0u) |
                  (net->vnet_hdr && net->tso4 ? uint32_t(abi::kNetTso4) : 0u);
    r.net_addr = net->addr;
    r.net_prefix_len = net->prefix_len;
    r.net_gateway = net->gateway;
    r.net_dns = net->dns;
    memcpy(r.net_mac, net->mac, sizeof r.net_mac);
    r.net_mtu = net->mtu;
  }
  if (gdb_fd >= 0) {
    r.gdb_fd = gdb_fd;
    r.flags |= abi::kBootGdb;
  }
  return build_boot_blob(r);
}

namespace {

// The boot blob in a sealed memfd (inherited) and the embedded core image
// in another (close-on-exec): what the exec of the core needs.
bool prepare_core(const cli::RunOptions& o, const image::Program& p, int share_fd,
                  const net::Device* net, int gdb_fd, int* boot_fd, int* core_fd,
                  std::string* error) {
  std::vector<uint8_t> blob = make_boot_blob(o, p, error, share_fd, net, gdb_fd);
  if (net && net->fd >= 0) fcntl(net->fd, F_SETFD, 0);  // the core's, across the exec
  if (gdb_fd >= 0) fcntl(gdb_fd, F_SETFD, 0);
  if (blob.empty()) return false;

  // The boot info: a sealed memfd the core maps read-only (inherited).
  *boot_fd = memfd_create("mote-boot", MFD_ALLOW_SEALING);
  if (*boot_fd < 0 || !write_all(*boot_fd, blob.data(), blob.size())) {
    *error = std::string("boot info: ") + strerror(errno);
    return false;
  }
  fcntl(*boot_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);

  // The core image, embedded in this binary.
  *core_fd = memfd_create("mote-core", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  size_t core_size = size_t(mote_core_image_end - mote_core_image);
  if (*core_fd < 0 || !write_all(*core_fd, mote_core_image, core_size)) {
    *error = std::string("core image: ") + strerror(errno);
    return false;
  }
  fcntl(*core_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return true;
}

// Returns only on failure.
void exec_core(int boot_fd, int core_fd, std::string* error) {
  std::string fd_arg = std::to_string(boot_fd);
  const char* argv[] = {"mote", fd_arg.c_str(), nullptr};
  const char* no_rewrite = getenv("MOTE_NO_REWRITE");
  const char* envp[] = {nullptr, nullptr};
  if (no_rewrite && strcmp(no_rewrite, "1") == 0) envp[0] = "MOTE_NO_REWRITE=1";
  syscall(SYS_execveat, core_fd, "", argv, envp, AT_EMPTY_PATH);
  *error = std::string("cannot start the kernel core: ") + strerror(errno);
}

pid_t g_child = -1;

// Signals for the program reach this process, not the core: they are passed
// on. SIGINT and SIGQUIT from the terminal (Ctrl-C, Ctrl-\: si_code
// SI_KERNEL) went to the whole foreground group, the core included, so only
// those sent by a process (kill: SI_USER) are.
void forward_signal(int sig, siginfo_t* info, void*) {
  if ((sig == SIGINT || sig == SIGQUIT) && info && info->si_code == SI_KERNEL) return;
  if (g_child > 0) kill(g_child, sig);
}

// The end of a run raises the core's signal again with SIG_DFL and kill()
// only: the supervisor's filter has no rt_sigprocmask. So a signal this
// process was started with blocked is ignored from here on instead: blocked,
// it would only have waited unseen until then, the core (forked already)
// keeps its own mask, and the kill() at the end delivers the core's signal
// either way. SIGCHLD stays blocked (ignoring it would reap the core before
// waitpid), and no process is killed by it.
void ignore_blocked_signals() {
  sigset_t blocked, ignored;
  sigemptyset(&ignored);
  if (sigprocmask(SIG_BLOCK, nullptr, &blocked) != 0) return;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGCHLD && sigismember(&blocked, sig) == 1 && signal(sig, SIG_IGN) != SIG_ERR)
      sigaddset(&ignored, sig);
  sigprocmask(SIG_UNBLOCK, &ignored, nullptr);
}

}  // namespace

void exec_process_platform(const cli::RunOptions& o, const image::Program& p, std::string* error,
                           const net::Device* net, int gdb_fd) {
  // No monitor process stays (the core's own filter is not --no-sandbox's
  // to lift), but the user asked for less: say it all the same.
  if (o.no_sandbox) sandbox::warn_unsandboxed();
  int boot_fd = -1, core_fd = -1;
  if (!prepare_core(o, p, -1, net, gdb_fd, &boot_fd, &core_fd, error)) return;
  exec_core(boot_fd, core_fd, error);
}

bool share_socket_pair(int sv[2], std::string* error) {
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    *error = std::string("share socket: ") + strerror(errno);
    return false;
  }
  // Room for a whole message of the largest size each way.
  int buf = int(4 * p9::kMsize);
  for (int k = 0; k < 2; ++k) {
    setsockopt(sv[k], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sv[k], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  return true;
}

pid_t fork_share_server(share::Server& server, int sock, const std::vector<int>& close_fds,
                        bool no_sandbox, std::string* error) {
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return -1;
  }
  if (pid > 0) return pid;
  // Out of the terminal's process group: Ctrl-C is the program's business
  // (the core decides), and the server must serve until the core is done.
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  for (int fd : close_fds)
    if (fd >= 0) close(fd);
  // Every fid holds a host fd or two: allow as many as the hard limit does.
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  struct rlimit no_core {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(SIGPIPE, SIG_IGN);
  // From here on the server parses what the guest sends: the seccomp wall
  // goes up first (docs/security.md).
  std::string e;
  if (no_sandbox) {
    sandbox::warn_unsandboxed();
  } else if (!sandbox::install(sandbox::share_server_policy(sock), &e)) {
    std::fprintf(stderr, "mote: %s\n", e.c_str());
    _exit(125);
  }
  sandbox::test_escape_if_asked("share");
  server.serve(sock);
  _exit(0);
}

int run_process_platform_shared(const cli::RunOptions& o, const image::Program& p,
                                share::Server& server, std::string* error,
                                const net::Device* net, int gdb_fd) {
  int sv[2];
  if (!share_socket_pair(sv, error)) return -1;
  fcntl(sv[1], F_SETFD, 0);  // the core's end survives the exec
  int boot_fd = -1, core_fd = -1;
  if (!prepare_core(o, p, sv[1], net, gdb_fd, &boot_fd, &core_fd, error)) return -1;

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return -1;
  }
  if (pid == 0) {
    close(sv[0]);
    // The core must not outlive the server it depends on.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);
    exec_core(boot_fd, core_fd, error);
    std::fprintf(stderr, "mote: %s\n", error->c_str());
    _exit(125);
  }
  g_child = pid;

  // The share server: a process of its own (its own session of nothing but
  // 9P on sv[0], its own allowlist, 28 calls), so that this process, which
  // waits for the core and passes signals on, parses nothing the guest sends.
  pid_t server_pid = fork_share_server(
      server, sv[0], {sv[1], boot_fd, core_fd, p.fd, p.initramfs_fd, gdb_fd, net ? net->fd : -1},
      o.no_sandbox, error);
  if (server_pid < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  close(sv[0]);
  close(sv[1]);
  close(boot_fd);
  close(core_fd);
  // The program's image is the core's now.
  if (p.fd >= 0) close(p.fd);
  if (p.initramfs_fd >= 0) close(p.initramfs_fd);
  // Never a core dump of the monitor, whatever ends it (and the signal the
  // core died of is passed on below).
  struct rlimit no_core {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  // The core's network device is the core's alone: when it ends, mote-net
  // sees the socket close and ends too.
  if (net && net->fd >= 0) close(net->fd);
  if (gdb_fd >= 0) close(gdb_fd);  // the core's alone too
  // Keyboard signals reach the whole foreground group: the core acts on
  // them and its status says what happened. Others sent to this process go
  // on to the core.
  struct sigaction sa {};
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  for (int sig : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);
  ignore_blocked_signals();

  // This process only waits now: the smallest list of all.
  const pid_t self = getpid();
  if (!o.no_sandbox && !sandbox::install(sandbox::supervisor_policy(pid, server_pid, self), error)) {
    kill(pid, SIGKILL);
    kill(server_pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  // The run's status is the core's, unless the share server failed (its
  // filter stopped it, it crashed): then the server's, as when it was this
  // process. A server that fails first makes the core fail too (its share
  // calls see the socket close), and either may be reaped first: so once
  // the core is gone, the server is waited for as well. It ends by itself
  // when the core's end of its socket closes, at once.
  int status = 0, server_status = 0;
  bool core_done = false, server_done = false;
  while (!core_done || !server_done) {
    int st = 0;
    pid_t who = waitpid(core_done ? server_pid : -1, &st, 0);
    if (who < 0) {
      if (errno == EINTR) continue;
      *error = std::string("waitpid: ") + strerror(errno);
      return -1;
    }
    if (who == pid) {
      status = st;
      core_done = true;
    } else if (who == server_pid) {
      server_status = st;
      server_done = true;
      if (!core_done && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) kill(pid, SIGKILL);
    }
  }
  if (!(WIFEXITED(server_status) && WEXITSTATUS(server_status) == 0)) status = server_status;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  int sig = WTERMSIG(status);
  // Die the same way (the calls the filter admits: no raise; sig is not
  // blocked, see ignore_blocked_signals).
  signal(sig, SIG_DFL);
  kill(self, sig);
  return 128 + sig;
}

}  // namespace mote::launch
