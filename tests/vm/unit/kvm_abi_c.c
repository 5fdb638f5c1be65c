/* The KVM ABI as C sees <linux/kvm.h>: the values the kernel expects, for
 * cpuid_test.cc to compare with the monitor's own C++ definitions (cpuid.h
 * explains why they cannot come from the header in C++). */
#include <linux/kvm.h>
#include <stddef.h>

const unsigned long mote_c_kvm_get_supported_cpuid = KVM_GET_SUPPORTED_CPUID;
const unsigned long mote_c_kvm_set_cpuid2 = KVM_SET_CPUID2;
const unsigned long mote_c_kvm_get_cpuid2 = KVM_GET_CPUID2;
const unsigned long mote_c_kvm_cpuid2_entries_offset = offsetof(struct kvm_cpuid2, entries);
