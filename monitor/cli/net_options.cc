// `mote run` network options: -p/--publish (Docker's syntax) and --net.
//
//   -p [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]   repeatable
//   --net user | tap:NAME | none    (user:dhcp, tap:NAME:dhcp: the guest uses DHCP)
//
// Docker binds a published port on every host address unless HOSTIP names
// one; so does mote. What Docker accepts and mote does not (a random host
// port "-p 80", port ranges, IPv6 host addresses, sctp) is an error that says
// so, never a silent difference.
#include <arpa/inet.h>

#include <set>
#include <tuple>

#include "monitor/cli/options.h"

namespace mote::cli {

namespace {

bool parse_port(const std::string& text, uint16_t* out) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint32_t(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  *out = uint16_t(v);
  return true;
}

}  // namespace

std::optional<PortMapping> parse_publish(const std::string& spec, std::string* error) {
  auto bad = [&](const std::string& why) -> std::optional<PortMapping> {
    *error = "-p " + spec + ": " + why;
    return std::nullopt;
  };
  PortMapping m;
  std::string body = spec;
  size_t slash = spec.find('/');
  if (slash != std::string::npos) {
    std::string proto = spec.substr(slash + 1);
    body = spec.substr(0, slash);
    if (proto == "udp") m.udp = true;
    else if (proto != "tcp") return bad("unknown protocol '" + proto + "' (use /tcp or /udp)");
  }
  if (body.empty()) return bad("needs [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]");
  if (body[0] == '[') return bad("IPv6 host addresses are not supported (the guest network is IPv4)");
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = body.find(':', start);
    parts.push_back(body.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() == 1)
    return bad("a random host port is not supported: give HOSTPORT:GUESTPORT");
  if (parts.size() > 3) return bad("needs [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]");
  if (parts.size() == 3) {
    struct in_addr a;
    if (parts[0].empty() || inet_pton(AF_INET, parts[0].c_str(), &a) != 1)
      return bad("'" + parts[0] + "' is not an IPv4 address");
    m.host_ip = parts[0];
  }
  const std::string& host = parts[parts.size() - 2];
  const std::string& guest = parts[parts.size() - 1];
  if (host.empty()) return bad("a random host port is not supported: give HOSTPORT:GUESTPORT");
  for (const std::string* p : {&host, &guest})
    if (p->find('-') != std::string::npos) return bad("port ranges are not supported");
  if (!parse_port(host, &m.host_port)) return bad("host port '" + host + "' is not 1-65535");
  if (!parse_port(guest, &m.guest_port)) return bad("guest port '" + guest + "' is not 1-65535");
  return m;
}

std::optional<NetChoice> parse_net(const std::string& spec_in, std::string* error) {
  NetChoice n;
  // A ":dhcp" suffix: the guest asks a DHCP server for its address instead
  // of taking the user network's (':' is never in an interface name).
  std::string spec = spec_in;
  const std::string dhcp = ":dhcp";
  if (spec.size() > dhcp.size() && spec.compare(spec.size() - dhcp.size(), dhcp.size(), dhcp) == 0 &&
      spec != "none:dhcp") {
    n.dhcp = true;
    spec.resize(spec.size() - dhcp.size());
  }
  if (spec == "none") {
    n.mode = NetMode::None;
  } else if (spec == "user") {
    n.mode = NetMode::User;
  } else if (spec.rfind("tap:", 0) == 0) {
    n.mode = NetMode::Tap;
    n.tap = spec.substr(4);
    // IFNAMSIZ is 16 with the NUL; '/' and spaces are not valid in a name.
    if (n.tap.empty() || n.tap.size() > 15 || n.tap.find_first_of("/ :\t") != std::string::npos) {
      *error = "--net " + spec_in + ": needs a network interface name of 1 to 15 characters";
      return std::nullopt;
    }
  } else {
    *error = "unknown --net '" + spec_in + "' (choose user, tap:NAME or none; user:dhcp, tap:NAME:dhcp)";
    return std::nullopt;
  }
  return n;
}

bool resolve_network(RunOptions& o, bool net_given, std::string* error) {
  if (!net_given) o.net.mode = o.ports.empty() ? NetMode::None : NetMode::User;
  if (!o.ports.empty() && o.net.mode != NetMode::User) {
    *error = "-p " + o.publish[0] +
             (o.net.mode == NetMode::Tap
                  ? ": publishing needs --net user (on a tap device the guest has its own "
                    "address: reach its ports there)"
                  : ": publishing needs a network (--net user), not --net none");
    return false;
  }
  // The same host address, port and protocol only once. 0.0.0.0 covers
  // every address, so it clashes with any other on the same port.
  std::set<std::tuple<std::string, uint16_t, bool>> seen;
  for (size_t i = 0; i < o.ports.size(); ++i) {
    const PortMapping& m = o.ports[i];
    for (size_t j = 0; j < i; ++j) {
      const PortMapping& p = o.ports[j];
      bool overlap = p.host_port == m.host_port && p.udp == m.udp &&
                     (p.host_ip == m.host_ip || p.host_ip == "0.0.0.0" || m.host_ip == "0.0.0.0");
      if (overlap) {
        *error = "-p " + o.publish[i] + ": host port " + std::to_string(m.host_port) + "/" +
                 (m.udp ? "udp" : "tcp") + " is already published by -p " + o.publish[j];
        return false;
      }
    }
  }
  return true;
}

}  // namespace mote::cli
