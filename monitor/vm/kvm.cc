#include "monitor/vm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <string>

#include "monitor/boot/layout.h"

namespace mote::vm {

namespace {

// KVM API doc "KVM_GET_API_VERSION": 12 is the only stable version.
constexpr int kKvmApiVersion = 12;
constexpr uint32_t kMaxCpuidEntries = 4096;

std::string errno_text(const char* what) { return std::string(what) + ": " + strerror(errno); }

}  // namespace

Expected<Kvm> Kvm::open() {
  UniqueFd fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    int e = errno;
    std::string msg = std::string("/dev/kvm: ") + strerror(e);
    if (e == ENOENT || e == ENODEV || e == ENXIO)
      msg += " (KVM is not available: use --platform process)";
    else if (e == EACCES || e == EPERM)
      msg += " (no access to KVM: join the group that owns /dev/kvm, or use --platform process)";
    else
      msg += " (use --platform process)";
    return unavailable(msg);
  }
  int version = ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != kKvmApiVersion)
    return unavailable("/dev/kvm: KVM API version " + std::to_string(version) + ", mote needs " +
                       std::to_string(kKvmApiVersion) + " (use --platform process)");
  return Kvm(std::move(fd));
}

int Kvm::check_extension(long capability) const {
  int r = ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

Expected<CpuidTable> Kvm::supported_cpuid() const {
  // KVM API doc "KVM_GET_SUPPORTED_CPUID": E2BIG means "more entries than nent".
  for (uint32_t n = 128; n <= kMaxCpuidEntries; n *= 2) {
    KvmCpuidBuffer buf(n);
    if (ioctl(fd_.get(), kKvmGetSupportedCpuid, buf.arg()) == 0) return buf.table();
    if (errno != E2BIG) return fail(errno_text("KVM_GET_SUPPORTED_CPUID"));
  }
  return fail("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

Expected<size_t> Kvm::vcpu_mmap_size() const {
  int size = ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < int(sizeof(kvm_run))) return fail(errno_text("KVM_GET_VCPU_MMAP_SIZE"));
  return size_t(size);
}

Expected<Vm> Vm::create(const Kvm& kvm, const GuestMemory& mem) {
  // KVM API doc "KVM_CREATE_VM": type 0 is the default machine type.
  UniqueFd fd(ioctl(kvm.fd(), KVM_CREATE_VM, 0));
  if (!fd.valid())
    return unavailable(errno_text("KVM_CREATE_VM") + " (KVM cannot create a VM here: use --platform process)");

  // KVM API doc "KVM_SET_TSS_ADDR": required on Intel hosts, before any vCPU
  // runs; three pages of guest-physical space that must not be RAM.
  if (kvm.check_extension(KVM_CAP_SET_TSS_ADDR) &&
      ioctl(fd.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(boot::kTssGpa)) < 0)
    return fail(errno_text("KVM_SET_TSS_ADDR"));

  // KVM API doc "KVM_SET_USER_MEMORY_REGION": slot 0 = all of guest RAM.
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.flags = 0;
  region.guest_phys_addr = 0;
  region.memory_size = mem.size();
  region.userspace_addr = reinterpret_cast<uint64_t>(mem.host_mapping());
  if (ioctl(fd.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
    return fail(errno_text("KVM_SET_USER_MEMORY_REGION") + " (" + std::to_string(mem.size() >> 20) +
                " MiB of guest RAM)");

  // KVM API doc "KVM_CREATE_IRQCHIP": before creating vCPUs, so each gets an
  // in-kernel LAPIC (hlt, the LAPIC timer and IPIs then stay in the kernel).
  if (ioctl(fd.get(), KVM_CREATE_IRQCHIP, 0) < 0) return fail(errno_text("KVM_CREATE_IRQCHIP"));
  return Vm(std::move(fd));
}

bool Vm::irq_line(uint32_t gsi, bool level) const {
  // KVM API doc "KVM_IRQ_LINE": with the in-kernel irqchip, a level for a
  // level-triggered line (virtio-mmio's stays up until acknowledged).
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  return ioctl(fd_.get(), KVM_IRQ_LINE, &irq) == 0;
}

Expected<Vcpu> Vm::create_vcpu(const Kvm& kvm, uint32_t id) const {
  auto mmap_size = kvm.vcpu_mmap_size();
  if (!mmap_size.ok()) return mmap_size.failure();
  // KVM API doc "KVM_CREATE_VCPU": the id is also the vCPU's APIC ID on x86.
  UniqueFd fd(ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id)));
  if (!fd.valid()) return fail(errno_text("KVM_CREATE_VCPU"));
  // KVM API doc 5. "The kvm_run structure": mmap the vCPU fd at offset 0.
  void* run = mmap(nullptr, *mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (run == MAP_FAILED) return fail(errno_text("mmap of kvm_run"));
  return Vcpu(std::move(fd), id, static_cast<kvm_run*>(run), *mmap_size);
}

}  // namespace mote::vm
