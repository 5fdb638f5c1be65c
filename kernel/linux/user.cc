#include "kernel/linux/user.h"

#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"

namespace mote::linux {

bool user_readable(u64 addr, usize len) {
  return core::g_proc.as.user_ok(addr, len, platform::kProtRead);
}

bool user_writable(u64 addr, usize len) {
  return core::g_proc.as.user_ok(addr, len, platform::kProtWrite);
}

Result<void> copy_from_user(void* dst, u64 src, usize len) {
  if (!user_readable(src, len)) return err(EFAULT);
  memcpy(dst, reinterpret_cast<const void*>(src), len);
  return ok();
}

Result<void> copy_to_user(u64 dst, const void* src, usize len) {
  if (!user_writable(dst, len)) return err(EFAULT);
  memcpy(reinterpret_cast<void*>(dst), src, len);
  return ok();
}

Result<usize> string_from_user(char* dst, u64 src, usize cap) {
  // Check page by page so a string ending just before an unmapped page works.
  for (usize n = 0; n < cap; ++n) {
    if (n == 0 || page_aligned(src + n))
      if (!user_readable(src + n, 1)) return err(EFAULT);
    char c = reinterpret_cast<const char*>(src)[n];
    dst[n] = c;
    if (c == 0) return n;
  }
  return err(ENAMETOOLONG);
}

}  // namespace mote::linux

namespace mote::core {

bool program_page_prot(u64 addr, u32* prot) {
  const mm::Vma* v = g_proc.as.vmas().find(addr);
  if (!v || v->kind == mm::VmaKind::Reserved) return false;
  *prot = v->prot;
  return true;
}

}  // namespace mote::core
