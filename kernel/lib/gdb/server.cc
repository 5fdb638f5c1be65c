// The GDB remote protocol's packets (server.h). See the GDB manual,
// appendix "Remote Serial Protocol": "Packets", "Stop Reply Packets",
// "General Query Packets".
#include "kernel/lib/gdb/server.h"

#include "kernel/lib/string.h"

namespace mote::gdb {

void Server::send_stop(const StopInfo& stop) {
  char* o = out_;
  *o++ = 'T';
  u8 sig = u8(gdb_signal(stop.sig));
  o = put_bytes(o, &sig, 1);
  memcpy(o, "thread:", 7);
  o = put_num(o + 7, u64(stop.tid));
  *o++ = ';';
  if (stop.swbreak) {
    memcpy(o, "swbreak:;", 9);
    o += 9;
  }
  send(out_, usize(o - out_));
}

void Server::send_exit(int status, int signal) {
  char msg[4] = {'W', kHex[(status >> 4) & 15], kHex[status & 15], 0};
  if (signal) {
    u8 sig = u8(gdb_signal(signal));
    msg[0] = 'X';
    msg[1] = kHex[sig >> 4];
    msg[2] = kHex[sig & 15];
  }
  active = false;
  send(msg, 3);
}

// vCont;ACTION[:TID];...: the first action naming the stopped thread, or
// else the first default one, decides; other threads' steps go to the
// target.
ResumeAction Server::parse_vcont(Target& target, const StopInfo& stop, const char* p) {
  ResumeAction mine;
  while (*p == ';') {
    ++p;
    char a = *p++;
    bool sig = false;
    if (a == 'C' || a == 'S') {
      parse_hex(p);
      sig = true;
    }
    i64 tid = -1;  // all
    if (*p == ':') {
      ++p;
      if (*p == '-') {
        ++p;
        parse_hex(p);
      } else {
        tid = i64(parse_hex(p));
      }
    }
    Resume how = (a == 's' || a == 'S') ? Resume::Step : Resume::Continue;
    if (tid == stop.tid || (tid == -1 && mine.how == Resume::None)) {
      if (mine.how == Resume::None) mine = ResumeAction{how, sig};
    } else if (tid > 0 && how == Resume::Step) {
      target.step_thread(int(tid));
    }
    while (*p && *p != ';') ++p;
  }
  if (mine.how == Resume::None) mine.how = Resume::Continue;
  return mine;
}

void Server::reply_thread_list(Target& target, const StopInfo& stop) {
  struct List {
    char* o;
    char* end;
    bool first;
  } list{out_, out_ + sizeof out_ - 40, true};
  *list.o++ = 'm';
  target.for_each_thread(
      [](void* ctx, int tid) {
        auto* l = static_cast<List*>(ctx);
        if (l->o >= l->end) return;
        if (!l->first) *l->o++ = ',';
        l->first = false;
        l->o = put_num(l->o, u64(tid));
      },
      &list);
  if (list.first) list.o = put_num(list.o, u64(stop.tid));
  send(out_, usize(list.o - out_));
}

namespace {
bool starts(const char* p, const char* prefix) { return StrView(p).starts_with(StrView(prefix)); }
}  // namespace

// qXfer:auxv:read::OFFSET,LENGTH
void Server::reply_auxv(Target& target, const char* p) {
  u64 off = parse_hex(p);
  if (*p++ != ',') return (void)send_str("E01");
  u64 len = min<u64>(parse_hex(p), kPacketMax / 2 - 8);
  u64 auxv = 0, auxv_len = 0;
  if (!target.auxv(&auxv, &auxv_len)) return (void)send_str("E01");
  if (off >= auxv_len) return (void)send_str("l");
  u64 n = min(len, auxv_len - off);
  u8 raw[kPacketMax / 2];
  if (!target.peek(auxv + off, raw, n)) return (void)send_str("E14");
  char* o = out_;
  *o++ = off + n < auxv_len ? 'm' : 'l';
  for (u64 i = 0; i < n; ++i) {
    char c = char(raw[i]);
    if (c == '$' || c == '#' || c == '}' || c == '*') {
      *o++ = '}';
      c = char(c ^ 0x20);
    }
    *o++ = c;
  }
  send(out_, usize(o - out_));
}

// Serves gdb until it resumes the program (or goes away).
ResumeAction Server::serve(Target& target, const StopInfo& stop) {
  selected_ = 0;
  for (;;) {
    long n = receive(link, pkt_);
    if (n < 0) return ResumeAction{Resume::Detach, false};
    const char* p = pkt_;
    char cmd = *p++;
    switch (cmd) {
      case '?':
        send_stop(stop);
        continue;
      case 'g': {
        u8* fp;
        u64* r = target.regs(selected_, &fp);
        char* o = r ? put_regs(out_, r, fp) : put_unavailable(out_, 8 * 17 + 4 * 7);
        send(out_, usize(o - out_));
        continue;
      }
      case 'G': {
        u8* fp;
        u64* r = target.regs(selected_, &fp);
        if (!r) {
          send_str("E01");
          continue;
        }
        static const u8 sizes[] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4,
                                   4, 4};
        usize at = 0, len = usize(n) - 1;
        for (u64 k = 0; k < sizeof sizes && at + 2 * sizes[k] <= len; ++k) {
          if (p[at] != 'x') set_reg(r, fp, k, p + at, 2 * sizes[k]);
          at += 2 * sizes[k];
        }
        send_str("OK");
        continue;
      }
      case 'p': {
        u64 k = parse_hex(p);
        u8* fp;
        u64* r = target.regs(selected_, &fp);
        char all[2 * kRegBytes];
        usize off, size;
        if (!r || !reg_slot(k, &off, &size)) {
          send_str("E01");
          continue;
        }
        char* end = put_regs(all, r, fp);
        if (all + 2 * (off + size) > end) {
          send_str("E01");
          continue;
        }
        send(all + 2 * off, 2 * size);
        continue;
      }
      case 'P': {
        u64 k = parse_hex(p);
        u8* fp;
        u64* r = target.regs(selected_, &fp);
        if (*p++ != '=' || !r) {
          send_str("E01");
          continue;
        }
        send_str(set_reg(r, fp, k, p, strlen(p)) ? "OK" : "E01");
        continue;
      }
      case 'm': {
        u64 addr = parse_hex(p);
        if (*p++ != ',') {
          send_str("E01");
          continue;
        }
        u64 len = min<u64>(parse_hex(p), kPacketMax / 2);
        u8 buf[kPacketMax / 2];
        // A read that starts readable but runs into an unmapped page
        // returns what it has (gdb asks again for the rest).
        u64 got = 0;
        while (got < len) {
          u64 chunk = min(len - got, page_up(addr + got + 1) - (addr + got));
          if (!target.peek(addr + got, buf + got, chunk)) break;
          got += chunk;
        }
        if (got == 0) send_str("E14");
        else send(out_, usize(put_bytes(out_, buf, got) - out_));
        continue;
      }
      case 'M':
      case 'X': {
        u64 addr = parse_hex(p);
        if (*p++ != ',') {
          send_str("E01");
          continue;
        }
        u64 len = parse_hex(p);
        if (*p++ != ':' || len > kPacketMax / 2) {
          send_str("E01");
          continue;
        }
        u8 buf[kPacketMax / 2];
        bool good = true;
        if (cmd == 'M') {
          for (u64 i = 0; i < len && good; ++i) {
            int h = unhex(p[2 * i]), l = h < 0 ? -1 : unhex(p[2 * i + 1]);
            good = h >= 0 && l >= 0;
            buf[i] = u8(h * 16 + l);
          }
        } else {
          good = usize(n) - usize(p - pkt_) >= len;
          if (good) memcpy(buf, p, len);
        }
        send_str(good && target.poke(addr, buf, len) ? "OK" : "E14");
        continue;
      }
      case 'Z':
      case 'z': {
        if (*p != '0') {  // hardware breakpoints and watchpoints: not supported
          send_str("");
          continue;
        }
        p += 2;
        u64 addr = parse_hex(p);
        send_str(target.set_breakpoint(addr, cmd == 'Z') ? "OK" : "E14");
        continue;
      }
      case 'H': {
        ++p;  // g or c
        i64 tid = (*p == '-') ? 0 : i64(parse_hex(p));
        if (pkt_[1] == 'g') selected_ = int(tid);
        send_str("OK");
        continue;
      }
      case 'T': {
        int tid = int(parse_hex(p));
        send_str(target.thread_alive(tid) ? "OK" : "E01");
        continue;
      }
      case 'c':
      case 's':
      case 'C':
      case 'S': {
        if (cmd == 'C' || cmd == 'S') parse_hex(p);
        if (*p == ';' || ((cmd == 'c' || cmd == 's') && *p)) {
          if (*p == ';') ++p;
          u8* fp;
          if (u64* r = target.regs(0, &fp)) r[RIP] = parse_hex(p);
        }
        return ResumeAction{(cmd == 's' || cmd == 'S') ? Resume::Step : Resume::Continue,
                      cmd == 'C' || cmd == 'S'};
      }
      case 'D':
        send_str("OK");
        return ResumeAction{Resume::Detach, false};
      case 'k':
        return ResumeAction{Resume::Kill, false};
      case 'v':
        if (starts(p, "Cont?")) {
          send_str("vCont;c;C;s;S");
        } else if (starts(p, "Cont;")) {
          return parse_vcont(target, stop, p + 4);
        } else if (starts(p, "Kill")) {
          send_str("OK");
          return ResumeAction{Resume::Kill, false};
        } else {
          send_str("");  // vMustReplyEmpty, vFile, vRun...: not supported
        }
        continue;
      case 'q':
        if (starts(p, "Supported")) {
          send_str("PacketSize=4000;qXfer:auxv:read+;swbreak+;QStartNoAckMode+");
        } else if (starts(p, "Attached")) {
          send_str("0");  // gdb's quit kills the program (as for a program it ran)
        } else if (starts(p, "C") && p[1] == 0) {
          char* o = out_;
          *o++ = 'Q';
          *o++ = 'C';
          o = put_num(o, u64(stop.tid));
          send(out_, usize(o - out_));
        } else if (starts(p, "fThreadInfo")) {
          reply_thread_list(target, stop);
        } else if (starts(p, "sThreadInfo")) {
          send_str("l");
        } else if (starts(p, "Xfer:auxv:read::")) {
          reply_auxv(target, p + 16);
        } else if (starts(p, "Symbol::")) {
          send_str("OK");
        } else {
          send_str("");
        }
        continue;
      case 'Q':
        if (starts(p, "StartNoAckMode")) {
          send_str("OK");
          link.ack = false;
        } else {
          send_str("");
        }
        continue;
      default:
        send_str("");
        continue;
    }
  }
}

}  // namespace mote::gdb
