#include "monitor/image/program.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "monitor/image/rootfs.h"

namespace mote::image {

Result<usize> pread_fn(void* ctx, u64 off, void* buf, usize len) {
  int fd = *static_cast<int*>(ctx);
  usize done = 0;
  while (done < len) {
    ssize_t r = pread(fd, static_cast<char*>(buf) + done, len - done, off_t(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return err(errno);
    if (r == 0) break;
    done += usize(r);
  }
  return done;
}

namespace {

bool read_interp(int fd, const elf::Image& img, std::string* out) {
  if (img.interp_size == 0 || img.interp_size > PATH_MAX) return false;
  std::string s(img.interp_size, '\0');
  auto r = pread_fn(&fd, img.interp_offset, s.data(), s.size());
  if (!r.ok() || r.value() != s.size()) return false;
  s.resize(strnlen(s.c_str(), s.size()));
  if (s.empty() || s[0] != '/') return false;
  *out = s;
  return true;
}

std::string search_path(const std::string& name) {
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + name;
    if (access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

}  // namespace

bool open_program(const std::string& name, Program* out, std::string* error, int* status) {
  *status = 126;
  std::string path = name;
  if (name.find('/') == std::string::npos) {
    path = search_path(name);
    if (path.empty()) {
      *error = name + ": program not found (not a path, and not in $PATH)";
      *status = 127;
      return false;
    }
  }
  int fd = open(path.c_str(), O_RDONLY);  // no O_CLOEXEC: the core inherits it
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) *status = 127;
    *error = name + ": " + strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = name + ": " + strerror(errno);
    close(fd);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    *error = name + ": is a directory";
    close(fd);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = name + ": not a regular file";
    close(fd);
    return false;
  }
  static elf::Image img;
  elf::Problem p = elf::parse(pread_fn, &fd, u64(st.st_size), &img);
  std::string interp;
  if ((p == elf::Problem::Dynamic || p == elf::Problem::None) && img.interp_size) {
    // A dynamic program: its loader runs it from a root filesystem image.
    if (!read_interp(fd, img, &interp)) {
      *error = name + ": " + elf::describe(elf::Problem::BadSegment, img.machine);
      close(fd);
      return false;
    }
    p = elf::Problem::None;
  }
  if (p != elf::Problem::None) {
    *error = name + ": " + elf::describe(p, img.machine);
    if (p == elf::Problem::WrongMachine)
      *error = name + ": ELF executable for " + elf::machine_name(img.machine) +
               " (mote runs x86-64 programs)";
    close(fd);
    return false;
  }
  char real[PATH_MAX];
  out->path = realpath(path.c_str(), real) ? real : path;
  out->load_path = out->path;
  out->fd = fd;
  out->size = u64(st.st_size);
  out->pie = img.pie;
  out->interp = interp;
  out->named_path = absolute_path(path);
  return true;
}

void use_rootfs(Program* p, int fd, uint64_t offset, uint64_t size, const std::string& guest_path,
                const std::string& load_path) {
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  p->size = 0;
  p->path = guest_path;
  p->load_path = load_path;
  p->initramfs_fd = fd;
  p->initramfs_offset = offset;
  p->initramfs_size = size;
}

bool adopt_program(int fd, const std::string& name, const std::string& guest_path, Program* out,
                   std::string* error, int* status) {
  *status = 126;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = name + ": " + strerror(errno);
    close(fd);
    return false;
  }
  static elf::Image img;
  elf::Problem p = elf::parse(pread_fn, &fd, u64(st.st_size), &img);
  if (p != elf::Problem::None) {
    *error = name + ": " + elf::describe(p, img.machine);
    close(fd);
    return false;
  }
  out->fd = fd;
  out->path = guest_path;
  out->load_path = "/proc/self/fd/" + std::to_string(fd);
  out->size = u64(st.st_size);
  out->pie = img.pie;
  return true;
}

}  // namespace mote::image
