// Names of STUN methods and attributes, and default reason phrases of error codes, for logs and error
// responses.
#include "stun/message.h"

namespace tandem::stun {

const char* ToString(Method m) {
  switch (m) {
    case Method::kBinding:
      return "Binding";
    case Method::kAllocate:
      return "Allocate";
    case Method::kRefresh:
      return "Refresh";
    case Method::kSend:
      return "Send";
    case Method::kData:
      return "Data";
    case Method::kCreatePermission:
      return "CreatePermission";
    case Method::kChannelBind:
      return "ChannelBind";
    case Method::kConnect:
      return "Connect";
    case Method::kConnectionBind:
      return "ConnectionBind";
    case Method::kConnectionAttempt:
      return "ConnectionAttempt";
  }
  return "unknown";
}

namespace attr {

const char* Name(uint16_t type) {
  switch (type) {
    case kMappedAddress:
      return "MAPPED-ADDRESS";
    case kResponseAddress:
      return "RESPONSE-ADDRESS";
    case kChangeRequest:
      return "CHANGE-REQUEST";
    case kSourceAddress:
      return "SOURCE-ADDRESS";
    case kChangedAddress:
      return "CHANGED-ADDRESS";
    case kUsername:
      return "USERNAME";
    case kMessageIntegrity:
      return "MESSAGE-INTEGRITY";
    case kErrorCode:
      return "ERROR-CODE";
    case kUnknownAttributes:
      return "UNKNOWN-ATTRIBUTES";
    case kChannelNumber:
      return "CHANNEL-NUMBER";
    case kLifetime:
      return "LIFETIME";
    case kXorPeerAddress:
      return "XOR-PEER-ADDRESS";
    case kData:
      return "DATA";
    case kRealm:
      return "REALM";
    case kNonce:
      return "NONCE";
    case kXorRelayedAddress:
      return "XOR-RELAYED-ADDRESS";
    case kRequestedAddressFamily:
      return "REQUESTED-ADDRESS-FAMILY";
    case kEvenPort:
      return "EVEN-PORT";
    case kRequestedTransport:
      return "REQUESTED-TRANSPORT";
    case kDontFragment:
      return "DONT-FRAGMENT";
    case kMessageIntegritySha256:
      return "MESSAGE-INTEGRITY-SHA256";
    case kPasswordAlgorithm:
      return "PASSWORD-ALGORITHM";
    case kUserhash:
      return "USERHASH";
    case kXorMappedAddress:
      return "XOR-MAPPED-ADDRESS";
    case kReservationToken:
      return "RESERVATION-TOKEN";
    case kPriority:
      return "PRIORITY";
    case kUseCandidate:
      return "USE-CANDIDATE";
    case kPadding:
      return "PADDING";
    case kResponsePort:
      return "RESPONSE-PORT";
    case kConnectionId:
      return "CONNECTION-ID";
    case kAdditionalAddressFamily:
      return "ADDITIONAL-ADDRESS-FAMILY";
    case kAddressErrorCode:
      return "ADDRESS-ERROR-CODE";
    case kPasswordAlgorithms:
      return "PASSWORD-ALGORITHMS";
    case kAlternateDomain:
      return "ALTERNATE-DOMAIN";
    case kIcmp:
      return "ICMP";
    case kSoftware:
      return "SOFTWARE";
    case kAlternateServer:
      return "ALTERNATE-SERVER";
    case kTransactionTransmitCounter:
      return "TRANSACTION_TRANSMIT_COUNTER";
    case kCacheTimeout:
      return "CACHE-TIMEOUT";
    case kFingerprint:
      return "FINGERPRINT";
    case kIceControlled:
      return "ICE-CONTROLLED";
    case kIceControlling:
      return "ICE-CONTROLLING";
    case kResponseOrigin:
      return "RESPONSE-ORIGIN";
    case kOtherAddress:
      return "OTHER-ADDRESS";
  }
  return "unknown";
}

}  // namespace attr

namespace error {

// Reason phrases as the defining RFCs spell them: RFC 8489 §14.8 (300, 400, 401, 420, 438, 500), RFC 8656 §19
// (403, 437, 440-443, 486, 508), RFC 8016 (405), RFC 6062 §6.3 (446, 447), RFC 8445 §7.3.1.1 (487).
const char* DefaultReason(uint16_t code) {
  switch (code) {
    case kTryAlternate:
      return "Try Alternate";
    case kBadRequest:
      return "Bad Request";
    case kUnauthorized:
      return "Unauthenticated";  // RFC 8489 renamed 401 from RFC 5389's "Unauthorized"
    case kForbidden:
      return "Forbidden";
    case kMobilityForbidden:
      return "Mobility Forbidden";
    case kUnknownAttribute:
      return "Unknown Attribute";
    case kAllocationMismatch:
      return "Allocation Mismatch";
    case kStaleNonce:
      return "Stale Nonce";
    case kAddressFamilyNotSupported:
      return "Address Family not Supported";
    case kWrongCredentials:
      return "Wrong Credentials";
    case kUnsupportedTransportProtocol:
      return "Unsupported Transport Protocol";
    case kPeerAddressFamilyMismatch:
      return "Peer Address Family Mismatch";
    case kConnectionAlreadyExists:
      return "Connection Already Exists";
    case kConnectionTimeoutOrFailure:
      return "Connection Timeout or Failure";
    case kAllocationQuotaReached:
      return "Allocation Quota Reached";
    case kRoleConflict:
      return "Role Conflict";
    case kServerError:
      return "Server Error";
    case kInsufficientCapacity:
      return "Insufficient Capacity";
  }
  return "Unknown Error";
}

}  // namespace error

}  // namespace tandem::stun
