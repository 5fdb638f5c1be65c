#include "monitor/image/cpio.h"

#include "abi/rootfs_index.h"
#include "monitor/util/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mote::image {

namespace {

constexpr size_t kHeader = 110;  // "070701" + 13 fields of 8 hex digits
constexpr const char* kTrailer = "TRAILER!!!";

uint64_t align4(uint64_t v) { return (v + 3) & ~uint64_t(3); }
uint64_t page_up(uint64_t v) { return (v + kCpioPage - 1) & ~(kCpioPage - 1); }

// Buffered writes at explicit offsets; file data goes around the buffer.
class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}

  uint64_t offset() const { return base_ + buf_.size(); }
  void append(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    if (buf_.size() >= (1u << 20)) flush();
  }
  void zeros(uint64_t n) { buf_.append(n, '\0'); }

  bool flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      ssize_t w = pwrite(fd_, buf_.data() + done, buf_.size() - done, off_t(base_ + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return fail_errno();
      done += size_t(w);
    }
    base_ += buf_.size();
    buf_.clear();
    return ok_;
  }

  // Copies `size` bytes of `src` at the current offset (cut or zero-padded
  // when the file's size changed).
  bool copy(int src, uint64_t size) {
    if (!flush()) return false;
    loff_t in = 0, out = loff_t(base_);
    uint64_t left = size;
    bool kernel_copy = true;
    while (left) {
      if (kernel_copy) {
        ssize_t n = copy_file_range(src, &in, fd_, &out, left, 0);
        if (n > 0) {
          left -= uint64_t(n);
          continue;
        }
        if (n == 0) break;  // end of the source
        if (errno == EINTR) continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP &&
            errno != EBADF)
          return fail_errno();
        kernel_copy = false;
      }
      char chunk[1 << 16];
      ssize_t r = pread(src, chunk, std::min<uint64_t>(left, sizeof chunk), in);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno();
      if (r == 0) break;
      for (ssize_t done = 0; done < r;) {
        ssize_t w = pwrite(fd_, chunk + done, size_t(r - done), out + done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail_errno();
        done += w;
      }
      in += r;
      out += r;
      left -= uint64_t(r);
    }
    base_ = uint64_t(out);
    zeros(left);  // the file shrank since it was listed
    return ok_;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail_errno() {
    if (ok_) error_ = strerror(errno);
    ok_ = false;
    return false;
  }
  int fd_;
  uint64_t base_ = 0;
  std::string buf_;
  bool ok_ = true;
  std::string error_;
};

void header(Writer& w, uint32_t ino, uint32_t mode, uint32_t nlink, uint64_t mtime,
            uint64_t filesize, uint64_t namesize) {
  char h[kHeader + 1];
  uint32_t mt = mtime > 0xffffffffu ? 0xffffffffu : uint32_t(mtime);
  snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode,
           0u, 0u, nlink, mt, uint32_t(filesize), 0u, 0u, 0u, 0u, uint32_t(namesize), 0u);
  w.append(h, kHeader);
}

bool parse_hex(const char* p, uint32_t* out) {
  uint32_t v = 0;
  for (int i = 0; i < 8; ++i) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return false;
    v = v << 4 | uint32_t(d);
  }
  *out = v;
  return true;
}

using util::pread_all;

}  // namespace

uint64_t write_cpio(int fd, std::vector<CpioEntry> entries, std::string* error) {
  std::sort(entries.begin(), entries.end(),
            [](const CpioEntry& a, const CpioEntry& b) { return a.path < b.path; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].path == entries[i - 1].path) {
      *error = "two entries for " + entries[i].path;
      return 0;
    }
  }
  Writer w(fd);
  uint32_t ino = 0;
  // The index after the archive (abi/rootfs_index.h).
  std::vector<abi::IndexEntry> index;
  std::string names;
  auto indexed = [&](const CpioEntry& e, uint64_t data_offset, uint64_t size) {
    abi::IndexEntry x{};
    x.mode = e.mode;
    x.name_offset = uint32_t(names.size());
    x.name_length = uint32_t(e.path.size());
    x.mtime = e.mtime;
    x.data_offset = data_offset;
    x.size = size;
    index.push_back(x);
    names += e.path;
  };
  for (const auto& e : entries) {
    if (e.path.empty() || e.path[0] == '/') {
      *error = "bad archive path '" + e.path + "'";
      return 0;
    }
    uint32_t type = e.mode & S_IFMT;
    uint64_t namesize = e.path.size() + 1;
    if (type == S_IFDIR) {
      header(w, ++ino, e.mode, 2, e.mtime, 0, namesize);
      w.append(e.path.c_str(), namesize);
      w.zeros(align4(w.offset()) - w.offset());
      indexed(e, 0, 0);
    } else if (type == S_IFLNK) {
      header(w, ++ino, e.mode, 1, e.mtime, e.link_target.size(), namesize);
      w.append(e.path.c_str(), namesize);
      w.zeros(align4(w.offset()) - w.offset());
      indexed(e, w.offset(), e.link_target.size());
      w.append(e.link_target.data(), e.link_target.size());
      w.zeros(align4(w.offset()) - w.offset());
    } else if (type == S_IFREG) {
      if (e.size > 0xffffffffu) {
        *error = e.host_path + ": too large for a cpio archive (4 GiB at most)";
        return 0;
      }
      int src = open(e.host_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (src < 0) {
        *error = e.host_path + ": " + strerror(errno);
        return 0;
      }
      uint64_t start = w.offset();
      if (e.size >= kCpioAlignedFileMin) {  // name padding up to the next page
        namesize = page_up(start + kHeader + namesize) - (start + kHeader);
        if (namesize > kCpioMaxNameSize) {
          // Too much padding for one name: a "." entry (the root directory
          // again, harmless to every reader) takes up the room first.
          uint64_t data = page_up(start + kHeader + 2 + kHeader + e.path.size() + 1);
          uint64_t at = (data - kHeader - e.path.size() - 1) & ~uint64_t(3);
          uint64_t filler = at - start - kHeader;
          header(w, 0, S_IFDIR | 0755, 2, 0, 0, filler);
          w.append(".", 1);
          w.zeros(filler - 1);
          namesize = data - kHeader - at;
        }
      }
      header(w, ++ino, e.mode, 1, e.mtime, e.size, namesize);
      w.append(e.path.c_str(), e.path.size());
      w.zeros(namesize - e.path.size());
      w.zeros(align4(w.offset()) - w.offset());
      indexed(e, w.offset(), e.size);
      bool ok = w.copy(src, e.size);
      close(src);
      if (!ok) {
        *error = e.host_path + ": " + w.error();
        return 0;
      }
      w.zeros(align4(w.offset()) - w.offset());
    } else {
      *error = e.path + ": only directories, regular files and symlinks can be packed";
      return 0;
    }
  }
  header(w, 0, 0, 1, 0, 0, strlen(kTrailer) + 1);
  w.append(kTrailer, strlen(kTrailer) + 1);
  w.zeros(align4(w.offset()) - w.offset());
  w.zeros(((w.offset() + 7) & ~uint64_t(7)) - w.offset());
  abi::IndexFooter footer{w.offset(), {}};
  memcpy(footer.magic, abi::kIndexMagic, sizeof footer.magic);
  abi::IndexHeader ih{};
  memcpy(ih.magic, abi::kIndexMagic, sizeof ih.magic);
  ih.count = uint32_t(index.size());
  ih.names_size = uint32_t(names.size());
  w.append(reinterpret_cast<const char*>(&ih), sizeof ih);
  if (!index.empty())
    w.append(reinterpret_cast<const char*>(index.data()), index.size() * sizeof(abi::IndexEntry));
  w.append(names.data(), names.size());
  w.zeros(((w.offset() + 7) & ~uint64_t(7)) - w.offset());
  w.append(reinterpret_cast<const char*>(&footer), sizeof footer);
  uint64_t size = w.offset();
  if (!w.flush() || ftruncate(fd, off_t(size)) != 0) {
    *error = w.error().empty() ? strerror(errno) : w.error();
    return 0;
  }
  return size;
}

bool read_cpio(int fd, uint64_t offset, uint64_t size, std::vector<CpioItem>* out,
               std::string* error) {
  out->clear();
  uint64_t pos = 0;
  while (true) {
    char h[kHeader];
    if (size - pos < kHeader || !pread_all(fd, h, kHeader, offset + pos)) {
      *error = "truncated cpio archive (no TRAILER!!!)";
      return false;
    }
    if (memcmp(h, "070701", 6) != 0) {
      *error = "bad cpio header magic at offset " + std::to_string(pos);
      return false;
    }
    uint32_t f[13];
    for (int i = 0; i < 13; ++i) {
      if (!parse_hex(h + 6 + 8 * i, &f[i])) {
        *error = "bad cpio header field at offset " + std::to_string(pos);
        return false;
      }
    }
    CpioItem it;
    it.ino = f[0], it.mode = f[1], it.uid = f[2], it.gid = f[3], it.nlink = f[4], it.mtime = f[5];
    it.size = f[6];
    uint32_t namesize = f[11];
    if (namesize == 0 || namesize > kCpioMaxNameSize || namesize > size - pos - kHeader) {
      *error = "bad cpio name size at offset " + std::to_string(pos);
      return false;
    }
    std::string name(namesize, '\0');
    if (!pread_all(fd, name.data(), namesize, offset + pos + kHeader)) {
      *error = "truncated cpio archive";
      return false;
    }
    size_t nul = name.find('\0');
    if (nul == std::string::npos) {
      *error = "cpio name without a NUL at offset " + std::to_string(pos);
      return false;
    }
    it.path = name.substr(0, nul);
    it.data_offset = align4(pos + kHeader + namesize);
    if (it.data_offset > size || size - it.data_offset < it.size) {
      *error = "truncated cpio archive (" + it.path + " runs past its end)";
      return false;
    }
    pos = align4(it.data_offset + it.size);
    if (it.path == kTrailer) return true;
    if ((it.mode & S_IFMT) == S_IFLNK) {
      if (it.size > 4096) {
        *error = "cpio symlink " + it.path + " has a too long target";
        return false;
      }
      it.link_target.resize(it.size);
      if (!pread_all(fd, it.link_target.data(), it.size, offset + it.data_offset)) {
        *error = "truncated cpio archive";
        return false;
      }
    }
    out->push_back(std::move(it));
    if (pos > size) {
      *error = "truncated cpio archive (no TRAILER!!!)";
      return false;
    }
  }
}

}  // namespace mote::image
