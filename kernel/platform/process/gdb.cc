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
#include "kernel/platform/process/gdb_memory.h"
#include "kernel/platform/process/gdb_remote.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

namespace mote::process::gdb {

namespace {

using namespace remote;
using namespace memory;

constexpr u64 kTrapFlag = 1u << 8;     // rflags.TF (Intel SDM vol 1, 3.4.3 EFLAGS)
constexpr int kSigTrap = 5;
constexpr int kSiKernel = 0x80;        // si_code of an int3 trap

struct Session {
  Link link;
  bool active = false;   // attached (false after D, or when gdb went away)
  bool resumed = false;  // gdb resumed at least once: stops are reported
  volatile u32 lock = 0;
  u32 holder = 0;        // host tid serving gdb now
  volatile u32 halt = 0; // 1 while all-stop holds the program
  int passed_signal = 0; // a fault gdb passed on to the program (C/S)
  int selected = 0;      // Hg: the thread whose registers g/G/p/P use (0: the stopped one)
  u64 auxv = 0, auxv_len = 0;  // the program's auxiliary vector (initial stack)
  char pkt[kPacketMax + 1];
  char out[2 * kPacketMax + 64];
};

constinit Session s{};

bool send(const char* data, usize n) { return remote::send(s.link, data, n); }
bool send_str(const char* str) { return remote::send_str(s.link, str); }


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
    long n = receive(s.link, s.pkt);
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
        char all[2 * kRegBytes];
        usize off, size;
        if (!r || !reg_slot(k, &off, &size)) {
          send_str("E01");
          continue;
        }
        char* end = put_regs(all, r, fp);
        if (all + 2 * (off + size) > end) {
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
        send_str((cmd == 'Z' ? insert_breakpoint(addr) : remove_breakpoint(addr)) ? "OK" : "E14");
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
          s.link.ack = false;
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
  s.link.fd = g.boot->gdb_fd;
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
  // A step gdb asked for ends here, with its trap or with a fault of the
  // stepped instruction: either way TF comes off.
  const bool stepped = c->gdb_step || g_first;
  c->gdb_step = false;
  if (stepped) r[EFL] &= ~kTrapFlag;
  if (sig == kSigTrap) {
    if (code == kSiKernel) {
      u64 at = r[RIP] - 1;
      u8 byte = 0;
      if (s.active && is_breakpoint(at)) {
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
  // A fault passed on to a program without a handler for it ends the run
  // with 128+signal: on_exit then reports the signal (X), not a status.
  if (a.with_signal && sig != kSigTrap) s.passed_signal = sig;
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
  if (s.passed_signal && status == 128 + s.passed_signal) {
    u8 sig = u8(gdb_signal(s.passed_signal));
    msg[0] = 'X';
    msg[1] = kHex[sig >> 4];
    msg[2] = kHex[sig & 15];
  }
  s.active = false;
  send(msg, 3);
}

}  // namespace mote::process::gdb
