#include "tests/vm/driver.h"

#include <sys/socket.h>

#include <time.h>

#include <cerrno>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "monitor/process/boot_blob.h"

namespace mote::vmtest {

namespace {

int64_t g_start_mono_ns = 0;

int64_t clock_ns(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void usage() {
  std::fprintf(stderr,
               "usage: mote-vm-test [--timing] [--since-ns NS] [--mem MIB] [--page-1g] [--show-cpuid] [--virtio-net]\n"
               "                    [--gdb PORT [--gdb-at-program]] KERNEL_ELF\n");
}

// "VmHWM:  1234 kB" -> 1234.
long status_kib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long value = -1;
  size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') value = std::strtol(line + n + 1, nullptr, 10);
  std::fclose(f);
  return value;
}

double us(int64_t ns) { return double(ns) / 1000.0; }

}  // namespace

bool parse_options(int argc, char** argv, DriverOptions* out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--timing") {
      out->timing = true;
    } else if (a == "--page-1g") {
      out->page_1g = true;
    } else if (a == "--show-cpuid") {
      out->show_cpuid = true;
    } else if (a == "--gdb-at-program") {
      out->gdb_at_program = true;
    } else if (a == "--virtio-net") {
      out->virtio_net = true;
    } else if (a == "--gdb" && i + 1 < argc) {
      char* end = nullptr;
      unsigned long v = std::strtoul(argv[++i], &end, 10);
      if (!end || *end || v == 0 || v > 65535) {
        usage();
        return false;
      }
      out->gdb_port = uint16_t(v);
    } else if ((a == "--since-ns" || a == "--mem") && i + 1 < argc) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(argv[++i], &end, 10);
      if (!end || *end) {
        usage();
        return false;
      }
      if (a == "--mem") out->ram_bytes = uint64_t(v) << 20;
      else out->since_realtime_ns = int64_t(v);
    } else if (!a.empty() && a[0] != '-' && out->kernel_path.empty()) {
      out->kernel_path = a;
    } else {
      usage();
      return false;
    }
  }
  if (out->kernel_path.empty()) {
    usage();
    return false;
  }
  return true;
}

bool make_frame_socket(int fds[2]) {
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
    std::fprintf(stderr, "mote: socketpair: %s\n", std::strerror(errno));
    return false;
  }
  return true;
}

void print_frames(int fd) {
  uint8_t buf[65536];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
    std::string line = "frame: ";
    for (ssize_t i = 0; i < n; ++i) {
      char hex[8];
      if (buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '\\') {
        line += char(buf[i]);
      } else {
        std::snprintf(hex, sizeof hex, "\\x%02x", buf[i]);
        line += hex;
      }
    }
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

bool read_kernel(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "mote: %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

std::vector<uint8_t> test_boot_blob() {
  launch::BootRequest r;
  r.argv = {"test-kernel"};
  r.program_path = "/test-kernel";
  r.hostname = "mote";
  r.cwd = "/";
  r.wall_clock_ns = uint64_t(clock_ns(CLOCK_REALTIME));
  return launch::build_boot_blob(r);
}

void mark_process_start(const DriverOptions& o) {
  int64_t mono = clock_ns(CLOCK_MONOTONIC);
  g_start_mono_ns = mono;
  if (o.since_realtime_ns > 0) g_start_mono_ns = mono - (clock_ns(CLOCK_REALTIME) - o.since_realtime_ns);
}

void print_cpuid(const vm::CpuidTable& table) {
  for (const kvm_cpuid_entry2& e : table)
    std::fprintf(stderr, "cpuid: %08x.%x: eax %08x ebx %08x ecx %08x edx %08x\n", e.function, e.index, e.eax,
                 e.ebx, e.ecx, e.edx);
}

int finish(const DriverOptions& o, const vm::RunResult& r, const vm::RunTimes& t, const char* backend) {
  if (!r.stop_message.empty()) std::fprintf(stderr, "mote: %s\n", r.stop_message.c_str());
  if (o.timing) {
    const char* origin = o.since_realtime_ns > 0 ? "spawn" : "main()";
    int64_t end = vm::monotonic_ns();
    std::fprintf(stderr, "timing: backend %s\n", backend);
    std::fprintf(stderr, "timing: %s -> first guest instruction (entering the first run): %.0f us\n", origin,
                 us(t.first_entry_ns - g_start_mono_ns));
    std::fprintf(stderr, "timing: %s -> first exit seen by the monitor: %.0f us\n", origin,
                 us(t.first_exit_ns - g_start_mono_ns));
    std::fprintf(stderr, "timing: %s -> guest finished: %.0f us (%llu exits)\n", origin,
                 us(end - g_start_mono_ns), static_cast<unsigned long long>(t.exits));
    std::fprintf(stderr, "timing: monitor RSS %ld KiB now, peak %ld KiB\n", status_kib("VmRSS"),
                 status_kib("VmHWM"));
  }
  return r.status;
}

}  // namespace mote::vmtest
