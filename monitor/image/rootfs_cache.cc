#include "monitor/image/rootfs_cache.h"

#include "abi/rootfs_fast.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "monitor/util/io.h"

namespace mote::image {

namespace {

constexpr const char* kIndexMagic = abi::kIndexFileMagic;  // the launcher reads it too

uint64_t ns(const struct timespec& t) { return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec); }

CacheInput from_stat(InputKind kind, const struct stat& st) {
  CacheInput in;
  in.kind = kind;
  in.dev = st.st_dev;
  in.ino = st.st_ino;
  in.mode = st.st_mode;
  if (kind == InputKind::File) in.size = uint64_t(st.st_size);
  if (kind == InputKind::File || kind == InputKind::Listing) {
    in.mtime_ns = ns(st.st_mtim);
    in.ctime_ns = ns(st.st_ctim);
  }
  return in;
}

// Paths are stored with '%' and newlines escaped.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\n') out += "%0A";
    else out += c;
  }
  return out;
}

std::string unescape(const char* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == '%' && i + 2 < n) {
      if (p[i + 1] == '2' && p[i + 2] == '5') {
        out += '%';
        i += 2;
        continue;
      }
      if (p[i + 1] == '0' && p[i + 2] == 'A') {
        out += '\n';
        i += 2;
        continue;
      }
    }
    out += p[i];
  }
  return out;
}

bool stat_kind(InputKind kind, const std::string& path, struct stat* st) {
  return (kind == InputKind::Listing ? stat(path.c_str(), st) : lstat(path.c_str(), st)) == 0;
}

bool read_file(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size > (64 << 20)) {
    close(fd);
    return false;
  }
  out->resize(size_t(st.st_size));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t r = read(fd, out->data() + done, out->size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += size_t(r);
  }
  close(fd);
  out->resize(done);
  return true;
}

}  // namespace

void InputSet::note(InputKind kind, const std::string& path) {
  auto it = inputs_.find(path);
  if (it != inputs_.end() && (it->second.kind != InputKind::Walked || kind == InputKind::Walked))
    return;
  struct stat st;
  InputKind look = kind == InputKind::Absent ? InputKind::File : kind;
  CacheInput in;
  if (stat_kind(look, path, &st)) in = from_stat(look, st);
  inputs_[path] = in;  // Absent when it does not exist
}

bool index_still_valid(const std::string& index_path, std::string* image_key, std::string* interp) {
  std::string text;
  if (!read_file(index_path, &text)) return false;
  const char* p = text.data();
  const char* end = p + text.size();
  auto line = [&](const char** b, size_t* n) {
    if (p >= end) return false;
    const char* nl = static_cast<const char*>(memchr(p, '\n', size_t(end - p)));
    if (!nl) return false;
    *b = p;
    *n = size_t(nl - p);
    p = nl + 1;
    return true;
  };
  const char* b;
  size_t n;
  if (!line(&b, &n) || std::string(b, n) != kIndexMagic) return false;
  if (!line(&b, &n) || n != 64) return false;
  *image_key = std::string(b, n);
  if (!line(&b, &n)) return false;
  *interp = unescape(b, n);
  // Then: KIND DEV INO MODE SIZE MTIME CTIME PATH
  while (p < end) {
    if (!line(&b, &n) || n < 2) return false;
    std::string l(b, n);
    const char* q = l.c_str();
    InputKind kind = InputKind(q[0]);
    char* e = const_cast<char*>(q + 1);
    uint64_t v[6];
    for (auto& x : v) {
      x = strtoull(e, &e, 16);
      if (*e != ' ') return false;
    }
    std::string path = unescape(e + 1, strlen(e + 1));
    struct stat st;
    bool exists = stat_kind(kind == InputKind::Absent ? InputKind::File : kind, path, &st);
    if (kind == InputKind::Absent) {
      if (exists) return false;
      continue;
    }
    if (!exists) return false;
    CacheInput now = from_stat(kind, st);
    if (now.dev != v[0] || now.ino != v[1] || now.mode != v[2] || now.size != v[3] ||
        now.mtime_ns != v[4] || now.ctime_ns != v[5])
      return false;
  }
  return true;
}

bool write_index(const std::string& index_path, const std::string& image_key,
                 const std::string& interp, const InputSet& inputs, std::string* error) {
  std::string text = std::string(kIndexMagic) + "\n" + image_key + "\n" + escape(interp) + "\n";
  char buf[160];
  for (const auto& [path, in] : inputs.all()) {
    snprintf(buf, sizeof buf, "%c%llx %llx %llx %llx %llx %llx ", char(in.kind),
             (unsigned long long)in.dev, (unsigned long long)in.ino, (unsigned long long)in.mode,
             (unsigned long long)in.size, (unsigned long long)in.mtime_ns,
             (unsigned long long)in.ctime_ns);
    text += buf;
    text += escape(path);
    text += '\n';
  }
  return write_atomically(
      index_path, [&](int fd) {
        if (util::write_all(fd, text.data(), text.size())) return true;
        *error = index_path + ": " + strerror(errno);
        return false;
      },
      error);
}

bool write_atomically(const std::string& final_path, const std::function<bool(int fd)>& fill,
                      std::string* error) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, 0) != ssize_t(sizeof r)) r = uint64_t(getpid()) << 20;
  char suffix[40];
  snprintf(suffix, sizeof suffix, ".tmp-%d-%llx", getpid(), (unsigned long long)r);
  std::string tmp = final_path + suffix;
  int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = tmp + ": " + strerror(errno);
    return false;
  }
  bool ok = fill(fd);
  if (ok && close(fd) != 0) {
    *error = tmp + ": " + strerror(errno);
    ok = false;
  } else if (!ok) {
    close(fd);
  }
  if (ok && rename(tmp.c_str(), final_path.c_str()) != 0) {
    *error = final_path + ": " + strerror(errno);
    ok = false;
  }
  if (!ok) unlink(tmp.c_str());
  return ok;
}

bool make_dirs(const std::string& dir, std::string* error) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "cache directory " + part + ": " + strerror(errno);
      return false;
    }
  }
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = "cache directory " + dir + ": not a directory";
    return false;
  }
  return true;
}

}  // namespace mote::image
