// mote: run unmodified Linux programs as unikernels.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "monitor/cli/options.h"
#include "monitor/cli/platform_choice.h"
#include "monitor/image/cpio.h"
#include "monitor/image/pack.h"
#include "monitor/image/program.h"
#include "monitor/image/rootfs.h"
#include "monitor/process/launch.h"
#include "monitor/kvm/launch.h"
#include "monitor/qemu/launch.h"
#include "monitor/share/server.h"
#include "monitor/util/gdb_listen.h"
#include "monitor/util/seccomp.h"
#include "monitor/util/seccomp_policies.h"

extern "C" const unsigned char mote_kernel_image[];
extern "C" const unsigned char mote_kernel_image_end[];

namespace {

int fail(const std::string& msg, int status = 125) {
  // One line, like docker's own errors; 125 = mote itself failed (as docker run).
  std::fprintf(stderr, "mote: %s\n", msg.c_str());
  return status;
}

const char* host_env(const char* name) { return getenv(name); }

// A copy of [offset, +size) of `fd` in a memfd (inherited), for the VM
// platforms that take a file of their own (QEMU's -initrd); -1 on failure.
int copy_to_memfd(int fd, uint64_t offset, uint64_t size, const char* name) {
  int mfd = memfd_create(name, 0);
  if (mfd < 0) return -1;
  loff_t in = loff_t(offset), out = 0;
  uint64_t left = size;
  while (left) {
    ssize_t n = copy_file_range(fd, &in, mfd, &out, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    left -= uint64_t(n);
  }
  std::vector<char> buf(1 << 16);
  while (left) {
    ssize_t r = pread(fd, buf.data(), std::min<uint64_t>(left, buf.size()), in);
    if (r <= 0 || pwrite(mfd, buf.data(), size_t(r), out) != r) {
      close(mfd);
      return -1;
    }
    in += r;
    out += r;
    left -= uint64_t(r);
  }
  return mfd;
}

// The program to run: a `mote pack` image (its program and, unless arguments
// are given, its arguments -- as docker run replaces an image's command), or
// a program file.
bool open_run_target(mote::cli::RunOptions& o, mote::image::Program* prog, std::string* error,
                     int* status) {
  int fd = open(o.program.c_str(), O_RDONLY | O_CLOEXEC);
  mote::image::PackedImage packed;
  if (fd >= 0 && mote::image::read_packed_image(fd, &packed)) {
    std::string image = o.program;
    o.program = packed.argv[0];
    if (o.args.empty()) o.args.assign(packed.argv.begin() + 1, packed.argv.end());
    std::string guest_path = packed.exe.empty() ? "/" + packed.argv[0] : packed.exe;
    if (!o.adds.empty()) {
      close(fd);
      *error = "--add " + o.adds[0] + ": a packed image cannot take more files (pack them with --add)";
      *status = 125;
      return false;
    }
    if (packed.initramfs_size) {
      // A packed dynamic program: the root filesystem image inside the file.
      // The process platform and the KVM monitor map it in place; QEMU takes
      // a file of its own.
      int rfd = fd;
      uint64_t offset = packed.initramfs_offset;
      std::string load_path = image;
      if (o.platform == mote::cli::Platform::Qemu) {
        rfd = copy_to_memfd(fd, offset, packed.initramfs_size, "mote-packed-rootfs");
        close(fd);
        offset = 0;
        load_path = "/proc/self/fd/" + std::to_string(rfd);
      } else {
        fcntl(fd, F_SETFD, 0);  // inherited by the core
      }
      if (rfd < 0) {
        *error = image + ": cannot read the packed root filesystem";
        *status = 126;
        return false;
      }
      mote::image::use_rootfs(prog, rfd, offset, packed.initramfs_size, guest_path, load_path);
      return true;
    }
    int mfd = copy_to_memfd(fd, packed.program_offset, packed.program_size, "mote-packed-program");
    close(fd);
    if (mfd < 0) {
      *error = image + ": cannot read the packed program";
      *status = 126;
      return false;
    }
    return mote::image::adopt_program(mfd, image, guest_path, prog, error, status);
  }
  if (fd >= 0) close(fd);
  if (!mote::image::open_program(o.program, prog, error, status)) return false;
  // Dynamic programs, --add and --debug-files: the program runs from a root
  // filesystem image.
  if (prog->interp.empty() && o.adds.empty() && !o.debug_files) return true;
  mote::image::RootfsRequest req;
  req.program = prog->named_path;
  req.adds = o.adds;
  req.debug_files = o.debug_files;
  req.guest_env = mote::cli::guest_environment(o);
  mote::image::Rootfs fs;
  if (!mote::image::build_rootfs(req, &fs, error, status)) return false;
  if (o.verbose)
    std::fprintf(stderr, "mote: root filesystem %s (%.1f MiB, %s, %.3f ms)\n", fs.path.c_str(),
                 double(fs.size) / (1 << 20),
                 fs.index_hit ? "cache hit" : fs.image_hit ? "cache hit after resolving" : "built",
                 double(fs.build_ns) / 1e6);
  mote::image::use_rootfs(prog, fs.fd, 0, fs.size, prog->named_path, fs.path);
  return true;
}

int cmd_run(const std::vector<std::string>& args) {
  std::string error;
  auto opts = mote::cli::parse_run(args, &error, host_env);
  if (!opts) return fail(error);
  if (!opts->selftest.empty() && opts->selftest != "hang" && opts->selftest != "assert" &&
      opts->selftest != "triple" && opts->selftest != "timer" &&
      opts->platform == mote::cli::Platform::Qemu)
    return fail(
        "--selftest runs on the process and kvm platforms (hang, assert, triple, timer: also qemu)");
  if (opts->selftest == "triple" && opts->platform != mote::cli::Platform::Qemu)
    return fail("--selftest triple needs --platform qemu");
  if (opts->platform == mote::cli::Platform::Kvm && !opts->selftest.empty() &&
      opts->selftest != "kernel")
    return fail("--platform kvm runs --selftest kernel only");
  if (opts->platform != mote::cli::Platform::Kvm && opts->selftest == "kernel")
    return fail("--selftest kernel needs --platform kvm");
  if (opts->selftest == "net" && opts->net.mode == mote::cli::NetMode::None)
    return fail("--selftest net needs a network (--net user or tap:NAME)");

  if (opts->platform == mote::cli::Platform::Auto) {
    auto choice = mote::cli::choose_platform();
    if (!opts->selftest.empty() && opts->selftest != "kernel") choice.platform = mote::cli::Platform::Process;
    opts->platform = choice.platform;
    if (opts->verbose)
      std::fprintf(stderr, "mote: platform %s (%s)\n",
                   choice.platform == mote::cli::Platform::Kvm ? "kvm" : "process",
                   choice.reason.c_str());
  }

  if (opts->tty && !isatty(0)) return fail("-t: standard input is not a terminal");

  // -v: each host directory opened now (a missing one is an error before
  // anything starts); served by this process while the core runs.
  mote::share::Server shares;
  if (!opts->volumes.empty()) {
    // qemu: QEMU's own virtio-9p (its local backend) serves the shares.
    std::vector<std::string> guests;
    for (const auto& spec : opts->volumes) {
      auto v = mote::cli::parse_volume(spec, &error);
      if (!v) return fail(error);
      // A share's inodes are made per lookup: nothing can be mounted inside one.
      for (const auto& g : guests) {
        const std::string& inner = g.size() > v->guest.size() ? g : v->guest;
        const std::string& outer = g.size() > v->guest.size() ? v->guest : g;
        if (inner == outer || inner.compare(0, outer.size() + 1, outer + "/") == 0)
          return fail("-v " + spec + ": " + v->guest + " overlaps the share at " + g);
      }
      guests.push_back(v->guest);
      if (!shares.add_share(v->host, v->read_only, &error)) return fail("-v " + spec + ": " + error);
      if (opts->verbose)
        std::fprintf(stderr, "mote: share %s at %s (%s, 9P2000.L)\n", v->host.c_str(),
                     v->guest.c_str(), v->read_only ? "read-only" : "read-write");
    }
  }

  mote::image::Program prog;
  int status = 0;
  if (!open_run_target(*opts, &prog, &error, &status)) return fail(error, status);
  if (opts->platform == mote::cli::Platform::Kvm) {
    if (opts->verbose) std::fprintf(stderr, "mote: kvm platform (mote's KVM monitor)\n");
    // --net: the process platform's backends, as a virtio-net device.
    mote::net::Device net;
    if (opts->net.mode != mote::cli::NetMode::None && !mote::net::open_device(*opts, &net, &error))
      return fail(error);
    bool unavailable = false;
    int rc = mote::kvmrun::run(*opts, prog, shares,
                               opts->net.mode != mote::cli::NetMode::None ? &net : nullptr, &error,
                               &unavailable);
    return rc < 0 ? fail(error) : rc;
  }
  if (opts->platform == mote::cli::Platform::Qemu) {
    if (opts->verbose) std::fprintf(stderr, "mote: qemu platform (microvm, PVH, TCG)\n");
    if (opts->gdb_port)
      std::fprintf(stderr, "mote: waiting for gdb on 127.0.0.1:%u (QEMU's gdbstub)\n",
                   unsigned(opts->gdb_port));
    int rc = mote::qemu::run(*opts, prog, &error);
    return rc < 0 ? fail(error) : rc;
  }
  // --net: the device before the sandbox closes (mote-net listens on every
  // -p port by now, or the run stops here saying why).
  mote::net::Device net;
  const mote::net::Device* net_dev = nullptr;
  if (opts->net.mode != mote::cli::NetMode::None) {
    // The core takes TCP segmentation offload on a tap (docs/networking.md).
    if (!mote::net::open_device(*opts, &net, &error, true)) return fail(error);
    net_dev = &net;
    if (opts->verbose)
      std::fprintf(stderr, "mote: network %s%s\n",
                   opts->net.mode == mote::cli::NetMode::User ? "user (libslirp in mote-net)" : "tap:",
                   opts->net.tap.c_str());
  }
  // --gdb: the connection is made last, once nothing else can fail, and
  // handed to the core, which serves gdb itself.
  int gdb_fd = -1;
  if (opts->gdb_port) {
    gdb_fd = mote::launch::accept_gdb(opts->gdb_port, &error);
    if (gdb_fd < 0) return fail(error);
  }
  if (shares.share_count()) {  // the process platform serves them here
    int rc = mote::launch::run_process_platform_shared(*opts, prog, shares, &error, net_dev, gdb_fd);
    return rc < 0 ? fail(error) : rc;
  }
  mote::launch::exec_process_platform(*opts, prog, &error, net_dev, gdb_fd);
  return fail(error);
}

// mote pack [--add HOST[:GUEST]]... PROGRAM [ARGS...] -o FILE
int cmd_pack(const std::vector<std::string>& args) {
  std::string out, error;
  std::vector<std::string> rest, adds;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "-o" || a == "--output") && i + 1 < args.size()) out = args[++i];
    else if (a.rfind("-o", 0) == 0 && a.size() > 2 && rest.empty()) out = a.substr(2);
    else if (a == "--add" && rest.empty() && i + 1 < args.size()) adds.push_back(args[++i]);
    else if (a.rfind("--add=", 0) == 0 && rest.empty()) adds.push_back(a.substr(6));
    else rest.push_back(a);
  }
  if (rest.empty() || out.empty())
    return fail("usage: mote pack [--add HOST[:GUEST]]... PROGRAM [ARGS...] -o FILE");
  if (rest[0].size() > 1 && rest[0][0] == '-') return fail("unknown option '" + rest[0] + "'");
  for (const auto& a : adds) {
    std::string host, guest;
    if (!mote::image::parse_add(a, &host, &guest, &error)) return fail(error);
  }
  mote::image::Program prog;
  int status = 0;
  if (!mote::image::open_program(rest[0], &prog, &error, &status)) return fail(error, status);
  bool rootfs = !prog.interp.empty() || !adds.empty();
  mote::image::Rootfs fs;
  std::string exe = prog.path;
  if (rootfs) {
    mote::image::RootfsRequest req;
    req.program = prog.named_path;
    req.adds = adds;
    if (!mote::image::build_rootfs(req, &fs, &error, &status)) return fail(error, status);
    exe = prog.named_path;
  }
  // Default command line: the program's path and the given arguments.
  std::string cmdline = "exe=" + mote::qemu::encode_word(exe) + " --";
  for (const auto& a : rest) cmdline += " " + mote::qemu::encode_word(a);
  int ofd = open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (ofd < 0) return fail(out + ": " + std::strerror(errno));
  std::span<const uint8_t> kernel(mote_kernel_image, size_t(mote_kernel_image_end - mote_kernel_image));
  bool ok = rootfs ? mote::image::write_packed_image(ofd, kernel, fs.fd, fs.size, true, cmdline, &error)
                   : mote::image::write_packed_image(ofd, kernel, prog.fd, prog.size, false, cmdline,
                                                     &error);
  if (ok && rootfs) {
    // Read the image back: the root filesystem in it is well-formed and
    // holds the program where exe= says.
    mote::image::PackedImage packed;
    std::vector<mote::image::CpioItem> items;
    ok = mote::image::read_packed_image(ofd, &packed) && packed.initramfs_size == fs.size &&
         mote::image::read_cpio(ofd, packed.initramfs_offset, packed.initramfs_size, &items, &error);
    bool found = false;
    for (const auto& it : items) found = found || "/" + it.path == exe;
    if (ok && !found) error = "the packed root filesystem has no " + exe;
    ok = ok && found;
    if (!ok && error.empty()) error = "the packed image does not read back";
  }
  if (close(ofd) != 0 && ok) {
    error = std::strerror(errno);
    ok = false;
  }
  if (!ok) {
    unlink(out.c_str());
    return fail(out + ": " + error);
  }
  return 0;
}

// mote sandbox-report: each monitor-side seccomp allowlist (docs/security.md)
// as this binary builds it: distinct calls and BPF instructions (the bench
// prints them; fd numbers and pids are stand-ins, which change neither).
int cmd_sandbox_report() {
  namespace sb = mote::sandbox;
  sb::KvmRunFds plain;
  plain.vcpus = {10};
  sb::KvmRunFds full = plain;
  full.vcpus = {10, 11};
  full.vm = 9;
  full.net = 12;
  full.net_wake = 13;
  full.shares = {14, 15};
  sb::KvmRunFds gdb = plain;
  gdb.gdb = 16;
  gdb.gdb_wake = 17;
  const struct {
    const char* name;
    sb::Policy policy;
  } rows[] = {
      {"share-server", sb::share_server_policy(5)},
      {"mote-waiting-for-core-and-share-server", sb::supervisor_policy(100, 101, 99)},
      {"mote-net", sb::net_helper_policy(4)},
      {"kvm-run-loop", sb::kvm_run_policy(plain)},
      {"kvm-run-loop-2-vcpus-net-2-shares", sb::kvm_run_policy(full)},
      {"kvm-run-loop-gdb", sb::kvm_run_policy(gdb)},
  };
  for (const auto& r : rows)
    std::printf("%s calls=%zu bpf=%zu\n", r.name, r.policy.distinct_calls(),
                sb::compile(r.policy).size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mote::launch::reserve_std_fds();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    return fail("missing command (usage: mote run [OPTIONS] PROGRAM [ARGS...]; mote help)", 2);
  }
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "run") return cmd_run(rest);
  if (cmd == "pack") return cmd_pack(rest);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(mote::cli::usage(), stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("mote 0.1.0\n");
    return 0;
  }
  if (cmd == "sandbox-report") return cmd_sandbox_report();
  return fail("unknown command '" + cmd + "' (try: mote run PROGRAM)", 2);
}
