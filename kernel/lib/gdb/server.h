// The GDB remote protocol's packet loop, shared by the process platform's
// stub (in the core) and the KVM monitor's (monitor/vm/gdb/): what each
// packet means, over a Target that knows the threads, registers, memory and
// breakpoints of its own kind of machine. All-stop: the loop runs while the
// whole program is stopped and returns when gdb resumes it.
#pragma once

#include "kernel/lib/gdb/wire.h"
#include "kernel/lib/types.h"

namespace mote::gdb {

// Why the program stopped, as the stop reply says it.
struct StopInfo {
  int tid = 1;           // the thread that stopped (gdb's thread id)
  int sig = 5;           // Linux signal number (SIGTRAP for steps and breakpoints)
  bool swbreak = false;  // on one of gdb's software breakpoints (pc at it)
};

enum class Resume { None, Continue, Step, Kill, Detach };

struct ResumeAction {
  Resume how = Resume::None;
  bool with_signal = false;  // C/S: the stop's signal goes to the program
};

class Target {
 public:
  // The registers of thread `tid` (0: the stopped one): Linux mcontext gregs
  // (Greg order) and the fxsave image (null: none); null when gdb cannot see
  // them. Writable: gdb's G/P packets change them in place.
  virtual u64* regs(int tid, u8** fxsave) = 0;
  // The program's memory as it sees it (without the stub's int3s); false
  // when [addr, addr+n) is not all there. poke writes read-only text too.
  virtual bool peek(u64 addr, u8* out, usize n) = 0;
  virtual bool poke(u64 addr, const u8* src, usize n) = 0;
  virtual bool set_breakpoint(u64 addr, bool insert) = 0;
  // Calls fn(ctx, tid) for every thread.
  virtual void for_each_thread(void (*fn)(void* ctx, int tid), void* ctx) = 0;
  virtual bool thread_alive(int tid) = 0;
  // vCont: thread `tid`, not the stopped one, is to single-step.
  virtual void step_thread(int tid) = 0;
  // The program's auxiliary vector (gdb finds a PIE's load address in it);
  // false when unknown.
  virtual bool auxv(u64* addr, u64* len) = 0;

 protected:
  ~Target() = default;
};

// One connection to gdb.
class Server {
 public:
  Link link;
  bool active = false;  // attached (false after D, or when gdb went away)

  // Sends the stop reply (T packet) for `stop`.
  void send_stop(const StopInfo& stop);
  // Serves gdb until it resumes the program (Detach when it went away).
  ResumeAction serve(Target& target, const StopInfo& stop);
  // The program ended with `status`, or of `signal` (X) when non-zero.
  void send_exit(int status, int signal);

 private:
  void reply_thread_list(Target& target, const StopInfo& stop);
  void reply_auxv(Target& target, const char* p);
  ResumeAction parse_vcont(Target& target, const StopInfo& stop, const char* p);
  bool send(const char* data, usize n) { return gdb::send(link, data, n); }
  bool send_str(const char* str) { return gdb::send_str(link, str); }

  int selected_ = 0;  // Hg: the thread whose registers g/G/p/P use (0: the stopped one)
  char pkt_[kPacketMax + 1] = {};
  char out_[2 * kPacketMax + 64] = {};
};

}  // namespace mote::gdb
