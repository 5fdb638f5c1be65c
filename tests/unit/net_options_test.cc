// monitor/cli/net_options.cc: -p (Docker's syntax) and --net, and their rules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "monitor/cli/options.h"

namespace mote::cli {
namespace {

using Args = std::vector<std::string>;

std::optional<RunOptions> run(Args a, std::string* error = nullptr) {
  std::string e;
  return parse_run(a, error ? error : &e, nullptr);
}

std::string run_error(Args a) {
  std::string e;
  EXPECT_FALSE(parse_run(a, &e, nullptr)) << "accepted: " << ::testing::PrintToString(a);
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;  // one line
  return e;
}

TEST(NetOptions, PublishForms) {
  std::string e;
  auto m = parse_publish("8080:80", &e);
  ASSERT_TRUE(m) << e;
  EXPECT_EQ(m->host_ip, "0.0.0.0");  // Docker's default: every host address
  EXPECT_EQ(m->host_port, 8080);
  EXPECT_EQ(m->guest_port, 80);
  EXPECT_FALSE(m->udp);

  m = parse_publish("127.0.0.1:5353:53/udp", &e);
  ASSERT_TRUE(m) << e;
  EXPECT_EQ(m->host_ip, "127.0.0.1");
  EXPECT_EQ(m->host_port, 5353);
  EXPECT_EQ(m->guest_port, 53);
  EXPECT_TRUE(m->udp);

  m = parse_publish("65535:1/tcp", &e);
  ASSERT_TRUE(m) << e;
  EXPECT_EQ(m->host_port, 65535);
  EXPECT_EQ(m->guest_port, 1);
  EXPECT_FALSE(m->udp);
}

TEST(NetOptions, PublishErrorsSayWhy) {
  struct Case {
    const char* spec;
    const char* why;
  } cases[] = {
      {"80", "random host port"},
      {"127.0.0.1::80", "random host port"},
      {"8000-8010:80-90", "ranges"},
      {"0:80", "host port '0'"},
      {"8080:65536", "guest port '65536'"},
      {"8080:http", "guest port 'http'"},
      {"x8080:80", "host port 'x8080'"},
      {"8080:80/sctp", "unknown protocol 'sctp'"},
      {"8080:80/", "unknown protocol ''"},
      {"1.2.3:8080:80", "'1.2.3' is not an IPv4 address"},
      {"localhost:8080:80", "'localhost' is not an IPv4 address"},
      {"[::1]:8080:80", "IPv6"},
      {"a:b:c:d", "needs [HOSTIP:]HOSTPORT:GUESTPORT"},
      {"", "needs"},
      {"/udp", "needs"},
      {":80", "random host port"},
      {"8080:", "guest port ''"},
  };
  for (const auto& c : cases) {
    std::string e;
    EXPECT_FALSE(parse_publish(c.spec, &e)) << c.spec;
    EXPECT_EQ(e.rfind(std::string("-p ") + c.spec + ": ", 0), 0u) << e;
    EXPECT_NE(e.find(c.why), std::string::npos) << c.spec << " -> " << e;
  }
}

TEST(NetOptions, NetModes) {
  std::string e;
  EXPECT_EQ(parse_net("none", &e)->mode, NetMode::None);
  EXPECT_EQ(parse_net("user", &e)->mode, NetMode::User);
  auto t = parse_net("tap:tap0", &e);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->mode, NetMode::Tap);
  EXPECT_EQ(t->tap, "tap0");
  for (const char* bad : {"", "bridge", "tap", "tap:", "tap:a/b", "tap:0123456789abcdef", "User"}) {
    EXPECT_FALSE(parse_net(bad, &e)) << bad;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  EXPECT_NE((parse_net("bridge", &e), e).find("user, tap:NAME or none"), std::string::npos) << e;
}

TEST(NetOptions, DhcpSuffix) {
  std::string e;
  EXPECT_FALSE(parse_net("user", &e)->dhcp);
  auto u = parse_net("user:dhcp", &e);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->mode, NetMode::User);
  EXPECT_TRUE(u->dhcp);
  auto t = parse_net("tap:tap0:dhcp", &e);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->mode, NetMode::Tap);
  EXPECT_EQ(t->tap, "tap0");
  EXPECT_TRUE(t->dhcp);
  auto named = parse_net("tap:dhcp:dhcp", &e);  // a device named "dhcp"
  ASSERT_TRUE(named);
  EXPECT_EQ(named->tap, "dhcp");
  EXPECT_TRUE(named->dhcp);
  for (const char* bad : {"none:dhcp", "tap::dhcp", ":dhcp", "user:DHCP", "user:dhcp:dhcp"}) {
    EXPECT_FALSE(parse_net(bad, &e)) << bad;
    EXPECT_NE(e.find(bad), std::string::npos) << e;  // the line names what was given
  }
}

TEST(NetOptions, DefaultIsNoneAndPublishImpliesUser) {
  auto o = run({"prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->net.mode, NetMode::None);
  EXPECT_TRUE(o->ports.empty());

  o = run({"-p", "8080:80", "--publish=9000:90/udp", "prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->net.mode, NetMode::User);
  ASSERT_EQ(o->ports.size(), 2u);
  EXPECT_EQ(o->ports[1].host_port, 9000);
  EXPECT_TRUE(o->ports[1].udp);
  EXPECT_EQ(o->publish, (std::vector<std::string>{"8080:80", "9000:90/udp"}));

  o = run({"--net", "user", "prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->net.mode, NetMode::User);
  o = run({"--net=tap:mote0", "prog", "--net", "none"});  // after the program: its argument
  ASSERT_TRUE(o);
  EXPECT_EQ(o->net.mode, NetMode::Tap);
  EXPECT_EQ(o->net.tap, "mote0");
  EXPECT_EQ(o->args, (Args{"--net", "none"}));
  // The last --net wins, as with other options.
  o = run({"--net", "none", "--net", "user", "prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->net.mode, NetMode::User);
}

TEST(NetOptions, PublishNeedsUserNetworking) {
  std::string e = run_error({"--net", "none", "-p", "8080:80", "prog"});
  EXPECT_EQ(e, "-p 8080:80: publishing needs a network (--net user), not --net none");
  e = run_error({"-p", "8080:80", "--net", "tap:tap0", "prog"});
  EXPECT_NE(e.find("publishing needs --net user"), std::string::npos) << e;
  EXPECT_TRUE(run({"--net", "user", "-p", "8080:80", "prog"}));
}

TEST(NetOptions, HostPortPublishedOnce) {
  std::string e = run_error({"-p", "8080:80", "-p", "8080:81", "prog"});
  EXPECT_EQ(e, "-p 8080:81: host port 8080/tcp is already published by -p 8080:80");
  // 0.0.0.0 covers every address.
  run_error({"-p", "127.0.0.1:8080:80", "-p", "8080:81", "prog"});
  // Different protocols, or two distinct host addresses, may share a port.
  EXPECT_TRUE(run({"-p", "8080:80", "-p", "8080:80/udp", "prog"}));
  EXPECT_TRUE(run({"-p", "127.0.0.1:8080:80", "-p", "127.0.0.2:8080:81", "prog"}));
}

TEST(NetOptions, MissingValues) {
  EXPECT_NE(run_error({"-p"}).find("-p needs a value"), std::string::npos);
  EXPECT_NE(run_error({"--net"}).find("--net needs a value"), std::string::npos);
  EXPECT_NE(run_error({"--net", "bogus", "prog"}).find("unknown --net 'bogus'"), std::string::npos);
}

}  // namespace
}  // namespace mote::cli
