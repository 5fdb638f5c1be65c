// The GDB remote serial protocol's wire format (wire.h). See the GDB
// manual, appendix "Remote Serial Protocol": Overview (packets, acks,
// escapes) and "Register Packet Format".
#include "kernel/lib/gdb/wire.h"

#include "kernel/lib/string.h"

namespace mote::gdb {

namespace {

// GDB's amd64 register numbers 0-17 (gdb/amd64-tdep.c order) as gregs.
constexpr int kGdbToGreg[18] = {RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8,
                                R9,  R10, R11, R12, R13, R14, R15, RIP, EFL};

bool write_all(Link& l, const char* p, usize n) {
  while (n) {
    long w = l.write(l.fd, p, n);
    if (w == -4) continue;
    if (w <= 0) return false;
    p += w;
    n -= usize(w);
  }
  return true;
}

}  // namespace

int getc(Link& l) {
  if (l.in_pos == l.in_len) {
    long n;
    do n = l.read(l.fd, l.in, sizeof l.in);
    while (n == -4 /*EINTR*/);
    if (n <= 0) return -1;
    l.in_pos = 0;
    l.in_len = usize(n);
  }
  return l.in[l.in_pos++];
}



int unhex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Sends one packet ($data#cs) and, in ack mode, waits for its '+'.
bool send(Link& l, const char* data, usize n) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    u8 sum = 0;
    for (usize i = 0; i < n; ++i) sum = u8(sum + u8(data[i]));
    char tail[3] = {'#', kHex[sum >> 4], kHex[sum & 15]};
    if (!write_all(l, "$", 1) || !write_all(l, data, n) || !write_all(l, tail, 3)) return false;
    if (!l.ack) return true;
    for (;;) {
      int c = getc(l);
      if (c < 0) return false;
      if (c == '+') return true;
      if (c == '-') break;  // send again
      if (c == '$') {
        // gdb's next packet: our reply arrived (its '+' was lost).
        --l.in_pos;
        return true;
      }
    }
  }
  return false;
}

bool send_str(Link& l, const char* str) { return send(l, str, strlen(str)); }

// Receives one packet into pkt (NUL-terminated, '}' escapes undone);
// returns its length, or -1 when gdb is gone. A lone ^C while stopped is
// ignored.
long receive(Link& l, char* pkt) {
  for (;;) {
    int c = getc(l);
    if (c < 0) return -1;
    if (c != '$') continue;
    usize n = 0;
    u8 sum = 0;
    bool overflow = false;
    for (;;) {
      c = getc(l);
      if (c < 0) return -1;
      if (c == '#') break;
      sum = u8(sum + u8(c));
      if (c == '}') {
        int e = getc(l);
        if (e < 0) return -1;
        sum = u8(sum + u8(e));
        c = e ^ 0x20;
      }
      if (n < kPacketMax) pkt[n++] = char(c);
      else overflow = true;
    }
    int hi = getc(l), lo = getc(l);
    if (hi < 0 || lo < 0) return -1;
    bool good = !overflow && unhex(char(hi)) >= 0 && unhex(char(lo)) >= 0 &&
                u8(unhex(char(hi)) * 16 + unhex(char(lo))) == sum;
    if (l.ack && !write_all(l, good ? "+" : "-", 1)) return -1;
    if (!good) continue;
    pkt[n] = 0;
    return long(n);
  }
}

// ---- Parsing and formatting helpers ----------------------------------------------

u64 parse_hex(const char*& p) {
  u64 v = 0;
  for (int d; (d = unhex(*p)) >= 0; ++p) v = v * 16 + u64(d);
  return v;
}

// Little-endian bytes as hex.
char* put_bytes(char* o, const void* src, usize n) {
  const u8* b = static_cast<const u8*>(src);
  for (usize i = 0; i < n; ++i) {
    *o++ = kHex[b[i] >> 4];
    *o++ = kHex[b[i] & 15];
  }
  return o;
}

char* put_unavailable(char* o, usize n) {
  for (usize i = 0; i < 2 * n; ++i) *o++ = 'x';
  return o;
}

char* put_num(char* o, u64 v) {
  char tmp[16];
  int n = 0;
  do tmp[n++] = kHex[v & 15];
  while (v >>= 4);
  while (n) *o++ = tmp[--n];
  return o;
}

// The 'g' packet: GDB's amd64 layout (gdb/features/i386/64bit-core.xml and
// 64bit-sse.xml): rax..r15, rip, eflags (4 bytes), cs ss ds es fs gs (4
// each), st0-st7 (10 each), fctrl fstat ftag fiseg fioff foseg fooff fop (4
// each), xmm0-15, mxcsr. The x87/SSE part comes from the frame's fxsave
// image (Intel SDM vol 1, 10.5.1 FXSAVE Area); 'x' where there is none.
char* put_regs(char* o, const u64* r, const u8* fp) {
  for (int i = 0; i < 17; ++i) o = put_bytes(o, &r[kGdbToGreg[i]], 8);
  u32 eflags = u32(r[EFL]);
  o = put_bytes(o, &eflags, 4);
  u32 seg[6] = {u32(r[CSGSFS] & 0xffff), 0x2b /*ss*/, 0, 0, 0, 0};
  if (!seg[0]) seg[0] = 0x33;
  o = put_bytes(o, seg, sizeof seg);
  if (!fp) return put_unavailable(o, 8 * 10 + 8 * 4 + 16 * 16 + 4);
  for (int i = 0; i < 8; ++i) o = put_bytes(o, fp + 32 + 16 * i, 10);
  u16 fcw, fsw, fop, fcs, fds;
  u8 ftw;
  u32 fip, fdp;
  memcpy(&fcw, fp + 0, 2);
  memcpy(&fsw, fp + 2, 2);
  memcpy(&ftw, fp + 4, 1);
  memcpy(&fop, fp + 6, 2);
  memcpy(&fip, fp + 8, 4);
  memcpy(&fcs, fp + 12, 2);
  memcpy(&fdp, fp + 16, 4);
  memcpy(&fds, fp + 20, 2);
  // fxsave keeps one bit per register (valid or empty); gdb wants the full
  // tag word: empty is 3, and "valid" (0) is close enough for the rest.
  u32 tag = 0;
  for (int i = 0; i < 8; ++i)
    if (!(ftw & (1u << i))) tag |= 3u << (2 * i);
  const u32 x87[8] = {fcw, fsw, tag, fcs, fip, fds, fdp, u32(fop & 0x7ff)};
  o = put_bytes(o, x87, sizeof x87);
  o = put_bytes(o, fp + 160, 16 * 16);
  return put_bytes(o, fp + 24, 4);  // mxcsr
}

// Register n (GDB's numbering) from hex; false for one we cannot change.
bool set_reg(u64* r, u8* fp, u64 n, const char* hex, usize digits) {
  u8 v[16] = {};
  usize len = digits / 2;
  if (len > sizeof v) return false;
  for (usize i = 0; i < len; ++i) {
    int h = unhex(hex[2 * i]), l = unhex(hex[2 * i + 1]);
    if (h < 0 || l < 0) return false;
    v[i] = u8(h * 16 + l);
  }
  if (n < 17 && len == 8) {
    memcpy(&r[kGdbToGreg[n]], v, 8);
    return true;
  }
  if (n == 17 && len == 4) {
    // eflags: the arithmetic, direction, trap and resume bits are the
    // program's; the rest the host decides.
    u32 f;
    memcpy(&f, v, 4);
    constexpr u32 kUserBits = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x10000;
    r[EFL] = (r[EFL] & ~u64(kUserBits)) | (f & kUserBits);
    return true;
  }
  if (n >= 18 && n < 24) return true;  // segments: fixed on Linux
  if (!fp) return false;
  if (n >= 24 && n < 32 && len == 10) {
    memcpy(fp + 32 + 16 * (n - 24), v, 10);
    return true;
  }
  if (n >= 40 && n < 56 && len == 16) {
    memcpy(fp + 160 + 16 * (n - 40), v, 16);
    return true;
  }
  if (n == 56 && len == 4) {
    memcpy(fp + 24, v, 4);
    return true;
  }
  return false;
}


bool reg_slot(u64 k, usize* off, usize* size) {
  if (k < 17) *off = 8 * k, *size = 8;
  else if (k < 24) *off = 136 + 4 * (k - 17), *size = 4;
  else if (k < 32) *off = 164 + 10 * (k - 24), *size = 10;
  else if (k < 40) *off = 244 + 4 * (k - 32), *size = 4;
  else if (k < 56) *off = 276 + 16 * (k - 40), *size = 16;
  else if (k == 56) *off = 532, *size = 4;
  else return false;
  return true;
}

int gdb_signal(int linux_sig) {
  switch (linux_sig) {
    case 7: return 10;   // SIGBUS
    case 10: return 30;  // SIGUSR1
    case 12: return 31;  // SIGUSR2
    default: return linux_sig;
  }
}

}  // namespace mote::gdb
