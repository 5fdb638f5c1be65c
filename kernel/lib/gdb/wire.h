// The GDB remote serial protocol's wire format, for both stubs: the process
// platform's (in the core, kernel/platform/process/gdb.cc) and the KVM
// monitor's (monitor/vm/gdb/): packets ($data#checksum, acks, '}' escapes)
// on one socket, hex encoding, and GDB's amd64 register layout over Linux
// mcontext gregs and an fxsave image.
#pragma once

#include "kernel/lib/types.h"

namespace mote::gdb {

inline constexpr usize kPacketMax = 0x4000;  // the PacketSize the stub announces
inline constexpr char kHex[] = "0123456789abcdef";

// Linux mcontext gregs indices (platform::UserContext).
enum Greg { R8, R9, R10, R11, R12, R13, R14, R15, RDI, RSI, RBP, RBX, RDX, RAX, RCX, RSP, RIP, EFL,
            CSGSFS };

// One connection to gdb. The I/O calls are the user's: raw system calls in
// the core, libc's in the monitor (a negative errno or -1 on failure; -4,
// EINTR, is retried).
struct Link {
  int fd = -1;
  long (*read)(int fd, void* buf, usize n) = nullptr;
  long (*write)(int fd, const void* buf, usize n) = nullptr;
  bool ack = true;  // until QStartNoAckMode
  u8 in[4096] = {};
  usize in_pos = 0, in_len = 0;
};

// The next byte from gdb; -1 when the connection is gone.
int getc(Link& l);
// Sends one packet ($data#cs) and, in ack mode, waits for its '+'.
bool send(Link& l, const char* data, usize n);
bool send_str(Link& l, const char* str);
// Receives one packet into pkt (kPacketMax + 1 bytes, NUL-terminated, '}'
// escapes undone); returns its length, or -1 when gdb is gone.
long receive(Link& l, char* pkt);

int unhex(char c);
u64 parse_hex(const char*& p);
// Bytes (little-endian values) as hex; 'x' pairs for unavailable ones; a
// number in hex without leading zeros. Each returns the end of what it wrote.
char* put_bytes(char* o, const void* src, usize n);
char* put_unavailable(char* o, usize n);
char* put_num(char* o, u64 v);

// The 'g' packet image of a frame's registers (gregs, and the fxsave image
// at fp or null); 2 * kRegBytes characters.
inline constexpr usize kRegBytes = 536;
char* put_regs(char* o, const u64* r, const u8* fp);
// Where register n (GDB's amd64 numbering) is in that image; false for one
// past mxcsr.
bool reg_slot(u64 n, usize* offset, usize* size);
// Sets register n from `digits` hex digits; false for one that cannot change.
bool set_reg(u64* r, u8* fp, u64 n, const char* hex, usize digits);
// GDB's number for a Linux signal (gdb/signals.def; they differ from SIGBUS on).
int gdb_signal(int linux_sig);

}  // namespace mote::gdb
