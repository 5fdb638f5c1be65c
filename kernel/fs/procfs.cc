// /proc: a read-only filesystem (PROC_SUPER_MAGIC) whose files are generated
// when opened. The top level holds the system-wide files (cpuinfo, meminfo,
// stat, uptime, ..., sys/) and the one process, /proc/<pid> with `self`
// pointing at it (procfs_pid.cc).
//
// Figures come from the unikernel itself: memory is the --mem limit and what
// the address space has charged against it, CPUs are the --cpus vCPUs, CPU
// identification is the CPUID instruction (native on the process platform,
// the monitor's answers in a VM).
#include "kernel/core/process.h"
#include "kernel/core/thread.h"
#include "kernel/fs/pseudo.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/chacha20.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"

namespace mote::core {
extern Csprng g_rng;  // kernel/linux/random.cc
}

namespace mote::fs {

namespace {

using core::g_proc;

constexpr u64 kProcSuperMagic = 0x9fa0;
constexpr u64 kHz = 100;  // USER_HZ

// What uname(2) reports (kernel/linux/info.cc keeps the same two strings).
constexpr const char* kRelease = "6.1.0-mote";
constexpr const char* kVersion = "#1 SMP mote unikernel";

u32 cpus() { return platform::cpu_count(); }

// ---- CPUID ------------------------------------------------------------------------

struct Regs {
  u32 eax, ebx, ecx, edx;
};
Regs cpuid(u32 leaf, u32 sub = 0) {
  Regs r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
  return r;
}

// The feature bits /proc/cpuinfo names, in Linux's order (its cpufeature
// words: arch/x86/include/asm/cpufeatures.h). Intel SDM vol 2A, CPUID.
enum class Reg : u8 { Eax, Ebx, Ecx, Edx };
struct Flag {
  u32 leaf, sub;
  Reg reg;
  u8 bit;
  const char* name;
};
constexpr Flag kFlags[] = {
    {1, 0, Reg::Edx, 0, "fpu"},        {1, 0, Reg::Edx, 1, "vme"},
    {1, 0, Reg::Edx, 2, "de"},         {1, 0, Reg::Edx, 3, "pse"},
    {1, 0, Reg::Edx, 4, "tsc"},        {1, 0, Reg::Edx, 5, "msr"},
    {1, 0, Reg::Edx, 6, "pae"},        {1, 0, Reg::Edx, 7, "mce"},
    {1, 0, Reg::Edx, 8, "cx8"},        {1, 0, Reg::Edx, 9, "apic"},
    {1, 0, Reg::Edx, 11, "sep"},       {1, 0, Reg::Edx, 12, "mtrr"},
    {1, 0, Reg::Edx, 13, "pge"},       {1, 0, Reg::Edx, 14, "mca"},
    {1, 0, Reg::Edx, 15, "cmov"},      {1, 0, Reg::Edx, 16, "pat"},
    {1, 0, Reg::Edx, 17, "pse36"},     {1, 0, Reg::Edx, 19, "clflush"},
    {1, 0, Reg::Edx, 23, "mmx"},       {1, 0, Reg::Edx, 24, "fxsr"},
    {1, 0, Reg::Edx, 25, "sse"},       {1, 0, Reg::Edx, 26, "sse2"},
    {1, 0, Reg::Edx, 27, "ss"},        {1, 0, Reg::Edx, 28, "ht"},
    {0x80000001, 0, Reg::Edx, 11, "syscall"}, {0x80000001, 0, Reg::Edx, 20, "nx"},
    {0x80000001, 0, Reg::Edx, 26, "pdpe1gb"}, {0x80000001, 0, Reg::Edx, 27, "rdtscp"},
    {0x80000001, 0, Reg::Edx, 29, "lm"},
    {1, 0, Reg::Ecx, 0, "pni"},        {1, 0, Reg::Ecx, 1, "pclmulqdq"},
    {1, 0, Reg::Ecx, 3, "monitor"},    {1, 0, Reg::Ecx, 9, "ssse3"},
    {1, 0, Reg::Ecx, 12, "fma"},       {1, 0, Reg::Ecx, 13, "cx16"},
    {1, 0, Reg::Ecx, 17, "pcid"},      {1, 0, Reg::Ecx, 19, "sse4_1"},
    {1, 0, Reg::Ecx, 20, "sse4_2"},    {1, 0, Reg::Ecx, 21, "x2apic"},
    {1, 0, Reg::Ecx, 22, "movbe"},     {1, 0, Reg::Ecx, 23, "popcnt"},
    {1, 0, Reg::Ecx, 24, "tsc_deadline_timer"}, {1, 0, Reg::Ecx, 25, "aes"},
    {1, 0, Reg::Ecx, 26, "xsave"},     {1, 0, Reg::Ecx, 28, "avx"},
    {1, 0, Reg::Ecx, 29, "f16c"},      {1, 0, Reg::Ecx, 30, "rdrand"},
    {1, 0, Reg::Ecx, 31, "hypervisor"},
    {0x80000001, 0, Reg::Ecx, 0, "lahf_lm"}, {0x80000001, 0, Reg::Ecx, 5, "abm"},
    {0x80000001, 0, Reg::Ecx, 8, "3dnowprefetch"},
    {7, 0, Reg::Ebx, 0, "fsgsbase"},   {7, 0, Reg::Ebx, 3, "bmi1"},
    {7, 0, Reg::Ebx, 4, "hle"},        {7, 0, Reg::Ebx, 5, "avx2"},
    {7, 0, Reg::Ebx, 7, "smep"},       {7, 0, Reg::Ebx, 8, "bmi2"},
    {7, 0, Reg::Ebx, 9, "erms"},       {7, 0, Reg::Ebx, 10, "invpcid"},
    {7, 0, Reg::Ebx, 11, "rtm"},       {7, 0, Reg::Ebx, 16, "avx512f"},
    {7, 0, Reg::Ebx, 17, "avx512dq"},  {7, 0, Reg::Ebx, 18, "rdseed"},
    {7, 0, Reg::Ebx, 19, "adx"},       {7, 0, Reg::Ebx, 20, "smap"},
    {7, 0, Reg::Ebx, 21, "avx512ifma"}, {7, 0, Reg::Ebx, 23, "clflushopt"},
    {7, 0, Reg::Ebx, 24, "clwb"},      {7, 0, Reg::Ebx, 28, "avx512cd"},
    {7, 0, Reg::Ebx, 29, "sha_ni"},    {7, 0, Reg::Ebx, 30, "avx512bw"},
    {7, 0, Reg::Ebx, 31, "avx512vl"},
    {0xd, 1, Reg::Eax, 0, "xsaveopt"}, {0xd, 1, Reg::Eax, 1, "xsavec"},
    {0xd, 1, Reg::Eax, 2, "xgetbv1"},  {0xd, 1, Reg::Eax, 3, "xsaves"},
    {7, 0, Reg::Ecx, 1, "avx512vbmi"}, {7, 0, Reg::Ecx, 2, "umip"},
    {7, 0, Reg::Ecx, 3, "pku"},        {7, 0, Reg::Ecx, 6, "avx512_vbmi2"},
    {7, 0, Reg::Ecx, 8, "gfni"},       {7, 0, Reg::Ecx, 9, "vaes"},
    {7, 0, Reg::Ecx, 10, "vpclmulqdq"}, {7, 0, Reg::Ecx, 11, "avx512_vnni"},
    {7, 0, Reg::Ecx, 12, "avx512_bitalg"}, {7, 0, Reg::Ecx, 14, "avx512_vpopcntdq"},
    {7, 0, Reg::Ecx, 22, "rdpid"},
    {7, 0, Reg::Edx, 4, "fsrm"},       {7, 0, Reg::Edx, 10, "md_clear"},
    {7, 0, Reg::Edx, 14, "serialize"}, {7, 0, Reg::Edx, 29, "arch_capabilities"},
};

bool has_flag(const Flag& f, u32 max_leaf, u32 max_ext) {
  if (f.leaf < 0x80000000 ? f.leaf > max_leaf : f.leaf > max_ext) return false;
  if (f.leaf == 0xd && f.sub == 1 && cpuid(0xd, 0).eax == 0) return false;
  Regs r = cpuid(f.leaf, f.sub);
  u32 v = f.reg == Reg::Eax ? r.eax : f.reg == Reg::Ebx ? r.ebx : f.reg == Reg::Ecx ? r.ecx : r.edx;
  return v & (1u << f.bit);
}

void gen_cpuinfo(Text& t) {
  Regs v = cpuid(0);
  u32 max_leaf = v.eax;
  char vendor[13];
  memcpy(vendor, &v.ebx, 4);
  memcpy(vendor + 4, &v.edx, 4);
  memcpy(vendor + 8, &v.ecx, 4);
  vendor[12] = 0;
  Regs id = cpuid(1);
  u32 family = (id.eax >> 8) & 0xf, model = (id.eax >> 4) & 0xf, stepping = id.eax & 0xf;
  if (family == 0xf) family += (id.eax >> 20) & 0xff;
  if (family == 0x6 || family >= 0xf) model += ((id.eax >> 16) & 0xf) << 4;
  u32 max_ext = cpuid(0x80000000).eax;
  char brand[49] = {};
  if (max_ext >= 0x80000004) {
    for (u32 k = 0; k < 3; ++k) {
      Regs b = cpuid(0x80000002 + k);
      memcpy(brand + 16 * k, &b, 16);
    }
  }
  const char* name = brand;
  while (*name == ' ') ++name;
  for (usize n = strlen(brand); n > 0 && brand[n - 1] == ' '; --n) brand[n - 1] = 0;
  if (!*name) name = "unknown";
  u32 phys = 36, virt = 48;
  if (max_ext >= 0x80000008) {
    Regs a = cpuid(0x80000008);
    phys = a.eax & 0xff;
    virt = (a.eax >> 8) & 0xff;
  }
  u64 khz = platform::boot_info().tsc_khz;
  if (!khz && max_leaf >= 0x16) khz = u64(cpuid(0x16).eax & 0xffff) * 1000;  // base MHz
  u32 clflush = ((id.ebx >> 8) & 0xff) * 8;
  if (!clflush) clflush = 64;

  Text flags;
  for (const Flag& f : kFlags)
    if (has_flag(f, max_leaf, max_ext)) flags.append(flags.size() ? " %s" : "%s", f.name);
  if (flags.failed()) return;

  for (u32 cpu = 0; cpu < cpus(); ++cpu) {
    t.append("processor\t: %u\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n", cpu, vendor,
             family, model);
    t.append("model name\t: %s\nstepping\t: %u\nmicrocode\t: 0x1\n", name, stepping);
    t.append("cpu MHz\t\t: %lu.%03lu\ncache size\t: 0 KB\n", (unsigned long)(khz / 1000),
             (unsigned long)(khz % 1000));
    t.append("physical id\t: 0\nsiblings\t: %u\ncore id\t\t: %u\ncpu cores\t: %u\n", cpus(), cpu,
             cpus());
    t.append("apicid\t\t: %u\ninitial apicid\t: %u\nfpu\t\t: yes\nfpu_exception\t: yes\n", cpu,
             cpu);
    t.append("cpuid level\t: %u\nwp\t\t: yes\n", max_leaf);
    t.append("flags\t\t: ");
    t.raw(flags.data(), flags.size());
    t.append("\nbugs\t\t:\nbogomips\t: %lu.%02lu\n", (unsigned long)(khz * 2 / 1000),
             (unsigned long)(khz * 2 % 1000 / 10));
    t.append("clflush size\t: %u\ncache_alignment\t: %u\n", clflush, clflush);
    t.append("address sizes\t: %u bits physical, %u bits virtual\npower management:\n\n", phys,
             virt);
  }
}

// ---- Memory, time, load ---------------------------------------------------------------

void put_kb(Text& t, const char* name, u64 bytes) {
  t.append("%s:", name);
  t.pad_to(16);
  t.append("%8lu kB\n", (unsigned long)(bytes >> 10));
}

void gen_meminfo(Text& t) {
  u64 total = g_proc.as.limit(), used = g_proc.as.charged();
  u64 free = total > used ? total - used : 0;
  u64 cached = tmpfs_bytes();
  put_kb(t, "MemTotal", total);
  put_kb(t, "MemFree", free);
  put_kb(t, "MemAvailable", free);
  put_kb(t, "Buffers", 0);
  put_kb(t, "Cached", cached);
  put_kb(t, "SwapCached", 0);
  put_kb(t, "Active", used);
  put_kb(t, "Inactive", 0);
  put_kb(t, "Active(anon)", used > cached ? used - cached : 0);
  put_kb(t, "Inactive(anon)", 0);
  put_kb(t, "Active(file)", cached);
  put_kb(t, "Inactive(file)", 0);
  put_kb(t, "Unevictable", 0);
  put_kb(t, "Mlocked", 0);
  put_kb(t, "SwapTotal", 0);
  put_kb(t, "SwapFree", 0);
  put_kb(t, "Zswap", 0);
  put_kb(t, "Zswapped", 0);
  put_kb(t, "Dirty", 0);
  put_kb(t, "Writeback", 0);
  put_kb(t, "AnonPages", used > cached ? used - cached : 0);
  put_kb(t, "Mapped", 0);
  put_kb(t, "Shmem", cached);
  put_kb(t, "KReclaimable", 0);
  put_kb(t, "Slab", 0);
  put_kb(t, "SReclaimable", 0);
  put_kb(t, "SUnreclaim", 0);
  put_kb(t, "KernelStack", 0);
  put_kb(t, "PageTables", 0);
  put_kb(t, "SecPageTables", 0);
  put_kb(t, "NFS_Unstable", 0);
  put_kb(t, "Bounce", 0);
  put_kb(t, "WritebackTmp", 0);
  // Strict overcommit (address_space.h): the limit is the commit limit.
  put_kb(t, "CommitLimit", total);
  put_kb(t, "Committed_AS", used);
  put_kb(t, "VmallocTotal", 34359738367ull << 10);
  put_kb(t, "VmallocUsed", 0);
  put_kb(t, "VmallocChunk", 0);
  put_kb(t, "Percpu", 0);
  put_kb(t, "HardwareCorrupted", 0);
  put_kb(t, "AnonHugePages", 0);
  put_kb(t, "ShmemHugePages", 0);
  put_kb(t, "ShmemPmdMapped", 0);
  put_kb(t, "FileHugePages", 0);
  put_kb(t, "FilePmdMapped", 0);
  t.append("HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n"
           "HugePages_Surp:        0\n");
  put_kb(t, "Hugepagesize", 2048 << 10);
  put_kb(t, "Hugetlb", 0);
  put_kb(t, "DirectMap4k", total);
}

struct Times {
  u64 up_cs;    // uptime, centiseconds
  u64 busy_cs;  // the program's CPU time
  u64 idle_cs;  // all CPUs' idle time
};
Times times() {
  u64 up = platform::monotonic_ns() / 10000000ull;
  u64 busy = platform::process_cpu_ns() / 10000000ull;
  u64 all = up * cpus();
  return Times{up, busy, all > busy ? all - busy : 0};
}

void gen_uptime(Text& t) {
  Times s = times();
  t.append("%lu.%02lu %lu.%02lu\n", (unsigned long)(s.up_cs / 100), (unsigned long)(s.up_cs % 100),
           (unsigned long)(s.idle_cs / 100), (unsigned long)(s.idle_cs % 100));
}

void gen_stat(Text& t) {
  Times s = times();
  static_assert(kHz == 100, "centiseconds are clock ticks");
  t.append("cpu  %lu 0 0 %lu 0 0 0 0 0 0\n", (unsigned long)s.busy_cs, (unsigned long)s.idle_cs);
  for (u32 cpu = 0; cpu < cpus(); ++cpu) {
    u64 busy = cpu == 0 ? s.busy_cs : 0;
    u64 idle = s.up_cs > busy ? s.up_cs - busy : 0;
    t.append("cpu%u %lu 0 0 %lu 0 0 0 0 0 0\n", cpu, (unsigned long)busy, (unsigned long)idle);
  }
  u64 btime = platform::boot_info().wall_clock_ns / 1000000000ull;
  t.append("intr 0\nctxt 0\nbtime %lu\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n",
           (unsigned long)btime);
  t.append("softirq 0 0 0 0 0 0 0 0 0 0 0\n");
}

void gen_loadavg(Text& t) { t.append("0.00 0.00 0.00 1/1 %d\n", g_proc.pid); }

void gen_version(Text& t) {
  t.append("Linux version %s (mote@mote) (mote unikernel) %s\n", kRelease, kVersion);
}

void gen_filesystems(Text& t) {
  t.append("nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tpipefs\n"
           "nodev\tdevpts\n");
}

// ---- /proc/sys ----------------------------------------------------------------------

void gen_hostname(Text& t) { t.append("%.*s\n", int(g_proc.hostname.size), g_proc.hostname.data); }
void gen_ostype(Text& t) { t.append("Linux\n"); }
void gen_osrelease(Text& t) { t.append("%s\n", kRelease); }
void gen_kversion(Text& t) { t.append("%s\n", kVersion); }
void gen_pid_max(Text& t) { t.append("4194304\n"); }
void gen_threads_max(Text& t) { t.append("127408\n"); }
void gen_ngroups_max(Text& t) { t.append("65536\n"); }
void gen_overcommit(Text& t) { t.append("2\n"); }
void gen_overcommit_ratio(Text& t) { t.append("100\n"); }
void gen_max_map_count(Text& t) { t.append("65530\n"); }
void gen_somaxconn(Text& t) { t.append("4096\n"); }
void gen_nr_open(Text& t) { t.append("1048576\n"); }
void gen_file_max(Text& t) { t.append("9223372036854775807\n"); }

void put_uuid(Text& t, const u8 b[16]) {
  t.append("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}
// RFC 4122 version 4: random, with the version and variant bits set.
void random_uuid(u8 b[16]) {
  core::g_rng.fill(b, 16);
  b[6] = u8((b[6] & 0x0f) | 0x40);
  b[8] = u8((b[8] & 0x3f) | 0x80);
}
u8 g_boot_id[16];
void gen_uuid(Text& t) {
  u8 b[16];
  random_uuid(b);
  put_uuid(t, b);
}
void gen_boot_id(Text& t) { put_uuid(t, g_boot_id); }

struct SysFile {
  const char* dir;
  const char* name;
  TextGen gen;
};
constexpr SysFile kSysFiles[] = {
    {"kernel", "hostname", gen_hostname},
    {"kernel", "ostype", gen_ostype},
    {"kernel", "osrelease", gen_osrelease},
    {"kernel", "version", gen_kversion},
    {"kernel", "pid_max", gen_pid_max},
    {"kernel", "threads-max", gen_threads_max},
    {"kernel", "ngroups_max", gen_ngroups_max},
    {"kernel/random", "uuid", gen_uuid},
    {"kernel/random", "boot_id", gen_boot_id},
    {"vm", "overcommit_memory", gen_overcommit},
    {"vm", "overcommit_ratio", gen_overcommit_ratio},
    {"vm", "max_map_count", gen_max_map_count},
    {"fs", "nr_open", gen_nr_open},
    {"fs", "file-max", gen_file_max},
    {"net/core", "somaxconn", gen_somaxconn},
};

// The directory at `path` (slash-separated) below `dir`, made when missing.
Result<Ref<PseudoDir>> subdir(Ref<PseudoDir> dir, StrView path) {
  usize i = 0;
  while (i < path.size) {
    usize s = i;
    while (i < path.size && path.data[i] != '/') ++i;
    StrView name(path.data + s, i - s);
    if (i < path.size) ++i;
    auto found = dir->lookup(name);
    if (found.ok()) dir = Ref<PseudoDir>(static_cast<PseudoDir*>(found.value().get()));
    else dir = TRY(dir->add_dir(name));
  }
  return dir;
}

Result<void> fill_sys(PseudoDir& sys_dir) {
  Ref<PseudoDir> sys(&sys_dir);
  for (const SysFile& f : kSysFiles) {
    Ref<PseudoDir> d = TRY(subdir(sys, f.dir));
    TRY(d->add_file(f.name, f.gen));
  }
  return ok();
}

}  // namespace

// /proc itself: its process directory answers to the current pid (a forked
// child's /proc/self is its own number; there is one process at a time).
class ProcRoot final : public PseudoDir {
 public:
  using PseudoDir::PseudoDir;
  Result<Ref<Inode>> lookup(StrView name) override {
    char pid[16];
    usize n = format(pid, sizeof pid, "%d", g_proc.pid);
    if (self_ && name == StrView(pid, n)) return Ref<Inode>(self_);
    return PseudoDir::lookup(name);
  }
  Inode* self_ = nullptr;  // kept alive by its entry
};

Result<usize> gen_self_link(char* buf, usize cap) {
  char pid[16];
  usize n = format(pid, sizeof pid, "%d", g_proc.pid);
  return copy_out(buf, cap, StrView(pid, n));
}

Result<usize> gen_thread_self_link(char* buf, usize cap) {
  char path[48];
  usize n = format(path, sizeof path, "%d/task/%d", g_proc.pid, core::current()->tid);
  return copy_out(buf, cap, StrView(path, n));
}

// /proc's entries besides the process directory and "self".
Result<void> fill_proc_root(PseudoDir& root) {
  TRY(root.add_link("mounts", "self/mounts"));
  TRY(root.add_file("cpuinfo", gen_cpuinfo));
  TRY(root.add_file("meminfo", gen_meminfo));
  TRY(root.add_file("stat", gen_stat));
  TRY(root.add_file("uptime", gen_uptime));
  TRY(root.add_file("loadavg", gen_loadavg));
  TRY(root.add_file("version", gen_version));
  TRY(root.add_file("filesystems", gen_filesystems));
  TRY(root.add_dir("sys"))->fill_later(fill_sys);
  return ok();
}

Result<Ref<Inode>> procfs_create() {
  random_uuid(g_boot_id);
  FileSystem* f = TRY(pseudo_fs("proc", kProcSuperMagic));
  auto root = make_ref<ProcRoot>(f, 0555, nullptr);
  if (!root) return err(ENOMEM);
  char pid[16];
  format(pid, sizeof pid, "%d", g_proc.pid);
  // Up front only what /proc/self/exe needs; the rest on first use.
  Ref<PseudoDir> self = TRY(root->add_dir(pid));
  root->self_ = self.get();
  TRY(procfs_fill_pid_links(*self));
  self->fill_later(procfs_fill_pid);
  TRY(root->add_link("self", gen_self_link));
  TRY(root->add_link("thread-self", gen_thread_self_link));
  root->fill_later(fill_proc_root);
  return Ref<Inode>(root);
}

}  // namespace mote::fs
