// Command-line options of `mote run`, parsed without side effects so they can
// be unit-tested. Errors are one-line messages for `mote: <message>`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mote::cli {

enum class Platform { Auto, Process, Kvm, Qemu };

// --net: the guest's network device (monitor/cli/net_options.cc).
enum class NetMode { None, User, Tap };
struct NetChoice {
  NetMode mode = NetMode::None;
  std::string tap;    // --net tap:NAME
  bool dhcp = false;  // --net user:dhcp, tap:NAME:dhcp: the guest asks DHCP for its address
};

// -p [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], Docker's syntax. Host ports are
// bound on every host address (0.0.0.0, as Docker) unless HOSTIP is given.
struct PortMapping {
  std::string host_ip = "0.0.0.0";  // dotted IPv4
  uint16_t host_port = 0;
  uint16_t guest_port = 0;
  bool udp = false;
};

struct RunOptions {
  Platform platform = Platform::Auto;
  uint32_t cpus = 1;
  uint64_t mem_bytes = 1ull << 30;  // 1 GiB unless --mem
  std::string mem_text = "1G";
  std::vector<std::string> env;       // -e K=V, in order
  std::vector<std::string> publish;   // -p values as given
  std::vector<PortMapping> ports;     // -p, parsed
  NetChoice net;                      // --net (default: user with -p, else none)
  std::vector<std::string> volumes;   // -v HOST:GUEST[:ro|rw], checked by parse_volume
  std::vector<std::string> adds;      // --add HOST[:GUEST]: files copied into the image
  std::string hostname = "mote";
  bool interactive = false;           // -i: stdin stays connected (it always is; docker's flag)
  bool tty = false;                   // -t: the program drives the host terminal (modes, size)
  bool strace = false;
  bool overcommit = false;  // --cpus beyond the host's CPUs
  bool verbose = false;
  bool debug_files = false;  // --debug-files: separate debug files into the image
  bool no_sandbox = false;            // --no-sandbox: no monitor-side seccomp filter (debugging)
  std::string selftest;               // --selftest NAME (tests only, undocumented)
  uint16_t gdb_port = 0;              // --gdb PORT: serve gdb on 127.0.0.1:PORT (0: no)
  uint64_t timeout_ms = 0;            // --timeout SECONDS: stop the run after it (0: never)
  std::string program;
  std::vector<std::string> args;      // argv[1..] for the program
};

inline constexpr uint64_t kMinMem = 1ull << 20;
inline constexpr uint64_t kMaxMem = 1ull << 40;

// Parses "64M", "1G", "512k", "1048576", "2GiB", "100MB" (binary units).
// Returns nullopt and sets *error when malformed.
std::optional<uint64_t> parse_size(const std::string& text, std::string* error);

// -v HOST:GUEST[:ro|rw]: a host directory shared at an absolute guest path,
// read-only unless :rw.
struct Volume {
  std::string host;
  std::string guest;
  bool read_only = true;
};
// Parses one -v value (syntax only: the host directory is opened later).
std::optional<Volume> parse_volume(const std::string& spec, std::string* error);

// Parses one -p value. Errors name the value: "-p 80: ...".
std::optional<PortMapping> parse_publish(const std::string& spec, std::string* error);
// Parses one --net value: none, user, tap:NAME.
std::optional<NetChoice> parse_net(const std::string& spec, std::string* error);
// After all options: the --net default and the -p/--net rules (-p needs
// --net user; no host port published twice). False with *error set.
bool resolve_network(RunOptions& o, bool net_given, std::string* error);

// Parses the arguments after "run". Returns nullopt and sets *error on a
// usage error. `lookup_env` resolves `-e NAME` (no '=') from the host.
std::optional<RunOptions> parse_run(const std::vector<std::string>& args, std::string* error,
                                    const char* (*lookup_env)(const char*));

// The program's environment: PATH, HOME, TERM, HOSTNAME, then each -e
// (a later K=V replaces an earlier one with the same K).
std::vector<std::string> guest_environment(const RunOptions& o);

// CPUs this process may run on (its affinity mask).
unsigned host_cpus();

const char* usage();

}  // namespace mote::cli
