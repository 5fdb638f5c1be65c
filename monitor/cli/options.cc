#include "monitor/cli/options.h"

#include <sched.h>

#include <cctype>

namespace mote::cli {

std::optional<uint64_t> parse_size(const std::string& text, std::string* error) {
  auto bad = [&]() -> std::optional<uint64_t> {
    *error = "invalid memory size '" + text + "' (use e.g. 64M, 512K, 2G)";
    return std::nullopt;
  };
  size_t i = 0;
  uint64_t v = 0;
  if (text.empty() || !isdigit(static_cast<unsigned char>(text[0]))) return bad();
  for (; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i) {
    if (v > (UINT64_MAX - 9) / 10) return bad();
    v = v * 10 + uint64_t(text[i] - '0');
  }
  std::string unit = text.substr(i);
  for (auto& c : unit) c = char(tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kb" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") shift = 30;
  else if (unit == "t" || unit == "tb" || unit == "tib") shift = 40;
  else return bad();
  if (shift && v > (UINT64_MAX >> shift)) return bad();
  return v << shift;
}

namespace {

bool take_value(const std::vector<std::string>& args, size_t& i, const std::string& flag,
                std::string* value, std::string* error) {
  const std::string& a = args[i];
  if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) {
    *value = a.substr(flag.size() + 1);
    return true;
  }
  if (i + 1 >= args.size()) {
    *error = "option " + flag + " needs a value";
    return false;
  }
  *value = args[++i];
  return true;
}

bool matches(const std::string& a, const char* flag) {
  std::string f = flag;
  return a == f || (a.size() > f.size() && a.compare(0, f.size() + 1, f + "=") == 0);
}

}  // namespace

std::optional<Volume> parse_volume(const std::string& spec, std::string* error) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    *error = "-v " + spec + ": needs HOST:GUEST[:ro|rw]";
    return std::nullopt;
  }
  Volume v;
  v.host = parts[0];
  v.guest = parts[1];
  if (parts.size() == 3) {
    if (parts[2] == "rw") v.read_only = false;
    else if (parts[2] != "ro") {
      *error = "-v " + spec + ": unknown mode '" + parts[2] + "' (use ro or rw)";
      return std::nullopt;
    }
  }
  if (v.guest[0] != '/') {
    *error = "-v " + spec + ": the guest path must be absolute";
    return std::nullopt;
  }
  // One canonical form: no empty, "." or ".." components, no trailing '/'.
  std::string canon;
  for (size_t i = 1; i <= v.guest.size();) {
    size_t end = v.guest.find('/', i);
    if (end == std::string::npos) end = v.guest.size();
    std::string c = v.guest.substr(i, end - i);
    if (c == "." || c == "..") {
      *error = "-v " + spec + ": the guest path may not contain '.' or '..'";
      return std::nullopt;
    }
    if (!c.empty()) canon += "/" + c;
    i = end + 1;
  }
  if (canon.empty()) {
    *error = "-v " + spec + ": cannot share onto the root directory";
    return std::nullopt;
  }
  v.guest = canon;
  return v;
}

std::optional<RunOptions> parse_run(const std::vector<std::string>& args, std::string* error,
                                    const char* (*lookup_env)(const char*)) {
  RunOptions o;
  bool net_given = false;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.empty() || a[0] != '-' || a == "-") break;
    if (a == "--") {
      ++i;
      break;
    }
    std::string v;
    if (matches(a, "--mem") || matches(a, "-m")) {
      if (!take_value(args, i, a.rfind("--mem", 0) == 0 ? "--mem" : "-m", &v, error))
        return std::nullopt;
      auto size = parse_size(v, error);
      if (!size) return std::nullopt;
      if (*size == 0) {
        *error = "--mem " + v + " must be more than 0";
        return std::nullopt;
      }
      if (*size < kMinMem) {
        *error = "--mem " + v + " is too small (at least 1M)";
        return std::nullopt;
      }
      if (*size > kMaxMem) {
        *error = "--mem " + v + " is too large (at most 1T)";
        return std::nullopt;
      }
      o.mem_bytes = *size;
      o.mem_text = v;
    } else if (matches(a, "--cpus")) {
      if (!take_value(args, i, "--cpus", &v, error)) return std::nullopt;
      char* end = nullptr;
      long n = strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 1 || n > 64) {
        *error = "--cpus needs a whole number from 1 to 64, not '" + v + "'";
        return std::nullopt;
      }
      o.cpus = uint32_t(n);
    } else if (matches(a, "-e") || matches(a, "--env")) {
      if (!take_value(args, i, a.rfind("--env", 0) == 0 ? "--env" : "-e", &v, error))
        return std::nullopt;
      if (v.empty() || v[0] == '=') {
        *error = "-e needs NAME=VALUE or NAME, not '" + v + "'";
        return std::nullopt;
      }
      if (v.find('=') == std::string::npos) {
        // As docker run: "-e NAME" passes the host's value, if any.
        const char* host = lookup_env ? lookup_env(v.c_str()) : nullptr;
        if (!host) continue;
        v += "=";
        v += host;
      }
      o.env.push_back(v);
    } else if (matches(a, "-p") || matches(a, "--publish")) {
      if (!take_value(args, i, a.rfind("--publish", 0) == 0 ? "--publish" : "-p", &v, error))
        return std::nullopt;
      auto port = parse_publish(v, error);
      if (!port) return std::nullopt;
      o.publish.push_back(v);
      o.ports.push_back(*port);
    } else if (matches(a, "--net") || matches(a, "--network")) {
      if (!take_value(args, i, a.rfind("--network", 0) == 0 ? "--network" : "--net", &v, error))
        return std::nullopt;
      auto net = parse_net(v, error);
      if (!net) return std::nullopt;
      o.net = *net;
      net_given = true;
    } else if (matches(a, "-v") || matches(a, "--volume")) {
      if (!take_value(args, i, a.rfind("--volume", 0) == 0 ? "--volume" : "-v", &v, error))
        return std::nullopt;
      if (!parse_volume(v, error)) return std::nullopt;
      o.volumes.push_back(v);
    } else if (matches(a, "--add")) {
      if (!take_value(args, i, "--add", &v, error)) return std::nullopt;
      if (v.empty() || v[0] == ':') {
        *error = "--add needs HOST[:GUEST], not '" + v + "'";
        return std::nullopt;
      }
      size_t colon = v.find(':');
      if (colon != std::string::npos && (colon + 1 == v.size() || v[colon + 1] != '/')) {
        *error = "--add " + v + ": the guest path must be absolute";
        return std::nullopt;
      }
      o.adds.push_back(v);
    } else if (matches(a, "--platform")) {
      if (!take_value(args, i, "--platform", &v, error)) return std::nullopt;
      if (v == "process") o.platform = Platform::Process;
      else if (v == "kvm") o.platform = Platform::Kvm;
      else if (v == "qemu") o.platform = Platform::Qemu;
      else if (v == "auto") o.platform = Platform::Auto;
      else {
        *error = "unknown platform '" + v + "' (choose process, kvm, qemu or auto)";
        return std::nullopt;
      }
    } else if (matches(a, "--hostname")) {
      if (!take_value(args, i, "--hostname", &v, error)) return std::nullopt;
      if (v.empty() || v.size() > 64) {
        *error = "--hostname needs 1 to 64 characters";
        return std::nullopt;
      }
      o.hostname = v;
    } else if (matches(a, "--gdb")) {
      if (!take_value(args, i, "--gdb", &v, error)) return std::nullopt;
      char* end = nullptr;
      bool digit = !v.empty() && isdigit(static_cast<unsigned char>(v[0]));
      long n = digit ? strtol(v.c_str(), &end, 10) : -1;
      if (n < 1 || n > 65535 || *end) {
        *error = "--gdb needs a TCP port from 1 to 65535, not '" + v + "'";
        return std::nullopt;
      }
      o.gdb_port = uint16_t(n);
    } else if (matches(a, "--timeout")) {
      if (!take_value(args, i, "--timeout", &v, error)) return std::nullopt;
      // Seconds, whole or with a fraction: 10, 2.5, 0.1 (at most a week).
      char* end = nullptr;
      bool number = !v.empty() && (isdigit(static_cast<unsigned char>(v[0])) || v[0] == '.');
      double secs = number ? strtod(v.c_str(), &end) : -1;
      if (!number || *end || !(secs >= 0.001) || secs > 7 * 24 * 3600.0) {
        *error = "--timeout needs seconds from 0.001 to 604800, not '" + v + "'";
        return std::nullopt;
      }
      o.timeout_ms = uint64_t(secs * 1000 + 0.5);
    } else if (matches(a, "--selftest")) {
      if (!take_value(args, i, "--selftest", &v, error)) return std::nullopt;
      if (v != "sandbox-escape" && v != "timer" && v != "kernel" && v != "net" && v != "hang" &&
          v != "assert" && v != "triple" && v != "vdso-fallback") {
        *error = "unknown self-test '" + v + "'";
        return std::nullopt;
      }
      o.selftest = v;
    } else if (a == "-i" || a == "--interactive") {
      o.interactive = true;
    } else if (a == "-t" || a == "--tty") {
      o.tty = true;
    } else if (a == "-it" || a == "-ti") {
      o.interactive = o.tty = true;
    } else if (a == "--strace") {
      o.strace = true;
    } else if (a == "--overcommit") {
      o.overcommit = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--debug-files") {
      o.debug_files = true;
    } else if (a == "--no-sandbox") {
      o.no_sandbox = true;
    } else {
      *error = "unknown option '" + a + "' (see mote --help)";
      return std::nullopt;
    }
  }
  if (i >= args.size()) {
    *error = "run needs a program (mote run [OPTIONS] PROGRAM [ARGS...])";
    return std::nullopt;
  }
  if (!resolve_network(o, net_given, error)) return std::nullopt;
  o.program = args[i++];
  o.args.assign(args.begin() + long(i), args.end());
  // More vCPUs than host CPUs only on request: they would share the host's
  // CPUs, and parallel speed-ups measured on them would mislead.
  unsigned host = host_cpus();
  if (o.cpus > host && !o.overcommit) {
    *error = "--cpus " + std::to_string(o.cpus) + " is more than this host's " +
             std::to_string(host) + " CPU" + (host == 1 ? "" : "s") +
             " (add --overcommit to run that many anyway)";
    return std::nullopt;
  }
  return o;
}

unsigned host_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? unsigned(n) : 1;
}

std::vector<std::string> guest_environment(const RunOptions& o) {
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=/root",
      "TERM=xterm",
      "HOSTNAME=" + o.hostname,
  };
  for (const auto& kv : o.env) {
    std::string key = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (auto& e : env) {
      if (e.compare(0, key.size() + 1, key + "=") == 0) {
        e = kv;
        replaced = true;
        break;
      }
    }
    if (!replaced) env.push_back(kv);
  }
  return env;
}

const char* usage() {
  return "usage: mote run [OPTIONS] PROGRAM [ARGS...]\n"
         "\n"
         "Runs an unmodified Linux x86-64 program as a unikernel.\n"
         "\n"
         "options:\n"
         "  --mem SIZE         memory the program may commit (default 1G; e.g. 64M)\n"
         "  --cpus N           virtual CPUs (default 1; at most the host's)\n"
         "  --overcommit       allow --cpus beyond the host's CPUs\n"
         "  -e, --env K=V      set an environment variable (-e K passes the host's value)\n"
         "  --hostname NAME    the unikernel's host name (default mote)\n"
         "  --add HOST[:GUEST] copy a host file or directory into the image (at GUEST,\n"
         "                     default its own absolute path)\n"
         "  --platform P       process, kvm, qemu or auto (default auto)\n"
         "  -i, -t, -it        keep stdin open (always); -t: the program drives the host\n"
         "                     terminal (raw mode, size), restored when it ends\n"
         "  --strace           print every system call on stderr\n"
         "  --debug-files      put the program's and its libraries' separate debug files\n"
         "                     (/usr/lib/debug, .gnu_debuglink) in the image, for fault\n"
         "                     reports with function names and source lines\n"
         "  --verbose          print what mote does on stderr\n"
         "  --timeout SECONDS  stop the run after SECONDS (status 124), hung or not\n"
         "  --gdb PORT         wait for gdb on 127.0.0.1:PORT and let it debug the program\n"
         "                     (gdb -ex 'target remote :PORT' PROGRAM; process platform)\n"
         "  --no-sandbox       debugging: run mote's own helper processes without their\n"
         "                     seccomp filters (docs/security.md)\n"
         "  --net MODE         the network: user (NAT through the host, rootless; the\n"
         "                     guest is 10.0.2.15, DNS 10.0.2.3), tap:NAME (an existing\n"
         "                     tap device), none (default unless -p: loopback only);\n"
         "                     user:dhcp, tap:NAME:dhcp: the guest asks DHCP for its\n"
         "                     address instead\n"
         "  -p [IP:]HOSTPORT:GUESTPORT[/tcp|/udp]\n"
         "                     publish a guest port on the host (every host address\n"
         "                     unless IP is given, as docker; implies --net user)\n"
         "  -v HOST:GUEST[:ro|rw]\n"
         "                     share a host directory at GUEST (read-only unless :rw;\n"
         "                     9P: a socket on the process platform, virtio-9p on\n"
         "                     the VM platforms)\n"
         "\n"
         "other commands:\n"
         "  mote pack [--add HOST[:GUEST]]... PROGRAM [ARGS...] -o FILE\n"
         "                     one bootable image: qemu-system-x86_64 -M microvm -kernel FILE\n"
         "\n"
         "Dynamic programs run from an image of their libraries (and what --add adds),\n"
         "cached in $MOTE_CACHE_DIR, else $XDG_CACHE_HOME/mote, else ~/.cache/mote.\n"
         "  mote version       print the version\n"
         "  mote help          print this text\n";
}

}  // namespace mote::cli
