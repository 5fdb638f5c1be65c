// monitor/share/server.h: the 9P2000.L share server against a temporary
// directory, driven through Server::dispatch by a small test client. The
// escape tests put a secret file next to (outside) the share and try every
// way out: "..", names with '/', absolute and relative symlinks, symlink
// chains, hard links of symlinks.
#include "monitor/share/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "abi/p9.h"

namespace mote::share {
namespace {

constexpr char kSecret[] = "TOP-SECRET-HOST-FILE";

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// One message and its reply.
struct Reply {
  uint8_t type = 0;
  std::vector<uint8_t> bytes;
  p9::Reader body() const {
    p9::Reader r(bytes.data(), uint32_t(bytes.size()));
    uint8_t t;
    uint16_t tag;
    r.header(&t, &tag);
    return r;
  }
  // The Rlerror errno, 0 for any other reply.
  uint32_t error() const {
    if (type != p9::kRlerror) return 0;
    p9::Reader r = body();
    return r.u32();
  }
};

class ShareServer : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mote-share-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    root_ = top_ + "/share";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    spit(top_ + "/secret", kSecret);
    ASSERT_EQ(::mkdir((top_ + "/outdir").c_str(), 0755), 0);
    spit(top_ + "/outdir/inner", kSecret);
    spit(root_ + "/hello.txt", "hello, share\n");
    ASSERT_EQ(::mkdir((root_ + "/sub").c_str(), 0755), 0);
    spit(root_ + "/sub/deep.txt", "deep\n");
    std::string e;
    ASSERT_TRUE(server_.add_share(root_, false, &e)) << e;
    ASSERT_TRUE(server_.add_share(root_, true, &e)) << e;  // aname "1": read-only
    Reply v = rpc(p9::kTversion, [](p9::Writer& w) {
      w.u32(p9::kMsize);
      w.str("9P2000.L", 8);
    });
    ASSERT_EQ(v.type, p9::kRversion);
    ASSERT_EQ(attach(kRoot, "0"), 0u);
    ASSERT_EQ(attach(kRoRoot, "1"), 0u);
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + top_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  Reply rpc(uint8_t type, const std::function<void(p9::Writer&)>& body) {
    std::vector<uint8_t> req(p9::kMsize), resp(p9::kMsize);
    p9::Writer w(req.data(), uint32_t(req.size()));
    w.begin(type, 1);
    body(w);
    uint32_t n = w.finish();
    EXPECT_GT(n, 0u);
    size_t m = server_.dispatch(req.data(), n, resp.data(), resp.size());
    Reply r;
    r.bytes.assign(resp.begin(), resp.begin() + long(m));
    p9::Reader rd(r.bytes.data(), uint32_t(m));
    uint16_t tag;
    EXPECT_TRUE(rd.header(&r.type, &tag));
    EXPECT_EQ(tag, 1);
    EXPECT_TRUE(r.type == p9::kRlerror || r.type == type + 1) << int(r.type);
    return r;
  }

  uint32_t attach(uint32_t fid, const char* aname) {
    return rpc(p9::kTattach, [&](p9::Writer& w) {
             w.u32(fid);
             w.u32(p9::kNoFid);
             w.str("root", 4);
             w.str(aname, uint32_t(strlen(aname)));
             w.u32(0);
           }).error();
  }

  // Walks `names` from fid into newfid: the errno, or 0 when every name was
  // walked. *walked gets how many were.
  uint32_t walk(uint32_t fid, uint32_t newfid, const std::vector<std::string>& names,
                size_t* walked = nullptr) {
    Reply r = rpc(p9::kTwalk, [&](p9::Writer& w) {
      w.u32(fid);
      w.u32(newfid);
      w.u16(uint16_t(names.size()));
      for (const auto& n : names) w.str(n.data(), uint32_t(n.size()));
    });
    if (walked) *walked = 0;
    if (r.error()) return r.error();
    p9::Reader b = r.body();
    uint16_t nq = b.u16();
    if (walked) *walked = nq;
    return nq == names.size() ? 0 : ENOENT;
  }

  uint32_t lopen(uint32_t fid, uint32_t flags) {
    return rpc(p9::kTlopen, [&](p9::Writer& w) {
             w.u32(fid);
             w.u32(flags);
           }).error();
  }

  // The bytes read, or "errno N".
  std::string read(uint32_t fid, uint64_t off = 0, uint32_t count = 4096) {
    Reply r = rpc(p9::kTread, [&](p9::Writer& w) {
      w.u32(fid);
      w.u64(off);
      w.u32(count);
    });
    if (r.error()) return "errno " + std::to_string(r.error());
    p9::Reader b = r.body();
    uint32_t n = b.u32();
    const uint8_t* d = b.take(n);
    return std::string(reinterpret_cast<const char*>(d), n);
  }

  uint32_t write(uint32_t fid, uint64_t off, const std::string& data) {
    Reply r = rpc(p9::kTwrite, [&](p9::Writer& w) {
      w.u32(fid);
      w.u64(off);
      w.u32(uint32_t(data.size()));
      w.bytes(data.data(), uint32_t(data.size()));
    });
    if (r.error()) return r.error();
    p9::Reader b = r.body();
    EXPECT_EQ(b.u32(), data.size());
    return 0;
  }

  std::set<std::string> readdir(uint32_t fid) {
    std::set<std::string> names;
    uint64_t off = 0;
    for (;;) {
      Reply r = rpc(p9::kTreaddir, [&](p9::Writer& w) {
        w.u32(fid);
        w.u64(off);
        w.u32(100);  // small: several round trips
      });
      EXPECT_EQ(r.error(), 0u);
      if (r.error()) return names;
      p9::Reader b = r.body();
      uint32_t n = b.u32();
      if (n == 0) return names;
      p9::Reader d(b.take(n), n);
      while (!d.at_end()) {
        p9::Dirent e = p9::get_dirent(d);
        EXPECT_TRUE(d.ok());
        names.insert(std::string(e.name.data, e.name.size));
        off = e.offset;
      }
    }
  }

  uint32_t name_op(uint8_t type, uint32_t dfid, const std::string& name,
                   const std::function<void(p9::Writer&)>& rest) {
    return rpc(type, [&](p9::Writer& w) {
             w.u32(dfid);
             w.str(name.data(), uint32_t(name.size()));
             rest(w);
           }).error();
  }
  uint32_t mkdir(uint32_t dfid, const std::string& name) {
    return name_op(p9::kTmkdir, dfid, name, [](p9::Writer& w) {
      w.u32(0755);
      w.u32(0);
    });
  }
  uint32_t unlinkat(uint32_t dfid, const std::string& name, uint32_t flags = 0) {
    return name_op(p9::kTunlinkat, dfid, name, [&](p9::Writer& w) { w.u32(flags); });
  }
  uint32_t lcreate(uint32_t fid, const std::string& name, uint32_t flags = O_RDWR) {
    return name_op(p9::kTlcreate, fid, name, [&](p9::Writer& w) {
      w.u32(flags);
      w.u32(0644);
      w.u32(0);
    });
  }
  uint32_t symlink(uint32_t dfid, const std::string& name, const std::string& target) {
    return name_op(p9::kTsymlink, dfid, name, [&](p9::Writer& w) {
      w.str(target.data(), uint32_t(target.size()));
      w.u32(0);
    });
  }
  uint32_t renameat(uint32_t ofid, const std::string& on, uint32_t nfid, const std::string& nn) {
    return rpc(p9::kTrenameat, [&](p9::Writer& w) {
             w.u32(ofid);
             w.str(on.data(), uint32_t(on.size()));
             w.u32(nfid);
             w.str(nn.data(), uint32_t(nn.size()));
           }).error();
  }
  uint32_t link(uint32_t dfid, uint32_t fid, const std::string& name) {
    return rpc(p9::kTlink, [&](p9::Writer& w) {
             w.u32(dfid);
             w.u32(fid);
             w.str(name.data(), uint32_t(name.size()));
           }).error();
  }
  uint32_t truncate(uint32_t fid, uint64_t size) {
    return rpc(p9::kTsetattr, [&](p9::Writer& w) {
             w.u32(fid);
             p9::SetAttr a{};
             a.valid = p9::kSetattrSize;
             a.size = size;
             p9::put_setattr(w, a);
           }).error();
  }
  uint32_t clunk(uint32_t fid) {
    return rpc(p9::kTclunk, [&](p9::Writer& w) { w.u32(fid); }).error();
  }
  p9::Attr getattr(uint32_t fid, uint32_t* error) {
    Reply r = rpc(p9::kTgetattr, [&](p9::Writer& w) {
      w.u32(fid);
      w.u64(p9::kGetattrBasic);
    });
    *error = r.error();
    p9::Attr a{};
    if (!*error) {
      p9::Reader b = r.body();
      a = p9::get_attr(b);
    }
    return a;
  }

  // Opens and reads a walked path; never the secret.
  void expect_unreadable(const std::vector<std::string>& path) {
    uint32_t e = walk(kRoot, 99, path);
    if (e == 0) {
      EXPECT_NE(lopen(99, O_RDONLY), 0u);
      EXPECT_EQ(read(99).find(kSecret), std::string::npos);
      clunk(99);
    }
  }

  static constexpr uint32_t kRoot = 1, kRoRoot = 2;
  Server server_;
  std::string top_, root_;
};

TEST_F(ShareServer, WalkOpenRead) {
  ASSERT_EQ(walk(kRoot, 10, {"hello.txt"}), 0u);
  EXPECT_EQ(lopen(10, O_RDONLY), 0u);
  EXPECT_EQ(read(10), "hello, share\n");
  EXPECT_EQ(read(10, 7, 5), "share");
  ASSERT_EQ(walk(kRoot, 11, {"sub", "deep.txt"}), 0u);
  EXPECT_EQ(lopen(11, O_RDONLY), 0u);
  EXPECT_EQ(read(11), "deep\n");
  uint32_t e;
  p9::Attr a = getattr(11, &e);
  EXPECT_EQ(e, 0u);
  EXPECT_EQ(a.size, 5u);
  EXPECT_TRUE(S_ISREG(a.mode));
  size_t walked;
  EXPECT_EQ(walk(kRoot, 12, {"sub", "missing"}, &walked), ENOENT);
  EXPECT_EQ(walked, 1u);  // a partial walk: no fid 12
  EXPECT_EQ(clunk(12), uint32_t(EBADF));
  EXPECT_EQ(walk(kRoot, 12, {"missing"}), uint32_t(ENOENT));
}

TEST_F(ShareServer, ReadBeforeOpenFails) {
  ASSERT_EQ(walk(kRoot, 10, {"hello.txt"}), 0u);
  EXPECT_EQ(read(10), "errno " + std::to_string(EBADF));
}

TEST_F(ShareServer, CreateWriteTruncateVisibleOnHost) {
  ASSERT_EQ(walk(kRoot, 10, {}), 0u);  // clone the root
  ASSERT_EQ(lcreate(10, "new.txt"), 0u);
  EXPECT_EQ(write(10, 0, "written by the guest"), 0u);
  EXPECT_EQ(slurp(root_ + "/new.txt"), "written by the guest");
  EXPECT_EQ(truncate(10, 7), 0u);
  EXPECT_EQ(slurp(root_ + "/new.txt"), "written");
}

TEST_F(ShareServer, LcreateRefusesExisting) {
  ASSERT_EQ(walk(kRoot, 10, {}), 0u);
  EXPECT_EQ(lcreate(10, "hello.txt"), uint32_t(EEXIST));
  EXPECT_EQ(slurp(root_ + "/hello.txt"), "hello, share\n");
}

TEST_F(ShareServer, ReaddirListsEverything) {
  ASSERT_EQ(walk(kRoot, 10, {}), 0u);
  ASSERT_EQ(lopen(10, O_RDONLY | O_DIRECTORY), 0u);
  EXPECT_EQ(readdir(10), (std::set<std::string>{".", "..", "hello.txt", "sub"}));
}

TEST_F(ShareServer, MkdirUnlinkRename) {
  EXPECT_EQ(mkdir(kRoot, "made"), 0u);
  struct stat st;
  ASSERT_EQ(stat((root_ + "/made").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(mkdir(kRoot, "made"), uint32_t(EEXIST));
  ASSERT_EQ(walk(kRoot, 10, {"made"}), 0u);
  EXPECT_EQ(renameat(kRoot, "hello.txt", 10, "moved.txt"), 0u);
  EXPECT_EQ(slurp(root_ + "/made/moved.txt"), "hello, share\n");
  EXPECT_NE(access((root_ + "/hello.txt").c_str(), F_OK), 0);
  EXPECT_EQ(unlinkat(kRoot, "made"), uint32_t(EISDIR));
  EXPECT_EQ(unlinkat(kRoot, "made", p9::kAtRemovedir), uint32_t(ENOTEMPTY));
  EXPECT_EQ(unlinkat(10, "moved.txt"), 0u);
  EXPECT_EQ(unlinkat(kRoot, "made", p9::kAtRemovedir), 0u);
  EXPECT_NE(access((root_ + "/made").c_str(), F_OK), 0);
  // ".." from a renamed directory's fid follows the rename.
  EXPECT_EQ(mkdir(kRoot, "a"), 0u);
  ASSERT_EQ(walk(kRoot, 11, {"a"}), 0u);
  EXPECT_EQ(mkdir(11, "inner"), 0u);
  ASSERT_EQ(walk(11, 12, {"inner"}), 0u);
  EXPECT_EQ(renameat(kRoot, "a", kRoot, "b"), 0u);
  EXPECT_EQ(walk(12, 13, {"..", "..", "sub", "deep.txt"}), 0u);
}

TEST_F(ShareServer, SymlinkReadlinkAndHardLink) {
  EXPECT_EQ(symlink(kRoot, "ln", "hello.txt"), 0u);
  ASSERT_EQ(walk(kRoot, 10, {"ln"}), 0u);
  Reply r = rpc(p9::kTreadlink, [](p9::Writer& w) { w.u32(10); });
  ASSERT_EQ(r.error(), 0u);
  p9::Reader b = r.body();
  p9::Str t = b.str();
  EXPECT_EQ(std::string(t.data, t.size), "hello.txt");
  ASSERT_EQ(walk(kRoot, 11, {"hello.txt"}), 0u);
  EXPECT_EQ(link(kRoot, 11, "hard.txt"), 0u);
  EXPECT_EQ(slurp(root_ + "/hard.txt"), "hello, share\n");
}

TEST_F(ShareServer, ReadOnlyShareRefusesEveryChange) {
  ASSERT_EQ(walk(kRoRoot, 10, {"hello.txt"}), 0u);
  EXPECT_EQ(lopen(10, O_RDWR), uint32_t(EROFS));
  EXPECT_EQ(lopen(10, O_WRONLY), uint32_t(EROFS));
  EXPECT_EQ(lopen(10, O_RDONLY | O_TRUNC), uint32_t(EROFS));
  EXPECT_EQ(lopen(10, O_RDONLY), 0u);
  EXPECT_EQ(write(10, 0, "x"), uint32_t(EROFS));
  EXPECT_EQ(truncate(10, 0), uint32_t(EROFS));
  ASSERT_EQ(walk(kRoRoot, 11, {}), 0u);
  EXPECT_EQ(lcreate(11, "new"), uint32_t(EROFS));
  EXPECT_EQ(mkdir(kRoRoot, "d"), uint32_t(EROFS));
  EXPECT_EQ(symlink(kRoRoot, "s", "x"), uint32_t(EROFS));
  EXPECT_EQ(unlinkat(kRoRoot, "hello.txt"), uint32_t(EROFS));
  EXPECT_EQ(renameat(kRoRoot, "hello.txt", kRoRoot, "x"), uint32_t(EROFS));
  EXPECT_EQ(link(kRoRoot, 10, "hard"), uint32_t(EROFS));
  EXPECT_EQ(slurp(root_ + "/hello.txt"), "hello, share\n");
  DIR* d = opendir(root_.c_str());
  int n = 0;
  while (::readdir(d)) ++n;
  closedir(d);
  EXPECT_EQ(n, 4);  // . .. hello.txt sub: nothing added
}

TEST_F(ShareServer, EscapeDotDotPastTheRoot) {
  // ".." at the share root stays at the root.
  EXPECT_NE(walk(kRoot, 10, {"..", "secret"}), 0u);
  EXPECT_NE(walk(kRoot, 10, {"..", "..", "..", "etc", "passwd"}), 0u);
  EXPECT_NE(walk(kRoot, 10, {"sub", "..", "..", "secret"}), 0u);
  expect_unreadable({"..", "secret"});
  ASSERT_EQ(walk(kRoot, 10, {"..", ".."}), 0u);
  uint32_t e;
  p9::Attr a = getattr(10, &e);
  struct stat st;
  ASSERT_EQ(stat(root_.c_str(), &st), 0);
  EXPECT_EQ(a.qid.path, uint64_t(st.st_ino));  // still the share root
}

TEST_F(ShareServer, EscapeNamesWithSlashes) {
  EXPECT_NE(walk(kRoot, 10, {"../secret"}), 0u);
  EXPECT_NE(walk(kRoot, 10, {"sub/../../secret"}), 0u);
  EXPECT_NE(walk(kRoot, 10, {"/etc"}), 0u);
  EXPECT_EQ(lcreate(kRoot, "../created"), uint32_t(EINVAL));
  EXPECT_EQ(mkdir(kRoot, "../made"), uint32_t(EINVAL));
  EXPECT_EQ(unlinkat(kRoot, "../secret"), uint32_t(EINVAL));
  EXPECT_EQ(symlink(kRoot, "../s", "x"), uint32_t(EINVAL));
  EXPECT_EQ(renameat(kRoot, "../secret", kRoot, "stolen"), uint32_t(EINVAL));
  EXPECT_EQ(access((top_ + "/created").c_str(), F_OK), -1);
  EXPECT_EQ(access((top_ + "/made").c_str(), F_OK), -1);
  EXPECT_EQ(slurp(top_ + "/secret"), kSecret);
}

TEST_F(ShareServer, EscapeAbsoluteSymlink) {
  ASSERT_EQ(::symlink((top_ + "/secret").c_str(), (root_ + "/abs").c_str()), 0);
  ASSERT_EQ(::symlink("/etc", (root_ + "/etc").c_str()), 0);
  ASSERT_EQ(::symlink(top_.c_str(), (root_ + "/topdir").c_str()), 0);
  // The link itself can be walked to (and read with readlink), never through.
  ASSERT_EQ(walk(kRoot, 10, {"abs"}), 0u);
  EXPECT_EQ(lopen(10, O_RDONLY), uint32_t(ELOOP));
  EXPECT_NE(read(10).find("errno"), std::string::npos);
  EXPECT_NE(walk(kRoot, 11, {"etc", "passwd"}), 0u);
  EXPECT_NE(walk(kRoot, 11, {"topdir", "secret"}), 0u);
  expect_unreadable({"abs"});
  expect_unreadable({"etc", "passwd"});
  expect_unreadable({"topdir", "secret"});
  // Nor through the fid's other uses.
  EXPECT_EQ(truncate(10, 0), uint32_t(EINVAL));
  EXPECT_NE(link(kRoot, 10, "hard"), 0u);
  EXPECT_EQ(access((root_ + "/hard").c_str(), F_OK), -1);
  EXPECT_EQ(slurp(top_ + "/secret"), kSecret);
}

TEST_F(ShareServer, EscapeRelativeSymlinkChain) {
  // c1 -> c2 -> c3 -> ../ (the share's parent); out -> ../secret
  ASSERT_EQ(::symlink("c2", (root_ + "/c1").c_str()), 0);
  ASSERT_EQ(::symlink("c3", (root_ + "/c2").c_str()), 0);
  ASSERT_EQ(::symlink("../", (root_ + "/c3").c_str()), 0);
  ASSERT_EQ(::symlink("../secret", (root_ + "/out").c_str()), 0);
  ASSERT_EQ(::symlink("../../outdir", (root_ + "/sub/up").c_str()), 0);
  EXPECT_NE(walk(kRoot, 10, {"c1", "secret"}), 0u);
  EXPECT_NE(walk(kRoot, 10, {"c3", "secret"}), 0u);
  EXPECT_NE(walk(kRoot, 10, {"sub", "up", "inner"}), 0u);
  expect_unreadable({"c1"});
  expect_unreadable({"out"});
  expect_unreadable({"sub", "up", "inner"});
  ASSERT_EQ(walk(kRoot, 10, {"c1"}), 0u);
  EXPECT_EQ(lopen(10, O_RDONLY | O_DIRECTORY), uint32_t(ELOOP));
}

TEST_F(ShareServer, EscapeSymlinkSwappedInForADirectory) {
  // A fid on a real directory keeps naming that directory even when the host
  // replaces its path with a symlink out.
  ASSERT_EQ(walk(kRoot, 10, {"sub"}), 0u);
  ASSERT_EQ(rename((root_ + "/sub").c_str(), (root_ + "/old").c_str()), 0);
  ASSERT_EQ(::symlink(top_.c_str(), (root_ + "/sub").c_str()), 0);
  EXPECT_NE(walk(10, 11, {"secret"}), 0u);
  EXPECT_NE(walk(kRoot, 11, {"sub", "secret"}), 0u);
  EXPECT_EQ(walk(10, 11, {"deep.txt"}), 0u);
}

TEST_F(ShareServer, AttachUnknownShareAndMalformedMessages) {
  EXPECT_EQ(attach(20, "7"), uint32_t(ENOENT));
  EXPECT_EQ(attach(20, "../"), uint32_t(ENOENT));
  EXPECT_EQ(attach(kRoot, "0"), uint32_t(EBADF));  // fid in use
  // A request whose size field lies.
  uint8_t req[] = {40, 0, 0, 0, p9::kTclunk, 5, 0, 1, 0, 0, 0};
  uint8_t resp[64];
  size_t n = server_.dispatch(req, sizeof req, resp, sizeof resp);
  p9::Reader r(resp, uint32_t(n));
  uint8_t type;
  uint16_t tag;
  ASSERT_TRUE(r.header(&type, &tag));
  EXPECT_EQ(type, p9::kRlerror);
  EXPECT_EQ(r.u32(), uint32_t(EPROTO));
  // A truncated body.
  uint8_t shortreq[] = {9, 0, 0, 0, p9::kTclunk, 5, 0, 1, 0};
  n = server_.dispatch(shortreq, sizeof shortreq, resp, sizeof resp);
  p9::Reader r2(resp, uint32_t(n));
  ASSERT_TRUE(r2.header(&type, &tag));
  EXPECT_EQ(type, p9::kRlerror);
  EXPECT_EQ(r2.u32(), uint32_t(EPROTO));
  // Unknown message types.
  EXPECT_EQ(rpc(p9::kTxattrwalk, [](p9::Writer& w) { w.u32(1); }).error(), uint32_t(EOPNOTSUPP));
}

// Found by share_fuzz (tests/fuzz/corpus/share_fuzz/crash-tversion-tiny-msize):
// a Tversion with msize below 4096 was refused, but the server kept that
// msize, so every later message (a correct Tversion included) was larger
// than it and got EPROTO: the session could never recover.
TEST_F(ShareServer, RefusedTinyMsizeDoesNotWedgeTheSession) {
  Reply bad = rpc(p9::kTversion, [](p9::Writer& w) {
    w.u32(4);
    w.str("9P2000.L", 8);
  });
  EXPECT_EQ(bad.error(), uint32_t(EINVAL));
  Reply good = rpc(p9::kTversion, [](p9::Writer& w) {
    w.u32(8192);
    w.str("9P2000.L", 8);
  });
  ASSERT_EQ(good.type, p9::kRversion);
  EXPECT_EQ(good.body().u32(), 8192u);
  EXPECT_EQ(attach(kRoot, "0"), 0u);
  EXPECT_EQ(walk(kRoot, 2, {"hello.txt"}), 0u);
}

TEST(ShareServerSetup, MissingHostDirectoryIsOneLine) {
  Server s;
  std::string e;
  EXPECT_FALSE(s.add_share("/nonexistent-mote-dir", true, &e));
  EXPECT_EQ(e, "/nonexistent-mote-dir: No such file or directory");
  EXPECT_FALSE(s.add_share("/proc/self/status", true, &e));
  EXPECT_EQ(e, "/proc/self/status: Not a directory");
}

}  // namespace
}  // namespace mote::share
