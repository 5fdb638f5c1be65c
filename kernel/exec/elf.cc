#include "kernel/exec/elf.h"

#include "kernel/lib/format.h"
#include "kernel/lib/string.h"

namespace mote::elf {

const char* machine_name(u16 m) {
  switch (m) {
    case 3: return "i386";
    case 8: return "MIPS";
    case 20: return "PowerPC";
    case 21: return "PowerPC64";
    case 22: return "S/390";
    case 40: return "ARM";
    case 62: return "x86-64";
    case 183: return "AArch64";
    case 243: return "RISC-V";
    case 258: return "LoongArch";
    default: return "an unknown machine";
  }
}

const char* describe(Problem p, u16 machine) {
  (void)machine;
  switch (p) {
    case Problem::None: return "ok";
    case Problem::TooSmall: return "not an ELF executable (file too small)";
    case Problem::NotElf: return "not an ELF executable";
    case Problem::Not64Bit: return "32-bit ELF executables are not supported (mote runs x86-64 programs)";
    case Problem::NotLittleEndian: return "big-endian ELF is not supported (mote runs x86-64 programs)";
    case Problem::BadVersion: return "unsupported ELF version";
    case Problem::WrongMachine: return "ELF executable for another architecture (mote runs x86-64 programs)";
    case Problem::NotExecutable: return "ELF file is not an executable";
    case Problem::BadHeaders: return "malformed ELF program headers";
    case Problem::Truncated: return "truncated ELF file";
    case Problem::Dynamic: return "dynamically linked programs are not supported yet (link it statically or as static-pie)";
    case Problem::NoSegments: return "ELF executable has no loadable segments";
    case Problem::BadSegment: return "malformed ELF segment";
    case Problem::TooManySegments: return "too many ELF program headers";
  }
  return "invalid ELF";
}

namespace {

constexpr u64 kUserTop = 0x800000000000ull;  // x86-64 canonical lower half

bool add_ok(u64 a, u64 b, u64* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

Problem parse(ReadFn read, void* ctx, u64 file_size, Image* out) {
  Ehdr eh;
  if (file_size < sizeof(Ehdr)) {
    // Still tell "not ELF" from "truncated ELF" by the magic when we can.
    u8 magic[4] = {};
    auto r = read(ctx, 0, magic, sizeof magic);
    if (r.ok() && r.value() == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' &&
        magic[3] == 'F')
      return Problem::Truncated;
    return Problem::TooSmall;
  }
  auto r = read(ctx, 0, &eh, sizeof eh);
  if (!r.ok() || r.value() != sizeof eh) return Problem::Truncated;
  if (eh.ident[0] != 0x7f || eh.ident[1] != 'E' || eh.ident[2] != 'L' || eh.ident[3] != 'F')
    return Problem::NotElf;
  if (eh.ident[4] != 2) return Problem::Not64Bit;          // EI_CLASS: ELFCLASS64
  if (eh.ident[5] != 1) return Problem::NotLittleEndian;   // EI_DATA: ELFDATA2LSB
  if (eh.ident[6] != 1 || eh.version != 1) return Problem::BadVersion;
  out->machine = eh.machine;
  if (eh.machine != kEmX86_64) return Problem::WrongMachine;
  if (eh.type != kEtExec && eh.type != kEtDyn) return Problem::NotExecutable;
  if (eh.phentsize != sizeof(Phdr) || eh.phnum == 0) return Problem::BadHeaders;
  if (eh.phnum > kMaxPhdrs) return Problem::TooManySegments;
  u64 ph_end;
  if (!add_ok(eh.phoff, u64(eh.phnum) * sizeof(Phdr), &ph_end)) return Problem::BadHeaders;
  if (ph_end > file_size) return Problem::Truncated;
  usize ph_bytes = eh.phnum * sizeof(Phdr);
  r = read(ctx, eh.phoff, out->phdrs, ph_bytes);
  if (!r.ok() || r.value() != ph_bytes) return Problem::Truncated;

  out->pie = eh.type == kEtDyn;
  out->entry = eh.entry;
  out->phoff = eh.phoff;
  out->phnum = eh.phnum;
  out->lo = ~u64(0);
  out->hi = 0;
  out->phdr_vaddr = 0;
  out->exec_stack = true;  // Linux default without PT_GNU_STACK on x86-64
  out->interp_offset = out->interp_size = 0;

  bool& dynamic = out->dynamic;
  dynamic = false;
  u64 prev_end = 0;
  int loads = 0;
  for (int i = 0; i < eh.phnum; ++i) {
    const Phdr& ph = out->phdrs[i];
    if (ph.type == kPtInterp) {
      dynamic = true;
      out->interp_offset = ph.offset;
      out->interp_size = ph.filesz;
    } else if (ph.type == kPtGnuStack) {
      out->exec_stack = (ph.flags & kPfX) != 0;
    } else if (ph.type == kPtPhdr) {
      out->phdr_vaddr = ph.vaddr;
    }
    if (ph.type != kPtLoad) continue;
    ++loads;
    u64 file_end, mem_end;
    if (ph.filesz > ph.memsz) return Problem::BadSegment;
    if (!add_ok(ph.offset, ph.filesz, &file_end) || file_end > file_size) return Problem::Truncated;
    if (!add_ok(ph.vaddr, ph.memsz, &mem_end) || mem_end > kUserTop) return Problem::BadSegment;
    // The file offset and address must agree modulo the page size so the
    // segment can be mapped page by page.
    if ((ph.offset % kPageSize) != (ph.vaddr % kPageSize)) return Problem::BadSegment;
    // PT_LOAD entries are sorted by vaddr (gABI); overlapping pages are allowed
    // (the later segment wins, as on Linux) but not overlapping bytes.
    if (loads > 1 && ph.vaddr < prev_end) return Problem::BadSegment;
    prev_end = mem_end;
    if (page_down(ph.vaddr) < out->lo) out->lo = page_down(ph.vaddr);
    if (page_up(mem_end) > out->hi) out->hi = page_up(mem_end);
    // Find the phdrs in memory when there is no PT_PHDR (common in static).
    if (out->phdr_vaddr == 0 && eh.phoff >= ph.offset && ph_end <= file_end)
      out->phdr_vaddr = ph.vaddr + (eh.phoff - ph.offset);
  }
  u64 interp_end;
  if (dynamic && (out->interp_size < 2 || out->interp_size > 4096 ||
                  !add_ok(out->interp_offset, out->interp_size, &interp_end) ||
                  interp_end > file_size))
    return Problem::BadHeaders;
  if (loads == 0) return Problem::NoSegments;
  if (!out->pie && out->lo < kPageSize) return Problem::BadSegment;
  if (out->pie && out->entry == 0) return Problem::NotExecutable;  // a shared library
  if (out->entry < out->lo || out->entry >= out->hi) {
    // A shared library (ET_DYN) typically has entry 0: not a program.
    return out->pie ? Problem::NotExecutable : Problem::BadHeaders;
  }
  return Problem::None;
}

bool debug_refs(ReadFn read, void* ctx, DebugRefs* out) {
  out->build_id_len = 0;
  out->link[0] = 0;
  Ehdr eh;
  auto r = read(ctx, 0, &eh, sizeof eh);
  if (!r.ok() || r.value() != sizeof eh || eh.shentsize != sizeof(Shdr) ||
      eh.shstrndx >= eh.shnum)
    return false;
  Shdr names;
  r = read(ctx, eh.shoff + u64(eh.shstrndx) * sizeof names, &names, sizeof names);
  if (!r.ok() || r.value() != sizeof names) return false;
  for (u16 i = 0; i < eh.shnum && i < 512; ++i) {
    Shdr sh;
    r = read(ctx, eh.shoff + u64(i) * sizeof sh, &sh, sizeof sh);
    if (!r.ok() || r.value() != sizeof sh) return false;
    if (sh.type == 7 /*SHT_NOTE*/ && !out->build_id_len) {
      // Notes: namesz, descsz, type, the name and the descriptor, each
      // padded to 4 bytes. The one of type 3 named "GNU" is the build ID.
      u8 buf[256];
      usize n = usize(min<u64>(sh.size, sizeof buf));
      r = read(ctx, sh.offset, buf, n);
      if (!r.ok() || r.value() != n) continue;
      for (usize at = 0; n - at >= 12;) {
        u32 h[3];
        memcpy(h, buf + at, sizeof h);
        usize name_end = at + 12 + ((u64(h[0]) + 3) & ~u64(3));
        usize desc_end = name_end + ((u64(h[1]) + 3) & ~u64(3));
        if (h[0] > n || h[1] > n || desc_end > n) break;
        if (h[2] == 3 && h[0] == 4 && memcmp(buf + at + 12, "GNU", 4) == 0 && h[1] &&
            h[1] <= sizeof out->build_id) {
          memcpy(out->build_id, buf + name_end, h[1]);
          out->build_id_len = h[1];
          break;
        }
        at = desc_end;
      }
    } else if (sh.type == 1 /*SHT_PROGBITS*/ && !out->link[0] && sh.name < names.size) {
      char name[16];
      r = read(ctx, names.offset + sh.name, name, sizeof name);
      if (!r.ok() || r.value() < 15 || memcmp(name, ".gnu_debuglink", 15) != 0) continue;
      // The file name, NUL-terminated, then padding and a CRC32.
      usize n = usize(min<u64>(sh.size, sizeof out->link - 1));
      r = read(ctx, sh.offset, out->link, n);
      if (!r.ok()) continue;
      usize got = min(r.value(), n);
      out->link[got] = 0;
      usize len = strnlen(out->link, got);
      bool plain = len > 0 && len < got;  // NUL-terminated within the section
      for (usize k = 0; k < len; ++k)
        if (out->link[k] == '/') plain = false;  // a file name, not a path
      if (!plain) out->link[0] = 0;
    }
  }
  return out->build_id_len || out->link[0];
}

usize debug_file_paths(const DebugRefs& refs, StrView path, char (*out)[kDebugPathMax]) {
  usize n = 0;
  if (refs.build_id_len >= 2) {
    usize at = format(out[n], kDebugPathMax, "/usr/lib/debug/.build-id/%02x/", refs.build_id[0]);
    for (u32 i = 1; i < refs.build_id_len && at + 8 < kDebugPathMax; ++i)
      at += format(out[n] + at, kDebugPathMax - at, "%02x", refs.build_id[i]);
    format(out[n] + at, kDebugPathMax - at, ".debug");
    ++n;
  }
  if (refs.link[0]) {
    usize slash = path.size;
    while (slash > 0 && path.data[slash - 1] != '/') --slash;
    int dir = int(slash ? slash - 1 : 0);  // without the last slash; "" for the root
    if (slash) {
      format(out[n++], kDebugPathMax, "%.*s/%s", dir, path.data, refs.link);
      format(out[n++], kDebugPathMax, "%.*s/.debug/%s", dir, path.data, refs.link);
      format(out[n++], kDebugPathMax, "/usr/lib/debug%.*s/%s", dir, path.data, refs.link);
    }
  }
  return n;
}

bool debug_file_matches(const DebugRefs& refs, usize index, ReadFn read, void* ctx) {
  if (index > 0 || refs.build_id_len < 2) return true;  // not the build-ID place
  DebugRefs theirs;
  return debug_refs(read, ctx, &theirs) && theirs.build_id_len == refs.build_id_len &&
         memcmp(theirs.build_id, refs.build_id, refs.build_id_len) == 0;
}

}  // namespace mote::elf
