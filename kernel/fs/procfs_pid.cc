// /proc/<pid>: the one process's view. Files are generated from g_proc, the
// address space, the fd table and the boot info when opened.
//
// /proc/<pid>/fd/N are "magic links" as on Linux, within what one process
// needs: readlink gives the file's absolute path when it can be found in the
// tree (a search from the root, skipping /proc and /sys), else "pipe:[ino]",
// "socket:[ino]", the terminal's /dev path, or "anon_inode:[...]". Opening
// /proc/self/fd/N follows that text: a path opens the file afresh (a new open
// file description, as Linux does); the other names are looked up in the fd
// directory itself, which answers with the open file's inode, so
// `cat /proc/self/fd/0` works on a pipe or console too. Such an open gives
// a new description for the console streams and the same description for
// an anonymous pipe (docs/compat.md).
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/fs/console.h"
#include "kernel/fs/fdtable.h"
#include "kernel/fs/mounts.h"
#include "kernel/fs/pseudo.h"
#include "kernel/mm/mapped_file.h"
#include "kernel/fs/special.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"

namespace mote::fs {

namespace {

using core::g_proc;

constexpr u64 kHz = 100;  // USER_HZ: clock ticks of /proc times

StrView blob(abi::BlobString s) {
  return StrView(reinterpret_cast<const char*>(&platform::boot_info()) + s.offset, s.length);
}
StrView boot_arg(u32 table, u32 i) {
  const auto* t = reinterpret_cast<const abi::BlobString*>(
      reinterpret_cast<const u8*>(&platform::boot_info()) + table);
  return blob(t[i]);
}

// The command name: the program file's name, at most 15 bytes (TASK_COMM_LEN).
StrView comm() {
  if (g_proc.comm[0]) return StrView(g_proc.comm, strnlen(g_proc.comm, 15));
  StrView p = g_proc.exe_path;
  usize cut = p.size;
  while (cut > 0 && p.data[cut - 1] != '/') --cut;
  return StrView(p.data + cut, min<usize>(p.size - cut, 15));
}

bool is_console(const Inode& n) { return n.fs && StrView(n.fs->type) == StrView("devpts"); }

// ---- Memory figures --------------------------------------------------------------

struct MemUse {
  u64 size, rss, stack, exe, data, code_start, code_end, stack_top, brk_start;
};

MemUse mem_use() {
  MemUse m{};
  const mm::VmaSet& v = g_proc.as.vmas();
  for (usize i = 0; i < v.size(); ++i) {
    const mm::Vma& a = v[i];
    if (a.kind == mm::VmaKind::Reserved) continue;
    m.size += a.bytes();
    if (a.charged || a.kind == mm::VmaKind::Image) m.rss += a.bytes();
    switch (a.kind) {
      case mm::VmaKind::Stack: m.stack += a.bytes(); m.stack_top = a.end; break;
      case mm::VmaKind::Image:
        if (a.prot & platform::kProtExec) {
          m.exe += a.bytes();
          if (!m.code_start) m.code_start = a.start;
          m.code_end = a.end;
        }
        break;
      case mm::VmaKind::Heap:
        if (!m.brk_start) m.brk_start = a.start;
        m.data += a.bytes();
        break;
      default:
        if (a.prot & platform::kProtWrite) m.data += a.bytes();
        break;
    }
  }
  if (!m.brk_start) m.brk_start = g_proc.as.brk();
  return m;
}

u64 g_vm_peak = 0;

struct Signals {
  u64 ignored, caught;
};
Signals signal_sets() {
  Signals s{};
  for (int sig = 1; sig <= core::kNumSignals; ++sig) {
    u64 h = g_proc.actions[sig].handler;
    if (h == 1) s.ignored |= u64(1) << (sig - 1);        // SIG_IGN
    else if (h > 1) s.caught |= u64(1) << (sig - 1);
  }
  return s;
}

// ---- Files --------------------------------------------------------------------

void gen_cmdline(Text& t) {
  const abi::BootInfo& b = platform::boot_info();
  for (u32 i = 0; i < b.argc; ++i) {
    t.put(boot_arg(b.argv_offset, i));
    t.put('\0');
  }
}

void gen_environ(Text& t) {
  const abi::BootInfo& b = platform::boot_info();
  for (u32 i = 0; i < b.envc; ++i) {
    t.put(boot_arg(b.envp_offset, i));
    t.put('\0');
  }
}

void gen_comm(Text& t) {
  t.put(comm());
  t.put('\n');
}

void put_kb(Text& t, const char* name, u64 bytes) {
  t.append("%s:\t%8lu kB\n", name, (unsigned long)(bytes >> 10));
}

void gen_status(Text& t) {
  MemUse m = mem_use();
  if (m.size > g_vm_peak) g_vm_peak = m.size;
  Signals sig = signal_sets();
  StrView c = comm();
  int pid = g_proc.pid;
  u32 cpus = platform::cpu_count();
  t.append("Name:\t%.*s\n", int(c.size), c.data);
  t.append("Umask:\t%04o\n", ns().umask);
  t.append("State:\tR (running)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", pid,
           pid, g_proc.ppid);
  t.append("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
  u64 fdsize = 64;
  while (fdsize < u64(fds().end())) fdsize *= 2;
  t.append("FDSize:\t%lu\nGroups:\t0 \n", (unsigned long)fdsize);
  t.append("NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n", pid, pid, pid, pid);
  put_kb(t, "VmPeak", g_vm_peak);
  put_kb(t, "VmSize", m.size);
  put_kb(t, "VmLck", 0);
  put_kb(t, "VmPin", 0);
  put_kb(t, "VmHWM", m.rss);
  put_kb(t, "VmRSS", m.rss);
  put_kb(t, "RssAnon", m.rss > m.exe ? m.rss - m.exe : 0);
  put_kb(t, "RssFile", m.exe);
  put_kb(t, "RssShmem", 0);
  put_kb(t, "VmData", m.data);
  put_kb(t, "VmStk", m.stack);
  put_kb(t, "VmExe", m.exe);
  put_kb(t, "VmLib", 0);
  put_kb(t, "VmPTE", 0);
  put_kb(t, "VmSwap", 0);
  t.append("HugetlbPages:\t%8lu kB\n", 0ul);
  t.append("CoreDumping:\t0\nTHP_enabled:\t0\nThreads:\t%d\nSigQ:\t0/%lu\n", core::g_nthreads,
           (unsigned long)g_proc.rlimits[11].cur);
  t.append("SigPnd:\t%016lx\nShdPnd:\t%016lx\nSigBlk:\t%016lx\nSigIgn:\t%016lx\nSigCgt:\t%016lx\n",
           0ul, 0ul, (unsigned long)core::current()->sigmask, (unsigned long)sig.ignored,
           (unsigned long)sig.caught);
  t.append("CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
           "CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n");
  t.append("NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n");
  t.append("Speculation_Store_Bypass:\tunknown\nSpeculationIndirectBranch:\tunknown\n");
  // Cpus_allowed: a hex mask in 32-bit groups, as Linux prints it.
  t.append("Cpus_allowed:\t");
  for (i32 group = i32((cpus - 1) / 32); group >= 0; --group) {
    u32 n = cpus - u32(group) * 32;
    u32 mask = n >= 32 ? ~0u : (1u << n) - 1;
    t.append(group == i32((cpus - 1) / 32) ? "%x" : ",%08x", mask);
  }
  t.append(cpus > 1 ? "\nCpus_allowed_list:\t0-%u\n" : "\nCpus_allowed_list:\t%u\n",
           cpus > 1 ? cpus - 1 : 0);
  t.append("Mems_allowed:\t1\nMems_allowed_list:\t0\n");
  t.append("voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
}

// The controlling terminal as /proc/<pid>/stat encodes it (tty_nr), or 0.
u64 tty_nr() {
  for (int k = 0; k < 3; ++k) {
    const abi::ConsoleStream& s = platform::boot_info().console[k];
    if (s.kind != abi::ConsoleKind::Tty) continue;
    u32 major = dev_major(s.tty_rdev), minor = dev_minor(s.tty_rdev);
    return (minor & 0xff) | (u64(major) << 8) | (u64(minor & ~0xffu) << 12);
  }
  return 0;
}

void gen_stat(Text& t) {
  MemUse m = mem_use();
  Signals sig = signal_sets();
  StrView c = comm();
  int pid = g_proc.pid;
  u64 cpu_ticks = platform::process_cpu_ns() / (1000000000ull / kHz);
  u64 tty = tty_nr();
  t.append("%d (%.*s) R %d %d %d %lu %d 4194560 0 0 0 0 %lu 0 0 0 20 0 %d 0 0 %lu %lu ", pid,
           int(c.size), c.data, g_proc.ppid, g_proc.pgid, g_proc.sid, (unsigned long)tty,
           tty ? g_proc.pgid : -1,
           (unsigned long)cpu_ticks, core::g_nthreads, (unsigned long)m.size, (unsigned long)(m.rss / kPageSize));
  t.append("18446744073709551615 %lu %lu %lu 0 0 0 %lu %lu %lu 0 0 0 17 0 0 0 0 0 0 ",
           (unsigned long)m.code_start, (unsigned long)m.code_end, (unsigned long)m.stack_top,
           (unsigned long)core::current()->sigmask, (unsigned long)sig.ignored, (unsigned long)sig.caught);
  t.append("0 0 %lu 0 0 0 0 0\n", (unsigned long)m.brk_start);
}

void gen_statm(Text& t) {
  MemUse m = mem_use();
  t.append("%lu %lu %lu %lu 0 %lu 0\n", (unsigned long)(m.size / kPageSize),
           (unsigned long)(m.rss / kPageSize), (unsigned long)(m.exe / kPageSize),
           (unsigned long)(m.exe / kPageSize), (unsigned long)((m.data + m.stack) / kPageSize));
}

void gen_maps(Text& t) {
  const mm::VmaSet& v = g_proc.as.vmas();
  for (usize i = 0; i < v.size(); ++i) {
    const mm::Vma& a = v[i];
    if (a.kind == mm::VmaKind::Reserved) continue;
    // A mapping of a file shows the file; the zero-filled rest of an image
    // (.bss beyond the file's last page) is anonymous, as on Linux.
    Attr file{};
    StrView name;
    if (g_proc.vdso && a.start == g_proc.vdso - kPageSize) {
      name = "[vvar]";
    } else if (g_proc.vdso && a.start == g_proc.vdso) {
      name = "[vdso]";
    } else if (a.name) {
      mm::MappedFile& m = mm::MappedFile::of(*a.name);
      (void)m.inode().getattr(&file);
      name = m.path();
    } else if (a.kind == mm::VmaKind::Heap) {
      name = "[heap]";
    } else if (a.kind == mm::VmaKind::Stack) {
      name = "[stack]";
    }
    t.append("%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu ", (unsigned long)a.start,
             (unsigned long)a.end, a.prot & platform::kProtRead ? 'r' : '-',
             a.prot & platform::kProtWrite ? 'w' : '-', a.prot & platform::kProtExec ? 'x' : '-',
             a.kind == mm::VmaKind::Shared ? 's' : 'p', (unsigned long)a.offset,
             dev_major(file.dev), dev_minor(file.dev), (unsigned long)file.ino);
    if (name.size) {
      t.pad_to(73);
      t.put(name);
    }
    t.put('\n');
  }
}

void gen_limits(Text& t) {
  static constexpr const char* kNames[core::kNumRlimits][2] = {
      {"Max cpu time", "seconds"},       {"Max file size", "bytes"},
      {"Max data size", "bytes"},        {"Max stack size", "bytes"},
      {"Max core file size", "bytes"},   {"Max resident set", "bytes"},
      {"Max processes", "processes"},    {"Max open files", "files"},
      {"Max locked memory", "bytes"},    {"Max address space", "bytes"},
      {"Max file locks", "locks"},       {"Max pending signals", "signals"},
      {"Max msgqueue size", "bytes"},    {"Max nice priority", ""},
      {"Max realtime priority", ""},     {"Max realtime timeout", "us"},
  };
  t.append("%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units");
  for (int r = 0; r < core::kNumRlimits; ++r) {
    char soft[24], hard[24];
    const core::Rlimit& l = g_proc.rlimits[r];
    if (l.cur == core::kRlimInfinity) format(soft, sizeof soft, "unlimited");
    else format(soft, sizeof soft, "%lu", (unsigned long)l.cur);
    if (l.max == core::kRlimInfinity) format(hard, sizeof hard, "unlimited");
    else format(hard, sizeof hard, "%lu", (unsigned long)l.max);
    t.append("%-25s %-20s %-20s %-10s\n", kNames[r][0], soft, hard, kNames[r][1]);
  }
}

void mount_line(void* ctx, StrView source, StrView target, StrView type, StrView opts) {
  static_cast<Text*>(ctx)->append("%.*s %.*s %.*s %.*s 0 0\n", int(source.size), source.data,
                                  int(target.size), target.data, int(type.size), type.data,
                                  int(opts.size), opts.data);
}
void gen_mounts(Text& t) { for_each_mount(mount_line, &t); }

struct MountInfoCtx {
  Text* t;
  int id;
};
void mountinfo_line(void* ctx, StrView source, StrView target, StrView type, StrView opts) {
  auto* c = static_cast<MountInfoCtx*>(ctx);
  int id = 20 + c->id++;
  // Mount options and superblock options are not told apart: both are `opts`.
  c->t->append("%d %d 0:%d / %.*s %.*s - %.*s %.*s %.*s\n", id, id == 20 ? 1 : 20, id,
               int(target.size), target.data, int(opts.size), opts.data, int(type.size),
               type.data, int(source.size), source.data, int(opts.size), opts.data);
}
void gen_mountinfo(Text& t) {
  MountInfoCtx c{&t, 0};
  for_each_mount(mountinfo_line, &c);
}

void gen_cgroup(Text& t) { t.append("0::/\n"); }
void gen_zero(Text& t) { t.append("0\n"); }

Result<usize> link_exe(char* buf, usize cap) { return copy_out(buf, cap, g_proc.exe_path); }
Result<usize> link_cwd(char* buf, usize cap) { return dir_path(ns().cwd.get(), buf, cap); }

// ---- Finding a file's path ---------------------------------------------------------

// Directory entries read a batch at a time (TmpDir's readdir restarts its
// scan at each call).
struct Batch {
  static constexpr usize kMax = 16;
  usize n;
  struct {
    u64 next;
    usize len;
    char name[kNameMax + 1];
  } e[kMax];
};

bool take(void* ctx, const DirEntry& d) {
  auto* b = static_cast<Batch*>(ctx);
  if (b->n == Batch::kMax) return false;
  auto& e = b->e[b->n++];
  e.next = d.next_cookie;
  e.len = min(d.name.size, kNameMax);
  memcpy(e.name, d.name.data, e.len);
  return true;
}

bool searchable(const Inode& dir) {
  if (!dir.fs) return true;
  StrView type(dir.fs->type);
  return !(type == StrView("proc")) && !(type == StrView("sysfs"));
}

// Searches the tree from the root for `target` (depth first, mounts
// crossed, /proc and /sys skipped); its absolute path into buf.
Result<usize> find_path(Inode* target, char* buf, usize cap) {
  struct Frame {
    Ref<Inode> dir;
    u64 cookie;
    usize len;  // buf[0, len) is this directory's path ("" for the root)
  };
  constexpr usize kMaxDepth = 64;
  auto* b = static_cast<Batch*>(mm::kalloc(sizeof(Batch)));
  if (!b) return err(ENOMEM);
  Vec<Frame> stack;
  Ref<Inode> root = ns().root;
  while (root->mounted) root = root->mounted;
  Result<usize> found = err(ENOENT);
  if (!stack.push(Frame{root, 0, 0}).ok()) found = err(ENOMEM);
  while (!stack.empty() && !found.ok()) {
    Frame& f = stack[stack.size() - 1];
    Ref<Inode> dir = f.dir;
    usize base = f.len;
    b->n = 0;
    if (!dir->readdir(&f.cookie, take, b).ok() || b->n == 0) {
      stack.pop();
      continue;
    }
    for (usize i = 0; i < b->n; ++i) {
      StrView name(b->e[i].name, b->e[i].len);
      if (name == StrView(".") || name == StrView("..")) continue;
      auto l = dir->lookup(name);
      if (!l.ok()) continue;
      Ref<Inode> node = l.value();
      while (node->mounted) node = node->mounted;
      if (base + 1 + name.size + 1 > cap) continue;
      bool descend = node->is_dir() && searchable(*node) && stack.size() < kMaxDepth;
      if (node.get() != target && !descend) continue;
      buf[base] = '/';
      memcpy(buf + base + 1, name.data, name.size);
      if (node.get() == target) {
        found = base + 1 + name.size;
        break;
      }
      stack[stack.size() - 1].cookie = b->e[i].next;  // resume after this one
      if (!stack.push(Frame{node, 0, base + 1 + name.size}).ok()) found = err(ENOMEM);
      break;
    }
  }
  mm::kfree(b);
  return found;
}

// ---- /proc/<pid>/fd and fdinfo -----------------------------------------------------

bool parse_fd(StrView s, int* fd) {
  if (s.size == 0 || s.size > 9 || (s.size > 1 && s.data[0] == '0')) return false;
  int v = 0;
  for (usize i = 0; i < s.size; ++i) {
    if (s.data[i] < '0' || s.data[i] > '9') return false;
    v = v * 10 + (s.data[i] - '0');
  }
  *fd = v;
  return true;
}

constexpr u64 kFdInoBase = u64(1) << 32;

// One entry of /proc/<pid>/fd: a symlink to the open file.
class FdLink final : public Inode {
 public:
  FdLink(FileSystem* fs, int fd, Ref<File> f)
      : Inode(fs, kFdInoBase + u64(fd), kIflnk), file_(static_cast<Ref<File>&&>(f)) {
    if (file_->readable()) mode |= 0500;
    if (file_->writable()) mode |= 0300;
    size = 64;
  }
  Result<usize> readlink(char* buf, usize cap) override { return file_link_text(*file_, buf, cap); }

 private:
  Ref<File> file_;
};

// What following a non-path fd link reaches: the open file's inode, opened
// the way that kind of file can be reopened.
class FdTarget final : public Inode {
 public:
  explicit FdTarget(Ref<File> f)
      : Inode(f->inode->fs, f->inode->ino, f->inode->mode), file_(static_cast<Ref<File>&&>(f)) {
    rdev = file_->inode->rdev;
  }
  Result<void> getattr(Attr* a) override { return file_->inode->getattr(a); }
  Result<usize> read(u64 off, void* buf, usize len) override {
    return file_->inode->read(off, buf, len);
  }
  // O_TRUNC: a console's host file is left as it is (there is no call to
  // truncate it); others truncate the file itself.
  Result<void> truncate(u64 n) override {
    if (is_console(*file_->inode)) return ok();
    return file_->inode->truncate(n);
  }
  Result<Ref<File>> open(u32 flags) override {
    Inode& n = *file_->inode;
    if (is_console(n) && n.ino >= 1 && n.ino <= 3) {
      // console.cc numbers its stream inodes 1-3 for fds 0-2.
      Ref<File> f = TRY(open_console(int(n.ino - 1)));
      f->flags = flags;
      return f;
    }
    if (n.fs && StrView(n.fs->type) == StrView("pipefs")) return file_;
    return n.open(flags);
  }

 private:
  Ref<File> file_;
};

class FdInfo final : public Inode {
 public:
  FdInfo(FileSystem* fs, int fd, Ref<File> f)
      : Inode(fs, 2 * kFdInoBase + u64(fd), kIfreg | 0400),
        file_(static_cast<Ref<File>&&>(f)),
        fd_(fd) {}
  Result<Ref<File>> open(u32 flags) override {
    if ((flags & kOAccmode) != 0) return err(EACCES);
    Text t;
    u32 fl = file_->flags | (fds().cloexec(fd_) ? kOCloexec : 0);
    if (!(file_->flags & kOPath)) fl |= kOLargefile;  // forced on 64-bit Linux
    t.append("pos:\t%lu\nflags:\t0%o\nmnt_id:\t%lu\nino:\t%lu\n", (unsigned long)file_->pos, fl,
             (unsigned long)(file_->inode->fs ? file_->inode->fs->dev : 0),
             (unsigned long)file_->inode->ino);
    return open_text(Ref<Inode>(this), flags, t);
  }

 private:
  Ref<File> file_;
  int fd_;
};

class FdDir final : public Inode {
 public:
  FdDir(FileSystem* fs, Inode* p, bool info)
      : Inode(fs, fs->next_ino++, kIfdir | 0500), info_(info) {
    parent = p;
    nlink = 2;
  }
  StrView dir_name() const override { return info_ ? "fdinfo" : "fd"; }

  Result<Ref<Inode>> lookup(StrView name) override {
    int fd;
    if (parse_fd(name, &fd)) {
      Ref<File> f = fds().get(fd);
      if (!f) return err(ENOENT);
      Ref<Inode> node;
      if (info_) node = make_ref<FdInfo>(fs, fd, f);
      else node = make_ref<FdLink>(fs, fd, f);
      if (!node) return err(ENOMEM);
      return node;
    }
    if (info_) return err(ENOENT);
    // A link's non-path target ("pipe:[5]"), reached while following it.
    char* text = static_cast<char*>(mm::kalloc(kPathMax));
    if (!text) return err(ENOMEM);
    Ref<File> match;
    for (int k = 0; k < fds().end() && !match; ++k) {
      Ref<File> f = fds().get(k);
      if (!f) continue;
      auto n = file_link_text(*f, text, kPathMax);
      if (n.ok() && StrView(text, n.value()) == name) match = f;
    }
    mm::kfree(text);
    if (!match) return err(ENOENT);
    auto t = make_ref<FdTarget>(match);
    if (!t) return err(ENOMEM);
    return Ref<Inode>(t);
  }

  Result<void> readdir(u64* cookie, DirSink sink, void* ctx) override {
    if (*cookie == 0) {
      if (!sink(ctx, DirEntry{ino, kDtDir, ".", 1})) return ok();
      *cookie = 1;
    }
    if (*cookie == 1) {
      if (!sink(ctx, DirEntry{parent_ino(*this), kDtDir, "..", 2})) return ok();
      *cookie = 2;
    }
    for (int fd = int(*cookie - 2); fd < fds().end(); ++fd) {
      if (!fds().get(fd)) continue;
      char name[16];
      usize n = format(name, sizeof name, "%d", fd);
      u64 entry_ino = (info_ ? 2 : 1) * kFdInoBase + u64(fd);
      if (!sink(ctx, DirEntry{entry_ino, info_ ? kDtReg : kDtLnk, StrView(name, n), u64(fd) + 3}))
        return ok();
      *cookie = u64(fd) + 3;
    }
    return ok();
  }

 private:
  bool info_;
};

}  // namespace

Result<usize> inode_path(Inode* n, char* buf, usize cap) {
  if (n == g_proc.exe) return copy_out(buf, cap, g_proc.exe_path);
  return find_path(n, buf, cap);
}

Result<usize> file_link_text(File& f, char* buf, usize cap) {
  Inode* n = f.inode.get();
  if (n == g_proc.exe) return copy_out(buf, cap, g_proc.exe_path);
  if (n->is_dir()) return dir_path(n, buf, cap);
  if (is_console(*n)) {
    u32 type = n->mode & kIfmt;
    if (type == kIfchr) {
      char name[32];
      if (n->rdev == dev_number(1, 3)) return copy_out(buf, cap, "/dev/null");
      if (tty_dev_name(n->rdev, name, sizeof name))
        return usize(format(buf, cap, "/dev/%s", name));
    }
    if (type == kIfifo) return usize(format(buf, cap, "pipe:[%lu]", (unsigned long)n->ino));
    if (type == kIfsock) return usize(format(buf, cap, "socket:[%lu]", (unsigned long)n->ino));
    // A host file: its host path is not known inside.
    return usize(format(buf, cap, "anon_inode:[console:%lu]", (unsigned long)(n->ino - 1)));
  }
  if (!(n->fs && StrView(n->fs->type) == StrView("pipefs"))) {
    auto path = find_path(n, buf, cap);
    if (path.ok() || path.error() != ENOENT) return path;
  }
  switch (n->mode & kIfmt) {
    case kIfifo: return usize(format(buf, cap, "pipe:[%lu]", (unsigned long)n->ino));
    case kIfsock: return usize(format(buf, cap, "socket:[%lu]", (unsigned long)n->ino));
    default: return usize(format(buf, cap, "anon_inode:[%lu]", (unsigned long)n->ino));
  }
}

// ---- /proc/self/task: one directory per thread ------------------------------------

// The name a thread shows (comm): its own, else the process's.
StrView thread_comm(const core::Thread* t) {
  if (t->tid != g_proc.pid && t->comm[0]) return StrView(t->comm, strnlen(t->comm, 15));
  return comm();
}

// task/<tid>/comm: reads the thread's name; a write renames it
// (pthread_setname_np on another thread).
class CommWriter final : public File {
 public:
  CommWriter(Ref<Inode> node, u32 flags, int tid) : File(node, flags), tid_(tid) {}
  Result<usize> pread(void*, usize, u64) override { return err(EBADF); }
  Result<usize> pwrite(const void* buf, usize len, u64) override {
    core::Thread* t = core::find_thread(tid_);
    if (!t) return err(ESRCH);
    char name[16] = {};
    usize n = min<usize>(len, 15);
    memcpy(name, buf, n);
    for (usize i = 0; i < n; ++i)
      if (name[i] == '\n') name[i] = 0;
    if (tid_ == g_proc.pid) memcpy(g_proc.comm, name, 16);
    else memcpy(t->comm, name, 16);
    return len;
  }
  Result<u64> readable_bytes() override { return err(ENOTTY); }

 private:
  int tid_;
};

class CommFile final : public Inode {
 public:
  CommFile(FileSystem* fs, int tid) : Inode(fs, fs->next_ino++, kIfreg | 0644), tid_(tid) {
    writable_control = true;
  }
  Result<Ref<File>> open(u32 flags) override {
    core::Thread* t = core::find_thread(tid_);
    if (!t) return err(ESRCH);
    if ((flags & kOAccmode) != 0) {  // O_WRONLY or O_RDWR (glibc's pthread_setname_np)
      auto f = make_ref<CommWriter>(Ref<Inode>(this), flags, tid_);
      if (!f) return err(ENOMEM);
      return Ref<File>(f);
    }
    Text text;
    text.put(thread_comm(t));
    text.put('\n');
    return open_text(Ref<Inode>(this), flags, text);
  }

 private:
  int tid_;
};

class TaskDir final : public Inode {
 public:
  TaskDir(FileSystem* fs, Inode* p) : Inode(fs, fs->next_ino++, kIfdir | 0555) {
    parent = p;
    nlink = 2;
  }
  StrView dir_name() const override { return "task"; }

  Result<Ref<Inode>> lookup(StrView name) override {
    int tid;
    if (!parse_fd(name, &tid) || !core::find_thread(tid)) return err(ENOENT);
    auto dir = make_ref<PseudoDir>(fs, 0555, this);
    auto c = make_ref<CommFile>(fs, tid);
    if (!dir || !c) return err(ENOMEM);
    TRY(dir->add("comm", Ref<Inode>(c)));
    TRY(dir->add_file("status", gen_status));
    TRY(dir->add_file("stat", gen_stat));
    return Ref<Inode>(dir);
  }

  Result<void> readdir(u64* cookie, DirSink sink, void* ctx) override {
    if (*cookie == 0) {
      if (!sink(ctx, DirEntry{ino, kDtDir, ".", 1})) return ok();
      *cookie = 1;
    }
    if (*cookie == 1) {
      if (!sink(ctx, DirEntry{parent_ino(*this), kDtDir, "..", 2})) return ok();
      *cookie = 2;
    }
    // In tid order from the cookie on (threads come and go between calls).
    for (;;) {
      int next = 0;
      for (core::Thread* t = core::g_threads; t; t = t->next)
        if (u64(t->tid) + 2 >= *cookie && (!next || t->tid < next)) next = t->tid;
      if (!next) return ok();
      char name[16];
      usize n = format(name, sizeof name, "%d", next);
      if (!sink(ctx, DirEntry{kFdInoBase * 3 + u64(next), kDtDir, StrView(name, n), u64(next) + 3}))
        return ok();
      *cookie = u64(next) + 3;
    }
  }
};

Result<void> procfs_fill_pid_links(PseudoDir& dir) {
  TRY(dir.add_link("exe", link_exe));
  TRY(dir.add_link("cwd", link_cwd));
  TRY(dir.add_link("root", "/"));
  return ok();
}

Result<void> procfs_fill_pid(PseudoDir& dir) {
  auto fd = make_ref<FdDir>(dir.fs, &dir, false);
  auto fdinfo = make_ref<FdDir>(dir.fs, &dir, true);
  if (!fd || !fdinfo) return err(ENOMEM);
  auto task = make_ref<TaskDir>(dir.fs, &dir);
  if (!task) return err(ENOMEM);
  TRY(dir.add("fd", Ref<Inode>(fd)));
  TRY(dir.add("fdinfo", Ref<Inode>(fdinfo)));
  TRY(dir.add("task", Ref<Inode>(task)));
  dir.nlink += 3;
  TRY(dir.add_file("cmdline", gen_cmdline));
  TRY(dir.add_file("environ", gen_environ, 0400));
  TRY(dir.add_file("comm", gen_comm, 0644));
  TRY(dir.add_file("status", gen_status));
  TRY(dir.add_file("stat", gen_stat));
  TRY(dir.add_file("statm", gen_statm));
  TRY(dir.add_file("maps", gen_maps));
  TRY(dir.add_file("limits", gen_limits));
  TRY(dir.add_file("mounts", gen_mounts));
  TRY(dir.add_file("mountinfo", gen_mountinfo));
  TRY(dir.add_file("cgroup", gen_cgroup));
  TRY(dir.add_file("oom_score_adj", gen_zero, 0644));
  TRY(dir.add_file("oom_score", gen_zero));
  return ok();
}

}  // namespace mote::fs
