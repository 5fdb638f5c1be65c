// The direct 64-bit entry (monitor/boot): page tables, GDT, kernel loading,
// boot info and the entry registers, checked in guest memory as the CPU
// would see them.
#include <gtest/gtest.h>

#include <cstddef>

#include "abi/boot_info.h"
#include "monitor/boot/boot_info.h"
#include "monitor/boot/entry.h"
#include "monitor/boot/gdt.h"
#include "monitor/boot/kernel_elf.h"
#include "monitor/boot/layout.h"
#include "monitor/boot/page_tables.h"
#include "monitor/process/boot_blob.h"
#include "tests/vm/unit/elf_builder.h"

namespace mote::boot {
namespace {

constexpr uint64_t kRam = 16ull << 20;

vm::GuestMemory ram(uint64_t size = kRam) {
  auto m = vm::GuestMemory::create(size);
  EXPECT_TRUE(m.ok());
  return std::move(m.value());
}

std::vector<uint8_t> blob() {
  launch::BootRequest r;
  r.argv = {"k"};
  r.program_path = "/k";
  r.hostname = "h";
  r.cwd = "/";
  return launch::build_boot_blob(r);
}

class PageTables : public ::testing::TestWithParam<PageSize> {};

TEST_P(PageTables, IdentityMapCoversTheFirst4GiB) {
  auto mem = ram();
  auto cr3 = build_page_tables(mem, GetParam());
  ASSERT_TRUE(cr3.ok()) << cr3.failure().message;
  EXPECT_EQ(*cr3, kPml4Gpa);
  for (uint64_t va : std::initializer_list<uint64_t>{0, 0x1000, 0x100000, 0x123456, (1ull << 30) + 5,
                                                    0xfee00000, kIdentityMapBytes - 1})
    EXPECT_EQ(translate(mem, *cr3, va), std::optional<uint64_t>(va)) << std::hex << va;
  EXPECT_FALSE(translate(mem, *cr3, kIdentityMapBytes));
  EXPECT_FALSE(translate(mem, *cr3, 1ull << 39));
}

TEST_P(PageTables, HigherHalfAliasesTheFirstGiB) {
  auto mem = ram();
  auto cr3 = build_page_tables(mem, GetParam());
  ASSERT_TRUE(cr3.ok());
  EXPECT_EQ(translate(mem, *cr3, kHigherHalfBase), std::optional<uint64_t>(0));
  EXPECT_EQ(translate(mem, *cr3, kHigherHalfBase + 0x100123), std::optional<uint64_t>(0x100123));
  EXPECT_EQ(translate(mem, *cr3, kHigherHalfBase + kHigherHalfBytes - 1),
            std::optional<uint64_t>(kHigherHalfBytes - 1));
  EXPECT_FALSE(translate(mem, *cr3, kHigherHalfBase - 1));  // just below: not mapped
  EXPECT_FALSE(translate(mem, *cr3, 0xffff800000000000ull));
}

TEST_P(PageTables, NonCanonicalAddressesAreNotMapped) {
  auto mem = ram();
  auto cr3 = build_page_tables(mem, GetParam());
  ASSERT_TRUE(cr3.ok());
  EXPECT_FALSE(translate(mem, *cr3, 0x0000800000000000ull));
  EXPECT_FALSE(translate(mem, *cr3, 0x7fff80000000ull + (1ull << 47)));
}

TEST_P(PageTables, TablesLieBelowTheBootInfo) {
  auto mem = ram();
  ASSERT_TRUE(build_page_tables(mem, GetParam()).ok());
  EXPECT_LE(kPageDirectoriesGpa + 4 * kPageSize, kBootInfoGpa);
  EXPECT_GE(kPml4Gpa, kGdtGpa + kPageSize);
}

INSTANTIATE_TEST_SUITE_P(Vm, PageTables, ::testing::Values(PageSize::Size2M, PageSize::Size1G));

TEST(VmPageTables, NeedEnoughRam) {
  auto mem = ram(0x8000);
  EXPECT_FALSE(build_page_tables(mem, PageSize::Size2M).ok());
}

TEST(VmGdt, DescriptorsInMemoryMatchTheSegmentCaches) {
  auto mem = ram();
  ASSERT_TRUE(write_gdt(mem).ok());
  EXPECT_EQ(mem.read<uint64_t>(kGdtGpa).value_or(1), 0u);
  EXPECT_EQ(mem.read<uint64_t>(kGdtGpa + kCodeSelector).value_or(0), kCode64.encode());
  EXPECT_EQ(mem.read<uint64_t>(kGdtGpa + kDataSelector).value_or(0), kData.encode());
  EXPECT_EQ(kCode64.byte_limit(), 0xffffffffu);
  EXPECT_TRUE(kCode64.l);
  EXPECT_FALSE(kCode64.db);  // L=1 requires D=0 (SDM 3.4.5)
}

TEST(VmKernelElf, LoadsSegmentsAtTheirPhysicalAddress) {
  auto mem = ram();
  auto file = vmtest::ElfBuilder()
                  .entry(0x100000)
                  .segment({0x100000, 0x100000, {0x90, 0x90, 0xf4}, 3})
                  .segment({0x200000, 0x200000, {1, 2}, 0x3000})
                  .build();
  auto k = load_kernel_elf(mem, file);
  ASSERT_TRUE(k.ok()) << k.failure().message;
  EXPECT_EQ(k->entry, 0x100000u);
  EXPECT_EQ(k->lowest_gpa, 0x100000u);
  EXPECT_EQ(k->end_gpa, 0x203000u);
  EXPECT_EQ(mem.read<uint8_t>(0x100002).value_or(0), 0xf4);
  EXPECT_EQ(mem.read<uint8_t>(0x200001).value_or(0), 2);
  EXPECT_EQ(mem.read<uint8_t>(0x202fff).value_or(1), 0);  // .bss reads as zero
}

TEST(VmKernelElf, HigherHalfSegmentsLoadAtTheAliasedPhysicalAddress) {
  auto mem = ram();
  auto file = vmtest::ElfBuilder()
                  .entry(kHigherHalfBase + 0x100004)
                  .segment({kHigherHalfBase + 0x100000, 0x100000, {1, 2, 3, 4, 5}, 5})
                  .build();
  auto k = load_kernel_elf(mem, file);
  ASSERT_TRUE(k.ok()) << k.failure().message;
  EXPECT_EQ(mem.read<uint8_t>(0x100004).value_or(0), 5);
}

struct BadKernel {
  const char* name;
  std::vector<uint8_t> file;
  const char* message;
};

std::vector<BadKernel> bad_kernels() {
  using vmtest::ElfBuilder;
  std::vector<BadKernel> v;
  auto ok = ElfBuilder().entry(0x100000).segment({0x100000, 0x100000, {1}, 1});
  v.push_back({"empty", {}, "too small"});
  v.push_back({"not elf", std::vector<uint8_t>(64, 'x'), "not ELF"});
  v.push_back({"pie", ok.build(elf::kEtDyn), "ET_EXEC"});
  v.push_back({"arm64", ok.build(elf::kEtExec, 183), "x86-64"});
  auto truncated = ok.build();
  truncated.resize(70);
  v.push_back({"truncated phdrs", truncated, "truncated"});
  auto short_data = ok.build();
  short_data.pop_back();
  v.push_back({"segment past eof", short_data, "past the end of the file"});
  v.push_back({"below 1 MiB", ElfBuilder().entry(0x8000).segment({0x8000, 0x8000, {1}, 1}).build(), "below 1 MiB"});
  v.push_back({"past RAM", ElfBuilder().entry(0x100000).segment({0x100000, 0x100000, {1}, kRam}).build(),
               "does not fit"});
  v.push_back({"memsz wraps",
               ElfBuilder().entry(0x100000).segment({0x100000, 0x100000, {1}, ~0ull - 0x1000}).build(),
               "does not fit"});
  v.push_back({"filesz > memsz", ElfBuilder().entry(0x100000).segment({0x100000, 0x100000, {1, 2}, 1}).build(),
               "p_filesz > p_memsz"});
  v.push_back({"vaddr unreachable",
               ElfBuilder().entry(0x40100000).segment({0x40100000, 0x100000, {1}, 1}).build(), "neither"});
  v.push_back({"entry outside",
               ElfBuilder().entry(0x300000).segment({0x100000, 0x100000, {1}, 1}).build(), "entry point"});
  v.push_back({"no segments", ElfBuilder().entry(0x100000).build(), "program headers"});
  return v;
}

TEST(VmKernelElf, RejectsBadImagesWithAClearMessage) {
  for (const auto& bad : bad_kernels()) {
    auto mem = ram();
    auto k = load_kernel_elf(mem, bad.file);
    ASSERT_FALSE(k.ok()) << bad.name;
    EXPECT_NE(k.failure().message.find(bad.message), std::string::npos)
        << bad.name << ": " << k.failure().message;
  }
}

TEST(VmBootInfo, CopiedBelowTheKernelWithRamBytesAndTsc) {
  auto mem = ram();
  auto b = blob();
  auto gpa = place_boot_info(mem, b, 2445000, 0x100000);
  ASSERT_TRUE(gpa.ok()) << gpa.failure().message;
  EXPECT_EQ(*gpa, kBootInfoGpa);
  EXPECT_EQ(*gpa % kPageSize, 0u);
  auto info = mem.read<abi::BootInfo>(*gpa);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->magic, abi::kBootMagic);
  EXPECT_EQ(info->ram_bytes, kRam);
  EXPECT_EQ(info->tsc_khz, 2445000u);
  auto copy = mem.at(*gpa, b.size());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(abi::boot_info_ok(copy->data(), copy->size()));
}

TEST(VmBootInfo, RejectsMalformedOrOversizedBlobs) {
  auto mem = ram();
  auto b = blob();
  auto broken = b;
  broken[0] ^= 1;  // magic
  EXPECT_FALSE(place_boot_info(mem, broken, 0, 0x100000).ok());
  EXPECT_FALSE(place_boot_info(mem, b, 0, kBootInfoGpa + b.size() - 1).ok());  // overlaps the kernel
  EXPECT_TRUE(place_boot_info(mem, b, 0, kBootInfoGpa + b.size()).ok());
}

TEST(VmEntryState, LongModeWithPagingAndTheMoteContract) {
  CpuFeatures cpu{.nx = true, .syscall = true, .page_1g = false, .fxsr = true, .sse = true};
  EntryState s = make_entry_state(0xffffffff80100000ull, kPml4Gpa, kBootInfoGpa, cpu);
  EXPECT_EQ(s.rip, 0xffffffff80100000ull);
  EXPECT_EQ(s.rdi, kBootInfoGpa);
  EXPECT_EQ(s.rsi, 0x45544f4du);  // "MOTE"
  EXPECT_EQ(s.rsp, kBootStackTop);  // a usable stack: entry code may push before loading its own
  EXPECT_EQ(s.rsp % 16, 0u);
  EXPECT_LE(kBootStackTop, kBootInfoGpa);
  EXPECT_GE(kBootStackBottom, kPageDirectoriesGpa + 4 * kPageSize);
  EXPECT_EQ(s.rflags, 2u);
  EXPECT_EQ(s.cr0.bits(), 0x80010033u);  // PG WP NE ET MP PE
  EXPECT_EQ(s.cr3, kPml4Gpa);
  EXPECT_EQ(s.cr4.bits(), 0x620u);        // OSXMMEXCPT OSFXSR PAE
  EXPECT_EQ(s.efer.bits(), 0xd01u);       // NXE LMA LME SCE
  EXPECT_EQ(s.code.selector, kCodeSelector);
  EXPECT_TRUE(s.code.descriptor.l);
  EXPECT_EQ(s.data.selector, kDataSelector);
  EXPECT_EQ(s.gdt_base, kGdtGpa);
  EXPECT_EQ(s.gdt_limit, 23);
}

TEST(VmEntryState, OnlyBitsTheGuestCpuHas) {
  EntryState s = make_entry_state(0x100000, kPml4Gpa, kBootInfoGpa, CpuFeatures{});
  EXPECT_EQ(s.cr4.bits(), 0x20u);   // PAE only
  EXPECT_EQ(s.efer.bits(), 0x500u); // LMA LME
}

TEST(VmDirectBoot, FillsRamAndPointsRipAtTheKernel) {
  auto mem = ram();
  auto file = vmtest::ElfBuilder()
                  .entry(kHigherHalfBase + 0x100000)
                  .segment({kHigherHalfBase + 0x100000, 0x100000, {0x0f, 0x0b}, 2})
                  .build();
  auto b = blob();
  DirectBoot boot{file, b, 1000, CpuFeatures{.nx = true}};
  auto s = prepare_direct_boot(mem, boot);
  ASSERT_TRUE(s.ok()) << s.failure().message;
  // The entry point and boot info are where the CPU will look for them.
  EXPECT_EQ(translate(mem, s->cr3, s->rip), std::optional<uint64_t>(0x100000));
  EXPECT_EQ(mem.read<uint16_t>(0x100000).value_or(0), 0x0b0f);
  EXPECT_EQ(mem.read<uint64_t>(s->rdi).value_or(0), abi::kBootMagic);
}

TEST(VmDirectBoot, RejectsRamOutsideTheLayout) {
  auto b = blob();
  auto small = ram(1ull << 20);
  EXPECT_FALSE(prepare_direct_boot(small, DirectBoot{{}, b, 0, {}}).ok());
  auto big = vm::GuestMemory::create(kMaxRamBytes + 4096);
  ASSERT_TRUE(big.ok());
  auto r = prepare_direct_boot(*big, DirectBoot{{}, b, 0, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.failure().message.find("guest RAM must be"), std::string::npos);
}

}  // namespace
}  // namespace mote::boot
