#include "monitor/vm/hypercalls.h"

#include <errno.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <string>

#include "monitor/vm/gdb/stub.h"
#include "monitor/vm/hex.h"

namespace mote::vm {

namespace {

std::string outside_ram(const char* call, const char* what, uint64_t gpa, uint64_t len,
                        const GuestMemory& mem) {
  return std::string("hypercall ") + call + ": " + what + " [" + hex(gpa) + ", +" + std::to_string(len) +
         ") is outside guest RAM [0, " + hex(mem.size()) + ")";
}

// One host write(2) per call: the guest's buffer leaves in one piece.
Action console_write(const HypercallContext& ctx, uint64_t gpa) {
  auto call = ctx.mem.read<abi::HcConsoleWrite>(gpa);
  if (!call) return Action::stop(outside_ram("ConsoleWrite", "struct", gpa, sizeof *call, ctx.mem));
  auto buf = ctx.mem.at(call->buf_gpa, call->len);
  if (!buf) return Action::stop(outside_ram("ConsoleWrite", "buffer", call->buf_gpa, call->len, ctx.mem));
  int64_t ret;
  if (call->stream == 1 || call->stream == 2) {
    int fd = call->stream == 1 ? ctx.console.out : ctx.console.err;
    ssize_t n = ::write(fd, buf->data(), buf->size());
    ret = n < 0 ? -int64_t(errno) : int64_t(n);
  } else {
    ret = -EBADF;
  }
  ctx.mem.write(gpa + offsetof(abi::HcConsoleWrite, ret), ret);  // in range: read above
  return Action::resume();
}

// One host read(2) per call; 0 at end of input.
Action console_read(const HypercallContext& ctx, uint64_t gpa) {
  auto call = ctx.mem.read<abi::HcConsoleRead>(gpa);
  if (!call) return Action::stop(outside_ram("ConsoleRead", "struct", gpa, sizeof *call, ctx.mem));
  auto buf = ctx.mem.at(call->buf_gpa, call->len);
  if (!buf) return Action::stop(outside_ram("ConsoleRead", "buffer", call->buf_gpa, call->len, ctx.mem));
  ssize_t n = ::read(ctx.console.in, buf->data(), buf->size());
  int64_t ret = n < 0 ? -int64_t(errno) : int64_t(n);
  ctx.mem.write(gpa + offsetof(abi::HcConsoleRead, ret), ret);
  return Action::resume();
}

// Without --gdb (a kernel built to ask anyway) it does nothing.
Action debug_program(const HypercallContext& ctx, uint64_t gpa) {
  auto call = ctx.mem.read<abi::HcDebugProgram>(gpa);
  if (!call) return Action::stop(outside_ram("DebugProgram", "struct", gpa, sizeof *call, ctx.mem));
  if (ctx.debugger) ctx.debugger->program_starts(call->rip, call->rsp);
  return Action::resume();
}

// A call whose one OUT field is `ret`: its struct read once (or the VM
// stopped), `op` on it, ret written back.
template <typename Call, typename Op>
Action with_ret(const HypercallContext& ctx, uint64_t gpa, const char* name, Op op) {
  auto call = ctx.mem.read<Call>(gpa);
  if (!call) return Action::stop(outside_ram(name, "struct", gpa, sizeof(Call), ctx.mem));
  int64_t ret = op(*call);
  ctx.mem.write(gpa + offsetof(Call, ret), ret);  // in range: read above
  return Action::resume();
}

Action start_cpu(const HypercallContext& ctx, uint64_t gpa) {
  return with_ret<abi::HcStartCpu>(ctx, gpa, "StartCpu", [&](const abi::HcStartCpu& c) -> int64_t {
    return ctx.cpus ? ctx.cpus->start_cpu(c.apic_id, c.rip, c.rsp) : -ENOSYS;
  });
}

Action console_termios(const HypercallContext& ctx, uint64_t gpa) {
  return with_ret<abi::HcConsoleTermios>(ctx, gpa, "ConsoleTermios",
                                         [&](const abi::HcConsoleTermios& c) -> int64_t {
    return ctx.terminal ? ctx.terminal->set(c.stream, c.cmd, c.termios) : -ENOTTY;
  });
}

Action exit_vm(const HypercallContext& ctx, uint64_t gpa) {
  auto call = ctx.mem.read<abi::HcExit>(gpa);
  if (!call) return Action::stop(outside_ram("Exit", "struct", gpa, sizeof *call, ctx.mem));
  return Action::exit(call->status & 0xff);  // a process exit status, as exit(2) keeps it
}

constexpr std::array<HypercallEntry, size_t(abi::Hypercall::Count)> kTable = {{
    {abi::Hypercall::ConsoleWrite, "ConsoleWrite", console_write},
    {abi::Hypercall::Exit, "Exit", exit_vm},
    {abi::Hypercall::ConsoleRead, "ConsoleRead", console_read},
    {abi::Hypercall::DebugProgram, "DebugProgram", debug_program},
    {abi::Hypercall::StartCpu, "StartCpu", start_cpu},
    {abi::Hypercall::ConsoleTermios, "ConsoleTermios", console_termios},
}};

constexpr bool table_in_order() {
  for (size_t i = 0; i < kTable.size(); ++i)
    if (size_t(kTable[i].number) != i || kTable[i].handler == nullptr) return false;
  return true;
}
static_assert(table_in_order(), "kTable must have one row per abi::Hypercall, in number order");

}  // namespace

const HypercallEntry* find_hypercall(uint16_t number) {
  return number < kTable.size() ? &kTable[number] : nullptr;
}

Action dispatch_hypercall(const HypercallContext& ctx, uint16_t number, uint64_t struct_gpa) {
  const HypercallEntry* entry = find_hypercall(number);
  if (!entry) return Action::stop("unknown hypercall " + std::to_string(number));
  return entry->handler(ctx, struct_gpa);
}

}  // namespace mote::vm
