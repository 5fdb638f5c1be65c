#include "kernel/fs/mounts.h"

#include "kernel/core/process.h"
#include "kernel/fs/pseudo.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"

namespace mote::fs {

namespace {

struct MountRecord {
  const char* source;
  const char* target;
  const char* type;
  const char* opts;
};
constexpr usize kMaxMounts = 16;
MountRecord g_mounts[kMaxMounts];
usize g_nmounts = 0;

void record(const char* source, const char* target, const char* type, const char* opts) {
  if (g_nmounts < kMaxMounts) g_mounts[g_nmounts++] = MountRecord{source, target, type, opts};
}

// Writes `text` to /etc/NAME unless the image has that file.
Result<void> etc_default(Inode& etc, StrView name, StrView text) {
  auto existing = etc.lookup(name);
  if (existing.ok()) return ok();
  Ref<Inode> f = TRY(etc.mknod(name, kIfreg | 0644, 0));
  TRY(f->write(0, text.data, text.size));
  return ok();
}

Result<void> mount_tmpfs(StrView path, u32 perm, const char* target) {
  Ref<Inode> dir = TRY(mkdir_p(path));
  Ref<Inode> root = TRY(tmpfs_create(perm));
  TRY(mount(*dir, root));
  record("tmpfs", target, "tmpfs", "rw,nosuid,nodev");
  return ok();
}

}  // namespace

// devfs.cc and procfs.cc provide these; weak defaults keep the tree usable
// (empty directories) in a build without them.
[[gnu::weak]] Result<Ref<Inode>> devfs_create() { return tmpfs_create(0755); }
[[gnu::weak]] Result<Ref<Inode>> procfs_create() { return tmpfs_create(0555); }

Result<void> mount_standard() {
  record("rootfs", "/", "rootfs", "rw");
  Ref<Inode> dev = TRY(mkdir_p("/dev"));
  TRY(mount(*dev, TRY(devfs_create())));
  record("devtmpfs", "/dev", "devtmpfs", "rw,nosuid");
  Ref<Inode> proc = TRY(mkdir_p("/proc"));
  TRY(mount(*proc, TRY(procfs_create())));
  record("proc", "/proc", "proc", "rw,nosuid,nodev,noexec");
  Ref<Inode> sys = TRY(mkdir_p("/sys"));
  TRY(mount(*sys, TRY(sysfs_create())));
  record("sysfs", "/sys", "sysfs", "ro,nosuid,nodev,noexec");
  // /tmp: in the root tmpfs when the image has it, else its own.
  auto tmp = resolve(nullptr, "/tmp", kFollow);
  if (!tmp.ok()) TRY(mount_tmpfs("/tmp", 01777, "/tmp"));
  else tmp.value()->mode = kIfdir | 01777;

  Ref<Inode> etc = TRY(mkdir_p("/etc"));
  TRY(etc_default(*etc, "passwd",
                  "root:x:0:0:root:/root:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"));
  TRY(etc_default(*etc, "group", "root:x:0:\nnogroup:x:65534:\n"));
  char hosts[256];
  StrView host = core::g_proc.hostname;
  usize n = format(hosts, sizeof hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
                   "127.0.1.1\t%.*s\n", int(host.size), host.data);
  TRY(etc_default(*etc, "hosts", StrView(hosts, n)));
  TRY(etc_default(*etc, "resolv.conf", "nameserver 10.0.2.3\n"));
  char hostname[80];
  n = format(hostname, sizeof hostname, "%.*s\n", int(host.size), host.data);
  TRY(etc_default(*etc, "hostname", StrView(hostname, n)));
  (void)mkdir_p("/root");
  return ok();
}

void for_each_mount(MountSink line, void* ctx) {
  for (usize i = 0; i < g_nmounts; ++i)
    line(ctx, g_mounts[i].source, g_mounts[i].target, g_mounts[i].type, g_mounts[i].opts);
}

}  // namespace mote::fs
