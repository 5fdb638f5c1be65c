// Program memory for the gdb stub (gdb_memory.h).
#include "kernel/platform/process/gdb_memory.h"

#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"

namespace mote::process::gdb::memory {

namespace {

constexpr int kMaxBreakpoints = 256;
constexpr usize kMaxWrite = 0x2000;

struct Breakpoint {
  u64 addr;
  u8 saved;  // the program's byte under the int3
};

constinit Breakpoint g_bps[kMaxBreakpoints] = {};
constinit int g_nbps = 0;

Breakpoint* find(u64 addr) {
  for (int i = 0; i < g_nbps; ++i)
    if (g_bps[i].addr == addr) return &g_bps[i];
  return nullptr;
}

// Writes program memory, read-only text included: the page is made
// writable (never writable and executable at once) for the copy. Another
// thread fetching from it meanwhile retries (signals.cc on_fault).
bool poke_raw(u64 addr, const u8* src, usize n) {
  if (n == 0) return true;
  if (addr + n < addr) return false;
  core::KLockGuard guard;
  if (!core::g_proc.as.user_ok(addr, n, platform::kProtRead)) return false;
  for (u64 at = addr; at < addr + n;) {
    u64 page = page_down(at);
    u64 end = min(addr + n, page + kPageSize);
    const mm::Vma* v = core::g_proc.as.vmas().find(at);
    if (!v) return false;
    u32 prot = v->prot;
    bool flip = !(prot & platform::kProtWrite);
    if (flip && host::failed(host::mprotect(page, kPageSize, 1 | 2 /*READ|WRITE*/))) return false;
    memcpy(reinterpret_cast<void*>(at), src + (at - addr), end - at);
    if (flip) host::mprotect(page, kPageSize, int(prot));
    at = end;
  }
  return true;
}

}  // namespace

bool peek(u64 addr, u8* out, usize n) {
  if (n == 0) return true;
  if (addr + n < addr) return false;
  core::klock();
  bool ok = core::g_proc.as.user_ok(addr, n, platform::kProtRead);
  if (ok) memcpy(out, reinterpret_cast<const void*>(addr), n);
  core::kunlock();
  if (!ok) return false;
  for (int i = 0; i < g_nbps; ++i)
    if (g_bps[i].addr >= addr && g_bps[i].addr < addr + n)
      out[g_bps[i].addr - addr] = g_bps[i].saved;
  return true;
}

// A write from gdb: bytes under our breakpoints go to their saved copies.
bool poke(u64 addr, const u8* src, usize n) {
  u8 buf[kMaxWrite];
  if (n > sizeof buf) return false;
  memcpy(buf, src, n);
  for (int i = 0; i < g_nbps; ++i) {
    Breakpoint& b = g_bps[i];
    if (b.addr >= addr && b.addr < addr + n) {
      b.saved = buf[b.addr - addr];
      buf[b.addr - addr] = 0xcc;
    }
  }
  return poke_raw(addr, buf, n);
}

bool insert_breakpoint(u64 addr) {
  if (find(addr)) return true;
  if (g_nbps == kMaxBreakpoints) return false;
  u8 orig;
  if (!peek(addr, &orig, 1)) return false;
  const u8 int3 = 0xcc;
  if (!poke_raw(addr, &int3, 1)) return false;
  g_bps[g_nbps++] = Breakpoint{addr, orig};
  return true;
}

bool remove_breakpoint(u64 addr) {
  Breakpoint* b = find(addr);
  if (!b) return true;
  u8 orig = b->saved;
  *b = g_bps[--g_nbps];
  return poke_raw(addr, &orig, 1);
}

bool is_breakpoint(u64 addr) { return find(addr) != nullptr; }

void remove_all_breakpoints() {
  while (g_nbps) remove_breakpoint(g_bps[g_nbps - 1].addr);
}

}  // namespace mote::process::gdb::memory
