// kernel/exec/elf.h: elf::parse over an in-memory file.
#include "kernel/exec/elf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace mote::elf {
namespace {

using Bytes = std::vector<u8>;

Result<usize> read_bytes(void* ctx, u64 offset, void* buf, usize len) {
  const Bytes& b = *static_cast<const Bytes*>(ctx);
  if (offset >= b.size()) return usize(0);
  usize n = len < b.size() - offset ? len : usize(b.size() - offset);
  memcpy(buf, b.data() + offset, n);
  return n;
}

Result<usize> read_fails(void*, u64, void*, usize) { return err(5); }  // EIO

Problem parse_bytes(const Bytes& b, Image* img) {
  return parse(read_bytes, const_cast<Bytes*>(&b), b.size(), img);
}

// An ELF64 x86-64 file under construction: the header at 0, the program
// headers right after it (unless phoff is changed), `size` bytes in all.
struct ElfFile {
  Ehdr eh{};
  std::vector<Phdr> ph;
  u64 size = 0x3000;

  ElfFile() {
    const u8 ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    memcpy(eh.ident, ident, sizeof ident);
    eh.type = kEtExec;
    eh.machine = kEmX86_64;
    eh.version = 1;
    eh.entry = 0x401010;
    eh.phoff = sizeof(Ehdr);
    eh.ehsize = sizeof(Ehdr);
    eh.phentsize = sizeof(Phdr);
  }

  static Phdr load(u64 offset, u64 vaddr, u64 filesz, u64 memsz, u32 flags = kPfR) {
    return Phdr{kPtLoad, flags, offset, vaddr, vaddr, filesz, memsz, kPageSize};
  }
  static Phdr other(u32 type, u64 offset = 0, u64 filesz = 0, u32 flags = kPfR) {
    return Phdr{type, flags, offset, 0, 0, filesz, filesz, 1};
  }

  Bytes bytes() const {
    Ehdr h = eh;
    if (h.phnum == 0) h.phnum = u16(ph.size());
    usize ph_bytes = ph.size() * sizeof(Phdr);
    usize need = size;
    if (h.phoff <= need && h.phoff + ph_bytes > need) need = h.phoff + ph_bytes;
    Bytes b(need > sizeof h ? need : sizeof h, 0);
    memcpy(b.data(), &h, sizeof h);
    if (h.phoff < b.size() && ph_bytes <= b.size() - h.phoff && ph_bytes)
      memcpy(b.data() + h.phoff, ph.data(), ph_bytes);
    b.resize(size);  // may cut headers off on purpose
    return b;
  }
};

// The classic static executable: headers and rodata at 0x400000, text at
// 0x401000 with a bss tail.
ElfFile static_exec() {
  ElfFile f;
  f.ph.push_back(ElfFile::load(0, 0x400000, 0x200, 0x200));
  f.ph.push_back(ElfFile::load(0x1000, 0x401000, 0x180, 0x2800, kPfR | kPfX));
  f.ph.push_back(ElfFile::load(0x2000, 0x404000, 0x100, 0x5000, kPfR | kPfW));
  return f;
}

// A static-pie: the same layout linked at 0.
ElfFile static_pie() {
  ElfFile f;
  f.eh.type = kEtDyn;
  f.eh.entry = 0x1040;
  f.ph.push_back(ElfFile::load(0, 0, 0x200, 0x200));
  f.ph.push_back(ElfFile::load(0x1000, 0x1000, 0x180, 0x180, kPfR | kPfX));
  f.ph.push_back(ElfFile::other(kPtDynamic, 0x2000, 0x100));
  f.ph.push_back(ElfFile::load(0x2000, 0x2000, 0x100, 0x1100, kPfR | kPfW));
  return f;
}

Problem parse_file(const ElfFile& f, Image* img = nullptr) {
  static Image scratch;
  return parse_bytes(f.bytes(), img ? img : &scratch);
}

TEST(Elf, AcceptsStaticExecutable) {
  Image img{};
  ASSERT_EQ(parse_file(static_exec(), &img), Problem::None);
  EXPECT_FALSE(img.pie);
  EXPECT_EQ(img.entry, 0x401010u);
  EXPECT_EQ(img.lo, 0x400000u);
  EXPECT_EQ(img.hi, 0x409000u);  // 0x404000 + 0x5000
  EXPECT_EQ(img.phoff, 64u);
  EXPECT_EQ(img.phnum, 3);
  EXPECT_EQ(img.machine, kEmX86_64);
  // No PT_PHDR: found inside the first PT_LOAD, which maps file offset 0.
  EXPECT_EQ(img.phdr_vaddr, 0x400040u);
  EXPECT_TRUE(img.exec_stack);  // no PT_GNU_STACK: executable, as on Linux
  EXPECT_EQ(img.phdrs[1].vaddr, 0x401000u);
  EXPECT_EQ(img.phdrs[2].memsz, 0x5000u);
}

TEST(Elf, PtPhdrAndGnuStackAreHonoured) {
  ElfFile f = static_exec();
  Phdr phdr = ElfFile::other(kPtPhdr, 64, 4 * sizeof(Phdr));
  phdr.vaddr = 0x400040;
  f.ph.insert(f.ph.begin(), phdr);
  f.ph.push_back(ElfFile::other(kPtGnuStack, 0, 0, kPfR | kPfW));
  Image img{};
  ASSERT_EQ(parse_file(f, &img), Problem::None);
  EXPECT_EQ(img.phdr_vaddr, 0x400040u);
  EXPECT_FALSE(img.exec_stack);

  f.ph.back().flags = kPfR | kPfW | kPfX;
  ASSERT_EQ(parse_file(f, &img), Problem::None);
  EXPECT_TRUE(img.exec_stack);
}

TEST(Elf, PhdrsOutsideAnySegmentAreNotMapped) {
  ElfFile f = static_exec();
  f.eh.phoff = 0x2c00;  // beyond every PT_LOAD's file bytes
  Image img{};
  ASSERT_EQ(parse_file(f, &img), Problem::None);
  EXPECT_EQ(img.phdr_vaddr, 0u);
}

TEST(Elf, AcceptsStaticPie) {
  Image img{};
  ASSERT_EQ(parse_file(static_pie(), &img), Problem::None);
  EXPECT_TRUE(img.pie);
  EXPECT_EQ(img.entry, 0x1040u);
  EXPECT_EQ(img.lo, 0u);
  EXPECT_EQ(img.hi, 0x4000u);  // page_up(0x2000 + 0x1100)
  EXPECT_EQ(img.phdr_vaddr, 0x40u);
  EXPECT_EQ(img.phnum, 4);
}

TEST(Elf, TooSmall) {
  const char text[] = "#!/bin/sh\necho hi\n";
  Bytes b(text, text + sizeof text - 1);
  Image img{};
  EXPECT_EQ(parse_bytes(b, &img), Problem::TooSmall);
  EXPECT_EQ(parse_bytes(Bytes{}, &img), Problem::TooSmall);
}

TEST(Elf, ShortFileWithElfMagicIsTruncated) {
  Bytes b = static_exec().bytes();
  b.resize(40);
  Image img{};
  EXPECT_EQ(parse_bytes(b, &img), Problem::Truncated);
}

TEST(Elf, NotElf) {
  Bytes b = static_exec().bytes();
  b[0] = 'M';
  b[1] = 'Z';
  Image img{};
  EXPECT_EQ(parse_bytes(b, &img), Problem::NotElf);
}

TEST(Elf, Not64Bit) {
  ElfFile f = static_exec();
  f.eh.ident[4] = 1;  // ELFCLASS32
  EXPECT_EQ(parse_file(f), Problem::Not64Bit);
}

TEST(Elf, NotLittleEndian) {
  ElfFile f = static_exec();
  f.eh.ident[5] = 2;  // ELFDATA2MSB
  EXPECT_EQ(parse_file(f), Problem::NotLittleEndian);
}

TEST(Elf, BadVersion) {
  ElfFile f = static_exec();
  f.eh.version = 0;
  EXPECT_EQ(parse_file(f), Problem::BadVersion);
}

TEST(Elf, WrongMachineReportsTheMachine) {
  ElfFile f = static_exec();
  f.eh.machine = 183;  // AArch64
  Image img{};
  EXPECT_EQ(parse_file(f, &img), Problem::WrongMachine);
  EXPECT_EQ(img.machine, 183);
  EXPECT_STREQ(machine_name(183), "AArch64");
  EXPECT_STREQ(machine_name(62), "x86-64");
  EXPECT_STREQ(machine_name(0xbeef), "an unknown machine");
}

TEST(Elf, RelocatableObjectIsNotExecutable) {
  ElfFile f = static_exec();
  f.eh.type = 1;  // ET_REL
  EXPECT_EQ(parse_file(f), Problem::NotExecutable);
  f.eh.type = 4;  // ET_CORE
  EXPECT_EQ(parse_file(f), Problem::NotExecutable);
}

TEST(Elf, SharedLibraryWithoutEntryIsNotExecutable) {
  ElfFile f = static_pie();
  f.eh.entry = 0;
  EXPECT_EQ(parse_file(f), Problem::NotExecutable);
}

TEST(Elf, EntryOutsideTheSegments) {
  ElfFile f = static_exec();
  f.eh.entry = 0x10000000;
  EXPECT_EQ(parse_file(f), Problem::BadHeaders);
  ElfFile p = static_pie();
  p.eh.entry = 0x900000;
  EXPECT_EQ(parse_file(p), Problem::NotExecutable);
}

TEST(Elf, BadHeaders) {
  ElfFile f = static_exec();
  f.eh.phentsize = 32;
  EXPECT_EQ(parse_file(f), Problem::BadHeaders);
  ElfFile g = static_exec();
  g.ph.clear();
  EXPECT_EQ(parse_file(g), Problem::BadHeaders);  // phnum 0
}

TEST(Elf, ProgramHeadersPastEndOfFile) {
  ElfFile f = static_exec();
  f.eh.phoff = f.size - sizeof(Phdr);  // 3 headers, only room for one
  EXPECT_EQ(parse_file(f), Problem::Truncated);
  ElfFile g = static_exec();
  g.eh.phoff = ~u64(0) - 8;  // offset + size overflows
  EXPECT_EQ(parse_file(g), Problem::BadHeaders);
}

TEST(Elf, SegmentFileBytesPastEndOfFile) {
  ElfFile f = static_exec();
  f.ph[2].filesz = 0x1001;  // 0x2000 + 0x1001 > 0x3000
  EXPECT_EQ(parse_file(f), Problem::Truncated);
  f.ph[2].filesz = 0x1000;  // exactly up to the end is fine
  EXPECT_EQ(parse_file(f), Problem::None);
}

TEST(Elf, FailingReadIsTruncated) {
  Bytes b = static_exec().bytes();
  Image img{};
  EXPECT_EQ(parse(read_fails, &b, b.size(), &img), Problem::Truncated);
}

TEST(Elf, InterpreterMeansDynamic) {
  ElfFile f = static_exec();
  f.ph.insert(f.ph.begin(), ElfFile::other(kPtInterp, 0x238, 28));
  Image img{};
  EXPECT_EQ(parse_file(f, &img), Problem::None);
  EXPECT_TRUE(img.dynamic);
  EXPECT_EQ(img.interp_offset, 0x238u);
  EXPECT_EQ(img.interp_size, 28u);
}

TEST(Elf, NoLoadableSegments) {
  ElfFile f = static_exec();
  f.ph.clear();
  f.ph.push_back(ElfFile::other(kPtGnuStack, 0, 0, kPfR | kPfW));
  f.ph.push_back(ElfFile::other(kPtTls, 0x100, 0x10));
  EXPECT_EQ(parse_file(f), Problem::NoSegments);
}

TEST(Elf, FileSizeLargerThanMemorySize) {
  ElfFile f = static_exec();
  f.ph[1].filesz = 0x2900;
  f.ph[1].memsz = 0x2800;
  EXPECT_EQ(parse_file(f), Problem::BadSegment);
}

TEST(Elf, OffsetAndAddressMisalignedModuloPage) {
  ElfFile f = static_exec();
  f.ph[1].vaddr = 0x401010;  // offset 0x1000
  f.eh.entry = 0x401020;
  EXPECT_EQ(parse_file(f), Problem::BadSegment);
  // Congruent but unaligned is fine: offset 0x1010 <-> vaddr 0x401010.
  f.ph[1].offset = 0x1010;
  EXPECT_EQ(parse_file(f), Problem::None);
}

TEST(Elf, OverlappingLoads) {
  ElfFile f = static_exec();
  f.ph[2].vaddr = 0x403000;  // text ends at 0x403800
  f.ph[2].offset = 0x2000;
  EXPECT_EQ(parse_file(f), Problem::BadSegment);
  // Sharing a page (but no bytes) is allowed: text ends at 0x403800.
  f.ph[2].vaddr = 0x403800;
  f.ph[2].offset = 0x2800;
  f.ph[2].filesz = 0x100;
  EXPECT_EQ(parse_file(f), Problem::None);
}

TEST(Elf, UnsortedLoadsAreRejected) {
  ElfFile f = static_exec();
  std::swap(f.ph[1], f.ph[2]);
  EXPECT_EQ(parse_file(f), Problem::BadSegment);
}

TEST(Elf, SegmentAboveUserSpace) {
  ElfFile f = static_exec();
  f.ph[2].vaddr = 0x7ffffffff000;
  f.ph[2].offset = 0x2000;
  f.ph[2].memsz = 0x2000;
  EXPECT_EQ(parse_file(f), Problem::BadSegment);
  f.ph[2].vaddr = ~u64(0) - 0xfff;  // vaddr + memsz overflows
  EXPECT_EQ(parse_file(f), Problem::BadSegment);
}

TEST(Elf, ExecutableAtPageZeroIsRejected) {
  ElfFile f = static_exec();
  f.ph[0].vaddr = 0;
  EXPECT_EQ(parse_file(f), Problem::BadSegment);
}

TEST(Elf, TooManySegments) {
  ElfFile f = static_exec();
  f.size = 0x4000;
  while (f.ph.size() < kMaxPhdrs + 1) f.ph.push_back(ElfFile::other(kPtTls + 100));
  EXPECT_EQ(parse_file(f), Problem::TooManySegments);
  f.ph.pop_back();  // exactly kMaxPhdrs is fine
  EXPECT_EQ(parse_file(f), Problem::None);
}

TEST(Elf, EveryProblemHasADistinctDescription) {
  const Problem all[] = {Problem::TooSmall,      Problem::NotElf,          Problem::Not64Bit,
                         Problem::NotLittleEndian, Problem::BadVersion,    Problem::WrongMachine,
                         Problem::NotExecutable, Problem::BadHeaders,      Problem::Truncated,
                         Problem::Dynamic,       Problem::NoSegments,      Problem::BadSegment,
                         Problem::TooManySegments};
  std::set<std::string> seen;
  for (Problem p : all) {
    const char* d = describe(p, 183);
    ASSERT_NE(d, nullptr);
    EXPECT_GT(strlen(d), 5u) << int(p);
    EXPECT_TRUE(seen.insert(d).second) << "duplicate description: " << d;
  }
  EXPECT_NE(std::string(describe(Problem::Dynamic, 0)).find("dynamic"), std::string::npos);
  EXPECT_NE(std::string(describe(Problem::Not64Bit, 0)).find("32-bit"), std::string::npos);
}

// Real executables built by tests/unit/CMakeLists.txt.
Bytes read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Independent reading of the fields the parser reports.
struct Expected {
  u16 type;
  u64 entry;
  u64 lo = ~u64(0), hi = 0;
  bool interp = false;
};
Expected scan(const Bytes& b) {
  Expected e{};
  e.lo = ~u64(0);
  memcpy(&e.type, b.data() + 16, 2);
  memcpy(&e.entry, b.data() + 24, 8);
  u64 phoff;
  u16 phnum;
  memcpy(&phoff, b.data() + 32, 8);
  memcpy(&phnum, b.data() + 56, 2);
  for (u16 i = 0; i < phnum; ++i) {
    u32 type;
    u64 vaddr, memsz;
    const u8* p = b.data() + phoff + i * 56;
    memcpy(&type, p, 4);
    memcpy(&vaddr, p + 16, 8);
    memcpy(&memsz, p + 40, 8);
    if (type == 3) e.interp = true;
    if (type != 1) continue;
    if (page_down(vaddr) < e.lo) e.lo = page_down(vaddr);
    if (page_up(vaddr + memsz) > e.hi) e.hi = page_up(vaddr + memsz);
  }
  return e;
}

TEST(Elf, RealStaticExecutable) {
  Bytes b = read_file(MOTE_UNIT_ELF_STATIC);
  ASSERT_GT(b.size(), 64u) << MOTE_UNIT_ELF_STATIC;
  Expected e = scan(b);
  ASSERT_EQ(e.type, kEtExec);
  Image img{};
  ASSERT_EQ(parse_bytes(b, &img), Problem::None);
  EXPECT_FALSE(img.pie);
  EXPECT_EQ(img.entry, e.entry);
  EXPECT_EQ(img.lo, e.lo);
  EXPECT_EQ(img.hi, e.hi);
  EXPECT_EQ(img.lo, 0x400000u);  // the x86-64 default link address
  EXPECT_EQ(img.phdr_vaddr, 0x400040u);
  EXPECT_GE(img.entry, img.lo);
  EXPECT_LT(img.entry, img.hi);
}

TEST(Elf, RealStaticPie) {
  Bytes b = read_file(MOTE_UNIT_ELF_PIE);
  ASSERT_GT(b.size(), 64u) << MOTE_UNIT_ELF_PIE;
  Expected e = scan(b);
  ASSERT_EQ(e.type, kEtDyn);
  ASSERT_FALSE(e.interp);
  Image img{};
  ASSERT_EQ(parse_bytes(b, &img), Problem::None);
  EXPECT_TRUE(img.pie);
  EXPECT_EQ(img.entry, e.entry);
  EXPECT_NE(img.entry, 0u);
  EXPECT_EQ(img.lo, 0u);
  EXPECT_EQ(img.hi, e.hi);
}

TEST(Elf, RealDynamicExecutable) {
  // This test program is linked against the shared libc.
  Bytes b = read_file("/proc/self/exe");
  ASSERT_GT(b.size(), 64u);
  ASSERT_TRUE(scan(b).interp);
  Image img{};
  EXPECT_EQ(parse_bytes(b, &img), Problem::None);
  EXPECT_TRUE(img.dynamic);
  ASSERT_NE(img.interp_offset, 0u);
  ASSERT_LE(img.interp_offset + img.interp_size, b.size());
  std::string interp(reinterpret_cast<const char*>(b.data() + img.interp_offset));
  EXPECT_NE(interp.find("ld-linux"), std::string::npos) << interp;
}

}  // namespace
}  // namespace mote::elf
