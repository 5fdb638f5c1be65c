// A zeroed T on the kernel heap for the length of one scope: the big
// buffers of rare paths (an ELF's headers, a path, #! lines) that would
// crowd a 32 KiB kernel stack and, made static instead, the kernel image.
#pragma once

#include "kernel/mm/heap.h"

namespace mote::mm {

template <typename T>
class Scratch {
  static_assert(__is_trivially_copyable(T) && __has_trivial_destructor(T),
                "Scratch holds plain data: it is zeroed, not constructed");

 public:
  Scratch() : p_(static_cast<T*>(kzalloc(sizeof(T)))) {}
  ~Scratch() { kfree(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // False when the heap was out of memory.
  explicit operator bool() const { return p_ != nullptr; }
  T* get() const { return p_; }
  T& operator*() const { return *p_; }
  T* operator->() const { return p_; }

 private:
  T* p_;
};

}  // namespace mote::mm
