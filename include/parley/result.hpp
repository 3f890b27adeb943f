#pragma once
// Result<T>: a value or a std::error_code, the library's return type for fallible calls.
// (C++20 has no std::expected; this is the small subset parley uses.)

#include <cassert>
#include <optional>
#include <system_error>
#include <utility>

namespace parley {

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose, like expected.
  Result(std::error_code ec) : error_(ec) { assert(ec); }  // NOLINT
  template <typename E, typename = std::enable_if_t<std::is_error_code_enum_v<E>>>
  Result(E e) : Result(std::error_code(make_error_code(e))) {}  // NOLINT

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const std::error_code& error() const noexcept { return error_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  std::error_code error_;
};

}  // namespace parley
