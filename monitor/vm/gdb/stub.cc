#include "monitor/vm/gdb/stub.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>

#include "monitor/boot/page_tables.h"

namespace mote::vm::gdbstub {

namespace {

using mote::gdb::Greg;
using mote::gdb::Resume;
using mote::gdb::ResumeAction;
using mote::gdb::StopInfo;

constexpr int kSigInt = 2;
constexpr int kSigTrap = 5;
constexpr uint8_t kInt3 = 0xcc;
constexpr uint64_t kPage = 4096;

long read_fd(int fd, void* buf, usize n) {
  ssize_t r = ::read(fd, buf, n);
  return r < 0 ? -long(errno) : long(r);
}

long write_fd(int fd, const void* buf, usize n) {
  ssize_t r = ::write(fd, buf, n);
  return r < 0 ? -long(errno) : long(r);
}

}  // namespace

// What the shared packet loop sees: vCPUs as threads 1..n.
class Stub::Target final : public mote::gdb::Target {
 public:
  explicit Target(Stub& stub) : s_(stub) {}

  u64* regs(int tid, u8** fxsave) override {
    *fxsave = nullptr;
    size_t cpu = tid == 0 ? s_.stopped_ : size_t(tid - 1);
    if (tid < 0 || cpu >= s_.regs_.size()) return nullptr;
    auto& slot = s_.regs_[cpu];
    if (!slot) {
      CpuState st;
      if (!s_.cpus_->load(cpu, &st)) return nullptr;
      slot = st;
      s_.loaded_[cpu] = st;
    }
    if (slot->has_fxsave) *fxsave = slot->fxsave;
    return slot->gregs;
  }
  bool peek(u64 addr, u8* out, usize n) override { return s_.peek(addr, out, n); }
  bool poke(u64 addr, const u8* src, usize n) override { return s_.poke(addr, src, n); }
  bool set_breakpoint(u64 addr, bool insert) override { return s_.set_breakpoint(addr, insert); }
  void for_each_thread(void (*fn)(void*, int), void* ctx) override {
    for (size_t i = 0; i < s_.regs_.size(); ++i) fn(ctx, int(i + 1));
  }
  bool thread_alive(int tid) override { return tid >= 1 && size_t(tid) <= s_.regs_.size(); }
  void step_thread(int tid) override {
    if (thread_alive(tid)) s_.step_cpu_ = tid - 1;
  }
  bool auxv(u64* addr, u64* len) override {
    if (!s_.auxv_len_ && s_.entry_rsp_) s_.find_auxv(s_.entry_rsp_);
    *addr = s_.auxv_;
    *len = s_.auxv_len_;
    return s_.auxv_len_ != 0;
  }

 private:
  Stub& s_;
};

Stub::Stub(const GuestMemory& mem, int fd) : mem_(mem) {
  server_.link.fd = fd;
  server_.link.read = read_fd;
  server_.link.write = write_fd;
  server_.active = true;
}

void Stub::program_starts(uint64_t rip, uint64_t rsp) {
  std::lock_guard<std::mutex> g(config_mu_);
  if (!server_.active) return;
  entry_rsp_ = rsp;
  auxv_len_ = 0;  // found again, on this stack, when gdb asks
  if (!wait_entry_) return;
  entry_ = rip;
  ++generation_;
}

std::optional<uint64_t> Stub::translate(uint64_t va) const { return boot::translate(mem_, cr3_, va); }

bool Stub::peek(uint64_t va, uint8_t* out, size_t n) const {
  for (size_t done = 0; done < n;) {
    uint64_t at = va + done;
    if (at < va) return false;  // wrapped
    size_t chunk = std::min<uint64_t>(n - done, kPage - (at & (kPage - 1)));
    auto gpa = translate(at);
    if (!gpa) return false;
    auto bytes = mem_.at(*gpa, chunk);
    if (!bytes) return false;
    std::memcpy(out + done, bytes->data(), chunk);
    done += chunk;
  }
  // The program's bytes, not the stub's int3s.
  for (auto it = breakpoints_.lower_bound(va); it != breakpoints_.end() && it->first - va < n; ++it)
    out[it->first - va] = it->second.saved;
  return true;
}

bool Stub::poke(uint64_t va, const uint8_t* src, size_t n) {
  // Check the whole range first: a write lands whole or not at all.
  std::vector<std::span<uint8_t>> spans;
  for (size_t done = 0; done < n;) {
    uint64_t at = va + done;
    if (at < va) return false;
    size_t chunk = std::min<uint64_t>(n - done, kPage - (at & (kPage - 1)));
    auto gpa = translate(at);
    if (!gpa) return false;
    auto bytes = mem_.at(*gpa, chunk);
    if (!bytes) return false;
    spans.push_back(*bytes);
    done += chunk;
  }
  size_t done = 0;
  for (auto span : spans) {
    std::memcpy(span.data(), src + done, span.size());
    done += span.size();
  }
  // A byte under a breakpoint is the program's new byte; the int3 stays.
  for (auto it = breakpoints_.lower_bound(va); it != breakpoints_.end() && it->first - va < n; ++it) {
    it->second.saved = src[it->first - va];
    mem_.write(it->second.gpa, kInt3);
  }
  return true;
}

bool Stub::set_breakpoint(uint64_t va, bool insert) {
  auto it = breakpoints_.find(va);
  if (!insert) {
    if (it == breakpoints_.end()) return true;
    // Put the program's byte back unless the guest rewrote the int3 since.
    auto now = mem_.read<uint8_t>(it->second.gpa);
    if (now && *now == kInt3) mem_.write(it->second.gpa, it->second.saved);
    breakpoints_.erase(it);
    return true;
  }
  if (it != breakpoints_.end()) return true;
  auto gpa = translate(va);
  if (!gpa) return false;
  auto saved = mem_.read<uint8_t>(*gpa);
  if (!saved || !mem_.write(*gpa, kInt3)) return false;
  breakpoints_[va] = Breakpoint{*gpa, *saved};
  return true;
}

// The program's auxiliary vector, after argc, argv[], envp[] on its initial
// stack.
void Stub::find_auxv(uint64_t sp) {
  uint64_t argc;
  if (!peek(sp, reinterpret_cast<uint8_t*>(&argc), 8) || argc > (1u << 20)) return;
  uint64_t p = sp + 8 * (argc + 2);
  for (uint64_t v = 1; v; p += 8)
    if (!peek(p, reinterpret_cast<uint8_t*>(&v), 8)) return;
  uint64_t start = p;
  for (uint64_t type = 1; type; p += 16) {
    if (!peek(p, reinterpret_cast<uint8_t*>(&type), 8) || p - start > 4096) return;
  }
  auxv_ = start;
  auxv_len_ = p - start;
}

Verdict Stub::on_stop(Cpus& cpus, size_t cpu, StopKind kind, bool pc_after_int3) {
  if (!server_.active) return Verdict::Detached;
  cpus_ = &cpus;
  stopped_ = cpu;
  regs_.assign(cpus.count(), std::nullopt);
  loaded_.assign(cpus.count(), CpuState{});
  step_cpu_ = -1;
  Target target(*this);
  uint8_t* fx;
  uint64_t* r = target.regs(0, &fx);
  if (!r) {
    // The stopped vCPU's registers cannot be read: nothing to debug.
    server_.active = false;
    return Verdict::Detached;
  }
  cr3_ = regs_[cpu]->cr3;
  StopInfo info{int(cpu) + 1, kSigTrap, false};
  if (kind == StopKind::Entry) {
    std::lock_guard<std::mutex> g(config_mu_);
    entry_.reset();
    wait_entry_ = false;
  }
  if (kind == StopKind::Interrupt) info.sig = kSigInt;
  if (kind == StopKind::Breakpoint) {
    uint64_t at = pc_after_int3 ? r[Greg::RIP] - 1 : r[Greg::RIP];
    if (breakpoints_.count(at)) {
      r[Greg::RIP] = at;
      info.swbreak = true;
    } else {
      // The program's own int3: reported past it, as Linux's SIGTRAP is.
      r[Greg::RIP] = at + 1;
    }
  }
  if (resumed_) server_.send_stop(info);
  ResumeAction a = server_.serve(target, info);
  resumed_ = true;
  for (size_t i = 0; i < regs_.size(); ++i) {
    if (regs_[i] && std::memcmp(&*regs_[i], &loaded_[i], sizeof(CpuState)) != 0 && !cpus.store(i, *regs_[i])) {
      server_.active = false;
      return Verdict::Detached;
    }
  }
  cpus_ = nullptr;
  std::lock_guard<std::mutex> g(config_mu_);
  ++generation_;
  switch (a.how) {
    case Resume::Kill:
      return Verdict::Kill;
    case Resume::Detach:
      for (auto& [va, bp] : breakpoints_) {
        auto now = mem_.read<uint8_t>(bp.gpa);
        if (now && *now == kInt3) mem_.write(bp.gpa, bp.saved);
      }
      breakpoints_.clear();
      step_cpu_ = -1;
      server_.active = false;
      return Verdict::Detached;
    case Resume::Step:
      step_cpu_ = int(cpu);
      return Verdict::Resume;
    default:
      return Verdict::Resume;
  }
}

DebugConfig Stub::debug_config(size_t cpu) const {
  std::lock_guard<std::mutex> g(config_mu_);
  DebugConfig c;
  if (!server_.active) return c;
  c.single_step = step_cpu_ == int(cpu);
  c.exec_breakpoint = entry_;
  return c;
}

void Stub::on_exit(int status) {
  if (!server_.active) return;
  server_.send_exit(status, 0);
}

}  // namespace mote::vm::gdbstub
