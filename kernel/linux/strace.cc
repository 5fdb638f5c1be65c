#include "kernel/linux/strace.h"

#include "kernel/lib/errno.h"

namespace mote::linux {

namespace {

constexpr usize kShowBytes = 32;  // as strace's default -s 32

void put_string(TextBuffer& out, u64 addr, MemReader read) {
  if (addr == 0) {
    out.append("NULL");
    return;
  }
  char buf[kShowBytes + 1];
  usize n = 0;
  for (; n <= kShowBytes; ++n) {
    if (!read(addr + n, &buf[n], 1)) {
      if (n == 0) {
        out.append("%#lx", (unsigned long)addr);
        return;
      }
      break;
    }
    if (buf[n] == 0) break;
  }
  if (n > kShowBytes) {
    out.append_escaped(reinterpret_cast<const u8*>(buf), kShowBytes, kShowBytes);
    out.append("...");
  } else {
    out.append_escaped(reinterpret_cast<const u8*>(buf), n, kShowBytes);
  }
}

void put_bytes(TextBuffer& out, u64 addr, u64 len, MemReader read) {
  u8 buf[kShowBytes];
  usize n = len < kShowBytes ? len : kShowBytes;
  if (addr == 0 && len) {
    out.append("NULL");
    return;
  }
  if (!read(addr, buf, n)) {
    out.append("%#lx", (unsigned long)addr);
    return;
  }
  out.append_escaped(buf, len, kShowBytes);  // shows n bytes and "..." if len > n
}

void put_iov(TextBuffer& out, u64 addr, u64 count, i64 limit, MemReader read) {
  struct Iovec {
    u64 base, len;
  };
  out.append("[");
  for (u64 i = 0; i < count && i < 8; ++i) {
    Iovec v;
    if (!read(addr + i * sizeof(Iovec), &v, sizeof v)) {
      out.append("%s%#lx", i ? ", " : "", (unsigned long)(addr + i * sizeof(Iovec)));
      break;
    }
    u64 show = v.len;
    if (limit >= 0) {
      show = u64(limit) < v.len ? u64(limit) : v.len;
      limit -= i64(show);
    }
    out.append("%s{iov_base=", i ? ", " : "");
    put_bytes(out, v.base, show, read);
    out.append(", iov_len=%lu}", (unsigned long)v.len);
  }
  if (count > 8) out.append(", ...");
  out.append("]");
}

void put_timespec(TextBuffer& out, u64 addr, MemReader read) {
  struct {
    i64 sec, nsec;
  } ts;
  if (addr == 0) {
    out.append("NULL");
  } else if (!read(addr, &ts, sizeof ts)) {
    out.append("%#lx", (unsigned long)addr);
  } else {
    out.append("{tv_sec=%ld, tv_nsec=%ld}", (long)ts.sec, (long)ts.nsec);
  }
}

const char* family_name(u64 f) {
  switch (f) {
    case 0: return "AF_UNSPEC";
    case 1: return "AF_UNIX";
    case 2: return "AF_INET";
    case 10: return "AF_INET6";
    case 16: return "AF_NETLINK";
    case 17: return "AF_PACKET";
    default: return nullptr;
  }
}

void put_family(TextBuffer& out, u64 f) {
  const char* n = family_name(f);
  if (n) out.append("%s", n);
  else out.append("%d", int(f));
}

// SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, or the number.
void put_socktype(TextBuffer& out, u64 v) {
  static const char* const kTypes[] = {nullptr,      "SOCK_STREAM", "SOCK_DGRAM",
                                       "SOCK_RAW",   "SOCK_RDM",    "SOCK_SEQPACKET",
                                       "SOCK_DCCP"};
  u32 t = u32(v) & 0xf, flags = u32(v) & ~0xfu;
  bool any = false;
  if (t && t < sizeof kTypes / sizeof kTypes[0]) {
    out.append("%s", kTypes[t]);
    any = true;
  } else if (t) {
    out.append("%u", t);
    any = true;
  }
  if (flags & 04000) out.append("%sSOCK_NONBLOCK", any ? "|" : ""), any = true;
  if (flags & 02000000) out.append("%sSOCK_CLOEXEC", any ? "|" : ""), any = true;
  flags &= ~u32(04000 | 02000000);
  if (flags) out.append("%s%#x", any ? "|" : "", flags), any = true;
  if (!any) out.append("0");
}

// {sa_family=AF_UNIX, sun_path="/tmp/s"} (abstract names as @"name"),
// {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("10.0.2.2")}.
void put_sockaddr(TextBuffer& out, u64 addr, u64 len, MemReader read) {
  u8 b[128];
  if (addr == 0) {
    out.append("NULL");
    return;
  }
  usize n = len < sizeof b ? usize(len) : sizeof b;
  if (n < 2 || !read(addr, b, n)) {
    out.append("%#lx", (unsigned long)addr);
    return;
  }
  u16 fam = u16(b[0] | b[1] << 8);
  out.append("{sa_family=");
  put_family(out, fam);
  if (fam == 1 && n > 2) {
    usize plen = n - 2;
    const u8* p = b + 2;
    if (p[0] == 0) {
      out.append(", sun_path=@");
      out.append_escaped(p + 1, plen - 1, kShowBytes);
    } else {
      usize k = 0;
      while (k < plen && p[k]) ++k;
      out.append(", sun_path=");
      out.append_escaped(p, k, kShowBytes);
    }
  } else if (fam == 2 && n >= 8) {
    out.append(", sin_port=htons(%u), sin_addr=inet_addr(\"%u.%u.%u.%u\")",
               unsigned(b[2] << 8 | b[3]), b[4], b[5], b[6], b[7]);
  }
  out.append("}");
}

// True when the argument is shown only once the call has run.
bool shown_after(Arg k) { return k == Arg::OutBuf || k == Arg::OutIov || k == Arg::OutTimespec; }

void put_arg(TextBuffer& out, Arg k, const u64* args, int i, i64 ret, bool done, MemReader read) {
  u64 v = args[i];
  bool failed = done && ret < 0 && ret > -4096;
  if (shown_after(k) && (!done || failed)) {
    out.append("%#lx", (unsigned long)v);
    return;
  }
  switch (k) {
    case Arg::None:
    case Arg::Errno:
    case Arg::Noreturn: break;
    case Arg::Int: out.append("%ld", (long)v); break;
    case Arg::Uint: out.append("%lu", (unsigned long)v); break;
    case Arg::Hex: out.append("%#lx", (unsigned long)v); break;
    case Arg::Ptr:
      if (v == 0) out.append("NULL");
      else out.append("%#lx", (unsigned long)v);
      break;
    case Arg::Fd:
      if (int(v) == -100) out.append("AT_FDCWD");
      else out.append("%d", int(v));
      break;
    case Arg::Oct: out.append("0%lo", (unsigned long)v); break;
    case Arg::Str: put_string(out, v, read); break;
    case Arg::InBuf: put_bytes(out, v, args[i + 1], read); break;
    case Arg::OutBuf: put_bytes(out, v, u64(ret), read); break;
    case Arg::Iov: put_iov(out, v, args[i + 1], -1, read); break;
    case Arg::OutIov: put_iov(out, v, args[i + 1], ret, read); break;
    case Arg::Sig: {
      const char* n = signal_name(int(v));
      if (n) out.append("%s", n);
      else out.append("%d", int(v));
      break;
    }
    case Arg::Clock: {
      const char* n = clock_name(v);
      if (n) out.append("%s", n);
      else out.append("%d", int(v));
      break;
    }
    case Arg::Timespec:
    case Arg::OutTimespec: put_timespec(out, v, read); break;
    case Arg::Domain: put_family(out, v); break;
    case Arg::SockType: put_socktype(out, v); break;
    case Arg::Sockaddr: put_sockaddr(out, v, args[i + 1], read); break;
  }
}

}  // namespace

const char* signal_name(int sig) {
  static const char* const kNames[] = {
      nullptr,   "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT",
      "SIGBUS",  "SIGFPE",  "SIGKILL",   "SIGUSR1", "SIGSEGV",  "SIGUSR2", "SIGPIPE",
      "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",  "SIGSTOP", "SIGTSTP",
      "SIGTTIN", "SIGTTOU", "SIGURG",    "SIGXCPU", "SIGXFSZ",  "SIGVTALRM", "SIGPROF",
      "SIGWINCH", "SIGIO",  "SIGPWR",    "SIGSYS"};
  if (sig > 0 && sig < int(sizeof kNames / sizeof kNames[0])) return kNames[sig];
  return nullptr;
}

const char* clock_name(u64 c) {
  static const char* const kNames[] = {
      "CLOCK_REALTIME",        "CLOCK_MONOTONIC",        "CLOCK_PROCESS_CPUTIME_ID",
      "CLOCK_THREAD_CPUTIME_ID", "CLOCK_MONOTONIC_RAW",  "CLOCK_REALTIME_COARSE",
      "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME"};
  return c < sizeof kNames / sizeof kNames[0] ? kNames[c] : nullptr;
}

void format_syscall(TextBuffer& out, u64 nr, const u64 args[6], i64 ret, bool done,
                    MemReader read) {
  const SyscallDesc& d = syscall_desc(nr);
  if (d.name) out.append("%s(", d.name);
  else out.append("syscall_%lu(", (unsigned long)nr);
  if (!d.handler) {
    // Not implemented: raw arguments, as there is no decoding for them.
    out.append("%#lx, %#lx, %#lx, %#lx, %#lx, %#lx", (unsigned long)args[0],
               (unsigned long)args[1], (unsigned long)args[2], (unsigned long)args[3],
               (unsigned long)args[4], (unsigned long)args[5]);
  } else {
    for (int i = 0; i < d.nargs; ++i) {
      if (i) out.append(", ");
      put_arg(out, d.args[i], args, i, ret, done, read);
    }
  }
  out.append(")");
  if (!done) {
    if (d.ret == Arg::Noreturn) out.append(" = ?");
    return;
  }
  if (ret < 0 && ret > -4096) {
    const char* n = errno_name(int(-ret));
    out.append(" = -1 %s", n ? n : "E?");
    if (!d.handler) out.append(" (not implemented)");
  } else if (d.ret == Arg::Hex) {
    out.append(" = %#lx", (unsigned long)ret);
  } else {
    out.append(" = %ld", (long)ret);
  }
}

}  // namespace mote::linux
