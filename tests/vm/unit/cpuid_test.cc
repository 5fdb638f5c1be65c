// The CPUID the guest is given (monitor/vm/cpuid.h).
#include "monitor/vm/cpuid.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" const unsigned long mote_c_kvm_get_supported_cpuid, mote_c_kvm_set_cpuid2,
    mote_c_kvm_get_cpuid2, mote_c_kvm_cpuid2_entries_offset;  // kvm_abi_c.c

namespace mote::vm {
namespace {

// The ioctl numbers and the layout the kernel expects (C's view of the
// header), whatever C++ makes of the header's flexible array.
TEST(KvmCpuidAbi, IoctlNumbersAndLayoutAreCs) {
  EXPECT_EQ(kKvmGetSupportedCpuid, mote_c_kvm_get_supported_cpuid);
  EXPECT_EQ(kKvmSetCpuid2, mote_c_kvm_set_cpuid2);
  EXPECT_EQ(kKvmGetCpuid2, mote_c_kvm_get_cpuid2);
  KvmCpuidBuffer buf(3);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.entries()) - reinterpret_cast<uintptr_t>(buf.arg()),
            mote_c_kvm_cpuid2_entries_offset);
  EXPECT_EQ(buf.header()->nent, 3u);
}

kvm_cpuid_entry2 entry(uint32_t fn, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx, uint32_t index = 0,
                       uint32_t flags = 0) {
  kvm_cpuid_entry2 e{};
  e.function = fn;
  e.index = index;
  e.flags = flags;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// Roughly what KVM_GET_SUPPORTED_CPUID returns, KVM's own PV leaves included.
CpuidTable supported() {
  return {
      entry(0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),
      entry(1, 0x830f10, 0x00000800, (1u << 5) | (1u << 21) | (1u << 24) | (1u << 3), (1u << 24) | (1u << 25)),
      entry(0xb, 0, 1, 0x100, 7, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX),
      entry(0xb, 0, 1, 0x201, 7, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX),
      entry(0x40000000, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      entry(0x40000001, 0x01007afb, 0, 0, 0),
      entry(0x80000001, 0, 0, 1u << 2, (1u << 11) | (1u << 20) | (1u << 26) | (1u << 29)),
  };
}

std::string signature(const kvm_cpuid_entry2& e) {
  char s[13] = {};
  std::memcpy(s, &e.ebx, 4);
  std::memcpy(s + 4, &e.ecx, 4);
  std::memcpy(s + 8, &e.edx, 4);
  return s;
}

TEST(VmCpuid, HypervisorLeavesAreMotes) {
  CpuidTable t = shape_cpuid(supported(), CpuidPolicy{2445000, true, 0});
  const auto* hv = find_leaf(t, kLeafHypervisor);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(signature(*hv), "MoteMoteMote");
  EXPECT_EQ(hv->eax, kLeafTiming);
  EXPECT_EQ(find_leaf(t, 0x40000001), nullptr);  // KVM's PV features are gone
  const auto* timing = find_leaf(t, kLeafTiming);
  ASSERT_NE(timing, nullptr);
  EXPECT_EQ(timing->eax, 2445000u);
  EXPECT_EQ(timing->ebx, kLapicTimerKhz);
}

TEST(VmCpuid, Leaf1SaysHypervisorAndHidesNestedVirtualization) {
  CpuidTable t = shape_cpuid(supported(), CpuidPolicy{0, false, 0});
  const auto* l1 = find_leaf(t, 1);
  ASSERT_NE(l1, nullptr);
  EXPECT_TRUE(l1->ecx & (1u << 31));   // hypervisor
  EXPECT_FALSE(l1->ecx & (1u << 5));   // VMX
  EXPECT_FALSE(l1->ecx & (1u << 3));   // monitor/mwait
  EXPECT_TRUE(l1->ecx & (1u << 21));   // x2APIC stays: in-kernel irqchip
  EXPECT_FALSE(find_leaf(t, 0x80000001)->ecx & (1u << 2));  // SVM
}

TEST(VmCpuid, TscDeadlineOnlyWhenKvmSaysItWorks) {
  EXPECT_FALSE(find_leaf(shape_cpuid(supported(), CpuidPolicy{0, false, 0}), 1)->ecx & (1u << 24));
  CpuidTable without = supported();
  without[1].ecx &= ~(1u << 24);  // an older KVM that does not report it
  EXPECT_TRUE(find_leaf(shape_cpuid(without, CpuidPolicy{0, true, 0}), 1)->ecx & (1u << 24));
}

TEST(VmCpuid, ApicIdOnEveryTopologyLeaf) {
  CpuidTable t = shape_cpuid(supported(), CpuidPolicy{0, false, 3});
  EXPECT_EQ(find_leaf(t, 1)->ebx >> 24, 3u);
  EXPECT_EQ(find_leaf(t, 1)->ebx & 0xffffff, 0x800u);  // the rest of EBX is kept
  EXPECT_EQ(find_leaf(t, 0xb, 0)->edx, 3u);
  EXPECT_EQ(find_leaf(t, 0xb, 1)->edx, 3u);
}

TEST(VmCpuid, FindLeafHonoursTheIndexOnlyWhenSignificant) {
  CpuidTable t = supported();
  EXPECT_EQ(find_leaf(t, 0xb, 1)->ecx, 0x201u);
  EXPECT_EQ(find_leaf(t, 0xb, 2), nullptr);
  EXPECT_NE(find_leaf(t, 1, 7), nullptr);  // leaf 1 ignores the index
  EXPECT_EQ(find_leaf(t, 0x12345), nullptr);
}

TEST(VmCpuid, FeaturesComeFromTheTableTheGuestSees) {
  boot::CpuFeatures f = features_of(supported());
  EXPECT_TRUE(f.nx);
  EXPECT_TRUE(f.syscall);
  EXPECT_TRUE(f.page_1g);
  EXPECT_TRUE(f.fxsr);
  EXPECT_TRUE(f.sse);
  boot::CpuFeatures none = features_of({});
  EXPECT_FALSE(none.nx || none.syscall || none.page_1g || none.fxsr || none.sse);
}

}  // namespace
}  // namespace mote::vm
