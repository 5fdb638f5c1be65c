// monitor/image/deps.h: ELF dependency parsing and resolution, on Debian's
// own programs and on fixtures built for the search rules
// (tests/unit/CMakeLists.txt: $ORIGIN RUNPATH, inherited RPATH).
#include "monitor/image/deps.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mote::image {
namespace {

const std::string kDeps = MOTE_UNIT_DEPS_DIR;

bool exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

std::string base(const std::string& p) { return p.substr(p.rfind('/') + 1); }

std::vector<std::string> bases(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(base(p));
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char t[] = "/tmp/mote-deps-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) {
    auto p = path / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
};

TEST(ElfDeps, PythonInterpreterAndNeeded) {
  const std::string python = "/usr/bin/python3.11";
  if (!exists(python)) GTEST_SKIP() << python << " is not installed";
  ElfDeps d;
  std::string error;
  ASSERT_TRUE(read_elf_deps(python, &d, &error)) << error;
  EXPECT_EQ(d.interp, "/lib64/ld-linux-x86-64.so.2");
  for (const char* lib : {"libc.so.6", "libm.so.6", "libz.so.1", "libexpat.so.1"})
    EXPECT_TRUE(contains(d.needed, lib)) << lib;
  EXPECT_FALSE(d.has_runpath);
  EXPECT_TRUE(d.soname.empty());
}

TEST(ElfDeps, LibrarySonameAndNoInterpreter) {
  ElfDeps d;
  std::string error;
  ASSERT_TRUE(read_elf_deps(kDeps + "/origin/lib/libmotea.so", &d, &error)) << error;
  EXPECT_TRUE(d.interp.empty());
  EXPECT_EQ(d.needed, std::vector<std::string>{"libmoteb.so"});
  ASSERT_TRUE(d.has_runpath);
  EXPECT_EQ(d.runpath, std::vector<std::string>{"$ORIGIN"});
  EXPECT_FALSE(d.has_rpath);
}

TEST(ElfDeps, OldStyleRpath) {
  ElfDeps d;
  std::string error;
  ASSERT_TRUE(read_elf_deps(kDeps + "/rpath/app", &d, &error)) << error;
  EXPECT_TRUE(d.has_rpath);
  EXPECT_FALSE(d.has_runpath);
  EXPECT_EQ(d.rpath, std::vector<std::string>{"$ORIGIN/lib2"});
}

TEST(ElfDeps, BadFilesSayWhatIsWrong) {
  TempDir t;
  ElfDeps d;
  std::string error;
  EXPECT_FALSE(read_elf_deps(t.write("text", "#!/bin/sh\necho hello, this is not ELF at all\n"
                                             "but it is long enough for a header......."),
                             &d, &error));
  EXPECT_EQ(error, "not an ELF executable");
  std::string elf32(64, '\0');
  elf32.replace(0, 6, "\x7f" "ELF\x01\x01");
  EXPECT_FALSE(read_elf_deps(t.write("elf32", elf32), &d, &error));
  EXPECT_EQ(error, "32-bit ELF executables are not supported (mote runs x86-64 programs)");
  std::string arm(64, '\0');
  arm.replace(0, 7, "\x7f" "ELF\x02\x01\x01");
  arm[18] = char(183);  // e_machine = EM_AARCH64
  arm[20] = 1;          // e_version
  EXPECT_FALSE(read_elf_deps(t.write("arm", arm), &d, &error));
  EXPECT_EQ(error, "ELF file for AArch64 (mote runs x86-64 programs)");
  EXPECT_FALSE(read_elf_deps(t.write("short", "\x7f" "ELF\x02"), &d, &error));
  EXPECT_EQ(error, "truncated ELF file");
}

TEST(ExpandTokens, GlibcAndMusl) {
  EXPECT_EQ(expand_tokens("$ORIGIN/lib", "/opt/app", Libc::Glibc), "/opt/app/lib");
  EXPECT_EQ(expand_tokens("${ORIGIN}/../lib", "/opt/app", Libc::Glibc), "/opt/app/../lib");
  EXPECT_EQ(expand_tokens("/usr/$LIB/x", "/o", Libc::Glibc), "/usr/lib/x86_64-linux-gnu/x");
  EXPECT_EQ(expand_tokens("/p/${PLATFORM}", "/o", Libc::Glibc), "/p/x86_64");
  EXPECT_EQ(expand_tokens("$ORIGINAL", "/o", Libc::Glibc), "$ORIGINAL");  // not the token
  EXPECT_EQ(expand_tokens("$ORIGIN/$LIB", "/o", Libc::Musl), "/o/$LIB");  // musl: $ORIGIN only
}

TEST(LdSoConf, IncludesCommentsAndOrder) {
  TempDir t;
  std::string main = t.write("ld.so.conf", "# comment\n/first\ninclude conf.d/*.conf\n/last/ \n");
  t.write("conf.d/b.conf", "/b-dir   # trailing comment\n");
  t.write("conf.d/a.conf", "/a-dir\nhwcap 0 nosegneg\n");
  t.write("conf.d/skip.txt", "/never\n");
  std::vector<std::string> files;
  auto dirs = read_ld_so_conf(main, &files);
  EXPECT_EQ(dirs, (std::vector<std::string>{"/first", "/a-dir", "/b-dir", "/last"}));
  EXPECT_EQ(bases(files), (std::vector<std::string>{"ld.so.conf", "a.conf", "b.conf"}));
}

TEST(LdSoConf, HostConfigFollowsTheGuestEnvironment) {
  auto c = host_search_config("/lib64/ld-linux-x86-64.so.2", {"PATH=/bin"});
  EXPECT_EQ(c.libc, Libc::Glibc);
  EXPECT_TRUE(c.ld_library_path.empty());  // the host's LD_LIBRARY_PATH is never used
  ASSERT_GE(c.system_dirs.size(), 5u);
  EXPECT_EQ(c.system_dirs.back(), "/usr/lib");
  c = host_search_config("/lib64/ld-linux-x86-64.so.2",
                         {"LD_LIBRARY_PATH=/x:/y", "LD_LIBRARY_PATH=/opt/lib::/z"});
  EXPECT_EQ(c.ld_library_path, (std::vector<std::string>{"/opt/lib", "/z"}));
  EXPECT_EQ(host_search_config("/lib/ld-musl-x86_64.so.1", {}).libc, Libc::Musl);
}

TEST(Resolve, SqliteClosure) {
  const std::string sqlite = "/usr/bin/sqlite3";
  if (!exists(sqlite)) GTEST_SKIP() << sqlite << " is not installed";
  Closure c;
  std::string error;
  int status = 0;
  ASSERT_TRUE(resolve_program(sqlite, host_search_config("/lib64/ld-linux-x86-64.so.2", {}), &c,
                              &error, &status))
      << error;
  EXPECT_EQ(c.interp, "/lib64/ld-linux-x86-64.so.2");
  auto names = bases(c.libraries);
  for (const char* lib : {"libsqlite3.so.0", "libc.so.6", "libreadline.so.8", "libz.so.1"})
    EXPECT_TRUE(contains(names, lib)) << lib;
  // libc is needed by everything but loaded once; the loader is not a library.
  EXPECT_EQ(std::count(names.begin(), names.end(), "libc.so.6"), 1);
  EXPECT_FALSE(contains(names, "ld-linux-x86-64.so.2"));
  EXPECT_TRUE(c.dirs_searched.count("/usr/lib/x86_64-linux-gnu") ||
              c.dirs_searched.count("/lib/x86_64-linux-gnu"));
}

TEST(Resolve, MuslProgramNeedsOnlyItsLoader) {
  const std::string hello = kDeps + "/hello.musl-dynamic";
  if (!exists(hello)) GTEST_SKIP() << "musl-gcc is not installed";
  ElfDeps d;
  std::string error;
  ASSERT_TRUE(read_elf_deps(hello, &d, &error)) << error;
  EXPECT_EQ(d.interp, "/lib/ld-musl-x86_64.so.1");
  EXPECT_TRUE(contains(d.needed, "libc.so"));
  Closure c;
  int status = 0;
  ASSERT_TRUE(resolve_program(hello, host_search_config(d.interp, {}), &c, &error, &status)) << error;
  EXPECT_EQ(c.interp, "/lib/ld-musl-x86_64.so.1");
  EXPECT_TRUE(c.libraries.empty()) << ::testing::PrintToString(c.libraries);
}

TEST(Resolve, OriginRunpath) {
  Closure c;
  std::string error;
  int status = 0;
  ASSERT_TRUE(resolve_program(kDeps + "/origin/app",
                              host_search_config("/lib64/ld-linux-x86-64.so.2", {}), &c, &error,
                              &status))
      << error;
  ASSERT_GE(c.libraries.size(), 3u);
  // Breadth first, as the loader maps them: app's needs, then theirs.
  EXPECT_EQ(c.libraries[0], kDeps + "/origin/lib/libmotea.so");
  EXPECT_EQ(base(c.libraries[1]), "libc.so.6");
  EXPECT_EQ(c.libraries[2], kDeps + "/origin/lib/libmoteb.so");
}

TEST(Resolve, RpathIsInheritedFromTheProgram) {
  Closure c;
  std::string error;
  int status = 0;
  ASSERT_TRUE(resolve_program(kDeps + "/rpath/app",
                              host_search_config("/lib64/ld-linux-x86-64.so.2", {}), &c, &error,
                              &status))
      << error;
  EXPECT_TRUE(contains(c.libraries, kDeps + "/rpath/lib2/libmoteb2.so"))
      << ::testing::PrintToString(c.libraries);
}

TEST(Resolve, RunpathIsNotInheritedAndTheMessageSaysWhereItLooked) {
  SearchConfig config;
  config.system_dirs = {"/usr/lib/x86_64-linux-gnu", "/nonexistent/mote"};
  Closure c;
  std::string error;
  int status = 0;
  EXPECT_FALSE(resolve_program(kDeps + "/rpath/app_runpath", config, &c, &error, &status));
  EXPECT_EQ(error, "libmoteb2.so needed by " + kDeps +
                       "/rpath/lib2/libmotec.so not found (searched: /usr/lib/x86_64-linux-gnu, "
                       "/nonexistent/mote)");
  EXPECT_EQ(status, 127);
  // The guest's LD_LIBRARY_PATH is searched before the system directories.
  config.ld_library_path = {kDeps + "/rpath/lib2"};
  EXPECT_TRUE(resolve_program(kDeps + "/rpath/app_runpath", config, &c, &error, &status)) << error;
}

TEST(Resolve, WrongFilesOnThePathAreSkipped) {
  TempDir t;
  t.write("libmoteb2.so", std::string(200, 'x'));  // not ELF: the loader goes on searching
  SearchConfig config;
  config.system_dirs = {"/usr/lib/x86_64-linux-gnu"};
  config.ld_library_path = {t.path.string(), kDeps + "/rpath/lib2"};
  Closure c;
  std::string error;
  int status = 0;
  ASSERT_TRUE(resolve_program(kDeps + "/rpath/app_runpath", config, &c, &error, &status)) << error;
  EXPECT_TRUE(contains(c.libraries, kDeps + "/rpath/lib2/libmoteb2.so"));
  EXPECT_FALSE(contains(c.libraries, t.path.string() + "/libmoteb2.so"));
}

TEST(Resolve, StaticProgramHasNoClosure) {
  Closure c;
  std::string error;
  int status = 0;
  ASSERT_TRUE(resolve_program(MOTE_UNIT_ELF_STATIC, SearchConfig{}, &c, &error, &status)) << error;
  EXPECT_TRUE(c.interp.empty());
  EXPECT_TRUE(c.libraries.empty());
}

TEST(Resolve, MissingInterpreter) {
  // A copy of the fixture program with its PT_INTERP pointing nowhere.
  TempDir t;
  std::ifstream in(kDeps + "/origin/app", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = bytes.find("/lib64/ld-linux-x86-64.so.2");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 6, "/nope6");
  std::string prog = t.write("app", bytes);
  Closure c;
  std::string error;
  int status = 0;
  EXPECT_FALSE(resolve_program(prog, SearchConfig{}, &c, &error, &status));
  EXPECT_EQ(error, prog + ": its interpreter /nope6/ld-linux-x86-64.so.2 is not on this host");
  EXPECT_EQ(status, 127);
}

}  // namespace
}  // namespace mote::image
