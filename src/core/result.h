// Result<T>: errors as values on protocol paths (a small std::expected stand-in; g++ 12 and clang 14 in C++20
// mode have no <expected>). An Error carries a stable code and a static, human-readable reason so that building one
// on a hot path never allocates.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace tandem {

enum class ErrorCode {
  kInvalidArgument,  // the caller passed something malformed (bad input from the wire lands here too)
  kTruncated,        // fewer bytes than the format requires
  kMalformed,        // bytes present but not a valid encoding
  kUnsupported,      // valid but not something we implement
  kLimitExceeded,    // a size or count limit was hit
  kNotFound,
  kAlreadyExists,
  kUnauthorized,
  kForbidden,
  kUnavailable,      // a resource (port, quota) is exhausted
  kInternal,
};

const char* ToString(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  const char* reason = "";  // static storage; never a pointer into a packet

  std::string ToString() const { return std::string(tandem::ToString(code)) + ": " + reason; }
};

inline Error MakeError(ErrorCode code, const char* reason) { return Error{code, reason}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& value) : storage_(value) {}             // NOLINT(google-explicit-constructor)
  Result(T&& value) : storage_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  Result(Error error) : storage_(error) {}                // NOLINT(google-explicit-constructor)

  bool ok() const { return storage_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(storage_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(storage_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(storage_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(storage_);
  }

 private:
  std::variant<T, Error> storage_;
};

// Result<void>: success or an error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(error), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{};
  bool ok_ = true;
};

using Status = Result<void>;
inline Status OkStatus() { return Status(); }

}  // namespace tandem
