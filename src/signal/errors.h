// The signaling protocol's error vocabulary (docs/signaling.md "Error codes"): one code per refusal, with the HTTP
// status and the WebSocket close code it maps to. `Checked<T>` is Result<T> for this module: a value or a Failure
// carrying one of these codes (core Result's ErrorCode cannot tell bad_token from token_expired).
//
// The module's namespace is tandem::signaling, not tandem::signal: inside namespace tandem, a namespace named
// `signal` would hide ::signal() from unqualified calls.
#pragma once

#include <cassert>
#include <cstdint>
#include <utility>
#include <variant>

namespace tandem::signaling {

enum class Code : uint8_t {
  kBadJson,
  kBadRequest,
  kUnknownType,
  kUnknownPeer,
  kTooLarge,
  kRateLimited,
  kBadToken,
  kTokenExpired,
  kForbidden,
  kRoomFull,
  kTooManyConnections,
  kUnauthorized,
  kNotFound,
  kMethodNotAllowed,
};

// The wire name: "bad_json", "token_expired", ...
const char* CodeName(Code code);
// The HTTP status for a refused request (400, 401, 403, 404, 405, 409, 413, 429).
int HttpStatus(Code code);

// WebSocket close codes (RFC 6455 §7.4; 4000-4999 are private use, docs/signaling.md).
enum class CloseCode : uint16_t {
  kGoingAway = 1001,   // server shutting down
  kAuth = 4001,        // token problems found after the socket opened
  kPolicy = 4008,      // rate abuse, liveness timeout
  kTooLarge = 4009,    // frame above the limit
};

struct Failure {
  Code code = Code::kBadRequest;
  const char* message = "";  // static storage, human-readable
};

template <typename T>
class [[nodiscard]] Checked {
 public:
  Checked(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Checked(Failure f) : v_(f) {}               // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Failure& failure() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Failure> v_;
};

}  // namespace tandem::signaling
