#include "kernel/platform/kvm/ksyms.h"

#include "kernel/platform/kvm/arch.h"
#include "kernel/platform/kvm/console.h"

namespace {
// gen_ksyms.py's layout: the address as an offset from the kernel's base,
// the name as an offset into mote_ksym_names, where it is stored as its
// scope's number (one or two bytes) and the rest of the name.
struct KsymEntry {
  mote::u32 addr;
  mote::u32 name;
};
constexpr mote::u64 kKernelVma = 0xffffffff80000000ull;
}  // namespace

extern "C" const mote::u64 mote_ksyms_count;
extern "C" const KsymEntry mote_ksyms[];
extern "C" const mote::u16 mote_ksym_scope_offsets[];
extern "C" const char mote_ksym_scopes[];
extern "C" const char mote_ksym_names[];
extern "C" char __text_start[], __text_end[];

namespace mote::kvm {

bool ksym(u64 addr, Ksym* out) {
  u64 lo = 0, hi = mote_ksyms_count;
  if (hi == 0 || addr < kKernelVma + mote_ksyms[0].addr || addr - kKernelVma > ~u32(0))
    return false;
  u64 rel = addr - kKernelVma;
  while (hi - lo > 1) {  // the last entry with addr <= target
    u64 mid = lo + (hi - lo) / 2;
    if (mote_ksyms[mid].addr <= rel) lo = mid;
    else hi = mid;
  }
  auto* p = reinterpret_cast<const u8*>(mote_ksym_names + mote_ksyms[lo].name);
  u32 scope = *p++;
  if (scope & 0x80) scope = (scope & 0x7f) << 8 | *p++;
  out->scope = mote_ksym_scopes + mote_ksym_scope_offsets[scope];
  out->name = reinterpret_cast<const char*>(p);
  out->offset = rel - mote_ksyms[lo].addr;
  return true;
}

namespace {

void print_frame(int depth, u64 pc) {
  Ksym sym;
  if (ksym(pc, &sym))
    kprintf("mote kernel:   #%d %#lx <%s%s+%#lx>\n", depth, (unsigned long)pc, sym.scope,
            sym.name, (unsigned long)sym.offset);
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
