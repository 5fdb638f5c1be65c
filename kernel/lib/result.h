// Result<T>: a value or a Linux errno (positive). Errors travel with TRY().
// No exceptions anywhere in the kernel.
#pragma once

#include "kernel/lib/types.h"

namespace mote {

struct Error {
  int errno_value;  // positive Linux errno (EINVAL, ENOMEM, ...)
};

inline constexpr Error err(int e) { return Error{e}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  constexpr Result(T v) : value_(v), error_(0) {}  // NOLINT: implicit by design
  constexpr Result(Error e) : value_(), error_(e.errno_value) {}  // NOLINT
  constexpr bool ok() const { return error_ == 0; }
  constexpr int error() const { return error_; }
  constexpr T value() const { return value_; }
  constexpr T value_or(T d) const { return ok() ? value_ : d; }

 private:
  T value_;
  int error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  constexpr Result() : error_(0) {}
  constexpr Result(Error e) : error_(e.errno_value) {}  // NOLINT
  constexpr bool ok() const { return error_ == 0; }
  constexpr int error() const { return error_; }
  constexpr void value() const {}

 private:
  int error_;
};

inline constexpr Result<void> ok() { return Result<void>(); }

}  // namespace mote

// Evaluates a Result; on error returns the error from the enclosing function,
// otherwise yields the value.
#define TRY(expr)                                              \
  ({                                                           \
    auto _r = (expr);                                          \
    if (!_r.ok()) return ::mote::Error{_r.error()};            \
    _r.value();                                                \
  })
