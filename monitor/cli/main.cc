// mote: run unmodified Linux programs as unikernels.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "monitor/cli/options.h"
#include "monitor/cli/platform_choice.h"
#include "monitor/image/pack.h"
#include "monitor/image/program.h"
#include "monitor/process/launch.h"
#include "monitor/kvm/launch.h"
#include "monitor/qemu/launch.h"

extern "C" const unsigned char mote_kernel_image[];
extern "C" const unsigned char mote_kernel_image_end[];

namespace {

int fail(const std::string& msg, int status = 125) {
  // One line, like docker's own errors; 125 = mote itself failed (as docker run).
  std::fprintf(stderr, "mote: %s\n", msg.c_str());
  return status;
}

const char* host_env(const char* name) { return getenv(name); }

// The program to run: a `mote pack` image (its program and, unless arguments
// are given, its arguments -- as docker run replaces an image's command), or
// a program file.
bool open_run_target(mote::cli::RunOptions& o, mote::image::Program* prog, std::string* error,
                     int* status) {
  int fd = open(o.program.c_str(), O_RDONLY | O_CLOEXEC);
  mote::image::PackedImage packed;
  if (fd >= 0 && mote::image::read_packed_image(fd, &packed)) {
    int mfd = memfd_create("mote-packed-program", 0);  // inherited by the core / QEMU
    std::vector<char> bytes(packed.program_size);
    bool ok = mfd >= 0 && pread(fd, bytes.data(), bytes.size(), off_t(packed.program_offset)) ==
                              ssize_t(bytes.size()) &&
              write(mfd, bytes.data(), bytes.size()) == ssize_t(bytes.size());
    close(fd);
    if (!ok) {
      *error = o.program + ": cannot read the packed program";
      *status = 126;
      return false;
    }
    std::string image = o.program;
    o.program = packed.argv[0];
    if (o.args.empty()) o.args.assign(packed.argv.begin() + 1, packed.argv.end());
    std::string guest_path = packed.exe.empty() ? "/" + packed.argv[0] : packed.exe;
    return mote::image::adopt_program(mfd, image, guest_path, prog, error, status);
  }
  if (fd >= 0) close(fd);
  return mote::image::open_program(o.program, prog, error, status);
}

int cmd_run(const std::vector<std::string>& args) {
  std::string error;
  auto opts = mote::cli::parse_run(args, &error, host_env);
  if (!opts) return fail(error);
  if (!opts->publish.empty())
    return fail("-p " + opts->publish[0] + ": port publishing is not supported yet");
  if (!opts->volumes.empty())
    return fail("-v " + opts->volumes[0] + ": shared directories are not supported yet");
  if (!opts->selftest.empty() && opts->platform == mote::cli::Platform::Qemu)
    return fail("--selftest runs on the process and kvm platforms");
  if (opts->platform == mote::cli::Platform::Kvm && !opts->selftest.empty() &&
      opts->selftest != "kernel")
    return fail("--platform kvm runs --selftest kernel only");
  if (opts->platform != mote::cli::Platform::Kvm && opts->selftest == "kernel")
    return fail("--selftest kernel needs --platform kvm");

  if (opts->platform == mote::cli::Platform::Auto) {
    auto choice = mote::cli::choose_platform();
    if (!opts->selftest.empty() && opts->selftest != "kernel") choice.platform = mote::cli::Platform::Process;
    opts->platform = choice.platform;
    if (opts->verbose)
      std::fprintf(stderr, "mote: platform %s (%s)\n",
                   choice.platform == mote::cli::Platform::Kvm ? "kvm" : "process",
                   choice.reason.c_str());
  }

  mote::image::Program prog;
  int status = 0;
  if (!open_run_target(*opts, &prog, &error, &status)) return fail(error, status);
  if (opts->platform == mote::cli::Platform::Kvm) {
    if (opts->verbose) std::fprintf(stderr, "mote: kvm platform (mote's KVM monitor)\n");
    bool unavailable = false;
    int rc = mote::kvmrun::run(*opts, prog, &error, &unavailable);
    return rc < 0 ? fail(error) : rc;
  }
  if (opts->platform == mote::cli::Platform::Qemu) {
    if (opts->verbose) std::fprintf(stderr, "mote: qemu platform (microvm, PVH, TCG)\n");
    int rc = mote::qemu::run(*opts, prog, &error);
    return rc < 0 ? fail(error) : rc;
  }
  mote::launch::exec_process_platform(*opts, prog, &error);
  return fail(error);
}

// mote pack PROGRAM [ARGS...] -o FILE
int cmd_pack(const std::vector<std::string>& args) {
  std::string out, error;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) out = args[++i];
    else if (args[i].rfind("-o", 0) == 0 && args[i].size() > 2 && rest.empty()) out = args[i].substr(2);
    else rest.push_back(args[i]);
  }
  if (rest.empty() || out.empty())
    return fail("usage: mote pack PROGRAM [ARGS...] -o FILE");
  if (rest[0].size() > 1 && rest[0][0] == '-') return fail("unknown option '" + rest[0] + "'");
  mote::image::Program prog;
  int status = 0;
  if (!mote::image::open_program(rest[0], &prog, &error, &status)) return fail(error, status);
  std::vector<uint8_t> bytes(prog.size);
  if (pread(prog.fd, bytes.data(), bytes.size(), 0) != ssize_t(bytes.size()))
    return fail(rest[0] + ": cannot read it");
  // Default command line: the program's path and the given arguments.
  std::string cmdline = "exe=" + mote::qemu::encode_word(prog.path) + " --";
  for (const auto& a : rest) cmdline += " " + mote::qemu::encode_word(a);
  auto image = mote::image::build_packed_image(
      std::span<const uint8_t>(mote_kernel_image, size_t(mote_kernel_image_end - mote_kernel_image)),
      bytes, cmdline, &error);
  if (image.empty()) return fail(error);
  FILE* f = std::fopen(out.c_str(), "wb");
  if (!f) return fail(out + ": " + std::strerror(errno));
  bool ok = std::fwrite(image.data(), 1, image.size(), f) == image.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return fail(out + ": write failed");
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
  return fail("unknown command '" + cmd + "' (try: mote run PROGRAM)", 2);
}
