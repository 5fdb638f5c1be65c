// Intrusive reference counting for kernel objects (inodes, open files):
// Ref<T> holds one reference; the object is destroyed (destructor, then the
// kernel heap) when the last one goes. Counts are atomic so objects can be
// shared between CPUs once there are several.
#pragma once

#include <new>

#include "kernel/lib/types.h"
#include "kernel/mm/heap.h"

namespace mote {

class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;
  virtual ~RefCounted() = default;

  void ref_get() { __atomic_add_fetch(&refs_, 1, __ATOMIC_RELAXED); }
  // True when that was the last reference.
  bool ref_put() { return __atomic_sub_fetch(&refs_, 1, __ATOMIC_ACQ_REL) == 0; }
  u32 refs() const { return __atomic_load_n(&refs_, __ATOMIC_RELAXED); }

 private:
  u32 refs_ = 0;
};

template <typename T>
class Ref {
 public:
  Ref() = default;
  Ref(decltype(nullptr)) {}  // NOLINT
  explicit Ref(T* p) : p_(p) {
    if (p_) p_->ref_get();
  }
  Ref(const Ref& o) : Ref(o.p_) {}
  template <typename U>
  Ref(const Ref<U>& o) : Ref(static_cast<T*>(o.get())) {}  // NOLINT: upcast
  Ref(Ref&& o) : p_(o.p_) { o.p_ = nullptr; }
  ~Ref() { reset(); }
  Ref& operator=(const Ref& o) {
    if (o.p_) o.p_->ref_get();
    reset();
    p_ = o.p_;
    return *this;
  }
  Ref& operator=(Ref&& o) {
    if (this != &o) {
      reset();
      p_ = o.p_;
      o.p_ = nullptr;
    }
    return *this;
  }
  void reset() {
    T* p = p_;
    p_ = nullptr;
    if (p && p->ref_put()) {
      p->~T();  // virtual: the most-derived destructor
      mm::kfree(p);
    }
  }
  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  bool operator==(const Ref& o) const { return p_ == o.p_; }

 private:
  T* p_ = nullptr;
};

// Allocates a T on the kernel heap (zeroed first) and returns the first
// reference, or a null Ref when memory runs out.
template <typename T, typename... A>
Ref<T> make_ref(A&&... args) {
  void* m = mm::kzalloc(sizeof(T));
  if (!m) return Ref<T>();
  return Ref<T>(new (m) T(static_cast<A&&>(args)...));
}

}  // namespace mote
