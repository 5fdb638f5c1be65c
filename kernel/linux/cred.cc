// Credentials: the get/set family for user and group ids and the
// supplementary groups, with Linux's rules for who may change what
// (credentials(7), setresuid(2)): a process whose effective id is 0 may set
// any id; others may only move between their real, effective and saved ids.
// The filesystem id follows the effective one. Servers such as nginx start
// as root and drop to a user (www-data) this way.
//
// The ids are recorded and reported; the core does not check file
// permissions against them (docs/compat.md).
#include "kernel/core/process.h"
#include "kernel/lib/errno.h"
#include "kernel/linux/syscalls.h"
#include "kernel/linux/user.h"

namespace mote::linux {

namespace {

constexpr u32 kUnchanged = ~u32(0);  // -1: leave this id alone
constexpr i64 kNgroupsMax = 65536;

core::Creds& creds() { return core::g_proc.creds; }

// The three ids one set*id call changes: the process's user or group ids.
struct IdSet {
  u32 *r, *e, *s, *fs;
};

IdSet uids() { return IdSet{&creds().ruid, &creds().euid, &creds().suid, &creds().fsuid}; }
IdSet gids() { return IdSet{&creds().rgid, &creds().egid, &creds().sgid, &creds().fsgid}; }

bool privileged() { return creds().euid == 0; }
bool one_of(u32 v, const IdSet& ids) { return v == *ids.r || v == *ids.e || v == *ids.s; }

// setresuid/setresgid.
i64 set_res(IdSet ids, u32 r, u32 e, u32 s) {
  if (!privileged()) {
    if ((r != kUnchanged && !one_of(r, ids)) || (e != kUnchanged && !one_of(e, ids)) ||
        (s != kUnchanged && !one_of(s, ids)))
      return -EPERM;
  }
  if (r != kUnchanged) *ids.r = r;
  if (e != kUnchanged) *ids.e = e;
  if (s != kUnchanged) *ids.s = s;
  *ids.fs = *ids.e;
  return 0;
}

// setreuid/setregid: the saved id becomes the new effective one when the
// real id is set, or the effective one is set to other than the old real one.
i64 set_re(IdSet ids, u32 r, u32 e) {
  u32 old_r = *ids.r;
  if (!privileged()) {
    if (r != kUnchanged && r != *ids.r && r != *ids.e) return -EPERM;
    if (e != kUnchanged && !one_of(e, ids)) return -EPERM;
  }
  if (r != kUnchanged) *ids.r = r;
  if (e != kUnchanged) *ids.e = e;
  if (r != kUnchanged || (e != kUnchanged && e != old_r)) *ids.s = *ids.e;
  *ids.fs = *ids.e;
  return 0;
}

// setuid/setgid: privileged sets all three, others only the effective one.
i64 set_one(IdSet ids, u32 v) {
  if (v == kUnchanged) return -EINVAL;
  if (privileged()) {
    *ids.r = *ids.e = *ids.s = *ids.fs = v;
    return 0;
  }
  if (v != *ids.r && v != *ids.s) return -EPERM;
  *ids.e = *ids.fs = v;
  return 0;
}

// setfsuid/setfsgid: always the previous value; changed when allowed.
i64 set_fs(IdSet ids, u32 v) {
  u32 old = *ids.fs;
  if (v != kUnchanged && (privileged() || one_of(v, ids) || v == *ids.fs)) *ids.fs = v;
  return old;
}

i64 get_res(IdSet ids, const SysArgs& a) {
  if (!put_user(a.u(0), *ids.r).ok() || !put_user(a.u(1), *ids.e).ok() ||
      !put_user(a.u(2), *ids.s).ok())
    return -EFAULT;
  return 0;
}

u32 id_arg(const SysArgs& a, int i) { return u32(a.u(i)); }

}  // namespace

i64 sys_getuid(const SysArgs&) { return creds().ruid; }
i64 sys_geteuid(const SysArgs&) { return creds().euid; }
i64 sys_getgid(const SysArgs&) { return creds().rgid; }
i64 sys_getegid(const SysArgs&) { return creds().egid; }
i64 sys_getresuid(const SysArgs& a) { return get_res(uids(), a); }
i64 sys_getresgid(const SysArgs& a) { return get_res(gids(), a); }

i64 sys_setuid(const SysArgs& a) { return set_one(uids(), id_arg(a, 0)); }
i64 sys_setgid(const SysArgs& a) {
  // Privilege for group changes is the effective *user* id (CAP_SETGID).
  return set_one(gids(), id_arg(a, 0));
}
i64 sys_setreuid(const SysArgs& a) { return set_re(uids(), id_arg(a, 0), id_arg(a, 1)); }
i64 sys_setregid(const SysArgs& a) { return set_re(gids(), id_arg(a, 0), id_arg(a, 1)); }
i64 sys_setresuid(const SysArgs& a) {
  return set_res(uids(), id_arg(a, 0), id_arg(a, 1), id_arg(a, 2));
}
i64 sys_setresgid(const SysArgs& a) {
  return set_res(gids(), id_arg(a, 0), id_arg(a, 1), id_arg(a, 2));
}
i64 sys_setfsuid(const SysArgs& a) { return set_fs(uids(), id_arg(a, 0)); }
i64 sys_setfsgid(const SysArgs& a) { return set_fs(gids(), id_arg(a, 0)); }

i64 sys_getgroups(const SysArgs& a) {
  i64 size = a.c_int(0);
  if (size < 0) return -EINVAL;
  core::Creds& c = creds();
  if (size == 0) return c.ngroups;
  if (size < c.ngroups) return -EINVAL;
  if (c.ngroups && !copy_to_user(a.u(1), c.groups, usize(c.ngroups) * 4).ok()) return -EFAULT;
  return c.ngroups;
}

// More than Creds::kMaxGroups groups is EINVAL here (Linux takes 65536).
i64 sys_setgroups(const SysArgs& a) {
  i64 size = a.c_int(0);
  if (size < 0 || size > kNgroupsMax) return -EINVAL;
  if (!privileged()) return -EPERM;
  if (size > core::Creds::kMaxGroups) return -EINVAL;
  core::Creds& c = creds();
  u32 groups[core::Creds::kMaxGroups];
  if (size && !copy_from_user(groups, a.u(1), usize(size) * 4).ok()) return -EFAULT;
  for (i64 i = 0; i < size; ++i) c.groups[i] = groups[i];
  c.ngroups = int(size);
  return 0;
}

}  // namespace mote::linux
