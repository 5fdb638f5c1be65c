// A HostConsole whose streams are pipes the test can fill and read.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "monitor/vm/host_console.h"

namespace mote::vmtest {

class ConsolePipes {
 public:
  ConsolePipes() {
    for (int* p : {in_, out_, err_}) {
      if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) p[0] = p[1] = -1;
    }
  }
  ~ConsolePipes() {
    for (int* p : {in_, out_, err_})
      for (int i = 0; i < 2; ++i)
        if (p[i] >= 0) close(p[i]);
  }
  vm::HostConsole console() const { return vm::HostConsole{in_[0], out_[1], err_[1]}; }
  void feed(const std::string& s) {
    if (write(in_[1], s.data(), s.size()) < 0) return;
  }
  void close_input() {
    close(in_[1]);
    in_[1] = -1;
  }
  std::string out() { return drain(out_[0]); }
  std::string err() { return drain(err_[0]); }

 private:
  static std::string drain(int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, size_t(n));
    return s;
  }
  int in_[2], out_[2], err_[2];
};

}  // namespace mote::vmtest
