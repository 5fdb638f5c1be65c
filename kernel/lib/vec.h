// A growable array on the kernel heap for trivially relocatable elements
// (integers, pointers, Ref<>, small structs of those): growth moves bytes.
// Allocation failure is reported, never thrown.
#pragma once

#include <new>

#include "kernel/lib/result.h"
#include "kernel/lib/string.h"
#include "kernel/mm/heap.h"

namespace mote {

template <typename T>
class Vec {
 public:
  Vec() = default;
  Vec(const Vec&) = delete;
  Vec& operator=(const Vec&) = delete;
  ~Vec() { clear(); }

  usize size() const { return n_; }
  bool empty() const { return n_ == 0; }
  T& operator[](usize i) { return v_[i]; }
  const T& operator[](usize i) const { return v_[i]; }
  T* begin() { return v_; }
  T* end() { return v_ + n_; }
  const T* begin() const { return v_; }
  const T* end() const { return v_ + n_; }

  Result<void> reserve(usize want) {
    if (want <= cap_) return ok();
    usize cap = cap_ ? cap_ * 2 : 4;
    while (cap < want) cap *= 2;
    T* nv = static_cast<T*>(mm::kalloc(cap * sizeof(T)));
    if (!nv) return err(12 /*ENOMEM*/);
    if (n_) memcpy(static_cast<void*>(nv), static_cast<const void*>(v_), n_ * sizeof(T));
    mm::kfree(v_);
    v_ = nv;
    cap_ = cap;
    return ok();
  }
  Result<void> push(T x) {
    TRY(reserve(n_ + 1));
    new (&v_[n_]) T(static_cast<T&&>(x));
    ++n_;
    return ok();
  }
  Result<void> insert(usize at, T x) {
    TRY(reserve(n_ + 1));
    memmove(static_cast<void*>(v_ + at + 1), static_cast<const void*>(v_ + at),
            (n_ - at) * sizeof(T));
    new (&v_[at]) T(static_cast<T&&>(x));
    ++n_;
    return ok();
  }
  void erase(usize at) {
    v_[at].~T();
    memmove(static_cast<void*>(v_ + at), static_cast<const void*>(v_ + at + 1),
            (n_ - at - 1) * sizeof(T));
    --n_;
  }
  void pop() { v_[--n_].~T(); }
  // Shrinks to n elements (n <= size()).
  void truncate(usize n) {
    while (n_ > n) pop();
  }
  void clear() {
    truncate(0);
    mm::kfree(v_);
    v_ = nullptr;
    cap_ = 0;
  }

 private:
  T* v_ = nullptr;
  usize n_ = 0;
  usize cap_ = 0;
};

// An owned, NUL-terminated copy of a string on the kernel heap.
class KString {
 public:
  KString() = default;
  KString(const KString&) = delete;
  KString& operator=(const KString&) = delete;
  KString(KString&& o) : s_(o.s_), n_(o.n_) { o.s_ = nullptr, o.n_ = 0; }
  KString& operator=(KString&& o) {
    if (this != &o) {
      mm::kfree(s_);
      s_ = o.s_, n_ = o.n_;
      o.s_ = nullptr, o.n_ = 0;
    }
    return *this;
  }
  ~KString() { mm::kfree(s_); }
  Result<void> set(StrView v) {
    char* s = static_cast<char*>(mm::kalloc(v.size + 1));
    if (!s) return err(12 /*ENOMEM*/);
    if (v.size) memcpy(s, v.data, v.size);
    s[v.size] = 0;
    mm::kfree(s_);
    s_ = s;
    n_ = v.size;
    return ok();
  }
  StrView view() const { return StrView(s_ ? s_ : "", n_); }
  const char* c_str() const { return s_ ? s_ : ""; }
  usize size() const { return n_; }

 private:
  char* s_ = nullptr;
  usize n_ = 0;
};

}  // namespace mote
