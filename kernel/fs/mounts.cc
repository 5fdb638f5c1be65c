#include "kernel/fs/mounts.h"
#include "kernel/linux/inet.h"

#include "kernel/core/process.h"
#include "kernel/fs/pseudo.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/format.h"
#include "kernel/platform/platform.h"

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

// /etc/NAME with `text` (constant data, or a heap copy made here) unless the
// image has that file. Read in place: no file pages until it is written.
Result<void> etc_default(Inode& etc, StrView name, StrView text, bool copy = false) {
  auto existing = etc.lookup(name);
  if (existing.ok()) return ok();
  const char* data = text.data;
  if (copy) {
    char* c = static_cast<char*>(mm::kalloc(text.size));  // lives as long as the run
    if (!c) return err(ENOMEM);
    memcpy(c, text.data, text.size);
    data = c;
  }
  TRY(tmpfs_const_file(etc, name, 0644, data, text.size));
  return ok();
}

Result<void> mount_tmpfs(StrView path, u32 perm, const char* target) {
  Ref<Inode> dir = TRY(mkdir_p(path));
  Ref<Inode> root = TRY(tmpfs_create(perm));
  TRY(mount(*dir, root));
  record("tmpfs", target, "tmpfs", "rw,nosuid,nodev");
  return ok();
}

// A filesystem built on first use: /dev, /proc and /sys cost a static
// program's boot nothing unless it looks at them. Mounted in their place; the
// first operation builds the real root (whose ".." leads to the mount point)
// and every operation forwards to it.
using Factory = Result<Ref<Inode>> (*)();

class LazyRoot final : public Inode {
 public:
  LazyRoot(Factory make, u32 perm) : Inode(nullptr, 1, kIfdir | perm), make_(make) { nlink = 2; }

  Result<void> getattr(Attr* a) override { return TRY(real())->getattr(a); }
  Result<void> chmod(u32 p) override { return TRY(real())->chmod(p); }
  Result<void> chown(u32 u, u32 g) override { return TRY(real())->chown(u, g); }
  Result<void> set_times(const Timespec* a, const Timespec* m) override {
    return TRY(real())->set_times(a, m);
  }
  Result<FsStat> statfs() override { return TRY(real())->statfs(); }
  Result<Ref<Inode>> lookup(StrView n) override { return TRY(real())->lookup(n); }
  Result<Ref<Inode>> mknod(StrView n, u32 m, u64 d) override { return TRY(real())->mknod(n, m, d); }
  Result<Ref<Inode>> symlink(StrView n, StrView t) override { return TRY(real())->symlink(n, t); }
  Result<void> link(StrView n, Inode& t) override { return TRY(real())->link(n, t); }
  Result<void> unlink(StrView n) override { return TRY(real())->unlink(n); }
  Result<void> rmdir(StrView n) override { return TRY(real())->rmdir(n); }
  Result<void> rename(StrView n, Inode& d, StrView nn, u32 f) override {
    Inode* to = &d == this ? TRY(real()).get() : &d;
    return TRY(real())->rename(n, *to, nn, f);
  }
  Result<void> readdir(u64* c, DirSink s, void* x) override { return TRY(real())->readdir(c, s, x); }
  Result<Ref<File>> open(u32 flags) override { return TRY(real())->open(flags); }

 private:
  Result<Ref<Inode>> real() {
    if (real_) return real_;
    freeze_time(true);  // one clock read for the whole tree
    auto made = make_();
    freeze_time(false);
    Ref<Inode> r = TRY(made);
    Inode* on = mountpoint;
    r->mountpoint = on;
    real_ = r;
    ino = r->ino;
    fs = r->fs;
    return r;
  }

  Factory make_;
  Ref<Inode> real_;
};

Result<void> mount_lazy(StrView path, Factory make, u32 perm) {
  Ref<Inode> dir = TRY(mkdir_p(path));
  auto root = make_ref<LazyRoot>(make, perm);
  if (!root) return err(ENOMEM);
  return mount(*dir, Ref<Inode>(root));
}

}  // namespace

// devfs.cc and procfs.cc provide these; weak defaults keep the tree usable
// (empty directories) in a build without them.
[[gnu::weak]] Result<Ref<Inode>> devfs_create() { return tmpfs_create(0755); }
[[gnu::weak]] Result<Ref<Inode>> procfs_create() { return tmpfs_create(0555); }

Result<void> mount_standard() {
  freeze_time(true);  // one clock read for every node made here
  struct Thaw {
    ~Thaw() { freeze_time(false); }
  } thaw;
  record("rootfs", "/", "rootfs", "rw");
  TRY(mount_lazy("/dev", devfs_create, 0755));
  record("devtmpfs", "/dev", "devtmpfs", "rw,nosuid");
  TRY(mount_lazy("/proc", procfs_create, 0555));
  record("proc", "/proc", "proc", "rw,nosuid,nodev,noexec");
  TRY(mount_lazy("/sys", sysfs_create, 0555));
  record("sysfs", "/sys", "sysfs", "ro,nosuid,nodev,noexec");
  // /tmp: in the root tmpfs when the image has it, else its own.
  auto tmp = resolve(nullptr, "/tmp", kFollow);
  if (!tmp.ok()) TRY(mount_tmpfs("/tmp", 01777, "/tmp"));
  else tmp.value()->mode = kIfdir | 01777;

  Ref<Inode> etc = TRY(mkdir_p("/etc"));
  // Debian's base system users and groups (base-passwd): servers switch to
  // them by name (nginx's workers run as www-data).
  TRY(etc_default(*etc, "passwd",
                  "root:x:0:0:root:/root:/bin/sh\n"
                  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                  "bin:x:2:2:bin:/bin:/usr/sbin/nologin\n"
                  "sys:x:3:3:sys:/dev:/usr/sbin/nologin\n"
                  "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"
                  "proxy:x:13:13:proxy:/bin:/usr/sbin/nologin\n"
                  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                  "backup:x:34:34:backup:/var/backups:/usr/sbin/nologin\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"));
  TRY(etc_default(*etc, "group",
                  "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\n"
                  "disk:x:6:\nmail:x:8:\nproxy:x:13:\nwww-data:x:33:\nbackup:x:34:\n"
                  "shadow:x:42:\nutmp:x:43:\nstaff:x:50:\nusers:x:100:\nnogroup:x:65534:\n"));
  // With a network device of known address (--net user: 10.0.2.15) the host
  // name resolves to it, as in a Docker container; else to 127.0.1.1 (Debian).
  // The nameserver is the device's (--net user: slirp's 10.0.2.3).
  const linux::NetConfig& net = linux::net_config();  // after DHCP (core/boot.cc)
  const u32 self = net.device && !net.addr.any() ? net.addr.v : 0x7f000101u;
  const u32 dns = net.device && !net.dns.any() ? net.dns.v : 0x0a000203u;
  char hosts[256];
  StrView host = core::g_proc.hostname;
  usize n = format(hosts, sizeof hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
                   "%u.%u.%u.%u\t%.*s\n", self >> 24, (self >> 16) & 255, (self >> 8) & 255,
                   self & 255, int(host.size), host.data);
  TRY(etc_default(*etc, "hosts", StrView(hosts, n), true));
  char resolv[48];
  n = format(resolv, sizeof resolv, "nameserver %u.%u.%u.%u\n", dns >> 24, (dns >> 16) & 255,
             (dns >> 8) & 255, dns & 255);
  TRY(etc_default(*etc, "resolv.conf", StrView(resolv, n), true));
  char hostname[80];
  n = format(hostname, sizeof hostname, "%.*s\n", int(host.size), host.data);
  TRY(etc_default(*etc, "hostname", StrView(hostname, n), true));
  (void)mkdir_p("/root");
  return ok();
}

void for_each_mount(MountSink line, void* ctx) {
  for (usize i = 0; i < g_nmounts; ++i)
    line(ctx, g_mounts[i].source, g_mounts[i].target, g_mounts[i].type, g_mounts[i].opts);
}

}  // namespace mote::fs
