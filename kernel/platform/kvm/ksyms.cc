#include "kernel/platform/kvm/ksyms.h"

#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"

namespace {
struct KsymEntry {
  mote::u64 addr;
  const char* name;
};
}  // namespace

extern "C" const mote::u64 mote_ksyms_count;
extern "C" const KsymEntry mote_ksyms[];
extern "C" char __text_start[], __text_end[];

namespace mote::kvm {

const char* ksym(u64 addr, u64* offset) {
  u64 lo = 0, hi = mote_ksyms_count;
  if (hi == 0 || addr < mote_ksyms[0].addr) return nullptr;
  while (hi - lo > 1) {  // the last entry with addr <= target
    u64 mid = lo + (hi - lo) / 2;
    if (mote_ksyms[mid].addr <= addr) lo = mid;
    else hi = mid;
  }
  *offset = addr - mote_ksyms[lo].addr;
  return mote_ksyms[lo].name;
}

namespace {

void print_frame(int depth, u64 pc) {
  u64 off = 0;
  const char* name = ksym(pc, &off);
  if (name) kprintf("mote kernel:   #%d %#lx <%s+%#lx>\n", depth, (unsigned long)pc, name,
                    (unsigned long)off);
  else kprintf("mote kernel:   #%d %#lx\n", depth, (unsigned long)pc);
}

bool kernel_text(u64 pc) {
  return pc >= reinterpret_cast<u64>(__text_start) && pc < reinterpret_cast<u64>(__text_end);
}

// A frame pointer worth following: kernel memory (image or core region),
// 8-byte aligned.
bool plausible_frame(u64 rbp) {
  return (rbp & 7) == 0 && rbp >= 0xffff800000000000ull && rbp < ~u64(0) - 16;
}

}  // namespace

void print_backtrace(u64 rip, u64 rbp) {
  print_frame(0, rip);
  for (int depth = 1; depth < 16 && plausible_frame(rbp); ++depth) {
    const u64* frame = reinterpret_cast<const u64*>(rbp);
    u64 ret = frame[1];
    if (!kernel_text(ret)) break;
    print_frame(depth, ret);
    if (frame[0] <= rbp) break;  // frames go up the stack
    rbp = frame[0];
  }
}

}  // namespace mote::kvm
