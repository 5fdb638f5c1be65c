// monitor/image/rootfs.h: root filesystem images, their symlinks, and the
// content-keyed cache.
#include "monitor/image/rootfs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "monitor/image/cpio.h"

namespace mote::image {
namespace {

const std::string kDeps = MOTE_UNIT_DEPS_DIR;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char t[] = "/tmp/mote-rootfs-XXXXXX";
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

// The image's entries by path, read back with the cpio reader.
std::map<std::string, CpioItem> entries_of(const Rootfs& fs) {
  std::vector<CpioItem> items;
  std::string error;
  EXPECT_TRUE(read_cpio(fs.fd, 0, fs.size, &items, &error)) << error;
  std::map<std::string, CpioItem> out;
  for (auto& it : items) out["/" + it.path] = it;
  return out;
}

// Follows symlinks inside the image, as the guest kernel will: the regular
// file `path` ends at, or "" when it leaves the image.
std::string resolve_in(const std::map<std::string, CpioItem>& e, const std::string& path) {
  std::vector<std::string> todo;
  auto push = [&](const std::string& p) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < p.size();) {
      size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      if (j > i && p.substr(i, j - i) != ".") parts.push_back(p.substr(i, j - i));
      i = j + 1;
    }
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  push(path);
  std::string cur;
  for (int hops = 0; !todo.empty() && hops < 100;) {
    std::string c = todo.back();
    todo.pop_back();
    if (c == "..") {
      cur = cur.substr(0, cur.rfind('/'));
      continue;
    }
    auto it = e.find(cur + "/" + c);
    if (it == e.end()) return "";
    if (S_ISLNK(it->second.mode)) {
      ++hops;
      if (it->second.link_target[0] == '/') cur.clear();
      push(it->second.link_target);
      continue;
    }
    cur += "/" + c;
  }
  auto it = e.find(cur);
  return it != e.end() && S_ISREG(it->second.mode) ? cur : "";
}

void expect_well_formed(const std::map<std::string, CpioItem>& e) {
  for (const auto& [path, it] : e) {
    std::string parent = path.substr(0, path.rfind('/'));
    if (!parent.empty()) {
      auto p = e.find(parent);
      ASSERT_TRUE(p != e.end()) << "no parent for " << path;
      EXPECT_TRUE(S_ISDIR(p->second.mode)) << parent << " is not a directory";
    }
    if (S_ISREG(it.mode) && it.size >= 4096) {
      EXPECT_EQ(it.data_offset % 4096, 0u) << path;
    }
  }
}

TEST(Rootfs, DynamicProgramWithItsLibrariesAndSymlinks) {
  TempDir cache;
  RootfsRequest req{kDeps + "/origin/app", {}, {}, cache.path.string()};
  Rootfs fs;
  std::string error;
  int status = 0;
  ASSERT_TRUE(build_rootfs(req, &fs, &error, &status)) << error;
  EXPECT_EQ(fs.interp, "/lib64/ld-linux-x86-64.so.2");
  auto e = entries_of(fs);
  expect_well_formed(e);
  EXPECT_TRUE(S_ISREG(e[kDeps + "/origin/app"].mode));
  EXPECT_TRUE(S_ISREG(e[kDeps + "/origin/lib/libmotea.so"].mode));
  EXPECT_TRUE(S_ISREG(e[kDeps + "/origin/lib/libmoteb.so"].mode));
  // The interpreter, reached through the host's own symlinks (/lib64 ->
  // usr/lib64 on merged-/usr systems, the loader's own link...).
  std::string interp = resolve_in(e, fs.interp);
  ASSERT_FALSE(interp.empty()) << fs.interp << " does not resolve in the image";
  char real[PATH_MAX];
  ASSERT_TRUE(realpath(fs.interp.c_str(), real));
  EXPECT_EQ(interp, real);
  EXPECT_FALSE(resolve_in(e, "/lib/x86_64-linux-gnu/libc.so.6").empty());
  if (access("/etc/ld.so.cache", F_OK) == 0) {
    EXPECT_TRUE(e.count("/etc/ld.so.cache"));
  }
  close(fs.fd);
}

TEST(Rootfs, CacheHitReusesTheSameFile) {
  TempDir cache, tree;
  tree.write("data/a.txt", "alpha");
  tree.write("data/sub/b.bin", std::string(9000, 'b'));
  RootfsRequest req{MOTE_UNIT_ELF_STATIC, {tree.path.string() + "/data:/srv/data"}, {},
                    cache.path.string()};
  Rootfs first;
  std::string error;
  int status = 0;
  ASSERT_TRUE(build_rootfs(req, &first, &error, &status)) << error;
  EXPECT_FALSE(first.image_hit);
  EXPECT_TRUE(first.interp.empty());
  auto e = entries_of(first);
  expect_well_formed(e);
  EXPECT_EQ(e["/srv/data/a.txt"].size, 5u);
  EXPECT_EQ(e["/srv/data/sub/b.bin"].size, 9000u);
  EXPECT_TRUE(S_ISREG(e[MOTE_UNIT_ELF_STATIC].mode));
  struct stat st1;
  ASSERT_EQ(fstat(first.fd, &st1), 0);

  Rootfs second;
  ASSERT_TRUE(build_rootfs(req, &second, &error, &status)) << error;
  EXPECT_TRUE(second.index_hit);
  EXPECT_TRUE(second.image_hit);
  EXPECT_EQ(second.path, first.path);
  EXPECT_EQ(second.key, first.key);
  struct stat st2;
  ASSERT_EQ(fstat(second.fd, &st2), 0);
  EXPECT_EQ(st2.st_ino, st1.st_ino);
  EXPECT_EQ(st2.st_mtim.tv_sec, st1.st_mtim.tv_sec);
  EXPECT_EQ(st2.st_mtim.tv_nsec, st1.st_mtim.tv_nsec);

  // Without the index, the same manifest finds the same image.
  for (auto& f : std::filesystem::directory_iterator(cache.path))
    if (f.path().filename().string().rfind("index-", 0) == 0) std::filesystem::remove(f.path());
  Rootfs third;
  ASSERT_TRUE(build_rootfs(req, &third, &error, &status)) << error;
  EXPECT_FALSE(third.index_hit);
  EXPECT_TRUE(third.image_hit);
  EXPECT_EQ(third.key, first.key);
  close(first.fd);
  close(second.fd);
  close(third.fd);
}

TEST(Rootfs, ATouchedFileMakesANewImage) {
  TempDir cache, tree;
  std::string f = tree.write("data/a.txt", "alpha");
  RootfsRequest req{MOTE_UNIT_ELF_STATIC, {tree.path.string() + "/data"}, {}, cache.path.string()};
  Rootfs first, second, third;
  std::string error;
  int status = 0;
  ASSERT_TRUE(build_rootfs(req, &first, &error, &status)) << error;
  EXPECT_TRUE(entries_of(first).count(tree.path.string() + "/data/a.txt"));
  // touch: same bytes, a new modification time.
  struct timespec times[2] = {{0, UTIME_OMIT}, {1234567890, 5}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  ASSERT_TRUE(build_rootfs(req, &second, &error, &status)) << error;
  EXPECT_FALSE(second.index_hit);
  EXPECT_NE(second.key, first.key);
  EXPECT_NE(second.path, first.path);
  EXPECT_EQ(entries_of(second)[tree.path.string() + "/data/a.txt"].mtime, 1234567890u);
  // A new file in the tree too.
  tree.write("data/new.txt", "n");
  ASSERT_TRUE(build_rootfs(req, &third, &error, &status)) << error;
  EXPECT_NE(third.key, second.key);
  EXPECT_TRUE(entries_of(third).count(tree.path.string() + "/data/new.txt"));
  close(first.fd);
  close(second.fd);
  close(third.fd);
}

TEST(Rootfs, PythonProfileBringsItsStandardLibrary) {
  const std::string python = "/usr/bin/python3";
  char real[PATH_MAX];
  if (!realpath(python.c_str(), real)) GTEST_SKIP() << python << " is not installed";
  TempDir cache;
  RootfsRequest req{python, {}, {}, cache.path.string()};
  Rootfs fs;
  std::string error;
  int status = 0;
  ASSERT_TRUE(build_rootfs(req, &fs, &error, &status)) << error;
  auto e = entries_of(fs);
  expect_well_formed(e);
  std::string base = std::string(real).substr(std::string(real).rfind('/') + 1);  // python3.11
  EXPECT_TRUE(S_ISLNK(e[python].mode));
  EXPECT_EQ(resolve_in(e, python), real);
  std::string lib = "/usr/lib/" + base;
  EXPECT_TRUE(e.count(lib + "/os.py"));
  EXPECT_TRUE(e.count(lib + "/encodings/__init__.py"));
  EXPECT_FALSE(e.count(lib + "/test/__init__.py"));  // test suites are left out
  // lib-dynload modules' libraries (the _ssl module needs libssl).
  bool ssl_module = false;
  for (const auto& [p, it] : e) ssl_module = ssl_module || p.find("/lib-dynload/_ssl.") != std::string::npos;
  ASSERT_TRUE(ssl_module);
  EXPECT_FALSE(resolve_in(e, "/lib/x86_64-linux-gnu/libssl.so.3").empty());
  close(fs.fd);
}

TEST(Rootfs, MissingLibraryFailsWithStatus127) {
  TempDir cache;
  RootfsRequest req{kDeps + "/rpath/app_runpath", {}, {}, cache.path.string()};
  Rootfs fs;
  std::string error;
  int status = 0;
  EXPECT_FALSE(build_rootfs(req, &fs, &error, &status));
  EXPECT_EQ(status, 127);
  EXPECT_EQ(error.rfind("libmoteb2.so needed by " + kDeps + "/rpath/lib2/libmotec.so not found "
                        "(searched: ", 0),
            0u)
      << error;
  // With the guest's LD_LIBRARY_PATH it is found.
  req.guest_env = {"LD_LIBRARY_PATH=" + kDeps + "/rpath/lib2"};
  EXPECT_TRUE(build_rootfs(req, &fs, &error, &status)) << error;
  close(fs.fd);
}

TEST(Rootfs, AddErrors) {
  TempDir cache;
  RootfsRequest req{MOTE_UNIT_ELF_STATIC, {"/nonexistent/mote-file"}, {}, cache.path.string()};
  Rootfs fs;
  std::string error;
  int status = 0;
  EXPECT_FALSE(build_rootfs(req, &fs, &error, &status));
  EXPECT_EQ(status, 125);
  EXPECT_EQ(error, "--add /nonexistent/mote-file: /nonexistent: No such file or directory");
  std::string host, guest;
  EXPECT_FALSE(parse_add("a:rel", &host, &guest, &error));
  EXPECT_TRUE(parse_add("/etc/hosts", &host, &guest, &error));
  EXPECT_EQ(guest, "/etc/hosts");
  EXPECT_TRUE(parse_add("/x/./y//z:/g/h/", &host, &guest, &error));
  EXPECT_EQ(host, "/x/y/z");
  EXPECT_EQ(guest, "/g/h");
}

TEST(Rootfs, CacheDirectoryChoice) {
  std::string saved_home = getenv("HOME") ? getenv("HOME") : "";
  setenv("MOTE_CACHE_DIR", "/c/mote", 1);
  EXPECT_EQ(default_cache_dir(), "/c/mote");
  unsetenv("MOTE_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(default_cache_dir(), "/xdg/mote");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_cache_dir(), "/home/u/.cache/mote");
  unsetenv("HOME");
  EXPECT_EQ(default_cache_dir(), "/tmp/mote-cache-" + std::to_string(getuid()));
  if (!saved_home.empty()) setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace mote::image
