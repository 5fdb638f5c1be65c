// The report printed when the program takes a hardware fault it has no
// handler for, and the exit with 128+signal.
#include "kernel/core/fork.h"
#include "kernel/core/process.h"
#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/exec/dwarf_line.h"
#include "kernel/exec/loader.h"
#include "kernel/linux/strace.h"
#include "kernel/mm/mapped_file.h"
#include "kernel/platform/platform.h"

namespace mote::core {

namespace {

const char* describe(int sig, int code) {
  switch (sig) {
    case 11:
      return code == 2 ? "invalid permissions for mapped memory" : "address not mapped";
    case 7: return code == 2 ? "nonexistent physical address" : "misaligned or truncated access";
    case 4: return "illegal instruction";
    case 8:
      switch (code) {
        case 1: return "integer divide by zero";
        case 2: return "integer overflow";
        default: return "floating-point exception";
      }
    case 5: return "trace/breakpoint trap";
    default: return "fault";
  }
}

// [a, a + n) is program memory that can be read (inside one readable VMA).
bool user_readable(u64 a, u64 n) {
  const mm::Vma* v = g_proc.as.vmas().find(a);
  return v && v->kind != mm::VmaKind::Reserved && (v->prot & platform::kProtRead) && a + n > a &&
         a + n <= v->end;
}

bool user_code(u64 pc) {
  const mm::Vma* v = g_proc.as.vmas().find(pc);
  return v && v->kind != mm::VmaKind::Reserved && (v->prot & platform::kProtExec);
}

// Whether a call instruction ends at `ret`: E8 rel32, or FF /2 in its
// 2- to 7-byte forms (register, memory, RIP-relative, with SIB or REX).
bool after_call(u64 ret) {
  if (ret < 7 || !user_readable(ret - 7, 7)) return false;
  const u8* b = reinterpret_cast<const u8*>(ret);
  if (b[-5] == 0xe8) return true;
  for (int k = 2; k <= 7; ++k)
    if (b[-k] == 0xff && ((b[-k + 1] >> 3) & 7) == 2) return true;
  return false;
}

Result<usize> inode_read(void* ctx, u64 off, void* buf, usize len) {
  return static_cast<fs::Inode*>(ctx)->read(off, buf, len);
}

// One backtrace line: the function and the file, from the mapping's file
// (the program, a library mapped by the dynamic loader, the loader itself),
// and the source line where the file has a line table (built with -g).
void print_frame(int i, u64 pc) {
  const mm::Vma* v = g_proc.as.vmas().find(pc);
  char sym[128];
  u64 off = 0;
  const char* fn = nullptr;
  StrView path;
  char src[96];
  u32 line = 0;
  bool have_line = false;
  if (v && v->name) {
    mm::MappedFile& m = mm::MappedFile::of(*v->name);
    // The program's bias is known; a library's segments are mapped at their
    // file offsets from its base (p_vaddr == p_offset, as ld lays them out).
    u64 bias = &m.inode() == g_proc.exe ? g_proc.load_bias : v->start - v->offset;
    // A return address may be just past the function (a call to a
    // noreturn function ends it): look up the call's last byte.
    u64 at = i ? pc - 1 : pc;
    path = m.path();
    // A separate debug file (a stripped Debian binary's, from
    // /usr/lib/debug) has the full symbol table and the line table.
    Ref<fs::Inode> debug = exec::separate_debug_file(m.inode(), path);
    if (debug) fn = exec::symbolize(*debug, at, bias, sym, sizeof sym, &off);
    if (!fn) fn = exec::symbolize(m.inode(), at, bias, sym, sizeof sym, &off);
    if (fn && i) off += 1;
    have_line = dwarf::find_line(inode_read, &m.inode(), at - bias, src, sizeof src, &line) ||
                (debug && dwarf::find_line(inode_read, debug.get(), at - bias, src, sizeof src,
                                           &line));
  }
  char where[288];
  usize n = 0;
  if (have_line) n = format(where, sizeof where, " at %s:%u", src, line);
  if (path.size) format(where + n, sizeof where - n, " in %.*s", int(path.size), path.data);
  else where[n] = 0;
  if (fn) console_printf("mote:     #%-2d %#lx <%s+%#lx>%s\n", i, (unsigned long)pc, fn,
                         (unsigned long)off, where);
  else console_printf("mote:     #%-2d %#lx%s\n", i, (unsigned long)pc, where);
}

// The program's call stack: frame-pointer links while they hold (each
// saved return address must follow a call), else the return addresses a
// scan of the stack finds, marked as such: code built without frame
// pointers (most of Debian) leaves nothing better without unwind tables.
class Backtrace {
 public:
  // Prints frame pc unless it repeats the last one (deep recursion: one
  // line says how often); false once enough lines are out.
  bool add(u64 pc) {
    if (n_ && pc == last_) {
      ++repeats_;
      return true;
    }
    flush();
    if (printed_ == kMaxLines) return false;
    print_frame(n_, pc);
    ++printed_;
    ++n_;
    last_ = pc;
    return true;
  }
  void flush() {
    if (repeats_)
      console_printf("mote:     ... the same %lu more time%s\n", (unsigned long)repeats_,
                     repeats_ == 1 ? "" : "s");
    n_ += repeats_;
    repeats_ = 0;
  }
  u64 frames() const { return n_ + repeats_; }

 private:
  static constexpr u64 kMaxLines = 24;
  u64 n_ = 0, repeats_ = 0, printed_ = 0, last_ = 0;
};

void print_backtrace(u64 pc, u64 fp, u64 sp) {
  console_printf("mote:   backtrace:\n");
  Backtrace bt;
  bt.add(pc);
  // A whole 8 MiB stack of the smallest frames is half a million steps.
  for (u64 steps = 0; steps < (1u << 20) && fp >= sp && !(fp & 7) && user_readable(fp, 16);
       ++steps) {
    const u64* frame = reinterpret_cast<const u64*>(fp);
    u64 next = frame[0], ret = frame[1];
    if (!user_code(ret) || !after_call(ret) || !bt.add(ret)) break;
    if (next <= fp) break;
    fp = next;
  }
  if (bt.frames() > 1) {
    bt.flush();
    return;
  }
  console_printf("mote:     (no frame pointers: return addresses found on the stack)\n");
  constexpr u64 kScan = 16 * 1024;
  for (u64 a = sp & ~u64(7); a < sp + kScan && user_readable(a, 8); a += 8) {
    u64 w = *reinterpret_cast<const u64*>(a);
    if (user_code(w) && after_call(w) && !bt.add(w)) break;
  }
  bt.flush();
}

// A fault next to the stack pointer in memory that is not there or not
// accessible is the stack running out: the main thread's guard below its
// RLIMIT_STACK-sized stack, or a thread stack's guard page.
bool stack_overflow(const FaultFrame& f, bool* main_stack) {
  if (f.signal != 11) return false;
  const u64 sp = f.regs[7], a = f.address;
  const mm::Vma* v = g_proc.as.vmas().find(a);
  if (v && v->prot != platform::kProtNone) return false;
  *main_stack = v && v->kind == mm::VmaKind::Stack;
  constexpr u64 kNear = 64 * 1024;
  return *main_stack || (a + kNear >= sp && a <= sp + kNear);
}

}  // namespace

void on_fault(const FaultFrame& f, UserContext* ctx) {
  klock();
  Thread* t = current();
  const int sig = f.signal;
  const SigAction a = g_proc.actions[sig];
  // A synchronous fault the thread blocks or ignores cannot be held back:
  // Linux then forces the default action (force_sig_info), and so do we.
  bool blocked = t && (t->sigmask & sig_bit(sig));
  if (ctx && t && a.handler > 1 && !blocked) {
    SigInfo info;
    memset(&info, 0, sizeof info);
    info.signo = sig;
    info.code = f.code;
    info.f[0] = f.address;  // si_addr
    t->pending |= sig_bit(sig);
    memcpy(t->pending_info[sig - 1], &info, 32);
    // No system call is in flight at a fault.
    t->restart_ret = 0;
    kunlock();
    deliver_signals(ctx);
    return;
  }
  // A forked child's crash is its parent's to report (its wait status says
  // which signal), unless --verbose asks for every report.
  if (is_forked_child() && !(platform::boot_info().flags & abi::kBootVerbose))
    process_exit(f.signal);
  const char* name = linux::signal_name(f.signal);
  const u64* r = f.regs;
  const char* signame = name ? name : "a signal";
  bool main_stack = false;
  if (!stack_overflow(f, &main_stack))
    console_printf("mote: program killed by %s (%s) at address 0x%lx\n", signame,
                   describe(f.signal, f.code), (unsigned long)f.address);
  else if (main_stack)
    console_printf("mote: program killed by %s (stack overflow: the main thread's %lu KiB stack "
                   "is used up; RLIMIT_STACK) at address 0x%lx\n",
                   signame, (unsigned long)(g_proc.stack_size >> 10), (unsigned long)f.address);
  else
    console_printf("mote: program killed by %s (stack overflow: a thread's stack guard) at "
                   "address 0x%lx\n", signame, (unsigned long)f.address);
  if (g_nthreads > 1 && t) console_printf("mote:   in thread %d of %d\n", t->tid, g_nthreads);
  console_printf("mote:   rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", r[0], r[1], r[2], r[3]);
  console_printf("mote:   rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n", r[4], r[5], r[6], r[7]);
  console_printf("mote:   r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n", r[8], r[9], r[10], r[11]);
  console_printf("mote:   r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", r[12], r[13], r[14],
                 r[15]);
  console_printf("mote:   rip %016lx rflags %08lx\n", r[16], r[17]);
  // Frame 0 is where the fault is, named from the file mapped there (the
  // program, a library or the loader).
  print_backtrace(r[16], r[6], r[7]);
  process_exit(f.signal);
}


}  // namespace mote::core
