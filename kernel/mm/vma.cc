#include "kernel/mm/vma.h"

#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"

namespace mote::mm {

namespace {
constexpr int kENOMEM = 12;
constexpr int kEEXIST = 17;
}  // namespace

void Vma::hold() const {
  if (object) object->map_hold();
  if (name) name->name_hold();
}

void Vma::release() const {
  if (object) object->map_release();
  if (name) name->name_release();
}

void VmaSet::clear() {
  for (usize i = 0; i < n_; ++i) v_[i].release();
  kfree(v_);
  v_ = nullptr;
  n_ = cap_ = 0;
}

Result<void> VmaSet::reserve(usize want) {
  if (want <= cap_) return ok();
  usize cap = cap_ ? cap_ * 2 : 32;
  while (cap < want) cap *= 2;
  auto* nv = static_cast<Vma*>(kalloc(cap * sizeof(Vma)));
  if (!nv) return err(kENOMEM);
  if (n_) memcpy(nv, v_, n_ * sizeof(Vma));
  kfree(v_);
  v_ = nv;
  cap_ = cap;
  return ok();
}

usize VmaSet::lower(u64 addr) const {
  usize lo = 0, hi = n_;
  while (lo < hi) {
    usize mid = lo + (hi - lo) / 2;
    if (v_[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const Vma* VmaSet::find(u64 addr) const {
  usize i = lower(addr);
  return (i < n_ && v_[i].start <= addr) ? &v_[i] : nullptr;
}

bool VmaSet::is_free(u64 start, u64 end) const {
  usize i = lower(start);
  return i == n_ || v_[i].start >= end;
}

bool VmaSet::touches_reserved(u64 start, u64 end) const {
  for (usize i = lower(start); i < n_ && v_[i].start < end; ++i)
    if (v_[i].kind == VmaKind::Reserved) return true;
  return false;
}

bool VmaSet::fully_mapped(u64 start, u64 end) const {
  u64 at = start;
  for (usize i = lower(start); i < n_ && at < end; ++i) {
    if (v_[i].start > at) return false;
    at = v_[i].end;
  }
  return at >= end;
}

u64 VmaSet::find_gap_topdown(u64 len, u64 lo, u64 hi) const {
  if (len == 0 || hi < lo || hi - lo < len) return 0;
  u64 cur_end = hi;
  for (usize i = n_; i-- > 0;) {
    const Vma& v = v_[i];
    if (v.start >= cur_end) continue;
    u64 gap_start = v.end > lo ? v.end : lo;
    if (v.end < cur_end && cur_end - gap_start >= len) return cur_end - len;
    cur_end = v.start;
    if (cur_end < lo || cur_end - lo < len) return 0;
  }
  return cur_end - lo >= len ? cur_end - len : 0;
}

Result<void> VmaSet::insert(const Vma& v) {
  if (v.start >= v.end) return err(22);
  if (!is_free(v.start, v.end)) return err(kEEXIST);
  TRY(reserve(n_ + 1));
  usize i = lower(v.start);
  memmove(&v_[i + 1], &v_[i], (n_ - i) * sizeof(Vma));
  v_[i] = v;
  ++n_;
  return ok();
}

Result<void> VmaSet::split_at(u64 addr) {
  usize i = lower(addr);
  if (i == n_ || v_[i].start >= addr) return ok();  // addr is not strictly inside
  TRY(reserve(n_ + 1));
  memmove(&v_[i + 1], &v_[i], (n_ - i) * sizeof(Vma));
  ++n_;
  v_[i].end = addr;
  v_[i + 1].start = addr;
  if (v_[i + 1].object || v_[i + 1].name) v_[i + 1].offset += addr - v_[i].start;
  v_[i + 1].hold();
  return ok();
}

Result<void> VmaSet::remove(u64 start, u64 end) {
  TRY(split_at(start));
  TRY(split_at(end));
  usize i = lower(start);
  usize j = i;
  while (j < n_ && v_[j].end <= end) ++j;
  for (usize k = i; k < j; ++k) v_[k].release();
  memmove(&v_[i], &v_[j], (n_ - j) * sizeof(Vma));
  n_ -= j - i;
  return ok();
}

void VmaSet::coalesce() {
  if (n_ < 2) return;
  usize w = 0;
  for (usize r = 1; r < n_; ++r) {
    Vma& a = v_[w];
    const Vma& b = v_[r];
    bool same_object = a.object == b.object && a.name == b.name && a.no_write == b.no_write &&
                       (!(a.object || a.name) || a.offset + a.bytes() == b.offset);
    if (a.end == b.start && a.prot == b.prot && a.kind == b.kind && a.charged == b.charged &&
        same_object && a.kind != VmaKind::Reserved) {
      a.end = b.end;
      b.release();
    } else {
      v_[++w] = b;
    }
  }
  n_ = w + 1;
}

}  // namespace mote::mm
