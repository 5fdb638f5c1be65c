#include "kernel/lib/errno.h"

namespace mote {

const char* errno_name(int e) {
  switch (e) {
#define ERRNO(nr, name) \
  case nr:              \
    return name;
#include "errno_names.inc"
#undef ERRNO
    default:
      return nullptr;
  }
}

}  // namespace mote
