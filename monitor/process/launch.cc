#include "monitor/process/launch.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "monitor/util/io.h"
#include <cstring>

#include "monitor/process/boot_blob.h"

extern "C" const unsigned char mote_core_image[];
extern "C" const unsigned char mote_core_image_end[];

namespace mote::launch {

namespace {

using util::write_all;

}  // namespace

namespace {
bool g_std_closed[3];
}  // namespace

void reserve_std_fds() {
  for (int fd = 0; fd < 3; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0) continue;
    g_std_closed[fd] = true;
    int n = open("/dev/null", O_RDWR);
    if (n >= 0 && n != fd) {
      dup2(n, fd);
      close(n);
    }
  }
}

bool std_fd_closed(int fd) { return fd >= 0 && fd < 3 && g_std_closed[fd]; }

std::vector<uint8_t> make_boot_blob(const cli::RunOptions& o, const image::Program& p,
                                    std::string* error) {
  BootRequest r;
  r.argv.push_back(o.program);
  r.argv.insert(r.argv.end(), o.args.begin(), o.args.end());
  r.envp = cli::guest_environment(o);
  r.program_path = p.path;
  r.hostname = o.hostname;
  r.cwd = "/";
  r.mem_limit = o.mem_bytes;
  r.cpus = o.cpus;
  r.flags = (o.strace ? abi::kBootStrace : 0u) | (o.verbose ? abi::kBootVerbose : 0u) |
            (o.tty ? abi::kBootTty : 0u) |
            (o.selftest == "sandbox-escape" ? abi::kBootSelftestEscape : 0u) |
            (o.selftest == "timer" ? abi::kBootSelftestTimer : 0u);
  r.program_fd = p.fd;
  r.program_size = p.size;
  // A root filesystem image (dynamic programs, --add): the core maps it from
  // this fd and finds the program at program_path in it.
  r.initramfs_fd = p.initramfs_fd;
  r.initramfs_offset = p.initramfs_offset;
  r.initramfs_size = p.initramfs_size;
  if (getrandom(r.seed, sizeof r.seed, 0) != ssize_t(sizeof r.seed)) {
    *error = std::string("getrandom: ") + strerror(errno);
    return {};
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  r.wall_clock_ns = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
  for (int fd = 0; fd < 3; ++fd) {
    r.console[fd] = probe_console(fd);
    if (g_std_closed[fd]) r.console[fd] = abi::ConsoleStream{};  // ConsoleKind::Closed
  }
  return build_boot_blob(r);
}

void exec_process_platform(const cli::RunOptions& o, const image::Program& p, std::string* error) {
  std::vector<uint8_t> blob = make_boot_blob(o, p, error);
  if (blob.empty()) return;

  // The boot info: a sealed memfd the core maps read-only (inherited).
  int boot_fd = memfd_create("mote-boot", MFD_ALLOW_SEALING);
  if (boot_fd < 0 || !write_all(boot_fd, blob.data(), blob.size())) {
    *error = std::string("boot info: ") + strerror(errno);
    return;
  }
  fcntl(boot_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);

  // The core image, embedded in this binary.
  int core_fd = memfd_create("mote-core", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  size_t core_size = size_t(mote_core_image_end - mote_core_image);
  if (core_fd < 0 || !write_all(core_fd, mote_core_image, core_size)) {
    *error = std::string("core image: ") + strerror(errno);
    return;
  }
  fcntl(core_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);

  std::string fd_arg = std::to_string(boot_fd);
  const char* argv[] = {"mote", fd_arg.c_str(), nullptr};
  const char* no_rewrite = getenv("MOTE_NO_REWRITE");
  const char* envp[] = {nullptr, nullptr};
  if (no_rewrite && strcmp(no_rewrite, "1") == 0) envp[0] = "MOTE_NO_REWRITE=1";
  syscall(SYS_execveat, core_fd, "", argv, envp, AT_EMPTY_PATH);
  *error = std::string("cannot start the kernel core: ") + strerror(errno);
}

}  // namespace mote::launch
