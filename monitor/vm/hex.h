// "0x..." for messages about guest addresses and registers.
#pragma once

#include <stdint.h>

#include <cstdio>
#include <string>

namespace mote::vm {

inline std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace mote::vm
