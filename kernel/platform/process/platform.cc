// The platform interface on the process platform: host system calls, each
// one allowed by the sandbox (sandbox.cc) only for the purpose used here.
#include <asm/unistd_64.h>

#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"
#include "kernel/platform/process/gdb.h"
#include "kernel/platform/process/host.h"
#include "kernel/platform/process/state.h"

extern "C" char mote_vvar_page[], mote_vdso_image_end[];  // kernel/vdso/vdso_blob.S

namespace mote::platform {

using process::g;
namespace host = mote::host;

namespace {

Result<void> check(long r) {
  if (host::failed(r)) return err(int(-r));
  return ok();
}

int host_prot(u32 prot) {
  // PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4: the same bits as platform::Prot.
  return int(prot & 7);
}

}  // namespace

const abi::BootInfo& boot_info() { return *g.boot; }
const char* name() { return "process"; }

Layout layout() {
  return Layout{
      .user_min = 0x10000,                 // vm.mmap_min_addr is at most 64 KiB on common hosts
      .user_max = 0x7ffffffff000ull,
      .mmap_top = 0x7f0000000000ull,
  };
}

usize reserved_ranges(Reserved* out, usize cap) {
  for (usize i = 0; i < g.nreserved && i < cap; ++i) out[i] = g.reserved[i];
  return g.nreserved;
}

Result<void> map_anonymous(u64 addr, u64 len, u32 prot) {
  long r = host::mmap(addr, len, host_prot(prot),
                      host::kMapPrivate | host::kMapAnonymous | host::kMapFixedNoreplace, -1, 0);
  if (host::failed(r)) return err(int(-r));
  if (u64(r) != addr) {  // kernels before 4.17 treat NOREPLACE as a hint
    host::munmap(u64(r), len);
    return err(EEXIST);
  }
  return ok();
}

Result<void> map_copy(u64 addr, u64 len, u32 prot, const void* src, usize n) {
  TRY(map_anonymous(addr, len, kProtRead | kProtWrite));
  memcpy(reinterpret_cast<void*>(addr), src, min<u64>(n, len));
  if (prot != (kProtRead | kProtWrite)) {
    auto r = protect(addr, len, prot);
    if (!r.ok()) {
      host::munmap(addr, len);
      return r;
    }
  }
  return ok();
}

ImageBytes image(Image which) {
  if (which == Image::Vdso)  // the data page (clock.cc fills it), then the image
    return ImageBytes{reinterpret_cast<const u8*>(mote_vvar_page),
                      u64(mote_vdso_image_end - mote_vvar_page)};
  int k = int(which);
  if (!g.image_size[k]) return ImageBytes{nullptr, 0};
  return ImageBytes{reinterpret_cast<const u8*>(g.image_base[k]), g.image_size[k]};
}

Result<void> map_image(Image which, u64 addr, u64 len, u32 prot, u64 offset) {
  if (which == Image::Vdso) {
    // Two pages and a bit, copied: the data page is already filled in.
    ImageBytes v = image(which);
    if (offset >= v.size) return map_anonymous(addr, len, prot);
    return map_copy(addr, len, prot, v.data + offset, usize(v.size - offset));
  }
  int k = int(which);
  if (g.image_fd[k] < 0) return err(ENODEV);
  // Past the file's last page the host would raise SIGBUS: map only what the
  // image covers and leave the rest zero-filled anonymous memory.
  u64 covered = offset < g.image_size[k] ? min(len, page_up(g.image_size[k] - offset)) : 0;
  if (covered) {
    long r = host::mmap(addr, covered, host_prot(prot),
                        host::kMapPrivate | host::kMapFixedNoreplace, g.image_fd[k],
                        g.image_file_offset[k] + offset);
    if (host::failed(r)) return err(int(-r));
    if (u64(r) != addr) {
      host::munmap(u64(r), covered);
      return err(EEXIST);
    }
  }
  if (covered < len) {
    auto r = map_anonymous(addr + covered, len - covered, prot);
    if (!r.ok()) {
      if (covered) host::munmap(addr, covered);
      return r;
    }
  }
  return ok();
}

Result<void> unmap(u64 addr, u64 len) { return check(host::munmap(addr, len)); }

Result<void> protect(u64 addr, u64 len, u32 prot) {
  return check(host::mprotect(addr, len, host_prot(prot)));
}

Result<void> move(u64 old_addr, u64 old_len, u64 new_addr, u64 new_len) {
  long r = host::syscall5(__NR_mremap, long(old_addr), long(old_len), long(new_len),
                          3 /*MREMAP_MAYMOVE|MREMAP_FIXED*/, long(new_addr));
  // The host refuses ranges spanning several of its own mappings (EFAULT):
  // the core then copies instead.
  if (r == -EFAULT || r == -EINVAL) return err(ENOSYS);
  return check(r);
}

Result<void> discard(u64 addr, u64 len) {
  return check(host::syscall3(__NR_madvise, long(addr), long(len), 4 /*MADV_DONTNEED*/));
}

Result<SharedPage> shared_page_alloc() {
  if (!g.shm_mapped) {  // the first one: size the memfd and map the core's view
    TRY(check(host::syscall2(__NR_ftruncate, g.shm_fd, long(g.shm_size))));
    long r = host::mmap(g.shm_base, g.shm_size, 3 /*PROT_READ|PROT_WRITE*/,
                        0x01 /*MAP_SHARED*/ | host::kMapFixed, g.shm_fd, 0);
    if (host::failed(r)) return err(int(-r));
    g.shm_mapped = true;
  }
  // Fresh offsets of the memfd read as zero, and so do freed ones
  // (MADV_REMOVE punched them out).
  u64 off;
  if (g.shm_nfree) {
    off = u64(g.shm_free[--g.shm_nfree]) * kPageSize;
  } else {
    if (g.shm_next >= g.shm_size) return err(ENOMEM);
    off = g.shm_next;
    g.shm_next += kPageSize;
  }
  return SharedPage{g.shm_base + off, off};
}

void shared_page_free(u64 token) {
  if (!g.shm_free) {
    // One slot per page of the file, backed by the host as it is touched.
    auto r = map_core(g.shm_size / kPageSize * sizeof(u32));
    if (!r.ok()) return;  // the page stays allocated: a leak, not corruption
    g.shm_free = reinterpret_cast<u32*>(r.value());
  }
  // MADV_REMOVE gives the memory back to the host and makes the page zero.
  host::syscall3(__NR_madvise, long(g.shm_base + token), long(kPageSize), 9 /*MADV_REMOVE*/);
  g.shm_free[g.shm_nfree++] = u32(token / kPageSize);
}

Result<void> map_shared(u64 addr, const u64* tokens, usize n, u32 prot) {
  // Runs of consecutive file offsets go in one mmap.
  usize i = 0;
  while (i < n) {
    usize j = i + 1;
    while (j < n && tokens[j] == tokens[j - 1] + kPageSize) ++j;
    u64 at = addr + i * kPageSize, len = (j - i) * kPageSize;
    long r = host::mmap(at, len, host_prot(prot), 0x01 /*MAP_SHARED*/ | host::kMapFixedNoreplace,
                        g.shm_fd, tokens[i]);
    if (!host::failed(r) && u64(r) != at) {
      host::munmap(u64(r), len);
      r = -EEXIST;
    }
    if (host::failed(r)) {
      if (i) host::munmap(addr, i * kPageSize);
      return err(int(-r));
    }
    i = j;
  }
  return ok();
}

namespace {

// Ranges of the core region unmap_core gave back, for map_core to hand out
// again (first fit; neighbours merged). When the table is full a range is
// not reused: address space lost, never memory.
struct FreeRange {
  u64 addr, len;
};
FreeRange g_free_ranges[128];
usize g_nfree_ranges;

u64 reuse_range(u64 len) {
  for (usize i = 0; i < g_nfree_ranges; ++i) {
    FreeRange& r = g_free_ranges[i];
    if (r.len < len) continue;
    u64 addr = r.addr;
    r.addr += len;
    r.len -= len;
    if (!r.len) g_free_ranges[i] = g_free_ranges[--g_nfree_ranges];
    return addr;
  }
  return 0;
}

void give_back_range(u64 addr, u64 len) {
  for (usize i = 0; i < g_nfree_ranges; ++i) {
    FreeRange& r = g_free_ranges[i];
    if (r.addr + r.len == addr) {
      r.len += len;
    } else if (addr + len == r.addr) {
      r.addr = addr;
      r.len += len;
    } else {
      continue;
    }
    // It may now touch another range too: merge that one in.
    for (usize j = 0; j < g_nfree_ranges; ++j) {
      FreeRange& o = g_free_ranges[j];
      if (j == i || (o.addr + o.len != r.addr && r.addr + r.len != o.addr)) continue;
      r.addr = min(r.addr, o.addr);
      r.len += o.len;
      g_free_ranges[j] = g_free_ranges[--g_nfree_ranges];
      break;
    }
    return;
  }
  if (g_nfree_ranges < sizeof g_free_ranges / sizeof g_free_ranges[0])
    g_free_ranges[g_nfree_ranges++] = FreeRange{addr, len};
}

}  // namespace

Result<u64> map_core(u64 len) {
  len = page_up(len);
  u64 addr = reuse_range(len);
  bool fresh = !addr;
  if (fresh) {
    if (len > g.core_region_size - g.core_region_used) return err(ENOMEM);
    addr = g.core_region + g.core_region_used;
  }
  long r = host::mprotect(addr, len, 3 /*PROT_READ|PROT_WRITE*/);
  if (host::failed(r)) {
    if (!fresh) give_back_range(addr, len);
    return err(int(-r));
  }
  if (fresh) g.core_region_used += len;
  return addr;
}

void prefault_core(u64 addr, u64 len) {
  host::syscall3(__NR_madvise, long(addr), long(len), 23 /*MADV_POPULATE_WRITE*/);
}

void unmap_core(u64 addr, u64 len) {
  // Gives the pages back to the host; the address range stays reserved, and
  // map_core hands it out again.
  len = page_up(len);
  host::syscall3(__NR_madvise, long(addr), long(len), 4 /*MADV_DONTNEED*/);
  host::mprotect(addr, len, 0);
  give_back_range(addr, len);
}

void set_fs_base(u64 base) {
  host::syscall2(__NR_arch_prctl, 0x1002 /*ARCH_SET_FS*/, long(base));
  process::cpu()->fs_base = base;
}

u64 fs_base() { return process::cpu()->fs_base; }

// fork, exit and execve never take the fast path (rewrite.cc never_rewrite):
// they run in the SIGSYS handler on the thread's signal stack, whose frame
// also holds the program's registers and FPU state (sigreturn puts them back).
u64 syscall_stack_top() { return process::cpu()->sigstack_top; }
usize fpu_state_size() { return 0; }
void fpu_save(void*) {}
void fpu_restore(const void*) {}

void return_stack(u64 rsp) { process::cpu()->return_rsp = rsp; }
void fork_depth(int depth) { g.fork_depth = depth; }

void exec_return(u64 rip, u64 rsp) {
  process::Cpu* c = process::cpu();
  c->exec_pending = true;
  c->exec_rip = rip;
  c->exec_rsp = rsp;
}

u64 hwcap() { return g.hwcap; }
u64 hwcap2() { return g.hwcap2; }
u64 min_signal_stack() { return g.minsigstksz; }


isize console_write(int stream, const void* buf, usize len) {
  for (;;) {
    long r = host::write(stream, buf, len);
    if (r != -EINTR) return r;
  }
}

isize console_read(int stream, void* buf, usize len) {
  for (;;) {
    long r = host::read(stream, buf, len);
    if (r != -EINTR) return r;
  }
}

Result<void> console_set_termios(int stream, u32 cmd, const u8* termios) {
  if (!(g.boot->flags & abi::kBootTty) || stream < 0 || stream > 2) return err(ENOTTY);
  if (g.boot->console[stream].kind != abi::ConsoleKind::Tty) return err(ENOTTY);
  // The kernel's struct termios: 36 bytes, then padding the ioctl ignores.
  u8 t[60] = {};
  memcpy(t, termios, 36);
  long r = host::syscall3(__NR_ioctl, stream, long(cmd), long(t));
  if (host::failed(r)) return err(int(-r));
  g.termios_changed |= 1u << stream;
  return ok();
}

void restore_terminal() {
  for (int k = 0; k < 3; ++k) {
    if (!(g.termios_changed & (1u << k))) continue;
    u8 t[60] = {};
    memcpy(t, g.boot->console[k].termios, 36);
    host::syscall3(__NR_ioctl, k, 0x5402 /*TCSETS*/, long(t));
  }
  g.termios_changed = 0;
}

void random_seed(u8 out[32]) { memcpy(out, g.boot->random_seed, 32); }

void exit(int status) {
  if (g.boot && (g.boot->flags & abi::kBootVerbose)) {
    char msg[96];
    usize n = format(msg, sizeof msg, "mote: core region: %lu KiB of address space used\n",
                     (unsigned long)(g.core_region_used >> 10));
    host::write(2, msg, n);
    n = format(msg, sizeof msg, "mote: syscall sites rewritten: %u, %u of them through padding\n",
               g.rewritten_direct + g.rewritten_padding, g.rewritten_padding);
    host::write(2, msg, n);
  }
  process::gdb::on_exit(status & 0xff);
  restore_terminal();
  process::release_net();
  host::exit_group(status & 0xff);
}

void panic(const char* msg) { process::fatal(msg); }

}  // namespace mote::platform

extern "C" [[noreturn]] void mote_enter_user(mote::u64 rip, mote::u64 rsp, mote::u64 rdx);
extern "C" [[noreturn]] void mote_enter_user_traced(mote::u64 rip, mote::u64 rsp, mote::u64 rdx);

namespace mote::platform {

void enter_program(const EntryState& s) {
  process::enable_syscall_dispatch();
  process::probe_vdso_clock();
  process::install_host_signal_handlers();  // rt_sigaction: not in the allowlist
  process::prepare_net();                   // eventfd2: not in it either
  process::prepare_timer();                 // timerfd_create: nor that
  process::install_seccomp();
  if (g.boot->flags & abi::kBootSelftestNet) g.net_selftest = true;
  process::start_net_thread();  // after the filter: the thread inherits it
  // Signals from the host (kill, Ctrl-C) reach the program through the
  // timer thread from now on (their handlers are in before the filter).
  process::start_timer_thread();
  if (g.boot->flags & abi::kBootSelftestNet) process::net_selftest();
  if (g.boot->flags & abi::kBootSelftestEscape) {
    // Proves the seccomp wall: from the core's own text (so Syscall User
    // Dispatch lets it through), a call the allowlist does not name.
    long fd = host::syscall4(__NR_openat, -100, long("/etc/hostname"), 0, 0);
    char msg[96];
    usize n = format(msg, sizeof msg, "mote: sandbox escape: openat reached the host (%ld)\n", fd);
    host::write(2, msg, n);
    host::exit_group(1);
  }
  if (process::gdb::enabled()) {
    // --gdb: the program's first instruction raises a single-step trap,
    // gdb's first stop (gdb.cc).
    process::gdb::init();
    mote_enter_user_traced(s.rip, s.rsp, s.rdx);
  }
  mote_enter_user(s.rip, s.rsp, s.rdx);
}

}  // namespace mote::platform
