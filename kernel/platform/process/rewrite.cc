// Call-site rewriting: a syscall site the program uses repeatedly is turned
// into a direct call into the core, so the next call costs a function call
// instead of a SIGSYS round trip.
//
// The five bytes before the `syscall` must be one of two position-independent
// instructions whose effect is visible in the registers the SIGSYS reported:
//
//   b8 imm32          mov $imm32, %eax        (glibc's wrappers)  eax == imm32
//   4c 8b 4c 24 d8    mov d8(%rsp), %r9       (glibc's syscall()) r9 == [rsp+d8]
//
// The SIGSYS address guarantees `syscall` ends an instruction, and the
// register check makes it (nearly) certain the five bytes are that
// instruction. It is replaced by `jmp rel32` to a per-site stub; the `syscall`
// bytes stay, so a jump straight to them still works (through SIGSYS). The
// stub replays the displaced instruction, then:
//
//   lea -128(%rsp), %rsp     step over the red zone before `call` pushes
//   call *entry(%rip)        mote_fast_syscall (fast_entry.S); %rax = number
//   lea 128(%rsp), %rsp
//   jmp site+7               back after the syscall instruction
//
// Stub pages sit within +-2 GiB of the code they serve, are never writable
// and executable at once (written RW, then made RX), and are Reserved in the
// address space so the program cannot unmap them. Pages are never made RWX.
//
// Other sites (glibc's read is `xor %eax,%eax; syscall`, its futex calls
// set %eax in a register move) go through alignment padding instead: the
// `syscall` becomes `jmp rel8` (also two bytes) to a run of no-op padding
// within reach after it, which becomes `jmp rel32` to a stub:
//
//   lea -128(%rsp), %rsp; call *entry(%rip); lea 128(%rsp), %rsp
//   jmp site+2                back after the syscall instruction
//
// The padding is found by decoding forward from the end of the `syscall`
// (an instruction boundary the SIGSYS proved) with kernel/exec/x86_length:
// no-ops that directly follow an instruction that never falls through (ret,
// jmp), which nothing executes. Only the two bytes of the `syscall` and
// dead padding change, so a thread stopped anywhere near the site (on the
// `syscall`, or after it in a SIGSYS of its own) runs on correctly.
//
// Limits (docs/compat.md): only those two shapes are patched.
#include "kernel/core/process.h"
#include "kernel/exec/x86_length.h"
#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

extern "C" void mote_fast_syscall();

// A rewritten glibc syscall() site serves whatever number its caller passes.
// Every number the core implements is served the same way on both paths
// today; calls that will need the signal frame or a new stack (rt_sigreturn,
// clone, vfork; never_rewrite below) must be diverted here when they exist.
extern "C" void mote_fast_syscall_c(mote::core::SyscallFrame* f) {
  mote::core::on_syscall(*f);
  // Signals for this thread, or a system call to restart or fail with
  // EINTR: the return path traps to deliver (fast_entry.S).
  if (mote::core::signal_work()) mote::process::cpu()->sig_ready = 1;
}

namespace mote::process {

namespace {

constexpr u64 kTwoGiB = 1ull << 31;
constexpr usize kSlot = 32;
constexpr usize kSlotsPerPage = kPageSize / kSlot - 1;  // slot 0 holds the entry pointer
constexpr int kHotThreshold = 2;  // rewrite a site on its second use

struct StubPage {
  u64 addr;
  usize used;
};

StubPage g_pages[64];
usize g_npages;

// Hit counts of sites seen through SIGSYS (open addressing; addr 0 = empty),
// allocated on first use so programs that never repeat a call pay nothing.
constexpr usize kSites = 4096;
struct Site {
  u64 addr;
  u64 hits;
};
Site* g_sites;

bool never_rewrite(u64 nr) {
  switch (nr) {
    case 15:                       // rt_sigreturn: needs the signal frame
    case 56: case 57: case 58:     // clone fork vfork: a new stack / a shared one
    case 59: case 322:             // execve execveat
    case 435:                      // clone3
    case 60: case 231:             // exit exit_group: run once
      return true;
    default:
      return false;
  }
}

bool within(u64 a, u64 b) { return (a > b ? a - b : b - a) < kTwoGiB - kPageSize; }

// A stub slot reachable from `site` with rel32 jumps both ways.
u64 find_slot(u64 site) {
  for (usize i = 0; i < g_npages; ++i) {
    StubPage& p = g_pages[i];
    if (p.used < kSlotsPerPage && within(p.addr, site)) return p.addr + kSlot * (1 + p.used++);
  }
  if (g_npages == sizeof g_pages / sizeof g_pages[0]) return 0;
  // A forked child (fork.cc runs it in its parent's place) uses only pages
  // made before the fork. Its patches to the text go when the parent's
  // memory comes back from the snapshot, and stub pages, being Reserved,
  // stay and serve the parent later; but a new page could land where the
  // child unmapped something of the parent's, and the parent's mapping
  // could then not come back.
  if (g.fork_depth > 0) return 0;
  u64 lo = site > kTwoGiB ? site - kTwoGiB + 2 * kPageSize : 0;
  auto r = core::g_proc.as.map_reserved(kPageSize, platform::kProtRead | platform::kProtWrite, lo,
                                        page_down(site));
  if (!r.ok() || !within(r.value(), site)) return 0;
  u64 page = r.value();
  *reinterpret_cast<u64*>(page) = reinterpret_cast<u64>(&mote_fast_syscall);
  if (host::failed(host::mprotect(page, kPageSize, 5 /*PROT_READ|PROT_EXEC*/))) return 0;
  g_pages[g_npages++] = StubPage{page, 1};
  return page + kSlot;
}

bool hot(u64 site) {
  if (!g_sites) {
    g_sites = static_cast<Site*>(mm::kzalloc(kSites * sizeof(Site)));
    if (!g_sites) return false;
  }
  usize h = usize((site * 0x9e3779b97f4a7c15ull) >> 52) % kSites;
  for (usize probe = 0; probe < kSites; ++probe, h = (h + 1) % kSites) {
    Site& e = g_sites[h];
    if (e.addr == site) return ++e.hits >= kHotThreshold;
    if (e.addr == 0) {
      e.addr = site;
      e.hits = 1;
      return kHotThreshold <= 1;
    }
  }
  return false;  // table full: leave further sites on the SIGSYS path
}

void put32(u8* p, u32 v) { memcpy(p, &v, 4); }

bool write_text(u64 addr, const void* bytes, usize n, u32 prot) {
  u64 first = page_down(addr), last = page_up(addr + n);
  // While the page is writable it is not executable: another thread that
  // runs into it faults, and its fault handler waits for g.patching to clear
  // and retries (signals.cc). No thread ever executes half-written code.
  g.patching_end = last;
  __atomic_store_n(&g.patching, first, __ATOMIC_RELEASE);
  bool done = !host::failed(host::mprotect(first, last - first, 3 /*PROT_READ|PROT_WRITE*/));
  if (done) {
    memcpy(reinterpret_cast<void*>(addr), bytes, n);
    done = !host::failed(host::mprotect(first, last - first, int(prot & 7)));
  }
  __atomic_store_n(&g.patching, 0, __ATOMIC_RELEASE);
  return done;
}

}  // namespace

bool is_stub_page(u64 page) {
  for (usize i = 0; i < g_npages; ++i)
    if (g_pages[i].addr == page) return true;
  return false;
}

// The displaced instruction, if it is one we can replay (see the top).
bool displaceable(const u8* code, const SiteRegs& r) {
  if (code[0] == 0xb8) {
    u32 imm;
    memcpy(&imm, code + 1, 4);
    return imm == u32(r.rax);
  }
  if (code[0] == 0x4c && code[1] == 0x8b && code[2] == 0x4c && code[3] == 0x24) {
    u64 slot = r.rsp + code[4];
    if (!core::g_proc.as.user_ok(slot, 8, platform::kProtRead)) return false;
    u64 v;
    memcpy(&v, reinterpret_cast<const void*>(slot), 8);
    return v == r.r9;
  }
  return false;
}

// The stub in `slot` (see the top): `before` replayed, then the call into
// the core with the red zone stepped over, then the jump back to call_end.
bool write_stub(u64 slot, const u8* before, usize nbefore, u64 call_end) {
  u8 stub[kSlot];
  memset(stub, 0xcc, sizeof stub);  // int3 padding
  usize k = 0;
  memcpy(stub + k, before, nbefore);
  k += nbefore;
  const u8 lea_down[] = {0x48, 0x8d, 0x64, 0x24, 0x80};
  memcpy(stub + k, lea_down, sizeof lea_down);
  k += sizeof lea_down;
  stub[k++] = 0xff;  // call *rel32(%rip): the entry pointer at the page start
  stub[k++] = 0x15;
  u64 page = page_down(slot);
  put32(stub + k, u32(i32(i64(page) - i64(slot + k + 4))));
  k += 4;
  const u8 lea_up[] = {0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};
  memcpy(stub + k, lea_up, sizeof lea_up);
  k += sizeof lea_up;
  stub[k++] = 0xe9;  // jmp rel32 back after the syscall
  put32(stub + k, u32(i32(i64(call_end) - i64(slot + k + 4))));
  return write_text(slot, stub, sizeof stub, platform::kProtRead | platform::kProtExec);
}

// Program text: executable, not writable (no JIT pages), readable so we can
// inspect it; [start, end) within one VMA. Its protection, or 0.
u32 text_prot(u64 start, u64 end) {
  const mm::Vma* v = core::g_proc.as.vmas().find(start);
  if (!v || v->kind == mm::VmaKind::Reserved || end > v->end) return 0;
  if (!(v->prot & platform::kProtExec) || (v->prot & platform::kProtWrite) ||
      !(v->prot & platform::kProtRead))
    return 0;
  return v->prot;
}

// Dead no-op padding for a 5-byte jmp, reachable by `jmp rel8` from the
// syscall that ends at call_end (see the top), or 0.
u64 find_padding(u64 call_end) {
  constexpr u64 kReach = 127;  // rel8, from call_end
  const u64 limit = call_end + kReach + 5;
  const mm::Vma* v = core::g_proc.as.vmas().find(call_end);
  if (!v) return 0;
  const u64 end = min(limit, v->end);
  u64 at = call_end;
  bool dead = false;  // the previous instruction never falls through
  u64 run = 0;        // start of the dead no-op run we are in, or 0
  while (at < end) {
    x86::Insn in;
    if (!x86::decode(reinterpret_cast<const u8*>(at), usize(end - at), &in)) return 0;
    if (in.is_nop && (dead || run)) {
      if (!run) run = at;
      if (at + in.length - run >= 5) return run - call_end <= kReach ? run : 0;
    } else {
      run = 0;
      dead = in.ends_flow;
    }
    at += in.length;
  }
  return 0;
}

// The second shape (see the top): `syscall` -> jmp rel8 to padding ->
// jmp rel32 to a stub that calls the core and jumps back.
void rewrite_via_padding(u64 call_end) {
  const u64 site = call_end - 2;
  const u32 site_prot = text_prot(site, call_end);
  const u8* code = reinterpret_cast<const u8*>(site);
  if (!site_prot || code[0] != 0x0f || code[1] != 0x05) return;
  const u64 pad = find_padding(call_end);
  if (!pad || text_prot(pad, pad + 5) != site_prot) return;
  if (!hot(call_end)) return;

  u64 slot = find_slot(site);
  if (!slot) return;
  if (!write_stub(slot, nullptr, 0, call_end)) return;

  // The padding first (nothing runs it), then the two bytes of the syscall.
  u8 far[5] = {0xe9};
  put32(far + 1, u32(i32(i64(slot) - i64(pad + 5))));
  if (!write_text(pad, far, sizeof far, site_prot)) return;
  const u8 near[2] = {0xeb, u8(pad - call_end)};
  if (write_text(site, near, sizeof near, site_prot)) ++g.rewritten_padding;
}

void maybe_rewrite(u64 call_end, const SiteRegs& regs) {
  u64 nr = regs.rax;
  if (never_rewrite(nr) || nr > 0xffffffffull) return;
  u64 site = call_end - 7;
  const u32 site_prot = text_prot(site, call_end);
  const u8* code = reinterpret_cast<const u8*>(site);
  if (!site_prot || code[5] != 0x0f || code[6] != 0x05 || !displaceable(code, regs)) {
    if (text_prot(call_end - 2, call_end)) rewrite_via_padding(call_end);
    return;
  }
  if (!hot(call_end)) return;

  u64 slot = find_slot(site);
  if (!slot) return;
  // The displaced instruction first, at the same %rsp.
  if (!write_stub(slot, code, 5, call_end)) return;

  u8 jmp[5] = {0xe9};
  put32(jmp + 1, u32(i32(i64(slot) - i64(site + 5))));
  if (write_text(site, jmp, sizeof jmp, site_prot)) ++g.rewritten_direct;
}

}  // namespace mote::process
