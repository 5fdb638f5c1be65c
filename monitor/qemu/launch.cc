#include "monitor/qemu/launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "abi/boot_info.h"
#include "monitor/cli/platform_choice.h"
#include "monitor/net/backend.h"
#include "monitor/net/guest_net.h"
#include "monitor/process/launch.h"
#include "monitor/util/io.h"
#include <cstdlib>
#include <cstring>

extern "C" const unsigned char mote_kernel_image[];
extern "C" const unsigned char mote_kernel_image_end[];

namespace mote::qemu {

namespace {

// Guest RAM beyond what the program may commit: the kernel, page tables,
// the core's heap, the program image (the initrd).
constexpr uint64_t kOverhead = 48ull << 20;

std::string find_qemu() {
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string cand = p.substr(start, end - start) + "/qemu-system-x86_64";
    if (access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

using util::write_all;

// QEMU's option syntax: a comma in a value is written twice.
std::string qemu_option_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

std::string absolute_path(const std::string& p) {
  char* real = realpath(p.c_str(), nullptr);
  if (!real) return p;
  std::string out = real;
  free(real);
  return out;
}

// --net user: a virtio-net device on mote-net, the process platform's
// libslirp backend (monitor/net/backend.h), through QEMU's dgram netdev on
// the frame socket QEMU inherits; the same -p behaviour on every platform
// (published ports listen with SOMAXCONN, 10.0.2.2 is the host). Without
// that fd (command lines built for show), QEMU's own user network with a
// hostfwd per -p. --net tap:NAME: QEMU opens the tap. The kernel learns the
// addresses from `net=ADDR/PREFIX gw=ADDR dns=ADDR`.
std::vector<std::string> net_args(const cli::RunOptions& o, std::string* append, int net_fd) {
  if (o.net.mode == cli::NetMode::None) return {};
  auto dotted = [](uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
           std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
  };
  // The user network's addresses (on a tap too: monitor/net/backend.cc), or
  // `net=dhcp` with :dhcp: the kernel asks (kernel/net/dhcp.h).
  const std::string addresses =
      o.net.dhcp ? std::string("net=dhcp ")
                 : "net=" + dotted(net::kUserGuest) + "/" + std::to_string(net::kUserPrefixLen) +
                       " gw=" + dotted(net::kUserGateway) + " dns=" + dotted(net::kUserDns) + " ";
  std::string netdev;
  if (o.net.mode == cli::NetMode::User && net_fd >= 0) {
    // mote-net (libslirp, the process platform's backend) on a frame socket
    // QEMU inherits: one datagram, one frame.
    netdev = "dgram,id=n0,local.type=fd,local.str=" + std::to_string(net_fd);
    *append += addresses;
  } else if (o.net.mode == cli::NetMode::User) {
    netdev = "user,id=n0,net=" + dotted(net::kUserNetwork) + "/" + std::to_string(net::kUserPrefixLen) +
             ",host=" + dotted(net::kUserGateway) + ",dns=" + dotted(net::kUserDns) +
             ",dhcpstart=" + dotted(net::kUserGuest);
    for (const auto& m : o.ports)
      netdev += std::string(",hostfwd=") + (m.udp ? "udp" : "tcp") + ":" + m.host_ip + ":" +
                std::to_string(m.host_port) + "-" + dotted(net::kUserGuest) + ":" +
                std::to_string(m.guest_port);
    *append += addresses;
  } else {
    netdev = "tap,id=n0,ifname=" + qemu_option_value(o.net.tap) + ",script=no,downscript=no";
    *append += addresses;
  }
  char mac[18];
  snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", net::kGuestMac[0], net::kGuestMac[1],
           net::kGuestMac[2], net::kGuestMac[3], net::kGuestMac[4], net::kGuestMac[5]);
  return {"-netdev", netdev, "-device", std::string("virtio-net-device,netdev=n0,mac=") + mac};
}

}  // namespace

std::string encode_word(const std::string& w) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  // The kernel takes a raw "virtio_mmio.device=" word anywhere for a device
  // (QEMU and Firecracker append them): ours, encoded, stay words.
  const bool device_like = w.rfind("virtio_mmio.", 0) == 0;
  for (unsigned char c : w) {
    if (c <= ' ' || c == '%' || c >= 0x7f || (device_like && out.empty())) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (out.empty()) out = "%00";  // never an empty word (it would vanish)
  return out;
}

std::vector<std::string> command_line(const cli::RunOptions& o, const std::string& program_path,
                                      const std::string& load_path, const std::string& kernel,
                                      const int fds[4], int net_fd) {
  std::string append;
  if (o.strace) append += "strace ";
  if (o.verbose) append += "verbose ";
  append += "mem=" + std::to_string(o.mem_bytes >> 10) + "K ";
  append += "hostname=" + encode_word(o.hostname) + " ";
  if (o.cpus > 1) append += "cpus=" + std::to_string(o.cpus) + " ";
  if (o.timeout_ms) append += "timeout_ms=" + std::to_string(o.timeout_ms) + " ";
  if (o.selftest == "hang") append += "hangtest ";
  if (o.selftest == "assert") append += "asserttest ";
  if (o.selftest == "triple") append += "tripletest ";
  if (o.selftest == "timer") append += "timertest ";
  {
    // The guest's CLOCK_MONOTONIC continues the host's (as on the process
    // platform), so "now minus a while" stays positive as it is natively.
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    append += "clock0=" + std::to_string(uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec)) + " ";
  }
  append += "exe=" + encode_word(program_path) + " ";
  for (int fd = 0; fd < 3; ++fd)
    if (launch::std_fd_closed(fd)) append += "closed=" + std::to_string(fd) + " ";
  for (const auto& kv : o.env) append += "env=" + encode_word(kv) + " ";
  if (o.tty) {
    // -t: the guest's streams are this terminal (its modes and size); mode
    // changes come back as status lines (run below applies them).
    unsigned char t[60] = {};
    struct winsize ws {};
    if (ioctl(0, TCGETS, t) == 0) {
      static const char hex[] = "0123456789abcdef";
      std::string h;
      for (int k = 0; k < 36; ++k) h += hex[t[k] >> 4], h += hex[t[k] & 15];
      append += "tty termios=" + h + " ";
      if (ioctl(0, TIOCGWINSZ, &ws) == 0)
        append += "winsize=" + std::to_string(ws.ws_row) + "x" + std::to_string(ws.ws_col) + " ";
    }
  }
  // -v: share k is the virtio-9p device tagged mote<k> (its fsdev too), the
  // guest path and mode the k-th share= / share_ro= word.
  std::vector<std::string> devices;
  for (size_t k = 0; k < o.volumes.size(); ++k) {
    std::string error;
    auto v = cli::parse_volume(o.volumes[k], &error);
    if (!v) continue;  // checked before the launch
    const std::string id = "mote" + std::to_string(k);
    append += (v->read_only ? "share_ro=" : "share=") + encode_word(v->guest) + " ";
    devices.push_back("-fsdev");
    devices.push_back("local,id=" + id + ",path=" + qemu_option_value(absolute_path(v->host)) +
                      ",security_model=none" + (v->read_only ? ",readonly=on" : ""));
    devices.push_back("-device");
    devices.push_back("virtio-9p-device,fsdev=" + id + ",mount_tag=" + id);
  }
  // --net: a virtio-net device on QEMU's own backends (qemu_net_args).
  std::vector<std::string> net = net_args(o, &append, net_fd);
  devices.insert(devices.end(), net.begin(), net.end());
  append += "--";
  append += " " + encode_word(o.program);
  for (const auto& a : o.args) append += " " + encode_word(a);
  uint64_t ram_mib = (o.mem_bytes + kOverhead + (1 << 20) - 1) >> 20;
  const bool hardware_kvm = cli::choose_platform().platform == cli::Platform::Kvm;
  std::vector<std::string> cmd = {
      "qemu-system-x86_64",
      "-M", "microvm,isa-serial=on,rtc=on,pit=on",
      // KVM when this host runs ring-0 guests natively (the same probe as
      // mote run's platform choice), else TCG.
      "-accel", hardware_kvm ? "kvm" : "tcg",
      "-cpu", hardware_kvm ? "host" : "max",
      "-m", std::to_string(ram_mib) + "M",
      "-smp", std::to_string(o.cpus),  // the kernel starts them (ACPI MADT, INIT-SIPI)
      "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
      "-chardev", "file,id=out,path=/proc/self/fd/" + std::to_string(fds[0]),
      "-chardev", "file,id=err,path=/proc/self/fd/" + std::to_string(fds[1]),
      "-chardev", "file,id=status,path=/proc/self/fd/" + std::to_string(fds[2]),
      "-serial", "chardev:out",
      "-device", "isa-serial,chardev=err,iobase=0x2f8,irq=3",
      "-device", "isa-serial,chardev=status,iobase=0x3e8,irq=4",
      // COM4: the guest's stdin, encoded (abi/hypercall.h: kStdinUartPort).
      "-chardev", "pipe,id=in,path=/proc/self/fd/" + std::to_string(fds[3]),
      "-device", "isa-serial,chardev=in,iobase=0x2e8,irq=5",
      "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
      "-kernel", kernel,
      "-initrd", load_path,
      "-append", append,
  };
  if (!devices.empty()) {
    // microvm's virtio-mmio transports are legacy (version 1) unless told;
    // the kernel drives the virtio 1.x interface only.
    cmd.push_back("-global");
    cmd.push_back("virtio-mmio.force-legacy=false");
    cmd.insert(cmd.end(), devices.begin(), devices.end());
  }
  if (o.gdb_port) {
    // --gdb: QEMU's own gdbstub (the whole VM: kernel and program), the
    // CPUs held until gdb continues them.
    cmd.push_back("-gdb");
    cmd.push_back("tcp:127.0.0.1:" + std::to_string(o.gdb_port));
    cmd.push_back("-S");
  }
  return cmd;
}

int run(const cli::RunOptions& o, const image::Program& p, std::string* error) {
  std::string qemu = find_qemu();
  if (qemu.empty()) {
    *error = "--platform qemu needs qemu-system-x86_64 (Debian package qemu-system-x86)";
    return -1;
  }

  // The kernel image embedded in mote, handed to QEMU as an inherited fd.
  int kfd = memfd_create("mote-kernel", 0);
  size_t ksize = size_t(mote_kernel_image_end - mote_kernel_image);
  if (kfd < 0 || !write_all(kfd, reinterpret_cast<const char*>(mote_kernel_image), ksize)) {
    *error = std::string("kernel image: ") + strerror(errno);
    return -1;
  }
  // Pipes for the guest's stdout, stderr and status line, relayed here, and
  // one for its stdin (encoded: 0xfe escapes, 0xff is end of input).
  int pipes[4][2];
  for (auto& pp : pipes) {
    if (pipe2(pp, O_CLOEXEC) != 0) {
      *error = std::string("pipe: ") + strerror(errno);
      return -1;
    }
  }
  int child_fds[4] = {pipes[0][1], pipes[1][1], pipes[2][1], pipes[3][0]};
  int stdin_w = pipes[3][1];
  fcntl(stdin_w, F_SETFL, O_NONBLOCK);
  // --net user: the same backend as the process platform (mote-net).
  net::Device dev;
  if (o.net.mode == cli::NetMode::User && !net::open_device(o, &dev, error)) return -1;
  std::vector<std::string> cmd = command_line(
      o, p.path, p.load_path, "/proc/self/fd/" + std::to_string(kfd), child_fds, dev.fd);
  cmd[0] = qemu;

  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return -1;
  }
  if (pid == 0) {
    // QEMU goes with mote: a killed `mote run` must not leave the VM running.
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // mote died before the line above
    for (int fd : child_fds) fcntl(fd, F_SETFD, 0);  // QEMU inherits these
    if (dev.fd >= 0) {
      fcntl(dev.fd, F_SETFD, 0);
      fcntl(dev.fd, F_SETFL, fcntl(dev.fd, F_GETFL) & ~O_NONBLOCK);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    std::vector<char*> argv;
    for (auto& s : cmd) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(qemu.c_str(), argv.data());
    _exit(127);
  }
  for (int fd : child_fds) close(fd);
  if (dev.fd >= 0) close(dev.fd);  // QEMU's now: mote-net ends when QEMU does
  close(kfd);

  // -t: the terminal's modes before the guest changes them, put back at the
  // end whatever happens to the VM.
  unsigned char saved_termios[60] = {};
  bool termios_changed = false;
  const bool tty = o.tty && ioctl(0, TCGETS, saved_termios) == 0;
  size_t status_seen = 0;
  auto apply_status_lines = [&](const std::string& text) {
    for (;;) {
      size_t nl = text.find('\n', status_seen);
      if (nl == std::string::npos) return;
      std::string line = text.substr(status_seen, nl - status_seen);
      status_seen = nl + 1;
      const std::string tag = "mote-termios: ";
      if (!tty || line.rfind(tag, 0) != 0 || line.size() != tag.size() + 72) continue;
      unsigned char t[60];
      memcpy(t, saved_termios, sizeof t);
      for (int k = 0; k < 36; ++k)
        t[k] = static_cast<unsigned char>(std::stoi(line.substr(tag.size() + 2 * k, 2), nullptr, 16));
      if (ioctl(0, TCSETS, t) == 0) termios_changed = true;
    }
  };

  // Relay: guest output to ours until QEMU closes it; our stdin to the guest,
  // encoded, without ever blocking on either side.
  std::string status_text, pending;
  bool stdin_open = true;
  struct pollfd pfd[5];
  int outputs = 3;
  for (int i = 0; i < 3; ++i) pfd[i] = {pipes[i][0], POLLIN, 0};
  char buf[65536];
  // --timeout: the guest kernel stops the run itself at its deadline; this
  // one, 2 s later, is for a guest that cannot (hung with interrupts off,
  // in a loop before its timer works): QEMU is killed.
  auto now_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  };
  const int64_t hard_deadline = o.timeout_ms ? now_ms() + int64_t(o.timeout_ms) + 2000 : 0;
  bool timed_out = false;
  while (outputs > 0) {
    pfd[3] = {stdin_open && pending.empty() ? 0 : -1, POLLIN, 0};
    pfd[4] = {!pending.empty() && stdin_w >= 0 ? stdin_w : -1, POLLOUT, 0};
    int wait_ms = -1;
    if (hard_deadline) {
      int64_t left = hard_deadline - now_ms();
      if (left <= 0) {
        timed_out = true;
        kill(pid, SIGKILL);
        break;
      }
      wait_ms = int(left > 1000000 ? 1000000 : left);
    }
    if (poll(pfd, 5, wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // The status channel first: QEMU writes each UART byte as the guest
    // sends it, so a terminal-mode line the guest sent before some output is
    // already here when that output is; applying it first keeps the order
    // (-t: a program's raw mode is in force before what it prints next).
    for (int i : {2, 0, 1}) {
      if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(pfd[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(pfd[i].fd);
        pfd[i].fd = -1;
        --outputs;
        continue;
      }
      if (i < 2) {
        write_all(i + 1, buf, size_t(n));
      } else {
        status_text.append(buf, size_t(n));
        apply_status_lines(status_text);
      }
    }
    if (pfd[3].fd >= 0 && (pfd[3].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
      ssize_t n = (pfd[3].revents & POLLNVAL) ? 0 : read(0, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;
        pending.push_back(char(0xff));
      } else {
        for (ssize_t k = 0; k < n; ++k) {
          unsigned char c = static_cast<unsigned char>(buf[k]);
          if (c >= 0xfe) pending.push_back(char(0xfe));
          pending.push_back(char(c));
        }
      }
    }
    if (pfd[4].fd >= 0 && (pfd[4].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))) {
      ssize_t w = write(stdin_w, pending.data(), pending.size());
      if (w > 0) pending.erase(0, size_t(w));
      else if (w < 0 && errno != EAGAIN && errno != EINTR) pending.clear();
    }
  }
  if (stdin_w >= 0) close(stdin_w);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (termios_changed) ioctl(0, TCSETS, saved_termios);
  if (timed_out) {
    std::fprintf(stderr, "mote: timeout: the VM did not stop within --timeout %.3f s; killed\n",
                 double(o.timeout_ms) / 1000);
    return abi::kTimeoutStatus;
  }
  size_t at = status_text.rfind("mote-exit: ");
  if (at != std::string::npos) return atoi(status_text.c_str() + at + 11) & 0xff;
  // No status line: the VM did not end through the kernel's exit (QEMU's own
  // errors exit 1, which isa-debug-exit cannot be told apart from).
  if (WIFSIGNALED(ws)) {
    *error = "qemu was killed by signal " + std::to_string(WTERMSIG(ws));
    return -1;
  }
  // -no-reboot: a triple fault or a reset ends QEMU with status 0.
  std::fprintf(stderr, "mote: guest fault: the VM stopped without an exit status (%s)\n",
               WEXITSTATUS(ws) == 0 ? "a triple fault or a reset"
                                    : ("qemu status " + std::to_string(WEXITSTATUS(ws))).c_str());
  return abi::kGuestFaultStatus;
}

}  // namespace mote::qemu
