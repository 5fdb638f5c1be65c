#include "kernel/exec/loader.h"

#include "kernel/mm/mapped_file.h"
#include "kernel/mm/scratch.h"

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/platform/platform.h"

namespace mote::exec {

namespace {

// Where PIE programs go when free: Linux's ELF_ET_DYN_BASE on x86-64.
constexpr u64 kPieBase = 0x555555554000ull;

Result<usize> read_file(void* ctx, u64 off, void* buf, usize len) {
  return static_cast<fs::Inode*>(ctx)->read(off, buf, len);
}

u32 prot_of(u32 pflags) {
  u32 p = 0;
  if (pflags & elf::kPfR) p |= platform::kProtRead;
  if (pflags & elf::kPfW) p |= platform::kProtWrite;
  if (pflags & elf::kPfX) p |= platform::kProtExec;
  return p;
}

Result<void> load_segment(mm::AddressSpace& as, fs::Inode& file, const elf::Phdr& ph, u64 bias,
                          mm::MapName* name) {
  u32 prot = prot_of(ph.flags);
  u64 start = page_down(bias + ph.vaddr);
  u64 file_end = bias + ph.vaddr + ph.filesz;
  u64 mem_end = bias + ph.vaddr + ph.memsz;
  u64 anon_start = start;
  if (ph.filesz) {
    u64 map_end = page_up(file_end);
    bool zero_tail = ph.memsz > ph.filesz && !page_aligned(file_end);
    u32 map_prot = zero_tail ? (prot | platform::kProtWrite) : prot;
    TRY(as.map_file(start, map_end - start, map_prot, mm::Placement::Fixed, mm::VmaKind::Image,
                    file, page_down(ph.offset), name));
    if (zero_tail) {
      // The bytes after the file data on its last page belong to .bss.
      memset(reinterpret_cast<void*>(file_end), 0, map_end - file_end);
      if (map_prot != prot) TRY(as.protect(start, map_end - start, prot));
    }
    anon_start = map_end;
  }
  u64 anon_end = page_up(mem_end);
  if (anon_end > anon_start)
    TRY(as.map_anon(anon_start, anon_end - anon_start, prot, mm::Placement::Fixed,
                    mm::VmaKind::Image));
  return ok();
}

struct Placed {
  u64 bias;
  u64 bytes;
};

// Maps every PT_LOAD of a parsed image. `prefer` is where a position-
// independent image goes when that range is free (0: anywhere, top-down).
Result<Placed> map_image(mm::AddressSpace& as, fs::Inode& file, const elf::Image& img,
                         u64 prefer) {
  u64 span = img.hi - img.lo;
  u64 bias = 0;
  if (img.pie) {
    if (prefer && as.vmas().is_free(prefer, prefer + span)) {
      bias = prefer - img.lo;
    } else {
      u64 at = as.vmas().find_gap_topdown(span, platform::layout().user_min, as.mmap_top());
      if (!at) return err(ENOMEM);
      bias = at - img.lo;
    }
  } else if (!as.vmas().is_free(img.lo, img.hi)) {
    return err(ENOMEM);  // collides with memory the platform uses
  }
  u64 bytes = 0;
  mm::MappedFile* name = mm::MappedFile::get(file);
  Result<void> r = ok();
  for (int i = 0; i < img.phnum && r.ok(); ++i) {
    const elf::Phdr& ph = img.phdrs[i];
    if (ph.type != elf::kPtLoad || ph.memsz == 0) continue;
    r = load_segment(as, file, ph, bias, name);
    bytes += ph.memsz;
  }
  if (name) name->name_release();
  if (!r.ok()) return Error{r.error()};
  return Placed{bias, bytes};
}

}  // namespace

Result<Loaded> load_program(mm::AddressSpace& as, fs::Inode& file, LoadProblem* why) {
  if (!file.is_reg()) return err(EACCES);
  struct Images {  // ~3.6 KiB each
    elf::Image img, interp;
  };
  mm::Scratch<Images> images;
  if (!images) return err(ENOMEM);
  elf::Image& img = images->img;
  elf::Image& interp = images->interp;
  why->problem = elf::parse(read_file, &file, file.size, &img);
  if (why->problem != elf::Problem::None) return err(ENOEXEC);

  Ref<fs::Inode> interp_file;
  if (img.dynamic) {
    usize n = usize(min<u64>(img.interp_size, sizeof why->interp - 1));
    usize got = TRY(file.read(img.interp_offset, why->interp, n));
    why->interp[got] = 0;
    auto r = fs::resolve(nullptr, StrView(why->interp), fs::kFollow);
    if (!r.ok()) {
      why->interp_missing = true;
      return Error{r.error()};
    }
    interp_file = r.value();
    if (!interp_file->is_reg()) {
      why->interp_missing = true;
      return err(EACCES);
    }
    why->in_interp = true;
    why->problem = elf::parse(read_file, interp_file.get(), interp_file->size, &interp);
    if (why->problem == elf::Problem::None && interp.dynamic) why->problem = elf::Problem::BadHeaders;
    if (why->problem != elf::Problem::None) return err(ENOEXEC);
    why->in_interp = false;
  }

  Placed prog = TRY(map_image(as, file, img, kPieBase));
  Loaded l{};
  l.bias = prog.bias;
  l.prog_entry = img.entry + prog.bias;
  l.entry = l.prog_entry;
  l.phdr = img.phdr_vaddr ? img.phdr_vaddr + prog.bias : 0;
  l.phnum = img.phnum;
  l.end = img.hi + prog.bias;
  l.image_bytes = prog.bytes;
  if (interp_file) {
    Placed ip = TRY(map_image(as, *interp_file, interp, 0));
    l.interp_base = interp.lo + ip.bias;
    l.entry = interp.entry + ip.bias;
    l.image_bytes += ip.bytes;
  }
  return l;
}

namespace {

// The symbol of `file`'s table of section type `type` that contains
// `target` (or the nearest before it), into name. nullptr if none.
const char* symbolize_in(fs::Inode& file, const elf::Ehdr& eh, u32 type, u64 target, char* name,
                         usize cap, u64* offset) {
  for (u16 i = 0; i < eh.shnum; ++i) {
    elf::Shdr sh;
    auto r = file.read(eh.shoff + u64(i) * sizeof sh, &sh, sizeof sh);
    if (!r.ok() || r.value() != sizeof sh) return nullptr;
    if (sh.type != type || sh.entsize != sizeof(elf::Sym) || sh.link >= eh.shnum) continue;
    elf::Shdr str;
    r = file.read(eh.shoff + u64(sh.link) * sizeof str, &str, sizeof str);
    if (!r.ok() || r.value() != sizeof str) return nullptr;
    u64 best = 0, best_name = 0;
    bool found = false;
    elf::Sym syms[32];
    u64 count = sh.size / sizeof(elf::Sym);
    for (u64 k = 0; k < count; k += 32) {
      usize n = usize(min<u64>(32, count - k));
      r = file.read(sh.offset + k * sizeof(elf::Sym), syms, n * sizeof(elf::Sym));
      if (!r.ok()) return nullptr;
      for (usize j = 0; j < n; ++j) {
        const elf::Sym& s = syms[j];
        u8 kind = s.info & 0xf;
        if ((kind != 2 /*STT_FUNC*/ && kind != 0 /*NOTYPE*/) || s.shndx == 0 || s.name == 0)
          continue;
        if (s.value > target || (s.size && target >= s.value + s.size)) continue;
        if (!found || s.value > best || (s.value == best && kind == 2)) {
          best = s.value;
          best_name = s.name;
          found = true;
        }
      }
    }
    if (!found) return nullptr;
    r = file.read(str.offset + best_name, name, cap - 1);
    if (!r.ok()) return nullptr;
    name[min<usize>(r.value(), cap - 1)] = 0;
    *offset = target - best;
    return name;
  }
  return nullptr;
}

}  // namespace

Ref<fs::Inode> separate_debug_file(fs::Inode& file, StrView path) {
  elf::DebugRefs refs;
  if (!elf::debug_refs(read_file, &file, &refs)) return Ref<fs::Inode>();
  char paths[elf::kMaxDebugPaths][elf::kDebugPathMax];
  usize n = elf::debug_file_paths(refs, path, paths);
  for (usize i = 0; i < n; ++i) {
    auto r = fs::resolve(nullptr, StrView(paths[i]), fs::kFollow);
    if (!r.ok() || !r.value()->is_reg() || r.value().get() == &file) continue;
    if (elf::debug_file_matches(refs, i, read_file, r.value().get())) return r.value();
  }
  return Ref<fs::Inode>();
}

const char* symbolize(fs::Inode& file, u64 pc, u64 bias, char* name, usize cap, u64* offset) {
  // Section headers -> the symbol table and its strings, read in small
  // pieces: this runs from the fault path, on a small stack, without the
  // heap. The full table (SHT_SYMTAB) when the file has one, else the
  // dynamic symbols every shared library keeps (SHT_DYNSYM).
  elf::Ehdr eh;
  auto r = file.read(0, &eh, sizeof eh);
  if (!r.ok() || r.value() != sizeof eh || eh.shentsize != sizeof(elf::Shdr) || cap == 0)
    return nullptr;
  const char* s = symbolize_in(file, eh, 2 /*SHT_SYMTAB*/, pc - bias, name, cap, offset);
  if (!s) s = symbolize_in(file, eh, 11 /*SHT_DYNSYM*/, pc - bias, name, cap, offset);
  return s;
}

}  // namespace mote::exec
