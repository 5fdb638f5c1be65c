// mote-net: the `--net user` backend as a process of its own, started by the
// monitor (backend.cc) beside the guest. It is a separate executable because
// libslirp comes only as a shared library (with GLib) while mote-monitor is
// linked statically; a process of its own also keeps slirp's parsing of
// guest packets out of the monitor's and the core's address spaces.
//
//   mote-net [--no-sandbox] FRAME_FD STATUS_FD HOSTNAME [PUBLISH...]
//
// FRAME_FD is its end of the SOCK_SEQPACKET frame socket; PUBLISH are -p
// values as the user gave them. Once slirp listens on every published port
// and the seccomp filter is on (docs/security.md; not with --no-sandbox) it
// writes "ok\n" to STATUS_FD and closes it; on failure it writes the
// one-line reason instead and exits 1. It serves frames until the guest's
// end of the socket closes (the guest ended, however it ended).
#include <glib.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "monitor/cli/options.h"
#include "monitor/net/slirp_backend.h"
#include "monitor/util/seccomp.h"
#include "monitor/util/seccomp_policies.h"

namespace {

// slirp reports through GLib's g_log, whose own handler looks at the
// terminal and the journal with calls the sandbox forbids (a critical
// message would end mote-net with a sandbox violation). One line on stderr
// instead, for warnings and worse.
void log_line(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  if (!(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))) return;
  std::string s = std::string("mote-net: ") + (domain ? domain : "glib") + ": " +
                  (message ? message : "") + "\n";
  ssize_t n = write(2, s.data(), s.size());
  (void)n;
}

void report(int fd, const std::string& line) {
  std::string s = line + "\n";
  ssize_t n = write(fd, s.data(), s.size());
  (void)n;
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  const bool sandbox = !(argc > 1 && std::string(argv[1]) == "--no-sandbox");
  if (!sandbox) {
    --argc;
    ++argv;
  }
  if (argc < 4) {
    std::fprintf(stderr, "mote-net: started by mote run --net user, not by hand\n");
    return 2;
  }
  int frame_fd = atoi(argv[1]);
  int status_fd = atoi(argv[2]);
  std::string hostname = argv[3];
  // The terminal's keyboard signals are for the program: it decides whether
  // to end, and the network must last as long as it does.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  g_log_set_default_handler(log_line, nullptr);
  std::vector<mote::cli::PortMapping> ports;
  std::vector<std::string> texts;
  std::string error;
  for (int i = 4; i < argc; ++i) {
    auto m = mote::cli::parse_publish(argv[i], &error);
    if (!m) {
      report(status_fd, error);
      return 1;
    }
    ports.push_back(*m);
    texts.push_back(argv[i]);
  }
  mote::net::SlirpBackend backend;
  if (!backend.start(frame_fd, ports, texts, hostname, &error)) {
    report(status_fd, error);
    return 1;
  }
  // Everything slirp needed to open is open: from here on it parses what
  // the guest sends.
  if (sandbox && !mote::sandbox::install(mote::sandbox::net_helper_policy(status_fd), &error)) {
    report(status_fd, "--net user: " + error);
    return 1;
  }
  report(status_fd, "ok");
  mote::sandbox::test_escape_if_asked("net");
  // Tests: a message from slirp under the filter (monitor_sandbox.py).
  if (const char* t = getenv("MOTE_TEST_SANDBOX_ESCAPE"); t && std::string(t) == "net-log")
    g_log("Slirp", G_LOG_LEVEL_CRITICAL, "a test message under the filter");
  backend.run();
  return 0;
}
