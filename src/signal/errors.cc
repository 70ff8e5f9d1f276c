#include "signal/errors.h"

namespace tandem::signaling {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kBadJson: return "bad_json";
    case Code::kBadRequest: return "bad_request";
    case Code::kUnknownType: return "unknown_type";
    case Code::kUnknownPeer: return "unknown_peer";
    case Code::kTooLarge: return "too_large";
    case Code::kRateLimited: return "rate_limited";
    case Code::kBadToken: return "bad_token";
    case Code::kTokenExpired: return "token_expired";
    case Code::kForbidden: return "forbidden";
    case Code::kRoomFull: return "room_full";
    case Code::kTooManyConnections: return "too_many_connections";
    case Code::kUnauthorized: return "unauthorized";
    case Code::kNotFound: return "not_found";
    case Code::kMethodNotAllowed: return "method_not_allowed";
  }
  return "internal";
}

int HttpStatus(Code code) {
  switch (code) {
    case Code::kBadJson:
    case Code::kBadRequest:
    case Code::kUnknownType: return 400;
    case Code::kBadToken:
    case Code::kTokenExpired:
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kUnknownPeer:
    case Code::kNotFound: return 404;
    case Code::kMethodNotAllowed: return 405;
    case Code::kRoomFull: return 409;
    case Code::kTooLarge: return 413;
    case Code::kRateLimited:
    case Code::kTooManyConnections: return 429;
  }
  return 500;
}

}  // namespace tandem::signaling
