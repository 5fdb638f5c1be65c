// Expected<T>: a value or a one-line failure message, for the monitor's VM code.
// No exceptions: every KVM call, guest-memory access and loader step reports
// failure as a value the caller prints as "mote: <message>".
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace mote::vm {

enum class FailureKind {
  Error,           // something is wrong: print it, status 125
  KvmUnavailable,  // no usable /dev/kvm on this host: callers may fall back (or skip a test)
};

struct Failure {
  FailureKind kind = FailureKind::Error;
  std::string message;  // one line, without the "mote: " prefix
};

inline Failure fail(std::string message) { return Failure{FailureKind::Error, std::move(message)}; }
inline Failure unavailable(std::string message) {
  return Failure{FailureKind::KvmUnavailable, std::move(message)};
}

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Expected(Failure failure) : failure_(std::move(failure)) {}  // NOLINT
  bool ok() const { return value_.has_value(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  const Failure& failure() const { return failure_; }

 private:
  std::optional<T> value_;
  Failure failure_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Failure failure) : failed_(true), failure_(std::move(failure)) {}  // NOLINT
  bool ok() const { return !failed_; }
  const Failure& failure() const { return failure_; }

 private:
  bool failed_ = false;
  Failure failure_;
};

}  // namespace mote::vm
