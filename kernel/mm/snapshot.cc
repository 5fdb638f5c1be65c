// Saving and restoring the program's address space around a forked child's
// run (kernel/core/fork.cc), and clearing it for execve.
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/mm/address_space.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/platform.h"

namespace mote::mm {

struct AddressSpace::Saved {
  Vma* vmas;
  u8** data;  // contents of each readable VMA (nullptr otherwise)
  usize n;
  u64 charged, outside, brk_start, brk;
};

void AddressSpace::drop(Saved* s) {
  if (!s) return;
  for (usize i = 0; i < s->n; ++i) {
    kfree(s->data[i]);
    s->vmas[i].release();
  }
  kfree(s->data);
  kfree(s->vmas);
  kfree(s);
}

Result<AddressSpace::Saved*> AddressSpace::save() {
  auto* s = static_cast<Saved*>(kzalloc(sizeof(Saved)));
  if (!s) return err(ENOMEM);
  usize n = 0;
  for (usize i = 0; i < vmas_.size(); ++i)
    if (vmas_[i].kind != VmaKind::Reserved) ++n;
  s->vmas = static_cast<Vma*>(kalloc((n ? n : 1) * sizeof(Vma)));
  s->data = static_cast<u8**>(kzalloc((n ? n : 1) * sizeof(u8*)));
  if (!s->vmas || !s->data) {
    drop(s);
    return err(ENOMEM);
  }
  for (usize i = 0; i < vmas_.size(); ++i) {
    const Vma& v = vmas_[i];
    if (v.kind == VmaKind::Reserved) continue;
    s->vmas[s->n] = v;
    if (v.prot & platform::kProtRead && v.kind != VmaKind::Shared) {
      u8* copy = static_cast<u8*>(kalloc(v.bytes()));
      if (!copy) {
        drop(s);
        return err(ENOMEM);
      }
      memcpy(copy, reinterpret_cast<const void*>(v.start), v.bytes());
      s->data[s->n] = copy;
    }
    v.hold();  // released by drop()
    ++s->n;
  }
  s->charged = charged_;
  s->outside = outside_;
  s->brk_start = brk_start_;
  s->brk = brk_;
  return s;
}

Result<void> AddressSpace::clear() {
  for (usize i = vmas_.size(); i-- > 0;) {
    const Vma v = vmas_[i];
    if (v.kind == VmaKind::Reserved) continue;
    TRY(platform::unmap(v.start, v.bytes()));
    if (v.charged) uncommit(v.bytes());
    TRY(vmas_.remove(v.start, v.end));
  }
  brk_start_ = brk_ = 0;
  return ok();
}

Result<void> AddressSpace::restore(Saved* s) {
  auto r = clear();
  for (usize i = 0; i < s->n && r.ok(); ++i) {
    Vma v = s->vmas[i];
    if (v.kind == VmaKind::Shared) {
      // Not a copy: the object's pages, with what the child stored in them.
      r = map_object(v.start, v.bytes(), v.prot, *v.object, v.offset);
      if (!r.ok()) break;
      v.hold();
      r = vmas_.insert(v);
      if (!r.ok()) v.release();
      continue;
    }
    u32 rw = platform::kProtRead | platform::kProtWrite;
    u32 fill_prot = s->data[i] ? (v.prot | rw) : v.prot;
    r = platform::map_anonymous(v.start, v.bytes(), fill_prot);
    if (!r.ok()) {
      break;
    }
    Vma filling = v;
    filling.prot = fill_prot;
    filling.hold();
    r = vmas_.insert(filling);
    if (!r.ok()) {
      filling.release();
      break;
    }
    if (s->data[i]) {
      memcpy(reinterpret_cast<void*>(v.start), s->data[i], v.bytes());
      if (fill_prot != v.prot) r = platform::protect(v.start, v.bytes(), v.prot);
      usize k = vmas_.lower(v.start);
      vmas_[k].prot = v.prot;
    }
  }
  // Mappings come back as they were; tmpfs pages stay as the child left
  // them (files it wrote, shared pages), so their charge stays too.
  charged_ = s->charged - s->outside + outside_;
  brk_start_ = s->brk_start;
  brk_ = s->brk;
  drop(s);
  return r;
}

}  // namespace mote::mm
