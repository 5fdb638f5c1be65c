// A gzip-compressed initrd (RFC 1952), as Linux takes one: QEMU and
// Firecracker load module 0 as it is, and the kernel decompresses it into
// the core region. Memory is what makes it worth it: in a 2 MiB guest the
// 745 KiB of a glibc static program cannot lie beside the kernel at 1 MiB,
// its 327 KiB gzip can. So the output is backed one page at a time and each
// input page goes back to the allocator as soon as the decompressor is past
// it: at no point are both whole copies in RAM.
#include "kernel/platform/kvm/initrd.h"

#include "kernel/lib/inflate.h"
#include "kernel/platform/kvm/console.h"
#include "kernel/platform/kvm/memory.h"

namespace mote::kvm {

namespace {

struct Unpacking {
  u64 base;       // the output's core-region block
  u64 mapped;     // bytes of it backed so far
  u64 in_phys;    // the module
  u64 released;   // its bytes given back so far (from in_phys, page-granular)
};

bool reserve(void* ctx, u64 end) {
  auto* u = static_cast<Unpacking*>(ctx);
  for (; u->mapped < end; u->mapped += kPageSize)
    if (!core_map_page(u->base + u->mapped).ok()) return false;
  return true;
}

void consumed(void* ctx, u64 n) {
  auto* u = static_cast<Unpacking*>(ctx);
  u64 upto = page_down(u->in_phys + n);  // wholly read pages only
  if (upto > u->in_phys + u->released) {
    frames_release_used(u->in_phys + u->released, upto);
    u->released = upto - u->in_phys;
  }
}

}  // namespace

bool initrd_is_gzip(u64 phys, u64 size) {
  return is_gzip(static_cast<const u8*>(phys_to_virt(phys)), size);
}

UnpackedImage unpack_gzip_initrd(u64 phys, u64 size, bool verbose) {
  Unpacking u{core_open_block(), 0, phys, 0};
  // The output cannot outgrow RAM: every byte of it takes a frame that is
  // free now or one of the input's.
  const u64 capacity = (frames_free() + page_up(size) / kPageSize) * kPageSize;
  GunzipSink sink{reinterpret_cast<u8*>(u.base), capacity, reserve, consumed, &u};
  u64 len = 0;
  GunzipStatus st = gunzip(static_cast<const u8*>(phys_to_virt(phys)), size, sink, &len);
  if (st == GunzipStatus::NoMemory || st == GunzipStatus::TooLong) {
    kprintf("mote kernel: the gzip initrd (%lu KiB) does not fit in RAM once decompressed: give "
            "the VM more memory (qemu -m)\n", (unsigned long)(size >> 10));
    vm_exit(125);
  }
  if (st != GunzipStatus::Ok) {
    kprintf("mote kernel: the gzip initrd is unusable: %s\n", gunzip_status_name(st));
    vm_exit(125);
  }
  // The rest of the input (its last pages, the trailer) goes back too; the
  // output's block ends at its length (the pages past it were never backed).
  frames_release_used(phys + u.released, phys + size);
  core_close_block(u.base, u.mapped);
  if (verbose)
    kprintf("mote kernel: initrd: gzip %lu KiB -> %lu KiB\n", (unsigned long)(size >> 10),
            (unsigned long)(len >> 10));
  return UnpackedImage{u.base, len};
}

}  // namespace mote::kvm
