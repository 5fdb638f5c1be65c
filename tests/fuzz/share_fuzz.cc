// libFuzzer target: the monitor's 9P2000.L share server
// (monitor/share/server.cc), which serves a guest that may send anything.
// The input is a stream of 9P messages, each cut at its own size[4] field
// (clamped to what is left); the harness first negotiates the version and
// attaches fid 0 to a read-write share (aname "0") and fid 1 to a read-only
// one ("1"), so the fuzzer starts inside a session.
//
// The trees, beside a secret the guest must never reach:
//   TOP/secret                 random bytes (outside the shares)
//   TOP/outdir/inner           random bytes (outside the shares)
//   TOP/share/                 the read-write share, rebuilt before every input
//     hello.txt, sub/deep.txt
//     out -> ../secret, abs -> TOP/secret, outdir -> ../outdir,
//     sub/up -> ../../secret   (symlinks that point outside)
//   TOP/ro/                    the read-only share, made once: it never changes
//     ro.txt, sub/inner.txt, link -> ro.txt, up -> ../secret
// Checked after every message:
//   - the reply is well formed (size field = length, type R or Rlerror, tag);
//   - no reply carries the secret bytes (the search is not instrumented, so
//     the fuzzer cannot learn them byte by byte from comparisons);
//   - after a successful reply, every fd the server holds resolves beneath
//     a share root (/proc/self/fd): the confinement itself, not just its
//     effect.
// After each input: nothing outside the read-write share changed (mtime,
// ctime, size, mode, link count of TOP, the secret, outdir and inner, and of
// everything in the read-only share, whose listing must not change either),
// a well-formed
// Tversion still succeeds (a client can always start over), and once the
// server is gone no fd it opened is left.
// SHARE_FUZZ_TRACE=1 in the environment prints each message's type and the
// reply (type, or errno for Rlerror): for reading a crash input or a seed.
// TOP is /dev/shm/mote-share-fuzz-XXXXXX (else under /tmp), removed at a
// normal exit and left as it was after a crash, for a look.
#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "abi/p9.h"
#include "monitor/share/server.h"

namespace {

constexpr size_t kMaxMessages = 64;

// The harness's own code is not instrumented: its comparisons would only lead
// the fuzzer away from the server (and must not teach it the secret).
#define NOT_FUZZED __attribute__((no_sanitize("coverage")))

struct Tree {
  std::string top, root, ro_root;
  uint8_t secret[32], inner[32];
};

void fail(const char* what, const std::string& detail = "") {
  fprintf(stderr, "share_fuzz: %s %s\n", what, detail.c_str());
  abort();
}

void put_file(const std::string& path, const void* data, size_t n) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, data, n) != ssize_t(n) || close(fd) != 0) fail("cannot write", path);
}

// Removes everything beneath dirfd (which it closes), never following a
// symlink; directories the fuzzer made unsearchable are opened up first.
NOT_FUZZED void empty_dir(int dirfd) {
  DIR* d = fdopendir(dirfd);
  if (!d) fail("fdopendir");
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  for (const auto& n : names) {
    struct stat st;
    if (fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      fchmodat(dirfd, n.c_str(), 0755, 0);
      int sub = openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) fail("cannot open", n);
      empty_dir(sub);
      if (unlinkat(dirfd, n.c_str(), AT_REMOVEDIR) != 0) fail("cannot rmdir", n);
    } else if (unlinkat(dirfd, n.c_str(), 0) != 0) {
      fail("cannot unlink", n);
    }
  }
  closedir(d);
}

Tree& tree() {
  static Tree* t = [] {
    auto* t = new Tree;
    // tmpfs when there is one: Tfsync and O_SYNC opens on a disk cost milliseconds.
    std::string tmpl = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    tmpl += "/mote-share-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) fail("mkdtemp");
    t->top = tmpl;
    t->root = t->top + "/share";
    if (getrandom(t->secret, sizeof t->secret, 0) != sizeof t->secret ||
        getrandom(t->inner, sizeof t->inner, 0) != sizeof t->inner)
      fail("getrandom");
    put_file(t->top + "/secret", t->secret, sizeof t->secret);
    if (mkdir((t->top + "/outdir").c_str(), 0755) != 0) fail("mkdir outdir");
    put_file(t->top + "/outdir/inner", t->inner, sizeof t->inner);
    if (mkdir(t->root.c_str(), 0755) != 0) fail("mkdir share");
    t->ro_root = t->top + "/ro";
    const std::string r = t->ro_root;
    if (mkdir(r.c_str(), 0755) != 0 || mkdir((r + "/sub").c_str(), 0755) != 0) fail("mkdir ro");
    put_file(r + "/ro.txt", "read only\n", 10);
    put_file(r + "/sub/inner.txt", "inner\n", 6);
    if (symlink("ro.txt", (r + "/link").c_str()) != 0 || symlink("../secret", (r + "/up").c_str()) != 0)
      fail("symlink ro");
    atexit([] {
      std::string cmd = "rm -rf '" + tree().top + "'";
      if (system(cmd.c_str()) != 0) fprintf(stderr, "share_fuzz: could not remove %s\n", cmd.c_str());
    });
    return t;
  }();
  return *t;
}

NOT_FUZZED void rebuild(const Tree& t) {
  chmod(t.root.c_str(), 0755);
  int fd = open(t.root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail("cannot open the share root");
  empty_dir(fd);
  const std::string r = t.root;
  put_file(r + "/hello.txt", "hello, share\n", 13);
  if (mkdir((r + "/sub").c_str(), 0755) != 0) fail("mkdir sub");
  put_file(r + "/sub/deep.txt", "deep\n", 5);
  if (symlink("../secret", (r + "/out").c_str()) != 0 ||
      symlink((t.top + "/secret").c_str(), (r + "/abs").c_str()) != 0 ||
      symlink("../outdir", (r + "/outdir").c_str()) != 0 ||
      symlink("../../secret", (r + "/sub/up").c_str()) != 0)
    fail("symlink");
}

// What must not change: (path, lstat) of the files beside the read-write
// share and of everything in the read-only share, in a fixed order.
using Snapshot = std::vector<std::pair<std::string, struct stat>>;

NOT_FUZZED void add_tree(const std::string& path, Snapshot* s) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) fail("cannot stat", path);
  s->emplace_back(path, st);
  if (!S_ISDIR(st.st_mode)) return;
  DIR* d = opendir(path.c_str());
  if (!d) fail("cannot list", path);
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) add_tree(path + "/" + n, s);
}

NOT_FUZZED Snapshot outside(const Tree& t) {
  Snapshot s;
  for (const std::string& p : {t.top, t.top + "/secret", t.top + "/outdir", t.top + "/outdir/inner"}) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) fail("outside file gone:", p);
    s.emplace_back(p, st);
  }
  add_tree(t.ro_root, &s);
  return s;
}

NOT_FUZZED void same_outside(const Snapshot& a, const Snapshot& b) {
  if (a.size() != b.size()) fail("files appeared or went outside the read-write share");
  for (size_t i = 0; i < a.size(); ++i) {
    const struct stat &x = a[i].second, &y = b[i].second;
    if (a[i].first != b[i].first || x.st_ino != y.st_ino || x.st_mode != y.st_mode ||
        x.st_nlink != y.st_nlink || x.st_uid != y.st_uid || x.st_gid != y.st_gid ||
        x.st_size != y.st_size || x.st_mtim.tv_sec != y.st_mtim.tv_sec ||
        x.st_mtim.tv_nsec != y.st_mtim.tv_nsec || x.st_ctim.tv_sec != y.st_ctim.tv_sec ||
        x.st_ctim.tv_nsec != y.st_ctim.tv_nsec)
      fail("changed outside the read-write share:", b[i].first);
  }
}

// Not instrumented: comparisons here must not teach the fuzzer the secret.
NOT_FUZZED bool contains(const uint8_t* hay, size_t n,
                                                       const uint8_t* needle, size_t k) {
  for (size_t i = 0; i + k <= n; ++i) {
    size_t j = 0;
    while (j < k && hay[i + j] == needle[j]) ++j;
    if (j == k) return true;
  }
  return false;
}

// The open fds of this process and what each resolves to.
NOT_FUZZED std::vector<std::pair<int, std::string>> open_fds() {
  std::vector<std::pair<int, std::string>> out;
  DIR* d = opendir("/proc/self/fd");
  if (!d) fail("opendir /proc/self/fd");
  int self = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == self) continue;
    char link[4096];
    ssize_t n = readlinkat(self, e->d_name, link, sizeof link - 1);
    out.emplace_back(fd, n < 0 ? std::string() : std::string(link, size_t(n)));
  }
  closedir(d);
  return out;
}

NOT_FUZZED std::set<int> fd_numbers() {
  std::set<int> s;
  for (auto& [fd, path] : open_fds()) s.insert(fd);
  return s;
}

NOT_FUZZED bool beneath(const std::string& path, const std::string& root) {
  std::string p = path;
  const std::string deleted = " (deleted)";
  if (p.size() > deleted.size() && p.compare(p.size() - deleted.size(), deleted.size(), deleted) == 0)
    p.resize(p.size() - deleted.size());
  return p == root || (p.size() > root.size() && p.compare(0, root.size(), root) == 0 &&
                       p[root.size()] == '/');
}

NOT_FUZZED void check_confined(const Tree& t, const std::set<int>& baseline) {
  for (auto& [fd, path] : open_fds())
    if (!baseline.count(fd) && !beneath(path, t.root) && !beneath(path, t.ro_root))
      fail("the server holds an fd outside the shares:", path);
}

bool trace() {
  static const bool on = getenv("SHARE_FUZZ_TRACE") != nullptr;
  return on;
}

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Sends one message; checks the reply's framing and that it leaks nothing.
uint8_t send(mote::share::Server& s, const Tree& t, const uint8_t* msg, size_t n,
             std::vector<uint8_t>& resp) {
  // Exact size on the heap: a read one byte past is an ASan report.
  auto* req = static_cast<uint8_t*>(malloc(n ? n : 1));
  if (n) memcpy(req, msg, n);
  size_t m = s.dispatch(req, n, resp.data(), resp.size());
  if (m < mote::p9::kHeader || m > resp.size() || le32(resp.data()) != m) fail("bad reply framing");
  uint8_t type = resp[4];
  uint16_t tag = uint16_t(resp[5] | resp[6] << 8);
  if (n >= mote::p9::kHeader && le32(req) == n && n <= mote::p9::kMsize) {
    if (type != mote::p9::kRlerror && type != uint8_t(req[4] + 1)) fail("wrong reply type");
    // Any message within the smallest msize the server accepts is answered
    // under its own tag (a larger one may exceed the negotiated msize).
    if (n <= 4096 && tag != uint16_t(req[5] | req[6] << 8)) fail("wrong reply tag");
  } else if (type != mote::p9::kRlerror) {
    fail("a malformed message was not refused");
  }
  if (trace()) {
    uint32_t err = type == mote::p9::kRlerror && m >= 11 ? le32(resp.data() + 7) : 0;
    fprintf(stderr, "share_fuzz: T%u (%zu bytes) -> R%u%s%s\n", n >= 5 ? req[4] : 0, n, type,
            err ? " errno " : "", err ? strerror(int(err)) : "");
  }
  free(req);
  if (contains(resp.data(), m, t.secret, sizeof t.secret) ||
      contains(resp.data(), m, t.inner, sizeof t.inner))
    fail("a reply carries the contents of a file outside the share");
  return type;
}

std::vector<uint8_t> message(uint8_t type, const std::function<void(mote::p9::Writer&)>& body) {
  std::vector<uint8_t> buf(512);
  mote::p9::Writer w(buf.data(), uint32_t(buf.size()));
  w.begin(type, 1);
  body(w);
  buf.resize(w.finish());
  return buf;
}

std::vector<uint8_t> tversion() {
  return message(mote::p9::kTversion, [](mote::p9::Writer& w) {
    w.u32(mote::p9::kMsize);
    w.str("9P2000.L", 8);
  });
}

std::vector<uint8_t> tattach(uint32_t fid, const char* aname) {
  return message(mote::p9::kTattach, [&](mote::p9::Writer& w) {
    w.u32(fid);
    w.u32(mote::p9::kNoFid);
    w.str("root", 4);
    w.str(aname, uint32_t(strlen(aname)));
    w.u32(0);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Tree& t = tree();
  rebuild(t);
  Snapshot before = outside(t);
  std::set<int> baseline = fd_numbers();
  // Allocated once: zeroing 128 KiB every run was most of a run's time.
  static std::vector<uint8_t> resp(mote::p9::kMsize);
  {
    mote::share::Server server;
    std::string error;
    if (!server.add_share(t.root, false, &error) || !server.add_share(t.ro_root, true, &error))
      fail("add_share:", error);
    const std::vector<uint8_t> setup[] = {tversion(), tattach(0, "0"), tattach(1, "1")};
    for (const auto& m : setup)
      if (send(server, t, m.data(), m.size(), resp) == mote::p9::kRlerror) fail("setup refused");

    size_t pos = 0;
    for (size_t k = 0; k < kMaxMessages && pos < size; ++k) {
      size_t left = size - pos, len = left;
      if (left >= 4) {
        uint32_t declared = le32(data + pos);
        len = declared == 0 ? 4 : declared < left ? declared : left;
      }
      // A refused message that kept an fd is caught by the scan after the
      // last message; a scan after each one is only worth it for the others.
      if (send(server, t, data + pos, len, resp) != mote::p9::kRlerror) check_confined(t, baseline);
      pos += len;
    }
    check_confined(t, baseline);
    same_outside(before, outside(t));
    auto v = tversion();
    if (send(server, t, v.data(), v.size(), resp) != mote::p9::kRversion)
      fail("a well-formed Tversion was refused after the input");
  }
  if (fd_numbers() != baseline) fail("the server leaked an fd");
  return 0;
}
