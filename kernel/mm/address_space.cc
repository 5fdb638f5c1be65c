#include "kernel/mm/address_space.h"

#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/fs/vfs.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/platform.h"

namespace mote::mm {

namespace {
constexpr u32 kMremapMaymove = 1;
constexpr u32 kMremapFixed = 2;

bool writable(u32 prot) { return prot & platform::kProtWrite; }
}  // namespace

Result<void> AddressSpace::init(u64 limit_bytes) {
  limit_ = limit_bytes;
  auto layout = platform::layout();
  min_ = layout.user_min;
  max_ = layout.user_max;
  top_ = layout.mmap_top;
  platform::Reserved rs[64];
  usize n = platform::reserved_ranges(rs, 64);
  if (n > 64) return err(ENOMEM);
  for (usize i = 0; i < n; ++i) {
    u64 s = page_down(rs[i].start), e = page_up(rs[i].end);
    // Reserved ranges may touch or overlap each other: insert the free parts.
    u64 at = s;
    while (at < e) {
      usize k = vmas_.lower(at);
      u64 stop = e;
      if (k < vmas_.size() && vmas_[k].start <= at) {
        at = vmas_[k].end;
        continue;
      }
      if (k < vmas_.size() && vmas_[k].start < stop) stop = vmas_[k].start;
      TRY(vmas_.insert(Vma{at, stop, 0, VmaKind::Reserved, 0}));
      at = stop;
    }
  }
  return ok();
}

Result<void> AddressSpace::commit(u64 bytes) {
  if (bytes > limit_ - charged_) {
    ++refused_;
    return err(ENOMEM);
  }
  charged_ += bytes;
  return ok();
}

Result<void> AddressSpace::charge(u64 bytes) {
  TRY(commit(bytes));
  outside_ += bytes;
  return ok();
}

void AddressSpace::uncharge(u64 bytes) {
  uncommit(bytes);
  outside_ -= bytes;
}

bool AddressSpace::in_user_range(u64 addr, u64 len) const {
  return addr >= min_ && addr <= max_ && len <= max_ - addr;
}

Result<void> AddressSpace::unmap_pieces(u64 start, u64 end) {
  if (vmas_.touches_reserved(start, end)) return err(EINVAL);
  TRY(vmas_.split_at(start));
  TRY(vmas_.split_at(end));
  for (usize i = vmas_.lower(start); i < vmas_.size() && vmas_[i].start < end; ++i) {
    const Vma& v = vmas_[i];
    TRY(platform::unmap(v.start, v.bytes()));
    if (v.charged) uncommit(v.bytes());
  }
  return vmas_.remove(start, end);
}

Result<u64> AddressSpace::place(u64 addr, u64 len, Placement how) {
  if (how != Placement::Hint) {
    if (!page_aligned(addr)) return err(EINVAL);
    if (!in_user_range(addr, len)) return err(ENOMEM);
    if (vmas_.touches_reserved(addr, addr + len)) return err(ENOMEM);
    if (!vmas_.is_free(addr, addr + len)) {
      if (how == Placement::FixedNoReplace) return err(EEXIST);
      TRY(unmap_pieces(addr, addr + len));
    }
  } else {
    addr = page_down(addr);
    if (addr == 0 || !in_user_range(addr, len) || !vmas_.is_free(addr, addr + len)) {
      addr = vmas_.find_gap_topdown(len, min_, top_);
      if (addr == 0) return err(ENOMEM);
    }
  }
  return addr;
}

Result<u64> AddressSpace::map_anon(u64 addr, u64 len, u32 prot, Placement how, VmaKind kind) {
  if (len == 0) return err(EINVAL);
  if (!page_up_ok(len)) return err(ENOMEM);
  len = page_up(len);
  addr = TRY(place(addr, len, how));
  u16 charged = writable(prot) ? 1 : 0;
  if (charged) TRY(commit(len));
  auto r = platform::map_anonymous(addr, len, prot);
  if (r.ok()) r = vmas_.insert(Vma{addr, addr + len, prot, kind, charged});
  if (!r.ok()) {
    if (charged) uncommit(len);
    return Error{r.error()};
  }
  vmas_.coalesce();
  return addr;
}

Result<void> AddressSpace::fill_from(u64 addr, u64 len, u32 prot, fs::Inode& file, u64 off) {
  // Runs of pages the file keeps page-aligned in a boot image are mapped
  // from it (zero-copy); the rest is read into a bounce buffer and copied.
  constexpr u64 kBounce = 16 * kPageSize;
  u8* bounce = nullptr;
  u64 bounce_size = 0;
  u64 done = 0;
  Result<void> r = ok();
  while (done < len && r.ok()) {
    platform::Image which;
    u64 image_off, run;
    if (file.image_run(off + done, &which, &image_off, &run)) {
      run = min(run, len - done);
      r = platform::map_image(which, addr + done, run, prot, image_off);
      done += run;
      continue;
    }
    // Up to the next zero-copy page, at most a bounce buffer.
    u64 n = kPageSize;
    while (n < kBounce && done + n < len && !file.image_run(off + done + n, &which, &image_off, &run))
      n += kPageSize;
    n = min(n, len - done);
    // The buffer only as large as this run (often one page: a segment's
    // tail): on a VM every page of it is a zeroed frame.
    if (bounce && bounce_size < n) {
      kfree(bounce);
      bounce = nullptr;
    }
    if (!bounce) {
      bounce_size = n;
      if (!(bounce = static_cast<u8*>(kalloc(n)))) {
        r = err(ENOMEM);
        break;
      }
    }
    usize got = 0;
    if (off + done < file.size) {
      auto rd = file.read(off + done, bounce, usize(min<u64>(n, file.size - (off + done))));
      if (!rd.ok()) {
        r = Error{rd.error()};
        break;
      }
      got = rd.value();
    }
    r = platform::map_copy(addr + done, n, prot, bounce, got);
    done += n;
  }
  kfree(bounce);
  if (!r.ok() && done) (void)platform::unmap(addr, done);
  return r;
}

Result<u64> AddressSpace::map_file(u64 addr, u64 len, u32 prot, Placement how, VmaKind kind,
                                   fs::Inode& file, u64 off, MapName* name) {
  if (len == 0 || !page_aligned(off)) return err(EINVAL);
  if (!page_up_ok(len)) return err(ENOMEM);
  len = page_up(len);
  addr = TRY(place(addr, len, how));
  // Private mappings: a writable one is charged in full (it may be written
  // everywhere); read-only pages that are copies still use memory, but Linux
  // does not count them either (they are file pages to it).
  u16 charged = writable(prot) ? 1 : 0;
  if (charged) TRY(commit(len));
  auto r = fill_from(addr, len, prot, file, off);
  Vma v{addr, addr + len, prot, kind, charged};
  v.name = name;
  v.offset = name ? off : 0;
  v.hold();
  if (r.ok()) r = vmas_.insert(v);
  if (!r.ok()) {
    v.release();
    if (charged) uncommit(len);
    return Error{r.error()};
  }
  vmas_.coalesce();
  return addr;
}

Result<void> AddressSpace::map_object(u64 addr, u64 len, u32 prot, SharedObject& obj, u64 off) {
  // In batches, so a large mapping needs no large token array.
  constexpr usize kBatch = 256;
  u64 tokens[kBatch];
  u64 done = 0;
  while (done < len) {
    usize n = usize(min<u64>(kBatch, (len - done) / kPageSize));
    auto r = obj.shared_pages((off + done) / kPageSize, n, tokens);
    if (r.ok()) r = platform::map_shared(addr + done, tokens, n, prot);
    if (!r.ok()) {
      if (done) (void)platform::unmap(addr, done);
      return r;
    }
    done += n * kPageSize;
  }
  return ok();
}

Result<u64> AddressSpace::map_shared(u64 addr, u64 len, u32 prot, Placement how,
                                     SharedObject& obj, u64 off, bool no_write, MapName* name) {
  if (len == 0 || !page_aligned(off)) return err(EINVAL);
  if (!page_up_ok(len)) return err(ENOMEM);
  len = page_up(len);
  if (off + len < off) return err(EOVERFLOW);
  addr = TRY(place(addr, len, how));
  TRY(map_object(addr, len, prot, obj, off));
  Vma v{addr, addr + len, prot, VmaKind::Shared, 0};
  v.object = &obj;
  v.offset = off;
  v.no_write = no_write;
  v.name = name;
  v.hold();
  auto r = vmas_.insert(v);
  if (!r.ok()) {
    v.release();
    (void)platform::unmap(addr, len);
    return Error{r.error()};
  }
  vmas_.coalesce();
  return addr;
}

Result<void> AddressSpace::unmap(u64 addr, u64 len) {
  if (!page_aligned(addr) || len == 0 || !page_up_ok(len)) return err(EINVAL);
  len = page_up(len);
  if (!in_user_range(addr, len)) return err(EINVAL);
  TRY(unmap_pieces(addr, addr + len));
  vmas_.coalesce();
  return ok();
}

Result<void> AddressSpace::protect(u64 addr, u64 len, u32 prot) {
  if (!page_aligned(addr) || !page_up_ok(len)) return err(EINVAL);
  if (len == 0) return ok();
  len = page_up(len);
  u64 end = addr + len;
  if (!in_user_range(addr, len)) return err(ENOMEM);
  if (vmas_.touches_reserved(addr, end)) return err(ENOMEM);
  if (!vmas_.fully_mapped(addr, end)) return err(ENOMEM);
  // Charge pieces that become writable for the first time, all or nothing
  // (shared pieces are charged as their object's pages instead).
  u64 need = 0;
  for (usize i = vmas_.lower(addr); i < vmas_.size() && vmas_[i].start < end; ++i) {
    const Vma& v = vmas_[i];
    if (v.kind == VmaKind::Shared) {
      if (writable(prot) && v.no_write) return err(EACCES);
      continue;
    }
    if (writable(prot) && !v.charged) need += min(v.end, end) - max(v.start, addr);
  }
  TRY(commit(need));
  auto r = platform::protect(addr, len, prot);
  if (!r.ok()) {
    uncommit(need);
    return r;
  }
  TRY(vmas_.split_at(addr));
  TRY(vmas_.split_at(end));
  for (usize i = vmas_.lower(addr); i < vmas_.size() && vmas_[i].start < end; ++i) {
    vmas_[i].prot = prot;
    if (writable(prot) && vmas_[i].kind != VmaKind::Shared) vmas_[i].charged = 1;
  }
  vmas_.coalesce();
  return ok();
}

Result<u64> AddressSpace::remap(u64 old_addr, u64 old_len, u64 new_len, u32 flags,
                                u64 new_addr) {
  if (flags & ~(kMremapMaymove | kMremapFixed)) return err(EINVAL);
  if ((flags & kMremapFixed) && !(flags & kMremapMaymove)) return err(EINVAL);
  if (!page_aligned(old_addr) || new_len == 0) return err(EINVAL);
  if (!page_up_ok(old_len) || !page_up_ok(new_len)) return err(ENOMEM);
  old_len = page_up(old_len);
  new_len = page_up(new_len);
  if (old_len == 0) return err(EINVAL);  // duplicating shared mappings: not supported
  const Vma* v = vmas_.find(old_addr);
  if (!v || v->kind == VmaKind::Reserved || old_addr + old_len > v->end) return err(EFAULT);
  const Vma attrs = *v;
  if (attrs.kind == VmaKind::Shared)
    return remap_shared(attrs, old_addr, old_len, new_len, flags, new_addr);

  if (flags & kMremapFixed) {
    if (!page_aligned(new_addr) || !in_user_range(new_addr, new_len)) return err(EINVAL);
    if (new_addr < old_addr + old_len && old_addr < new_addr + new_len) return err(EINVAL);
  } else {
    if (new_len <= old_len) {  // shrink in place
      if (new_len < old_len) TRY(unmap(old_addr + new_len, old_len - new_len));
      return old_addr;
    }
    u64 grow = new_len - old_len;
    u64 tail = old_addr + old_len;
    if (in_user_range(tail, grow) && vmas_.is_free(tail, tail + grow)) {  // grow in place
      if (attrs.charged) TRY(commit(grow));
      auto r = platform::map_anonymous(tail, grow, attrs.prot);
      if (r.ok()) r = vmas_.insert(Vma{tail, tail + grow, attrs.prot, attrs.kind, attrs.charged});
      if (!r.ok()) {
        if (attrs.charged) uncommit(grow);
        return Error{r.error()};
      }
      vmas_.coalesce();
      return old_addr;
    }
    if (!(flags & kMremapMaymove)) return err(ENOMEM);
    new_addr = vmas_.find_gap_topdown(new_len, min_, top_);
    if (new_addr == 0) return err(ENOMEM);
  }

  // Move: [old_addr, +old_len) to [new_addr, +new_len).
  if (vmas_.touches_reserved(new_addr, new_addr + new_len)) return err(ENOMEM);
  if (!vmas_.is_free(new_addr, new_addr + new_len)) TRY(unmap_pieces(new_addr, new_addr + new_len));
  u64 keep = min(old_len, new_len);
  u64 extra = new_len > old_len ? new_len - old_len : 0;
  if (attrs.charged) TRY(commit(extra));
  auto r = platform::move(old_addr, keep, new_addr, new_len);
  if (!r.ok() && r.error() == ENOSYS) {
    r = platform::map_anonymous(new_addr, new_len, attrs.prot | platform::kProtWrite);
    if (r.ok()) {
      memcpy(reinterpret_cast<void*>(new_addr), reinterpret_cast<void*>(old_addr), keep);
      if (!writable(attrs.prot)) r = platform::protect(new_addr, new_len, attrs.prot);
      if (r.ok()) r = platform::unmap(old_addr, keep);
    }
  }
  if (!r.ok()) {
    if (attrs.charged) uncommit(extra);
    return Error{r.error()};
  }
  // Bookkeeping: the old range is gone (its unmoved tail is unmapped too).
  // A moved file mapping stays that file's, from the moved part's offset
  // (held before the old pieces, perhaps the last holders, go).
  Vma moved{new_addr, new_addr + new_len, attrs.prot, attrs.kind, attrs.charged};
  moved.name = attrs.name;
  moved.offset = attrs.name ? attrs.offset + (old_addr - attrs.start) : 0;
  moved.hold();
  Result<void> ins = ok();
  if (old_len > keep) ins = platform::unmap(old_addr + keep, old_len - keep);
  if (ins.ok()) ins = vmas_.remove(old_addr, old_addr + old_len);
  if (ins.ok() && attrs.charged) uncommit(old_len - keep);
  if (ins.ok()) ins = vmas_.insert(moved);
  if (!ins.ok()) {
    moved.release();
    return Error{ins.error()};
  }
  vmas_.coalesce();
  return new_addr;
}

// mremap of a shared mapping: the pages are the object's, wherever they
// are mapped, so moving or growing maps the object again at the new place
// (the grown tail is the object's next pages, as Linux maps the file's).
Result<u64> AddressSpace::remap_shared(const Vma& attrs, u64 old_addr, u64 old_len, u64 new_len,
                                       u32 flags, u64 new_addr) {
  u64 off = attrs.offset + (old_addr - attrs.start);
  if (off + new_len < off) return err(EINVAL);
  if (flags & kMremapFixed) {
    if (!page_aligned(new_addr) || !in_user_range(new_addr, new_len)) return err(EINVAL);
    if (new_addr < old_addr + old_len && old_addr < new_addr + new_len) return err(EINVAL);
  } else {
    if (new_len <= old_len) {
      if (new_len < old_len) TRY(unmap(old_addr + new_len, old_len - new_len));
      return old_addr;
    }
    u64 tail = old_addr + old_len, grow = new_len - old_len;
    if (in_user_range(tail, grow) && vmas_.is_free(tail, tail + grow)) {
      TRY(map_shared(tail, grow, attrs.prot, Placement::FixedNoReplace, *attrs.object,
                     off + old_len, attrs.no_write, attrs.name));
      return old_addr;
    }
    if (!(flags & kMremapMaymove)) return err(ENOMEM);
    new_addr = vmas_.find_gap_topdown(new_len, min_, top_);
    if (new_addr == 0) return err(ENOMEM);
  }
  if (vmas_.touches_reserved(new_addr, new_addr + new_len)) return err(ENOMEM);
  // Map the new place first (the object stays held), then drop the old one.
  SharedObject& obj = *attrs.object;
  obj.map_hold();
  auto r = map_shared(new_addr, new_len, attrs.prot, Placement::Fixed, obj, off, attrs.no_write,
                      attrs.name);
  if (r.ok()) {
    auto u = unmap(old_addr, old_len);
    if (!u.ok()) r = Error{u.error()};
  }
  obj.map_release();
  if (!r.ok()) return r;
  return new_addr;
}

Result<void> AddressSpace::discard(u64 addr, u64 len) {
  if (!page_aligned(addr) || !page_up_ok(len)) return err(EINVAL);
  len = page_up(len);
  if (len == 0) return ok();
  u64 end = addr + len;
  if (!vmas_.fully_mapped(addr, end)) return err(ENOMEM);
  if (vmas_.touches_reserved(addr, end)) return err(EINVAL);
  // Shared pages keep their contents (MADV_DONTNEED on a shared mapping
  // only drops page-table entries on Linux; the data is the file's).
  for (usize i = vmas_.lower(addr); i < vmas_.size() && vmas_[i].start < end; ++i) {
    const Vma& v = vmas_[i];
    if (v.kind == VmaKind::Shared) continue;
    u64 s = max(v.start, addr), e = min(v.end, end);
    TRY(platform::discard(s, e - s));
  }
  return ok();
}

u64 AddressSpace::set_brk(u64 want) {
  if (want < brk_start_) return brk_;
  u64 old_end = page_up(brk_);
  if (!page_up_ok(want)) return brk_;
  u64 new_end = page_up(want);
  if (new_end > old_end) {
    u64 grow = new_end - old_end;
    if (!in_user_range(old_end, grow) || !vmas_.is_free(old_end, new_end)) return brk_;
    if (!commit(grow).ok()) return brk_;
    auto r = platform::map_anonymous(old_end, grow, platform::kProtRead | platform::kProtWrite);
    if (r.ok())
      r = vmas_.insert(Vma{old_end, new_end, platform::kProtRead | platform::kProtWrite,
                           VmaKind::Heap, 1});
    if (!r.ok()) {
      uncommit(grow);
      return brk_;
    }
    vmas_.coalesce();
  } else if (new_end < old_end) {
    if (!unmap_pieces(new_end, old_end).ok()) return brk_;
    vmas_.coalesce();
  }
  brk_ = want;
  return brk_;
}

Result<u64> AddressSpace::map_stack(u64 size) {
  size = page_up(size);
  u64 top = vmas_.find_gap_topdown(size + kPageSize, min_, top_);
  if (top == 0) return err(ENOMEM);
  u64 base = top + kPageSize;  // leave the guard page below unmapped
  TRY(map_anon(base, size, platform::kProtRead | platform::kProtWrite,
               Placement::FixedNoReplace, VmaKind::Stack));
  // Keep the guard page out of mmap's reach, as Linux's stack guard gap does.
  // It belongs to the stack (not Reserved): execve and fork's snapshot
  // remove and restore it with the stack.
  TRY(vmas_.insert(Vma{top, base, platform::kProtNone, VmaKind::Stack, 0}));
  return base + size;
}

Result<u64> AddressSpace::map_reserved(u64 len, u32 prot, u64 lo, u64 hi) {
  len = page_up(len);
  lo = max(lo, min_);
  hi = min(hi, top_);
  u64 addr = vmas_.find_gap_topdown(len, lo, hi);
  if (addr == 0) return err(ENOMEM);
  TRY(platform::map_anonymous(addr, len, prot));
  auto r = vmas_.insert(Vma{addr, addr + len, prot, VmaKind::Reserved, 0});
  if (!r.ok()) {
    (void)platform::unmap(addr, len);
    return Error{r.error()};
  }
  return addr;
}

bool AddressSpace::user_ok(u64 addr, u64 len, u32 prot) const {
  if (len == 0) return true;
  if (!in_user_range(addr, len)) return false;
  u64 end = addr + len;
  u64 at = addr;
  for (usize i = vmas_.lower(addr); i < vmas_.size() && at < end; ++i) {
    const Vma& v = vmas_[i];
    if (v.start > at || v.kind == VmaKind::Reserved || (v.prot & prot) != prot) return false;
    at = v.end;
  }
  return at >= end;
}

}  // namespace mote::mm
