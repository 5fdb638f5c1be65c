// /sys: the few sysfs files C libraries and runtimes read to size themselves
// (glibc's sysconf(_SC_NPROCESSORS_ONLN) reads devices/system/cpu/online),
// read-only, generated when opened like /proc's.
#include "kernel/fs/pseudo.h"
#include "kernel/lib/errno.h"

namespace mote::fs {

namespace {

constexpr u64 kSysfsMagic = 0x62656572;  // SYSFS_MAGIC

// "0" or "0-N": the vCPUs, all online.
void gen_cpu_range(Text& t) {
  u32 n = platform::cpu_count();
  if (n == 1) t.append("0\n");
  else t.append("0-%u\n", n - 1);
}

void gen_thp_enabled(Text& t) { t.append("always madvise [never]\n"); }
void gen_thp_defrag(Text& t) { t.append("always defer defer+madvise madvise [never]\n"); }

}  // namespace

Result<Ref<Inode>> sysfs_create() {
  FileSystem* f = TRY(pseudo_fs("sysfs", kSysfsMagic));
  auto root = make_ref<PseudoDir>(f, 0555, nullptr);
  if (!root) return err(ENOMEM);
  Ref<PseudoDir> devices = TRY(root->add_dir("devices"));
  Ref<PseudoDir> system = TRY(devices->add_dir("system"));
  Ref<PseudoDir> cpu = TRY(system->add_dir("cpu"));
  TRY(cpu->add_file("online", gen_cpu_range));
  TRY(cpu->add_file("possible", gen_cpu_range));
  TRY(cpu->add_file("present", gen_cpu_range));
  Ref<PseudoDir> kernel = TRY(root->add_dir("kernel"));
  Ref<PseudoDir> mm = TRY(kernel->add_dir("mm"));
  Ref<PseudoDir> thp = TRY(mm->add_dir("transparent_hugepage"));
  TRY(thp->add_file("enabled", gen_thp_enabled));
  TRY(thp->add_file("defrag", gen_thp_defrag));
  (void)TRY(root->add_dir("fs"));
  return Ref<Inode>(root);
}

}  // namespace mote::fs
