// vDSO symbol lookup (vdso.h). The image is a complete ELF file as mapped:
// a file offset is an offset from `image`.
#include "kernel/exec/vdso.h"

#include "kernel/exec/elf.h"

namespace mote::elf {

namespace {

// Dynamic section tags (gABI "Dynamic Section"; DT_GNU_HASH is GNU's).
constexpr i64 kDtNull = 0, kDtHash = 4, kDtStrtab = 5, kDtSymtab = 6, kDtStrsz = 10,
              kDtSyment = 11, kDtGnuHash = 0x6ffffef5;
constexpr u8 kSttFunc = 2;
constexpr u8 kStbGlobal = 1, kStbWeak = 2;
constexpr usize kMaxSymbols = 1 << 16;  // a vDSO has a few dozen

// A bounds-checked view of the image.
class Bytes {
 public:
  Bytes(const u8* p, usize n) : p_(p), n_(n) {}
  bool has(u64 off, u64 len) const { return off <= n_ && len <= n_ - off; }
  template <class T>
  bool read(u64 off, T* out) const {
    if (!has(off, sizeof(T))) return false;
    const u8* s = p_ + off;
    u8* d = reinterpret_cast<u8*>(out);
    for (usize i = 0; i < sizeof(T); ++i) d[i] = s[i];
    return true;
  }
  // The NUL-terminated string at off equals `name` (and ends within bounds).
  bool name_is(u64 off, u64 limit, const char* name) const {
    if (limit > n_) limit = n_;
    for (usize i = 0;; ++i) {
      if (off + i >= limit) return false;
      u8 c = p_[off + i];
      if (c != u8(name[i])) return false;
      if (c == 0) return true;
    }
  }

 private:
  const u8* p_;
  usize n_;
};

struct Dyn {
  i64 tag;
  u64 val;
};

// Symbols in a DT_GNU_HASH table: one past the highest index any bucket's
// chain reaches (the chain ends at a hash word with bit 0 set).
bool gnu_hash_count(const Bytes& b, u64 off, u64* count) {
  u32 head[4];  // nbuckets, symoffset, bloom words, bloom shift
  for (int i = 0; i < 4; ++i)
    if (!b.read(off + 4 * u64(i), &head[i])) return false;
  const u64 nbuckets = head[0], symoffset = head[1], bloom = head[2];
  if (nbuckets == 0 || nbuckets > kMaxSymbols || bloom > kMaxSymbols) return false;
  const u64 buckets = off + 16 + 8 * bloom;
  const u64 chains = buckets + 4 * nbuckets;
  u64 top = 0;
  for (u64 i = 0; i < nbuckets; ++i) {
    u32 v;
    if (!b.read(buckets + 4 * i, &v)) return false;
    if (v > top) top = v;
  }
  if (top == 0) {
    *count = symoffset;
    return true;
  }
  if (top < symoffset) return false;
  for (u64 i = top;; ++i) {
    if (i - symoffset >= kMaxSymbols) return false;
    u32 h;
    if (!b.read(chains + 4 * (i - symoffset), &h)) return false;
    if (h & 1) {
      *count = i + 1;
      return true;
    }
  }
}

}  // namespace

u64 vdso_lookup(const u8* image, usize size, const char* name) {
  Bytes b(image, size);
  Ehdr eh;
  if (!b.read(0, &eh)) return 0;
  if (eh.ident[0] != 0x7f || eh.ident[1] != 'E' || eh.ident[2] != 'L' || eh.ident[3] != 'F' ||
      eh.ident[4] != 2 /*ELFCLASS64*/ || eh.ident[5] != 1 /*ELFDATA2LSB*/ || eh.type != kEtDyn ||
      eh.machine != kEmX86_64 || eh.phentsize != sizeof(Phdr) || eh.phnum == 0)
    return 0;
  if (!b.has(eh.phoff, u64(eh.phnum) * sizeof(Phdr))) return 0;

  // The first PT_LOAD maps file offset p.offset at link address p.vaddr;
  // every link address below is turned into a file offset with it.
  bool have_load = false, have_dyn = false;
  Phdr load{}, dyn{};
  for (u16 i = 0; i < eh.phnum; ++i) {
    Phdr p;
    b.read(eh.phoff + u64(i) * sizeof(Phdr), &p);
    if (p.type == kPtLoad && !have_load) {
      load = p;
      have_load = true;
    } else if (p.type == kPtDynamic) {
      dyn = p;
      have_dyn = true;
    }
  }
  if (!have_load || !have_dyn || load.filesz > size || !b.has(load.offset, load.filesz)) return 0;
  // A link address within the loaded segment -> file offset, or ~0.
  auto offset_of = [&](u64 vaddr) -> u64 {
    if (vaddr < load.vaddr || vaddr - load.vaddr >= load.filesz) return ~u64(0);
    return vaddr - load.vaddr + load.offset;
  };

  u64 symtab = ~u64(0), strtab = ~u64(0), strsz = 0, hash = ~u64(0), gnu_hash = ~u64(0);
  u64 syment = sizeof(Sym);
  if (!b.has(dyn.offset, dyn.filesz)) return 0;
  for (u64 off = dyn.offset; off + sizeof(Dyn) <= dyn.offset + dyn.filesz; off += sizeof(Dyn)) {
    Dyn d;
    b.read(off, &d);
    if (d.tag == kDtNull) break;
    switch (d.tag) {
      case kDtSymtab: symtab = offset_of(d.val); break;
      case kDtStrtab: strtab = offset_of(d.val); break;
      case kDtStrsz: strsz = d.val; break;
      case kDtSyment: syment = d.val; break;
      case kDtHash: hash = offset_of(d.val); break;
      case kDtGnuHash: gnu_hash = offset_of(d.val); break;
      default: break;
    }
  }
  if (symtab == ~u64(0) || strtab == ~u64(0) || syment != sizeof(Sym) || !b.has(strtab, strsz))
    return 0;

  u64 count = 0;
  if (hash != ~u64(0)) {
    u32 nchain;
    if (!b.read(hash + 4, &nchain)) return 0;
    count = nchain;
  } else if (gnu_hash == ~u64(0) || !gnu_hash_count(b, gnu_hash, &count)) {
    return 0;
  }
  if (count > kMaxSymbols || !b.has(symtab, count * sizeof(Sym))) return 0;

  for (u64 i = 1; i < count; ++i) {
    Sym s;
    b.read(symtab + i * sizeof(Sym), &s);
    const u8 bind = s.info >> 4, type = s.info & 0xf;
    if (type != kSttFunc || (bind != kStbGlobal && bind != kStbWeak) || s.shndx == 0) continue;
    if (s.name >= strsz || !b.name_is(strtab + s.name, strtab + strsz, name)) continue;
    const u64 off = offset_of(s.value);
    if (off == ~u64(0)) return 0;
    return u64(image) + off;
  }
  return 0;
}

}  // namespace mote::elf
