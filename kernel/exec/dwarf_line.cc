// DWARF 5 spec, 6.2 "Line Number Information" (and DWARF 2-4 for the older
// header): a header per unit (opcodes, directories, files), then a
// byte-coded program whose rows map addresses to file and line.
#include "kernel/exec/dwarf_line.h"

#include "kernel/lib/string.h"

namespace mote::dwarf {

namespace {

// Forms a DWARF 5 entry format may use (DWARF 5, 7.5.6).
constexpr u64 kFormBlock = 0x09, kFormBlock1 = 0x0a, kFormData1 = 0x0b, kFormData2 = 0x05,
              kFormData4 = 0x06, kFormData8 = 0x07, kFormData16 = 0x1e, kFormString = 0x08,
              kFormStrp = 0x0e, kFormLineStrp = 0x1f, kFormUdata = 0x0f, kFormSdata = 0x0d,
              kFormStrx = 0x1a, kFormStrx1 = 0x25, kFormStrx2 = 0x26, kFormStrx3 = 0x27,
              kFormStrx4 = 0x28;
constexpr u64 kLnctPath = 1;

// Sequential reads of a file range through a small buffer. A read past the
// range or a failed read sets `bad` and returns zeros: callers check once.
class Reader {
 public:
  Reader(elf::ReadFn read, void* ctx, u64 pos, u64 end) : read_(read), ctx_(ctx), pos_(pos), end_(end) {}

  u64 pos() const { return pos_; }
  void seek(u64 p) { pos_ = p; }
  bool bad() const { return bad_; }
  bool done() const { return bad_ || pos_ >= end_; }

  u8 byte() {
    if (pos_ >= end_) {
      bad_ = true;
      return 0;
    }
    if (pos_ < buf_at_ || pos_ >= buf_at_ + buf_len_) {
      usize want = usize(min<u64>(sizeof buf_, end_ - pos_));
      auto r = read_(ctx_, pos_, buf_, want);
      if (!r.ok() || r.value() == 0) {
        bad_ = true;
        return 0;
      }
      buf_at_ = pos_;
      buf_len_ = r.value();
    }
    return buf_[pos_++ - buf_at_];
  }
  u64 fixed(int n) {
    u64 v = 0;
    for (int i = 0; i < n; ++i) v |= u64(byte()) << (8 * i);
    return v;
  }
  u64 uleb() {
    u64 v = 0;
    for (int shift = 0; !bad_; shift += 7) {
      u8 b = byte();
      if (shift < 64) v |= u64(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  }
  i64 sleb() {
    u64 v = 0;
    int shift = 0;
    u8 b = 0;
    do {
      b = byte();
      if (shift < 64) v |= u64(b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) && !bad_);
    if (shift < 64 && (b & 0x40)) v |= ~u64(0) << shift;
    return i64(v);
  }
  // A NUL-terminated string, copied (truncated) into out when out is set.
  void cstr(char* out, usize cap) {
    usize n = 0;
    for (;;) {
      u8 c = byte();
      if (bad_ || c == 0) break;
      if (out && n + 1 < cap) out[n++] = char(c);
    }
    if (out && cap) out[n] = 0;
  }
  void skip(u64 n) {
    if (n > end_ - pos_ || pos_ > end_) bad_ = true;  // past the range: stop
    else pos_ += n;
  }

 private:
  elf::ReadFn read_;
  void* ctx_;
  u64 pos_, end_;
  u8 buf_[256];
  u64 buf_at_ = 0;
  usize buf_len_ = 0;
  bool bad_ = false;
};

struct Section {
  u64 offset = 0, size = 0;
};

// .debug_line and .debug_line_str by name.
bool find_sections(elf::ReadFn read, void* ctx, Section* line, Section* line_str) {
  elf::Ehdr eh;
  auto r = read(ctx, 0, &eh, sizeof eh);
  if (!r.ok() || r.value() != sizeof eh || eh.shentsize != sizeof(elf::Shdr) ||
      eh.shstrndx >= eh.shnum)
    return false;
  elf::Shdr names;
  r = read(ctx, eh.shoff + u64(eh.shstrndx) * sizeof names, &names, sizeof names);
  if (!r.ok() || r.value() != sizeof names) return false;
  for (u16 i = 0; i < eh.shnum; ++i) {
    elf::Shdr sh;
    r = read(ctx, eh.shoff + u64(i) * sizeof sh, &sh, sizeof sh);
    if (!r.ok() || r.value() != sizeof sh) return false;
    if (sh.name >= names.size) continue;
    char name[20] = {};
    r = read(ctx, names.offset + sh.name, name, sizeof name - 1);
    if (!r.ok()) continue;
    if (sh.type == 8 /*SHT_NOBITS*/) continue;
    if (StrView(name) == StrView(".debug_line")) *line = Section{sh.offset, sh.size};
    else if (StrView(name) == StrView(".debug_line_str")) *line_str = Section{sh.offset, sh.size};
  }
  return line->size != 0;
}

struct Header {
  u16 version = 0;
  int offsize = 4;
  u8 min_inst = 1, default_is_stmt = 1, opcode_base = 1, line_range = 1;
  i8 line_base = 0;
  u8 std_lengths[32] = {};
  u64 tables = 0;   // where the directory and file tables start
  u64 program = 0;  // where the line-number program starts
  u64 end = 0;      // the unit's end
};

bool read_header(Reader& in, u64 unit, Header* h) {
  in.seek(unit);
  u64 length = in.fixed(4);
  h->offsize = 4;
  if (length == 0xffffffff) {
    length = in.fixed(8);
    h->offsize = 8;
  }
  h->end = in.pos() + length;
  h->version = u16(in.fixed(2));
  if (h->version < 2 || h->version > 5) return false;
  if (h->version >= 5) in.fixed(2);  // address_size, segment_selector_size
  u64 header_length = in.fixed(h->offsize);
  h->program = in.pos() + header_length;
  h->min_inst = in.byte();
  if (h->version >= 4) in.byte();  // maximum_operations_per_instruction (VLIW only)
  h->default_is_stmt = in.byte();
  h->line_base = i8(in.byte());
  h->line_range = in.byte();
  h->opcode_base = in.byte();
  if (h->line_range == 0 || h->opcode_base == 0 || h->opcode_base > sizeof h->std_lengths + 1)
    return false;
  for (u8 i = 1; i < h->opcode_base; ++i) h->std_lengths[i - 1] = in.byte();
  h->tables = in.pos();
  return !in.bad() && h->program <= h->end;
}

// Skips (or, for DW_LNCT_path, reads into name) one attribute value.
void read_form(Reader& in, const Header& h, u64 form, bool want, Section line_str, elf::ReadFn read,
               void* ctx, char* name, usize cap) {
  switch (form) {
    case kFormString: in.cstr(want ? name : nullptr, cap); return;
    case kFormLineStrp: {
      u64 off = in.fixed(h.offsize);
      if (want && off < line_str.size) {
        Reader s(read, ctx, line_str.offset + off, line_str.offset + line_str.size);
        s.cstr(name, cap);
      }
      return;
    }
    case kFormStrp: in.fixed(h.offsize); return;  // .debug_str: not read (gcc uses line_strp)
    case kFormUdata: in.uleb(); return;
    case kFormSdata: in.sleb(); return;
    case kFormData1: case kFormStrx1: in.skip(1); return;
    case kFormData2: case kFormStrx2: in.skip(2); return;
    case kFormStrx3: in.skip(3); return;
    case kFormData4: case kFormStrx4: in.skip(4); return;
    case kFormData8: in.skip(8); return;
    case kFormData16: in.skip(16); return;
    case kFormStrx: in.uleb(); return;
    case kFormBlock: in.skip(in.uleb()); return;
    case kFormBlock1: in.skip(in.byte()); return;
    default: in.seek(~u64(0) >> 1); in.byte(); return;  // unknown: stop (bad)
  }
}

// The name of file `index` of the unit (DWARF 5 counts from 0, earlier
// versions from 1).
bool file_name(Reader& in, const Header& h, u64 index, Section line_str, elf::ReadFn read,
               void* ctx, char* name, usize cap) {
  in.seek(h.tables);
  name[0] = 0;
  if (h.version < 5) {
    while (!in.bad()) {  // include_directories: strings up to an empty one
      u8 first = in.byte();
      if (first == 0) break;
      in.cstr(nullptr, 0);
    }
    for (u64 i = 1; !in.bad(); ++i) {
      char entry[160];
      in.cstr(entry, sizeof entry);
      if (!entry[0]) return false;
      in.uleb();
      in.uleb();
      in.uleb();
      if (i == index) {
        usize n = min(strlen(entry), cap - 1);
        memcpy(name, entry, n);
        name[n] = 0;
        return true;
      }
    }
    return false;
  }
  // DWARF 5: an entry format, then the entries, for directories and files.
  for (int table = 0; table < 2; ++table) {
    u8 nformats = in.byte();
    u64 formats[16][2];
    if (nformats > 16) return false;
    for (u8 k = 0; k < nformats; ++k) {
      formats[k][0] = in.uleb();
      formats[k][1] = in.uleb();
    }
    u64 count = in.uleb();
    if (nformats == 0) {  // entries of no bytes: nothing to name a file by
      if (table == 1) return false;
      continue;
    }
    for (u64 i = 0; i < count && !in.bad(); ++i) {
      bool mine = table == 1 && i == index;
      for (u8 k = 0; k < nformats; ++k)
        read_form(in, h, formats[k][1], mine && formats[k][0] == kLnctPath, line_str, read, ctx,
                  name, cap);
      if (mine) return !in.bad() && name[0];
    }
  }
  return false;
}

struct Row {
  u64 address = 0;
  u64 file = 1;
  u64 line = 1;
};

// Runs one unit's program; true with *match the row that covers addr.
bool run_program(Reader& in, const Header& h, u64 addr, Row* match) {
  in.seek(h.program);
  Row state, prev;
  bool have_prev = false;
  auto reset = [&] {
    state = Row{};
    have_prev = false;
  };
  auto emit = [&](bool end_sequence) {
    if (have_prev && prev.address <= addr && addr < state.address) {
      *match = prev;
      return true;
    }
    prev = state;
    have_prev = !end_sequence;
    return false;
  };
  while (in.pos() < h.end && !in.bad()) {
    u8 op = in.byte();
    if (op >= h.opcode_base) {
      u8 adj = u8(op - h.opcode_base);
      state.address += u64(adj / h.line_range) * h.min_inst;
      state.line += u64(i64(h.line_base) + adj % h.line_range);
      if (emit(false)) return true;
      continue;
    }
    switch (op) {
      case 0: {  // extended
        u64 len = in.uleb();
        if (in.pos() > h.end || len > h.end - in.pos()) return false;  // past the unit
        u64 next = in.pos() + len;
        u8 sub = len ? in.byte() : 0;
        if (sub == 1) {  // DW_LNE_end_sequence
          if (emit(true)) return true;
          reset();
        } else if (sub == 2) {  // DW_LNE_set_address
          state.address = in.fixed(len - 1 >= 8 ? 8 : int(len - 1));
        }
        in.seek(next);
        break;
      }
      case 1: if (emit(false)) return true; break;  // copy
      case 2: state.address += in.uleb() * h.min_inst; break;
      case 3: state.line += u64(in.sleb()); break;
      case 4: state.file = in.uleb(); break;
      case 5: in.uleb(); break;  // column
      case 6: case 7: case 10: case 11: break;  // is_stmt, basic_block, prologue/epilogue
      case 8: state.address += u64((255 - h.opcode_base) / h.line_range) * h.min_inst; break;
      case 9: state.address += in.fixed(2); break;
      case 12: in.uleb(); break;  // isa
      default:
        for (u8 k = 0; k < h.std_lengths[op - 1]; ++k) in.uleb();
    }
  }
  return false;
}

}  // namespace

bool find_line(elf::ReadFn read, void* ctx, u64 addr, char* file, usize cap, u32* line) {
  if (cap == 0) return false;
  Section lines, line_str;
  if (!find_sections(read, ctx, &lines, &line_str)) return false;
  const u64 end = lines.offset + lines.size;
  Reader in(read, ctx, lines.offset, end);
  for (u64 unit = lines.offset; unit < end;) {
    Header h;
    if (!read_header(in, unit, &h) || h.end <= unit) return false;
    Row row;
    if (run_program(in, h, addr, &row)) {
      *line = u32(row.line);
      if (!file_name(in, h, row.file, line_str, read, ctx, file, cap)) {
        file[0] = '?';
        file[cap > 1 ? 1 : 0] = 0;
      }
      return true;
    }
    if (in.bad()) return false;
    unit = h.end;
  }
  return false;
}

}  // namespace mote::dwarf
