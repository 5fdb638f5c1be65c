// monitor/cli/options.h: `mote run` options.
#include "monitor/cli/options.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace mote::cli {
namespace {

using Args = std::vector<std::string>;

std::optional<uint64_t> size_of(const std::string& s, std::string* error = nullptr) {
  std::string e;
  auto r = parse_size(s, error ? error : &e);
  return r;
}

TEST(Options, ParseSizeUnits) {
  EXPECT_EQ(size_of("64M"), 64ull << 20);
  EXPECT_EQ(size_of("1G"), 1ull << 30);
  EXPECT_EQ(size_of("512k"), 512ull << 10);
  EXPECT_EQ(size_of("512K"), 512ull << 10);
  EXPECT_EQ(size_of("2GiB"), 2ull << 30);
  EXPECT_EQ(size_of("100MB"), 100ull << 20);
  EXPECT_EQ(size_of("1048576"), 1048576u);
  EXPECT_EQ(size_of("7b"), 7u);
  EXPECT_EQ(size_of("1T"), 1ull << 40);
  EXPECT_EQ(size_of("3mib"), 3ull << 20);
  EXPECT_EQ(size_of("0"), 0u);
}

TEST(Options, ParseSizeErrors) {
  for (const char* bad : {"abc", "12Q", "", "-1", "1.5G", "G", " 1G", "1G ", "1 G", "0x10", "1GG",
                          "99999999999999999999", "17179869184G"}) {
    std::string error;
    EXPECT_EQ(parse_size(bad, &error), std::nullopt) << "'" << bad << "'";
    EXPECT_NE(error.find(std::string("'") + bad + "'"), std::string::npos)
        << "error should quote the value: " << error;
  }
}

const char* fake_env(const char* name) {
  if (strcmp(name, "MOTE_HOST_VAR") == 0) return "from-host";
  if (strcmp(name, "EMPTY") == 0) return "";
  return nullptr;
}

std::optional<RunOptions> run(const Args& a, std::string* error = nullptr) {
  std::string e;
  return parse_run(a, error ? error : &e, fake_env);
}

std::string run_error(const Args& a) {
  std::string e;
  auto r = parse_run(a, &e, fake_env);
  EXPECT_FALSE(r.has_value()) << "expected an error for " << ::testing::PrintToString(a);
  EXPECT_FALSE(e.empty());
  return e;
}

TEST(Options, Defaults) {
  auto o = run({"/bin/prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->program, "/bin/prog");
  EXPECT_TRUE(o->args.empty());
  EXPECT_EQ(o->mem_bytes, 1ull << 30);
  EXPECT_EQ(o->platform, Platform::Auto);
  EXPECT_FALSE(o->strace);
  EXPECT_EQ(o->hostname, "mote");
  EXPECT_TRUE(o->env.empty());
}

TEST(Options, Mem) {
  auto a = run({"--mem", "64M", "prog"});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->mem_bytes, 64ull << 20);
  EXPECT_EQ(a->mem_text, "64M");
  auto b = run({"--mem=2G", "prog"});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mem_bytes, 2ull << 30);
  EXPECT_EQ(b->mem_text, "2G");
  auto c = run({"-m", "1M", "prog"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->mem_bytes, 1ull << 20);  // the minimum is allowed
  auto d = run({"--mem", "1T", "prog"});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->mem_bytes, 1ull << 40);  // and the maximum
}

TEST(Options, MemErrorsMentionTheValue) {
  std::string e = run_error({"--mem", "0", "prog"});
  EXPECT_NE(e.find("--mem"), std::string::npos) << e;
  EXPECT_NE(e.find("0"), std::string::npos) << e;
  e = run_error({"--mem", "1K", "prog"});
  EXPECT_NE(e.find("1K"), std::string::npos) << e;
  EXPECT_NE(e.find("small"), std::string::npos) << e;
  e = run_error({"--mem", "2T", "prog"});
  EXPECT_NE(e.find("2T"), std::string::npos) << e;
  e = run_error({"--mem", "lots", "prog"});
  EXPECT_NE(e.find("lots"), std::string::npos) << e;
  e = run_error({"--mem"});
  EXPECT_NE(e.find("--mem"), std::string::npos) << e;
  EXPECT_NE(e.find("value"), std::string::npos) << e;
}

TEST(Options, Environment) {
  auto o = run({"-e", "A=1", "--env", "B=two words", "-e=C=", "--env=D=x=y", "prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->env, (std::vector<std::string>{"A=1", "B=two words", "C=", "D=x=y"}));
}

TEST(Options, EnvironmentFromHost) {
  auto o = run({"-e", "MOTE_HOST_VAR", "-e", "UNSET_VAR", "-e", "EMPTY", "prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->env, (std::vector<std::string>{"MOTE_HOST_VAR=from-host", "EMPTY="}));
  EXPECT_EQ(o->program, "prog");

  std::string e;
  auto n = parse_run({"-e", "MOTE_HOST_VAR", "prog"}, &e, nullptr);  // no lookup: skipped
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->env.empty());
}

TEST(Options, EnvironmentErrors) {
  EXPECT_NE(run_error({"-e", "=x", "prog"}).find("'=x'"), std::string::npos);
  EXPECT_NE(run_error({"-e", "", "prog"}).find("''"), std::string::npos);
  run_error({"-e"});
}

TEST(Options, Platform) {
  struct {
    const char* text;
    Platform p;
  } cases[] = {{"process", Platform::Process}, {"kvm", Platform::Kvm},
               {"qemu", Platform::Qemu},       {"auto", Platform::Auto}};
  for (auto& c : cases) {
    auto o = run({"--platform", c.text, "prog"});
    ASSERT_TRUE(o) << c.text;
    EXPECT_EQ(o->platform, c.p) << c.text;
    auto eq = run({std::string("--platform=") + c.text, "prog"});
    ASSERT_TRUE(eq) << c.text;
    EXPECT_EQ(eq->platform, c.p) << c.text;
  }
  std::string e = run_error({"--platform", "xen", "prog"});
  EXPECT_NE(e.find("'xen'"), std::string::npos) << e;
}

TEST(Options, OtherOptions) {
  auto o = run({"--strace", "--verbose", "--cpus", "4", "--overcommit", "--hostname", "box", "-p",
                "8080:80", "-v", "/a:/b", "prog", "x"});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->overcommit);
  EXPECT_TRUE(o->strace);
  EXPECT_TRUE(o->verbose);
  EXPECT_FALSE(o->no_sandbox);
  EXPECT_TRUE(run({"--no-sandbox", "prog"})->no_sandbox);
  EXPECT_EQ(o->cpus, 4u);
  EXPECT_EQ(o->hostname, "box");
  EXPECT_EQ(o->publish, std::vector<std::string>{"8080:80"});
  EXPECT_EQ(o->volumes, std::vector<std::string>{"/a:/b"});
  EXPECT_EQ(o->args, std::vector<std::string>{"x"});
  EXPECT_NE(run_error({"--cpus", "0", "prog"}).find("'0'"), std::string::npos);
  EXPECT_NE(run_error({"--cpus", "65", "prog"}).find("'65'"), std::string::npos);
  EXPECT_NE(run_error({"--cpus", "2x", "prog"}).find("'2x'"), std::string::npos);
  // More vCPUs than the host has: refused unless --overcommit.
  std::string more = std::to_string(mote::cli::host_cpus() + 1);
  EXPECT_NE(run_error({"--cpus", more, "prog"}).find("--overcommit"), std::string::npos);
  EXPECT_TRUE(run({"--cpus", more, "--overcommit", "prog"}));
  EXPECT_TRUE(run({"--cpus", std::to_string(mote::cli::host_cpus()), "prog"}));
  run_error({"--hostname", "", "prog"});
  run_error({"--hostname", std::string(65, 'h'), "prog"});
}

TEST(Options, AddFilesInOrder) {
  auto o = run({"--add", "/etc/hosts", "--add=data:/srv/data", "prog"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->adds, (std::vector<std::string>{"/etc/hosts", "data:/srv/data"}));
  EXPECT_EQ(o->program, "prog");
}

TEST(Options, AddErrors) {
  EXPECT_NE(run_error({"--add", "data:srv", "prog"}).find("absolute"), std::string::npos);
  EXPECT_NE(run_error({"--add", "data:", "prog"}).find("absolute"), std::string::npos);
  EXPECT_NE(run_error({"--add", ":/x", "prog"}).find("HOST[:GUEST]"), std::string::npos);
  EXPECT_NE(run_error({"--add="}).find("HOST[:GUEST]"), std::string::npos);
  EXPECT_NE(run_error({"--add"}).find("needs a value"), std::string::npos);
}

TEST(Options, GdbPort) {
  EXPECT_EQ(run({"prog"})->gdb_port, 0);
  EXPECT_EQ(run({"--gdb", "1234", "prog"})->gdb_port, 1234);
  EXPECT_EQ(run({"--gdb=65535", "prog"})->gdb_port, 65535);
  for (const char* bad : {"0", "65536", "-1", "+5", "12ab", "", "99999999999999999999"})
    EXPECT_NE(run_error({"--gdb", bad, "prog"}).find("--gdb needs a TCP port"), std::string::npos)
        << bad;
  EXPECT_NE(run_error({"--gdb"}).find("needs a value"), std::string::npos);
}

TEST(Options, UnknownOption) {
  std::string e = run_error({"--frobnicate", "prog"});
  EXPECT_NE(e.find("'--frobnicate'"), std::string::npos) << e;
  e = run_error({"--memory", "64M", "prog"});  // not a prefix match of --mem
  EXPECT_NE(e.find("'--memory'"), std::string::npos) << e;
  e = run_error({"-x", "prog"});
  EXPECT_NE(e.find("'-x'"), std::string::npos) << e;
}

TEST(Options, MissingProgram) {
  std::string e = run_error({});
  EXPECT_NE(e.find("program"), std::string::npos) << e;
  e = run_error({"--strace"});
  EXPECT_NE(e.find("program"), std::string::npos) << e;
  e = run_error({"--strace", "--"});
  EXPECT_NE(e.find("program"), std::string::npos) << e;
}

TEST(Options, DoubleDashEndsOptions) {
  auto o = run({"--strace", "--", "--mem", "5"});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->strace);
  EXPECT_EQ(o->program, "--mem");
  EXPECT_EQ(o->args, std::vector<std::string>{"5"});
  EXPECT_EQ(o->mem_bytes, 1ull << 30);
}

TEST(Options, ProgramArgumentsAreNotOptions) {
  auto o = run({"prog", "--mem", "5", "-e", "X=1", "--", "--strace"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->program, "prog");
  EXPECT_EQ(o->args, (std::vector<std::string>{"--mem", "5", "-e", "X=1", "--", "--strace"}));
  EXPECT_EQ(o->mem_bytes, 1ull << 30);
  EXPECT_TRUE(o->env.empty());
  EXPECT_FALSE(o->strace);
  auto dash = run({"-", "a"});  // "-" is a program name, not an option
  ASSERT_TRUE(dash);
  EXPECT_EQ(dash->program, "-");
}

TEST(Options, GuestEnvironmentOrder) {
  RunOptions o;
  o.hostname = "box";
  auto env = guest_environment(o);
  ASSERT_EQ(env.size(), 4u);
  EXPECT_EQ(env[0].rfind("PATH=", 0), 0u);
  EXPECT_NE(env[0].find("/usr/bin"), std::string::npos);
  EXPECT_EQ(env[1], "HOME=/root");
  EXPECT_EQ(env[2], "TERM=xterm");
  EXPECT_EQ(env[3], "HOSTNAME=box");
}

TEST(Options, GuestEnvironmentOverrides) {
  auto o = run({"-e", "HOME=/home/me", "-e", "FOO=1", "-e", "HOMEDIR=x", "-e", "FOO=2", "prog"});
  ASSERT_TRUE(o);
  auto env = guest_environment(*o);
  EXPECT_EQ(env, (std::vector<std::string>{
                     env[0], "HOME=/home/me", "TERM=xterm", "HOSTNAME=mote", "FOO=2", "HOMEDIR=x"}));
  EXPECT_EQ(env[0].rfind("PATH=", 0), 0u);
}

TEST(Options, UsageMentionsTheOptions) {
  std::string u = usage();
  for (const char* opt : {"--mem", "--env", "--platform", "--strace", "--cpus", "--hostname",
                          "--add HOST[:GUEST]"})
    EXPECT_NE(u.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace mote::cli

// ---- platform choice (monitor/cli/platform_choice.h) -------------------------

#include <filesystem>
#include <fstream>

#include "monitor/cli/platform_choice.h"

namespace {

struct FakeHost {
  std::filesystem::path root;
  FakeHost() {
    root = std::filesystem::temp_directory_path() / ("mote-choice-" + std::to_string(getpid()) + "-" +
                                                      std::to_string(counter++));
    std::filesystem::create_directories(root / "sys/module");
    std::filesystem::create_directories(root / "dev");
  }
  ~FakeHost() { std::filesystem::remove_all(root); }
  void kvm_device() { std::ofstream(root / "dev/kvm").put('\0'); }
  void module(const char* m) { std::filesystem::create_directories(root / "sys/module" / m); }
  mote::cli::PlatformChoice choose() {
    return mote::cli::choose_platform((root / "sys").string(), (root / "dev").string());
  }
  static inline int counter = 0;
};

}  // namespace

TEST(PlatformChoice, NoKvmDeviceMeansProcess) {
  FakeHost h;
  h.module("kvm_intel");
  auto c = h.choose();
  EXPECT_EQ(c.platform, mote::cli::Platform::Process);
  EXPECT_NE(c.reason.find("kvm"), std::string::npos);
}

TEST(PlatformChoice, KvmPvmMeansProcess) {
  FakeHost h;
  h.kvm_device();
  h.module("kvm_pvm");
  h.module("kvm_amd");
  EXPECT_EQ(h.choose().platform, mote::cli::Platform::Process);
}

TEST(PlatformChoice, HardwareKvmMeansKvm) {
  FakeHost h;
  h.kvm_device();
  h.module("kvm_intel");
  EXPECT_EQ(h.choose().platform, mote::cli::Platform::Kvm);
  FakeHost a;
  a.kvm_device();
  a.module("kvm_amd");
  EXPECT_EQ(a.choose().platform, mote::cli::Platform::Kvm);
}

TEST(PlatformChoice, UnknownKvmMeansProcess) {
  FakeHost h;
  h.kvm_device();
  EXPECT_EQ(h.choose().platform, mote::cli::Platform::Process);
}
