// `mote run --gdb PORT` on the process platform: the core itself serves the
// GDB remote serial protocol on a socket the monitor accepted before the
// sandbox closed (BootInfo.gdb_fd, allowed by the seccomp filter for read
// and write only). See docs/debugging.md.
//
// Stops are host signals of the program's threads, handled on their signal
// stacks, where the host ucontext holds the program's exact registers:
//  - the program's first instruction: enter_program starts it with the trap
//    flag set, so a single-step trap arrives at its entry point;
//  - software breakpoints: int3 bytes the stub writes into program text (Z0),
//    reported with the pc moved back onto the breakpoint (swbreak);
//  - single steps: TF set in the stopped thread's saved rflags;
//  - the program's faults (SIGSEGV...), before the core acts on them.
// All-stop: the stopping thread kicks every other program thread, which
// parks in its kick handler (program code) or on its way out of a system
// call until gdb resumes; a thread blocked in a system call reports the
// registers of that call. One thread serves gdb at a time (a futex lock).
#include <asm/unistd_64.h>

#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/lib/string.h"
#include "kernel/linux/user.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/gdb.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process::gdb {

namespace {

// Linux mcontext gregs indices (platform::UserContext).
enum Greg { R8, R9, R10, R11, R12, R13, R14, R15, RDI, RSI, RBP, RBX, RDX, RAX, RCX, RSP, RIP, EFL,
            CSGSFS };
constexpr u64 kTrapFlag = 1u << 8;     // rflags.TF (Intel SDM vol 1, 3.4.3 EFLAGS)
constexpr int kSigTrap = 5;
constexpr int kSiKernel = 0x80;        // si_code of an int3 trap
constexpr usize kPacketMax = 0x4000;   // PacketSize we announce
constexpr int kMaxBreakpoints = 256;

// GDB's amd64 register numbers 0-17 (gdb/amd64-tdep.c order) as gregs.
constexpr int kGdbToGreg[18] = {RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8,
                                R9,  R10, R11, R12, R13, R14, R15, RIP, EFL};

struct Breakpoint {
  u64 addr;
  u8 saved;  // the program's byte under the int3
};

struct Session {
  int fd = -1;
  bool active = false;   // attached (false after D, or when gdb went away)
  bool ack = true;       // until QStartNoAckMode
  bool resumed = false;  // gdb resumed at least once: stops are reported
  volatile u32 lock = 0;
  u32 holder = 0;        // host tid serving gdb now
  volatile u32 halt = 0; // 1 while all-stop holds the program
  int selected = 0;      // Hg: the thread whose registers g/G/p/P use (0: the stopped one)
  u64 auxv = 0, auxv_len = 0;  // the program's auxiliary vector (initial stack)
  Breakpoint bps[kMaxBreakpoints];
  int nbps = 0;
  // Input buffer.
  u8 in[4096];
  usize in_pos = 0, in_len = 0;
  char pkt[kPacketMax + 1];
  char out[2 * kPacketMax + 64];
};

constinit Session s{};

// ---- Transport ---------------------------------------------------------------

int getc() {
  if (s.in_pos == s.in_len) {
    long n;
    do n = host::read(s.fd, s.in, sizeof s.in);
    while (n == -4 /*EINTR*/);
    if (n <= 0) return -1;
    s.in_pos = 0;
    s.in_len = usize(n);
  }
  return s.in[s.in_pos++];
}

bool write_all(const char* p, usize n) {
  while (n) {
    long w = host::write(s.fd, p, n);
    if (w == -4) continue;
    if (w <= 0) return false;
    p += w;
    n -= usize(w);
  }
  return true;
}

const char kHex[] = "0123456789abcdef";

int unhex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Sends one packet ($data#cs) and, in ack mode, waits for its '+'.
bool send(const char* data, usize n) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    u8 sum = 0;
    for (usize i = 0; i < n; ++i) sum = u8(sum + u8(data[i]));
    char tail[3] = {'#', kHex[sum >> 4], kHex[sum & 15]};
    if (!write_all("$", 1) || !write_all(data, n) || !write_all(tail, 3)) return false;
    if (!s.ack) return true;
    for (;;) {
      int c = getc();
      if (c < 0) return false;
      if (c == '+') return true;
      if (c == '-') break;  // send again
      if (c == '$') {
        // gdb's next packet: our reply arrived (its '+' was lost).
        --s.in_pos;
        return true;
      }
    }
  }
  return false;
}

bool send_str(const char* str) { return send(str, strlen(str)); }

// Receives one packet into s.pkt (NUL-terminated, '}' escapes undone);
// returns its length, or -1 when gdb is gone. A lone ^C while stopped is
// ignored.
long receive() {
  for (;;) {
    int c = getc();
    if (c < 0) return -1;
    if (c != '$') continue;
    usize n = 0;
    u8 sum = 0;
    bool overflow = false;
    for (;;) {
      c = getc();
      if (c < 0) return -1;
      if (c == '#') break;
      sum = u8(sum + u8(c));
      if (c == '}') {
        int e = getc();
        if (e < 0) return -1;
        sum = u8(sum + u8(e));
        c = e ^ 0x20;
      }
      if (n < kPacketMax) s.pkt[n++] = char(c);
      else overflow = true;
    }
    int h = getc(), l = getc();
    if (h < 0 || l < 0) return -1;
    bool good = !overflow && unhex(char(h)) >= 0 && unhex(char(l)) >= 0 &&
                u8(unhex(char(h)) * 16 + unhex(char(l))) == sum;
    if (s.ack && !write_all(good ? "+" : "-", 1)) return -1;
    if (!good) continue;
    s.pkt[n] = 0;
    return long(n);
  }
}

// ---- Parsing and formatting helpers ----------------------------------------------

u64 parse_hex(const char*& p) {
  u64 v = 0;
  for (int d; (d = unhex(*p)) >= 0; ++p) v = v * 16 + u64(d);
  return v;
}

// Little-endian bytes as hex.
char* put_bytes(char* o, const void* src, usize n) {
  const u8* b = static_cast<const u8*>(src);
  for (usize i = 0; i < n; ++i) {
    *o++ = kHex[b[i] >> 4];
    *o++ = kHex[b[i] & 15];
  }
  return o;
}

char* put_unavailable(char* o, usize n) {
  for (usize i = 0; i < 2 * n; ++i) *o++ = 'x';
  return o;
}

char* put_num(char* o, u64 v) {
  char tmp[16];
  int n = 0;
  do tmp[n++] = kHex[v & 15];
  while (v >>= 4);
  while (n) *o++ = tmp[--n];
  return o;
}

// ---- Program memory -----------------------------------------------------------------

Breakpoint* find_bp(u64 addr) {
  for (int i = 0; i < s.nbps; ++i)
    if (s.bps[i].addr == addr) return &s.bps[i];
  return nullptr;
}

// Reads program memory as the program would see it without our int3s.
bool peek(u64 addr, u8* out, usize n) {
  if (n == 0) return true;
  if (addr + n < addr) return false;
  core::klock();
  bool ok = core::g_proc.as.user_ok(addr, n, platform::kProtRead);
  if (ok) memcpy(out, reinterpret_cast<const void*>(addr), n);
  core::kunlock();
  if (!ok) return false;
  for (int i = 0; i < s.nbps; ++i)
    if (s.bps[i].addr >= addr && s.bps[i].addr < addr + n) out[s.bps[i].addr - addr] = s.bps[i].saved;
  return true;
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

// A write from gdb: bytes under our breakpoints go to their saved copies.
bool poke(u64 addr, const u8* src, usize n) {
  u8 buf[kPacketMax / 2];
  if (n > sizeof buf) return false;
  memcpy(buf, src, n);
  for (int i = 0; i < s.nbps; ++i) {
    Breakpoint& b = s.bps[i];
    if (b.addr >= addr && b.addr < addr + n) {
      b.saved = buf[b.addr - addr];
      buf[b.addr - addr] = 0xcc;
    }
  }
  return poke_raw(addr, buf, n);
}

bool insert_bp(u64 addr) {
  if (find_bp(addr)) return true;
  if (s.nbps == kMaxBreakpoints) return false;
  u8 orig;
  if (!peek(addr, &orig, 1)) return false;
  const u8 int3 = 0xcc;
  if (!poke_raw(addr, &int3, 1)) return false;
  s.bps[s.nbps++] = Breakpoint{addr, orig};
  return true;
}

bool remove_bp(u64 addr) {
  Breakpoint* b = find_bp(addr);
  if (!b) return true;
  u8 orig = b->saved;
  *b = s.bps[--s.nbps];
  return poke_raw(addr, &orig, 1);
}

// ---- Threads --------------------------------------------------------------------

// The stopped thread (the one serving gdb) and its registers.
struct Stop {
  int tid;
  int sig;  // Linux signal number
  bool swbreak;
  u64* gregs;
  u8* fpstate;
  u32 fpsize;
};
constinit Stop g_stop{};

Cpu* cpu_of(int tid) {
  core::Thread* t = core::find_thread(tid);
  return t ? static_cast<Cpu*>(t->platform) : nullptr;
}

// The registers gdb sees for a thread: its parked or stopped frame, else
// the system call it is blocked in; null when running (not parked yet).
u64* regs_of(int tid, u8** fp, u32* fpsize) {
  *fp = nullptr;
  *fpsize = 0;
  if (tid == 0 || tid == g_stop.tid) {
    *fp = g_stop.fpstate;
    *fpsize = g_stop.fpsize;
    return g_stop.gregs;
  }
  Cpu* c = cpu_of(tid);
  if (!c) return nullptr;
  if (c->gdb_gregs) {
    *fp = c->gdb_fpstate;
    *fpsize = c->gdb_fpsize;
    return c->gdb_gregs;
  }
  if (c->ctx_valid) {
    *fp = c->ctx.fpstate;
    *fpsize = c->ctx.fpstate_size;
    return c->ctx.gregs;
  }
  return nullptr;
}

void kick_others(Cpu* self) {
  core::KLockGuard guard;
  for (core::Thread* t = core::g_threads; t; t = t->next) {
    auto* c = static_cast<Cpu*>(t->platform);
    if (!c || c == self || !c->host_tid) continue;
    host::syscall3(__NR_tgkill, g.host_pid, c->host_tid, kKickSignal);
  }
}

// Gives kicked threads a moment to park (those in system calls need not).
void wait_parked(Cpu* self) {
  for (int round = 0; round < 200; ++round) {
    bool all = true;
    {
      core::KLockGuard guard;
      for (core::Thread* t = core::g_threads; t; t = t->next) {
        auto* c = static_cast<Cpu*>(t->platform);
        if (c && c != self && !c->gdb_gregs && !c->ctx_valid) all = false;
      }
    }
    if (all) return;
    host::syscall0(__NR_sched_yield);
  }
}

// ---- Registers --------------------------------------------------------------------

// The 'g' packet: GDB's amd64 layout (gdb/features/i386/64bit-core.xml and
// 64bit-sse.xml): rax..r15, rip, eflags (4 bytes), cs ss ds es fs gs (4
// each), st0-st7 (10 each), fctrl fstat ftag fiseg fioff foseg fooff fop (4
// each), xmm0-15, mxcsr. The x87/SSE part comes from the frame's fxsave
// image (Intel SDM vol 1, 10.5.1 FXSAVE Area); 'x' where there is none.
char* put_regs(char* o, const u64* r, const u8* fp) {
  for (int i = 0; i < 17; ++i) o = put_bytes(o, &r[kGdbToGreg[i]], 8);
  u32 eflags = u32(r[EFL]);
  o = put_bytes(o, &eflags, 4);
  u32 seg[6] = {u32(r[CSGSFS] & 0xffff), 0x2b /*ss*/, 0, 0, 0, 0};
  if (!seg[0]) seg[0] = 0x33;
  o = put_bytes(o, seg, sizeof seg);
  if (!fp) return put_unavailable(o, 8 * 10 + 8 * 4 + 16 * 16 + 4);
  for (int i = 0; i < 8; ++i) o = put_bytes(o, fp + 32 + 16 * i, 10);
  u16 fcw, fsw, fop, fcs, fds;
  u8 ftw;
  u32 fip, fdp;
  memcpy(&fcw, fp + 0, 2);
  memcpy(&fsw, fp + 2, 2);
  memcpy(&ftw, fp + 4, 1);
  memcpy(&fop, fp + 6, 2);
  memcpy(&fip, fp + 8, 4);
  memcpy(&fcs, fp + 12, 2);
  memcpy(&fdp, fp + 16, 4);
  memcpy(&fds, fp + 20, 2);
  // fxsave keeps one bit per register (valid or empty); gdb wants the full
  // tag word: empty is 3, and "valid" (0) is close enough for the rest.
  u32 tag = 0;
  for (int i = 0; i < 8; ++i)
    if (!(ftw & (1u << i))) tag |= 3u << (2 * i);
  const u32 x87[8] = {fcw, fsw, tag, fcs, fip, fds, fdp, u32(fop & 0x7ff)};
  o = put_bytes(o, x87, sizeof x87);
  o = put_bytes(o, fp + 160, 16 * 16);
  return put_bytes(o, fp + 24, 4);  // mxcsr
}

// Register n (GDB's numbering) from hex; false for one we cannot change.
bool set_reg(u64* r, u8* fp, u64 n, const char* hex, usize digits) {
  u8 v[16] = {};
  usize len = digits / 2;
  if (len > sizeof v) return false;
  for (usize i = 0; i < len; ++i) {
    int h = unhex(hex[2 * i]), l = unhex(hex[2 * i + 1]);
    if (h < 0 || l < 0) return false;
    v[i] = u8(h * 16 + l);
  }
  if (n < 17 && len == 8) {
    memcpy(&r[kGdbToGreg[n]], v, 8);
    return true;
  }
  if (n == 17 && len == 4) {
    // eflags: the arithmetic, direction, trap and resume bits are the
    // program's; the rest the host decides.
    u32 f;
    memcpy(&f, v, 4);
    constexpr u32 kUserBits = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x10000;
    r[EFL] = (r[EFL] & ~u64(kUserBits)) | (f & kUserBits);
    return true;
  }
  if (n >= 18 && n < 24) return true;  // segments: fixed on Linux
  if (!fp) return false;
  if (n >= 24 && n < 32 && len == 10) {
    memcpy(fp + 32 + 16 * (n - 24), v, 10);
    return true;
  }
  if (n >= 40 && n < 56 && len == 16) {
    memcpy(fp + 160 + 16 * (n - 40), v, 16);
    return true;
  }
  if (n == 56 && len == 4) {
    memcpy(fp + 24, v, 4);
    return true;
  }
  return false;
}

// ---- Stop replies and commands ------------------------------------------------------

int gdb_signal(int linux_sig) {
  switch (linux_sig) {
    case 7: return 10;   // SIGBUS
    case 10: return 30;  // SIGUSR1
    case 12: return 31;  // SIGUSR2
    default: return linux_sig;
  }
}

void send_stop_reply() {
  char* o = s.out;
  *o++ = 'T';
  u8 sig = u8(gdb_signal(g_stop.sig));
  o = put_bytes(o, &sig, 1);
  memcpy(o, "thread:", 7);
  o = put_num(o + 7, u64(g_stop.tid));
  *o++ = ';';
  if (g_stop.swbreak) {
    memcpy(o, "swbreak:;", 9);
    o += 9;
  }
  send(s.out, usize(o - s.out));
}

enum class Resume { None, Continue, Step, Kill, Detach };

struct Action {
  Resume how = Resume::None;
  bool with_signal = false;
};

// vCont;ACTION[:TID];...: the first action naming the stopped thread, or
// else the first default one, decides; steps of parked threads set their TF.
Action parse_vcont(const char* p) {
  Action mine;
  while (*p == ';') {
    ++p;
    char a = *p++;
    bool sig = false;
    if (a == 'C' || a == 'S') {
      parse_hex(p);
      sig = true;
    }
    i64 tid = -1;  // all
    if (*p == ':') {
      ++p;
      if (*p == '-') {
        ++p;
        parse_hex(p);
      } else {
        tid = i64(parse_hex(p));
      }
    }
    Resume how = (a == 's' || a == 'S') ? Resume::Step : Resume::Continue;
    if (tid == g_stop.tid || (tid == -1 && mine.how == Resume::None)) {
      if (mine.how == Resume::None) mine = Action{how, sig};
    } else if (tid > 0 && how == Resume::Step) {
      u8* fp;
      u32 fps;
      if (u64* r = regs_of(int(tid), &fp, &fps)) r[EFL] |= kTrapFlag;
      if (Cpu* c = cpu_of(int(tid))) c->gdb_step = true;
    }
    while (*p && *p != ';') ++p;
  }
  if (mine.how == Resume::None) mine.how = Resume::Continue;
  return mine;
}

void reply_thread_list() {
  char* o = s.out;
  *o++ = 'm';
  bool first = true;
  core::KLockGuard guard;
  for (core::Thread* t = core::g_threads; t && o < s.out + sizeof s.out - 40; t = t->next) {
    if (!first) *o++ = ',';
    first = false;
    o = put_num(o, u64(t->tid));
  }
  if (first) o = put_num(o, u64(g_stop.tid));
  send(s.out, usize(o - s.out));
}

bool starts(const char* p, const char* prefix) { return StrView(p).starts_with(StrView(prefix)); }

// qXfer:auxv:read::OFFSET,LENGTH
void reply_auxv(const char* p) {
  u64 off = parse_hex(p);
  if (*p++ != ',') return (void)send_str("E01");
  u64 len = min<u64>(parse_hex(p), kPacketMax / 2 - 8);
  if (off >= s.auxv_len) return (void)send_str("l");
  u64 n = min(len, s.auxv_len - off);
  u8 raw[kPacketMax / 2];
  if (!peek(s.auxv + off, raw, n)) return (void)send_str("E14");
  char* o = s.out;
  *o++ = off + n < s.auxv_len ? 'm' : 'l';
  for (u64 i = 0; i < n; ++i) {
    char c = char(raw[i]);
    if (c == '$' || c == '#' || c == '}' || c == '*') {
      *o++ = '}';
      c = char(c ^ 0x20);
    }
    *o++ = c;
  }
  send(s.out, usize(o - s.out));
}

// Serves gdb until it resumes the program (or goes away).
Action serve() {
  for (;;) {
    long n = receive();
    if (n < 0) return Action{Resume::Detach, false};
    const char* p = s.pkt;
    char cmd = *p++;
    switch (cmd) {
      case '?':
        send_stop_reply();
        continue;
      case 'g': {
        u8* fp;
        u32 fps;
        u64* r = regs_of(s.selected, &fp, &fps);
        char* o = r ? put_regs(s.out, r, fp) : put_unavailable(s.out, 8 * 17 + 4 * 7);
        send(s.out, usize(o - s.out));
        continue;
      }
      case 'G': {
        u8* fp;
        u32 fps;
        u64* r = regs_of(s.selected, &fp, &fps);
        if (!r) {
          send_str("E01");
          continue;
        }
        static const u8 sizes[] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4,
                                   4, 4};
        usize at = 0, len = usize(n) - 1;
        for (u64 k = 0; k < sizeof sizes && at + 2 * sizes[k] <= len; ++k) {
          if (p[at] != 'x') set_reg(r, fp, k, p + at, 2 * sizes[k]);
          at += 2 * sizes[k];
        }
        send_str("OK");
        continue;
      }
      case 'p': {
        u64 k = parse_hex(p);
        u8* fp;
        u32 fps;
        u64* r = regs_of(s.selected, &fp, &fps);
        char all[2 * 600];
        if (!r) {
          send_str("E01");
          continue;
        }
        char* end = put_regs(all, r, fp);
        // Offsets of register k in the 'g' image.
        usize off = 0, size = 0;
        if (k < 17) off = 8 * k, size = 8;
        else if (k < 24) off = 136 + 4 * (k - 17), size = 4;
        else if (k < 32) off = 164 + 10 * (k - 24), size = 10;
        else if (k < 40) off = 244 + 4 * (k - 32), size = 4;
        else if (k < 56) off = 276 + 16 * (k - 40), size = 16;
        else if (k == 56) off = 532, size = 4;
        if (!size || all + 2 * (off + size) > end) {
          send_str("E01");
          continue;
        }
        send(all + 2 * off, 2 * size);
        continue;
      }
      case 'P': {
        u64 k = parse_hex(p);
        u8* fp;
        u32 fps;
        u64* r = regs_of(s.selected, &fp, &fps);
        if (*p++ != '=' || !r) {
          send_str("E01");
          continue;
        }
        send_str(set_reg(r, fp, k, p, strlen(p)) ? "OK" : "E01");
        continue;
      }
      case 'm': {
        u64 addr = parse_hex(p);
        if (*p++ != ',') {
          send_str("E01");
          continue;
        }
        u64 len = min<u64>(parse_hex(p), kPacketMax / 2);
        u8 buf[kPacketMax / 2];
        // A read that starts readable but runs into an unmapped page
        // returns what it has (gdb asks again for the rest).
        u64 got = 0;
        while (got < len) {
          u64 chunk = min(len - got, page_up(addr + got + 1) - (addr + got));
          if (!peek(addr + got, buf + got, chunk)) break;
          got += chunk;
        }
        if (got == 0) send_str("E14");
        else send(s.out, usize(put_bytes(s.out, buf, got) - s.out));
        continue;
      }
      case 'M':
      case 'X': {
        u64 addr = parse_hex(p);
        if (*p++ != ',') {
          send_str("E01");
          continue;
        }
        u64 len = parse_hex(p);
        if (*p++ != ':' || len > kPacketMax / 2) {
          send_str("E01");
          continue;
        }
        u8 buf[kPacketMax / 2];
        bool good = true;
        if (cmd == 'M') {
          for (u64 i = 0; i < len && good; ++i) {
            int h = unhex(p[2 * i]), l = h < 0 ? -1 : unhex(p[2 * i + 1]);
            good = h >= 0 && l >= 0;
            buf[i] = u8(h * 16 + l);
          }
        } else {
          good = usize(n) - usize(p - s.pkt) >= len;
          if (good) memcpy(buf, p, len);
        }
        send_str(good && poke(addr, buf, len) ? "OK" : "E14");
        continue;
      }
      case 'Z':
      case 'z': {
        if (*p != '0') {  // hardware breakpoints and watchpoints: not supported
          send_str("");
          continue;
        }
        p += 2;
        u64 addr = parse_hex(p);
        send_str((cmd == 'Z' ? insert_bp(addr) : remove_bp(addr)) ? "OK" : "E14");
        continue;
      }
      case 'H': {
        ++p;  // g or c
        i64 tid = (*p == '-') ? 0 : i64(parse_hex(p));
        if (s.pkt[1] == 'g') s.selected = int(tid);
        send_str("OK");
        continue;
      }
      case 'T': {
        int tid = int(parse_hex(p));
        core::klock();
        bool alive = core::find_thread(tid) != nullptr;
        core::kunlock();
        send_str(alive ? "OK" : "E01");
        continue;
      }
      case 'c':
      case 's':
      case 'C':
      case 'S': {
        if (cmd == 'C' || cmd == 'S') parse_hex(p);
        if (*p == ';' || ((cmd == 'c' || cmd == 's') && *p)) {
          if (*p == ';') ++p;
          g_stop.gregs[RIP] = parse_hex(p);
        }
        return Action{(cmd == 's' || cmd == 'S') ? Resume::Step : Resume::Continue,
                      cmd == 'C' || cmd == 'S'};
      }
      case 'D':
        send_str("OK");
        return Action{Resume::Detach, false};
      case 'k':
        return Action{Resume::Kill, false};
      case 'v':
        if (starts(p, "Cont?")) {
          send_str("vCont;c;C;s;S");
        } else if (starts(p, "Cont;")) {
          return parse_vcont(p + 4);
        } else if (starts(p, "Kill")) {
          send_str("OK");
          return Action{Resume::Kill, false};
        } else {
          send_str("");  // vMustReplyEmpty, vFile, vRun...: not supported
        }
        continue;
      case 'q':
        if (starts(p, "Supported")) {
          send_str("PacketSize=4000;qXfer:auxv:read+;swbreak+;QStartNoAckMode+");
        } else if (starts(p, "Attached")) {
          send_str("0");  // gdb's quit kills the program (as for a program it ran)
        } else if (starts(p, "C") && p[1] == 0) {
          char* o = s.out;
          *o++ = 'Q';
          *o++ = 'C';
          o = put_num(o, u64(g_stop.tid));
          send(s.out, usize(o - s.out));
        } else if (starts(p, "fThreadInfo")) {
          reply_thread_list();
        } else if (starts(p, "sThreadInfo")) {
          send_str("l");
        } else if (starts(p, "Xfer:auxv:read::")) {
          reply_auxv(p + 16);
        } else if (starts(p, "Symbol::")) {
          send_str("OK");
        } else {
          send_str("");
        }
        continue;
      case 'Q':
        if (starts(p, "StartNoAckMode")) {
          send_str("OK");
          s.ack = false;
        } else {
          send_str("");
        }
        continue;
      default:
        send_str("");
        continue;
    }
  }
}

void remove_all_breakpoints() {
  while (s.nbps) remove_bp(s.bps[s.nbps - 1].addr);
}

void lock() {
  while (__atomic_exchange_n(&s.lock, 1, __ATOMIC_ACQUIRE))
    platform::wait_word(&s.lock, 1, ~u64(0));
  s.holder = u32(cpu()->host_tid);
}

void unlock() {
  s.holder = 0;
  __atomic_store_n(&s.lock, 0, __ATOMIC_RELEASE);
  platform::wake_word(&s.lock, 1);
}

// The program's auxiliary vector, after argc, argv[], envp[] on its
// initial stack (qXfer:auxv:read: gdb finds a PIE's load address in it).
void find_auxv(u64 sp) {
  u64 argc;
  if (!peek(sp, reinterpret_cast<u8*>(&argc), 8) || argc > (1u << 20)) return;
  u64 p = sp + 8 * (argc + 2);
  for (u64 v = 1; v;) {
    if (!peek(p, reinterpret_cast<u8*>(&v), 8)) return;
    p += 8;
  }
  u64 start = p;
  for (u64 type = 1; type;) {
    if (!peek(p, reinterpret_cast<u8*>(&type), 8)) return;
    p += 16;
    if (p - start > 4096) return;
  }
  s.auxv = start;
  s.auxv_len = p - start;
}

constinit bool g_first = true;

}  // namespace

bool enabled() { return (g.boot->flags & abi::kBootGdb) && g.boot->gdb_fd >= 3; }

void init() {
  s.fd = g.boot->gdb_fd;
  s.active = true;
  // Rewritten syscall sites would hide single steps and breakpoints behind
  // jumps into stubs (docs/debugging.md).
  g.rewrite = false;
}

bool attached() { return s.active; }

bool on_stop(int sig, int code, u64* r, u8* fp, u32 fpsize) {
  Cpu* c = cpu();
  c->gdb_gregs = r;  // readable by gdb while this thread waits for the session
  c->gdb_fpstate = fp;
  c->gdb_fpsize = fpsize;
  lock();
  bool swbreak = false;
  bool stepped = false;
  if (sig == kSigTrap) {
    stepped = c->gdb_step || g_first;
    c->gdb_step = false;
    if (stepped) r[EFL] &= ~kTrapFlag;
    if (code == kSiKernel) {
      u64 at = r[RIP] - 1;
      u8 byte = 0;
      if (s.active && find_bp(at)) {
        r[RIP] = at;
        swbreak = true;
      } else if (peek(at, &byte, 1) && byte != 0xcc) {
        // A breakpoint removed while this thread waited for the session:
        // run the program's own instruction there.
        r[RIP] = at;
        c->gdb_gregs = nullptr;
        unlock();
        return true;
      }
    }
  }
  if (!s.active) {
    c->gdb_gregs = nullptr;
    unlock();
    // A stray single-step trap after detaching is ours; anything else is
    // the program's.
    return sig == kSigTrap && stepped;
  }
  __atomic_store_n(&s.halt, 1, __ATOMIC_RELEASE);
  kick_others(c);
  wait_parked(c);
  core::Thread* t = static_cast<core::Thread*>(c->thread);
  g_stop = Stop{t ? t->tid : 1, sig, swbreak, r, fp, fpsize};
  if (g_first) {
    g_first = false;
    find_auxv(r[RSP]);
  }
  s.selected = 0;
  if (s.resumed) send_stop_reply();
  Action a = serve();
  s.resumed = true;
  if (a.how == Resume::Kill) platform::exit(137);
  if (a.how == Resume::Detach) {
    remove_all_breakpoints();
    s.active = false;
  }
  if (a.how == Resume::Step) {
    r[EFL] |= kTrapFlag;
    c->gdb_step = true;
  }
  c->gdb_gregs = nullptr;
  __atomic_store_n(&s.halt, 0, __ATOMIC_RELEASE);
  platform::wake_word(&s.halt, ~u32(0) >> 1);
  unlock();
  // The fault goes to the program when gdb passes its signal on.
  return !a.with_signal;
}

void park(u64* r, u8* fp, u32 fpsize) {
  if (!__atomic_load_n(&s.halt, __ATOMIC_ACQUIRE)) return;
  Cpu* c = cpu();
  c->gdb_fpstate = fp;
  c->gdb_fpsize = fpsize;
  __atomic_store_n(&c->gdb_gregs, r, __ATOMIC_RELEASE);
  while (__atomic_load_n(&s.halt, __ATOMIC_ACQUIRE)) platform::wait_word(&s.halt, 1, ~u64(0));
  c->gdb_gregs = nullptr;
}

bool halted() { return __atomic_load_n(&s.halt, __ATOMIC_RELAXED); }

void on_exit(int status) {
  if (!s.active) return;
  // From inside a session (vKill, k) there is nobody left to tell.
  if (s.holder == u32(cpu()->host_tid)) return;
  char msg[4] = {'W', kHex[(status >> 4) & 15], kHex[status & 15], 0};
  s.active = false;
  send(msg, 3);
}

}  // namespace mote::process::gdb
