#include "kernel/lib/assert.h"

#include "kernel/lib/format.h"
#include "kernel/lib/types.h"
#include "kernel/platform/platform.h"

namespace mote {

namespace {

// The path from the source tree's top ("kernel/..."), whatever directory
// the build saw it in.
const char* tree_path(const char* file) {
  const char* best = file;
  for (const char* p = file; *p; ++p)
    if (p[0] == '/' && p[1] == 'k' && p[2] == 'e' && p[3] == 'r' && p[4] == 'n' && p[5] == 'e' &&
        p[6] == 'l' && p[7] == '/')
      best = p + 1;
  return best;
}

}  // namespace

void assert_failed(const char* expr, const char* file, int line) {
  // Static: a failed assertion may be a broken heap or a full stack.
  static char msg[512];
  format(msg, sizeof msg, "assertion failed: %s (%s:%d)", expr, tree_path(file), line);
  platform::panic(msg);
}

}  // namespace mote
