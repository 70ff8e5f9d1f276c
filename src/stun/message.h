// STUN message codec (RFC 8489), with the attributes of TURN (RFC 8656), TURN-TCP (RFC 6062), ICE (RFC 8445)
// and NAT behaviour discovery (RFC 5780). The one codec of the whole stack: the TURN server, the ICE agent
// and the load tools all use it.
//
// Parsing is zero-copy and allocation-free: MessageView holds the raw bytes' span and an inline index of up
// to kMaxAttributes attributes; typed getters decode on demand. Building appends to a caller-owned vector.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/socket_address.h"

namespace tandem::stun {

inline constexpr uint32_t kMagicCookie = 0x2112A442;  // RFC 8489 §5
inline constexpr size_t kHeaderSize = 20;
inline constexpr size_t kMaxAttributes = 40;  // more than any legitimate message carries; more is malformed
inline constexpr size_t kMaxMessageSize = 65535 + kHeaderSize;

using TransactionId = std::array<uint8_t, 12>;

// RFC 8489 §18.2, RFC 8656 §17, RFC 6062 §6.1.
enum class Method : uint16_t {
  kBinding = 0x001,
  kAllocate = 0x003,
  kRefresh = 0x004,
  kSend = 0x006,
  kData = 0x007,
  kCreatePermission = 0x008,
  kChannelBind = 0x009,
  kConnect = 0x00a,
  kConnectionBind = 0x00b,
  kConnectionAttempt = 0x00c,
};

enum class MessageClass : uint8_t { kRequest = 0, kIndication = 1, kSuccessResponse = 2, kErrorResponse = 3 };

const char* ToString(Method m);

// Attribute types. Comprehension-required: 0x0000-0x7FFF; optional: 0x8000-0xFFFF (RFC 8489 §14).
namespace attr {
inline constexpr uint16_t kMappedAddress = 0x0001;
inline constexpr uint16_t kResponseAddress = 0x0002;  // RFC 5780 (obsolete, parsed only)
inline constexpr uint16_t kChangeRequest = 0x0003;    // RFC 5780 §7.2
inline constexpr uint16_t kSourceAddress = 0x0004;    // RFC 3489, obsolete
inline constexpr uint16_t kChangedAddress = 0x0005;   // RFC 3489, obsolete
inline constexpr uint16_t kUsername = 0x0006;
inline constexpr uint16_t kMessageIntegrity = 0x0008;
inline constexpr uint16_t kErrorCode = 0x0009;
inline constexpr uint16_t kUnknownAttributes = 0x000A;
inline constexpr uint16_t kChannelNumber = 0x000C;   // RFC 8656 §18.1
inline constexpr uint16_t kLifetime = 0x000D;        // RFC 8656 §18.2
inline constexpr uint16_t kXorPeerAddress = 0x0012;  // RFC 8656 §18.3
inline constexpr uint16_t kData = 0x0013;            // RFC 8656 §18.4
inline constexpr uint16_t kRealm = 0x0014;
inline constexpr uint16_t kNonce = 0x0015;
inline constexpr uint16_t kXorRelayedAddress = 0x0016;       // RFC 8656 §18.5
inline constexpr uint16_t kRequestedAddressFamily = 0x0017;  // RFC 8656 §18.6
inline constexpr uint16_t kEvenPort = 0x0018;                // RFC 8656 §18.7
inline constexpr uint16_t kRequestedTransport = 0x0019;      // RFC 8656 §18.8
inline constexpr uint16_t kDontFragment = 0x001A;            // RFC 8656 §18.9
inline constexpr uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr uint16_t kPasswordAlgorithm = 0x001D;
inline constexpr uint16_t kUserhash = 0x001E;
inline constexpr uint16_t kXorMappedAddress = 0x0020;
inline constexpr uint16_t kReservationToken = 0x0022;  // RFC 8656 §18.10
inline constexpr uint16_t kPriority = 0x0024;          // RFC 8445 §16.1
inline constexpr uint16_t kUseCandidate = 0x0025;      // RFC 8445 §16.1
inline constexpr uint16_t kPadding = 0x0026;           // RFC 5780 §7.6
inline constexpr uint16_t kResponsePort = 0x0027;      // RFC 5780 §7.5
inline constexpr uint16_t kConnectionId = 0x002A;      // RFC 6062 §6.2.1
// Comprehension-optional.
inline constexpr uint16_t kAdditionalAddressFamily = 0x8000;  // RFC 8656 §18.11
inline constexpr uint16_t kAddressErrorCode = 0x8001;         // RFC 8656 §18.12
inline constexpr uint16_t kPasswordAlgorithms = 0x8002;
inline constexpr uint16_t kAlternateDomain = 0x8003;
inline constexpr uint16_t kIcmp = 0x8004;  // RFC 8656 §18.13
inline constexpr uint16_t kSoftware = 0x8022;
inline constexpr uint16_t kAlternateServer = 0x8023;
inline constexpr uint16_t kTransactionTransmitCounter = 0x8025;  // RFC 7982
inline constexpr uint16_t kCacheTimeout = 0x8027;                // RFC 5780 §7.7
inline constexpr uint16_t kFingerprint = 0x8028;
inline constexpr uint16_t kIceControlled = 0x8029;   // RFC 8445 §16.1
inline constexpr uint16_t kIceControlling = 0x802A;  // RFC 8445 §16.1
inline constexpr uint16_t kResponseOrigin = 0x802B;  // RFC 5780 §7.3
inline constexpr uint16_t kOtherAddress = 0x802C;    // RFC 5780 §7.4

inline constexpr bool IsComprehensionRequired(uint16_t type) { return type < 0x8000; }
const char* Name(uint16_t type);  // "XOR-MAPPED-ADDRESS", or "unknown"
}  // namespace attr

// Error codes used by STUN/TURN (RFC 8489 §14.8, RFC 8656 §19, RFC 6062 §6.3).
namespace error {
inline constexpr uint16_t kTryAlternate = 300;
inline constexpr uint16_t kBadRequest = 400;
inline constexpr uint16_t kUnauthorized = 401;
inline constexpr uint16_t kForbidden = 403;
inline constexpr uint16_t kMobilityForbidden = 405;
inline constexpr uint16_t kUnknownAttribute = 420;
inline constexpr uint16_t kAllocationMismatch = 437;
inline constexpr uint16_t kStaleNonce = 438;
inline constexpr uint16_t kAddressFamilyNotSupported = 440;
inline constexpr uint16_t kWrongCredentials = 441;
inline constexpr uint16_t kUnsupportedTransportProtocol = 442;
inline constexpr uint16_t kPeerAddressFamilyMismatch = 443;
inline constexpr uint16_t kConnectionAlreadyExists = 446;
inline constexpr uint16_t kConnectionTimeoutOrFailure = 447;
inline constexpr uint16_t kAllocationQuotaReached = 486;
inline constexpr uint16_t kRoleConflict = 487;
inline constexpr uint16_t kServerError = 500;
inline constexpr uint16_t kInsufficientCapacity = 508;
const char* DefaultReason(uint16_t code);
}  // namespace error

// RFC 8489 §18.5 password algorithms.
enum class PasswordAlgorithm : uint16_t { kMd5 = 0x0001, kSha256 = 0x0002 };

// REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY values (RFC 8656 §18.6).
inline constexpr uint8_t kFamilyIPv4 = 0x01;
inline constexpr uint8_t kFamilyIPv6 = 0x02;
// REQUESTED-TRANSPORT protocol numbers (RFC 8656 §18.8, RFC 6062).
inline constexpr uint8_t kTransportUdp = 17;
inline constexpr uint8_t kTransportTcp = 6;

struct ErrorCodeValue {
  uint16_t code = 0;        // 300..699
  std::string_view reason;  // view into the message
};

// Value of ADDRESS-ERROR-CODE (RFC 8656 §18.12): the error of one address family in a dual allocation.
struct AddressErrorCodeValue {
  uint8_t family = 0;       // kFamilyIPv4 / kFamilyIPv6
  uint16_t code = 0;        // 300..699
  std::string_view reason;  // view into the message
};

struct RawAttribute {
  uint16_t type = 0;
  // Offset of the attribute's TLV header within the message. 32 bits: a message of up to 65552 bytes (TCP)
  // can have attributes that start past 65535.
  uint32_t offset = 0;
  ByteSpan value;  // view into the message (no padding)
};

// A parsed STUN message: a view over the caller's bytes, valid while they are.
class MessageView {
 public:
  // Validates the header (two zero bits, magic cookie, length multiple of 4 matching the buffer) and indexes
  // the attributes (bounds, padding, at most kMaxAttributes). Bytes after the STUN message are an error (a
  // TCP stream is cut into frames first, see turn/framing.h).
  static Result<MessageView> Parse(ByteSpan bytes);

  // True when the bytes look like STUN (RFC 8489 §6.3: top two bits zero, magic cookie, length % 4 == 0);
  // cheap pre-check for demultiplexing.
  static bool LooksLikeStun(ByteSpan bytes);

  Method method() const { return method_; }
  uint16_t method_value() const { return method_raw_; }
  MessageClass message_class() const { return class_; }
  const TransactionId& transaction_id() const { return transaction_id_; }
  ByteSpan bytes() const { return bytes_; }

  std::span<const RawAttribute> attributes() const { return {attributes_.data(), attribute_count_}; }
  // First occurrence of an attribute, as RFC 8489 §14 says later duplicates are ignored.
  const RawAttribute* Find(uint16_t type) const;
  bool Has(uint16_t type) const { return Find(type) != nullptr; }

  // Typed getters return nullopt when absent or malformed.
  std::optional<SocketAddress> GetAddress(uint16_t type) const;     // MAPPED-ADDRESS-style
  std::optional<SocketAddress> GetXorAddress(uint16_t type) const;  // XOR-*-ADDRESS
  // All XOR-PEER-ADDRESS-style values (CreatePermission may carry several, RFC 8656 §9). Returns the count
  // written into `out` (at most out.size()); malformed ones are skipped and reported via `malformed`.
  size_t GetAllXorAddresses(uint16_t type, std::span<SocketAddress> out, bool* malformed = nullptr) const;
  std::optional<uint32_t> GetU32(uint16_t type) const;  // LIFETIME, PRIORITY, CONNECTION-ID, FINGERPRINT...
  std::optional<uint64_t> GetU64(uint16_t type) const;  // ICE-CONTROLLED/-CONTROLLING, RESERVATION-TOKEN
  // USERNAME, REALM, NONCE, SOFTWARE... nullopt when longer than a receiver must accept (RFC 8489 §14.3,
  // §14.9, §14.10, §14.14: 763 bytes; ALTERNATE-DOMAIN §14.16: 255). UTF-8 validity is not checked here.
  std::optional<std::string_view> GetString(uint16_t type) const;
  std::optional<ByteSpan> GetBytes(uint16_t type) const;  // DATA, USERHASH, ...
  std::optional<ErrorCodeValue> GetErrorCode() const;
  // ADDRESS-ERROR-CODE (RFC 8656 §18.12).
  std::optional<AddressErrorCodeValue> GetAddressErrorCode() const;
  // UNKNOWN-ATTRIBUTES list (RFC 8489 §14.13); empty when absent or of odd length.
  std::vector<uint16_t> GetUnknownAttributes() const;
  // CHANNEL-NUMBER (RFC 8656 §18.1): the number in the top 16 bits. The 0x4000-0x4FFF range is the caller's
  // check (the TURN server answers 400 outside it).
  std::optional<uint16_t> GetChannelNumber() const;
  // REQUESTED-TRANSPORT protocol number (RFC 8656 §18.8).
  std::optional<uint8_t> GetRequestedTransport() const;
  // REQUESTED-/ADDITIONAL-ADDRESS-FAMILY family byte (RFC 8656 §18.6, §18.11), as received: an unknown family
  // is the caller's 440, not a malformed attribute.
  std::optional<uint8_t> GetAddressFamily(uint16_t type) const;
  // EVEN-PORT's R bit (RFC 8656 §18.7).
  std::optional<bool> GetEvenPortReserve() const;
  // CHANGE-REQUEST flags (RFC 5780 §7.2).
  struct ChangeRequest {
    bool change_ip = false;
    bool change_port = false;
  };
  std::optional<ChangeRequest> GetChangeRequest() const;
  // PASSWORD-ALGORITHM (first value) and PASSWORD-ALGORITHMS (all values) (RFC 8489 §14.11-14.12). Values are
  // returned as received, including ones outside the enum, so that the server can compare them with what it
  // offered (§9.2.4); a malformed list yields an empty vector.
  std::optional<PasswordAlgorithm> GetPasswordAlgorithm() const;
  std::vector<PasswordAlgorithm> GetPasswordAlgorithms() const;

  // Comprehension-required attributes not in `known` (sorted or not). Empty when every one is understood. The
  // caller answers a request that has any with 420 + UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1.1).
  std::vector<uint16_t> UnknownComprehensionRequired(std::span<const uint16_t> known) const;

  // MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and MESSAGE-INTEGRITY-SHA256 (§14.6), computed as the RFC
  // describes: over the message up to the attribute, with the header length adjusted to end after it. `key`
  // is the short-term password or the long-term key (see LongTermKey). False when absent, wrong, of a bad
  // length, or when `key` is empty (an empty key is never a valid credential; refusing it closes a downgrade
  // to a known key).
  bool VerifyMessageIntegrity(ByteSpan key) const;
  bool VerifyMessageIntegritySha256(ByteSpan key) const;
  // FINGERPRINT (RFC 8489 §14.7): present, last, and correct.
  bool HasValidFingerprint() const;

 private:
  ByteSpan bytes_;
  Method method_ = Method::kBinding;
  uint16_t method_raw_ = 0;
  MessageClass class_ = MessageClass::kRequest;
  TransactionId transaction_id_{};
  std::array<RawAttribute, kMaxAttributes> attributes_{};
  size_t attribute_count_ = 0;
};

// Builds a STUN message into a caller-owned buffer (cleared first; its capacity is reused). Attributes appear
// in the order added; MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT must be added last, in that order (RFC 8489
// §14).
//
// Misuse is a programmer error and throws: std::length_error when the attributes would exceed 65532 bytes
// (the 16-bit length, a multiple of 4; callers bound what they put in, e.g. DATA), std::invalid_argument for
// a method above 0xFFF, an unspecified address, an error code outside 300..699 or an empty integrity key,
// std::logic_error for an attribute added after FINGERPRINT. Values passed in
// must not point into `out` itself (the buffer may reallocate). Reason phrases longer than 763 bytes are cut
// at a UTF-8 character boundary (RFC 8489 §14.8).
class MessageBuilder {
 public:
  MessageBuilder(std::vector<uint8_t>& out, Method method, MessageClass cls, const TransactionId& tid);

  MessageBuilder& AddAddress(uint16_t type, const SocketAddress& addr);     // MAPPED-ADDRESS style
  MessageBuilder& AddXorAddress(uint16_t type, const SocketAddress& addr);  // XOR-*-ADDRESS
  MessageBuilder& AddU32(uint16_t type, uint32_t value);
  MessageBuilder& AddU64(uint16_t type, uint64_t value);
  MessageBuilder& AddString(uint16_t type, std::string_view value);
  MessageBuilder& AddBytes(uint16_t type, ByteSpan value);
  MessageBuilder& AddEmpty(uint16_t type);                                    // DONT-FRAGMENT, USE-CANDIDATE
  MessageBuilder& AddErrorCode(uint16_t code, std::string_view reason = {});  // default reason when empty
  MessageBuilder& AddUnknownAttributes(std::span<const uint16_t> types);
  MessageBuilder& AddChannelNumber(uint16_t channel);
  MessageBuilder& AddRequestedTransport(uint8_t protocol);
  MessageBuilder& AddAddressFamily(uint16_t type, uint8_t family);
  MessageBuilder& AddEvenPort(bool reserve);
  MessageBuilder& AddChangeRequest(bool change_ip, bool change_port);
  MessageBuilder& AddPasswordAlgorithm(PasswordAlgorithm algorithm);  // no parameters
  MessageBuilder& AddPasswordAlgorithms(std::span<const PasswordAlgorithm> algorithms);
  // Address error for one family (RFC 8656 §18.12).
  MessageBuilder& AddAddressErrorCode(uint8_t family, uint16_t code, std::string_view reason = {});

  MessageBuilder& AddMessageIntegrity(ByteSpan key);
  MessageBuilder& AddMessageIntegritySha256(ByteSpan key);
  MessageBuilder& AddFingerprint();

  // The finished message (a view of the buffer).
  ByteSpan Finish();

 private:
  void BeginAttribute(uint16_t type, size_t value_len);
  void EndAttribute(size_t value_len);
  void SetLength(size_t total);

  std::vector<uint8_t>& out_;
  bool sealed_ = false;  // FINGERPRINT added: nothing may follow (RFC 8489 §14.7)
};

// Long-term credential key (RFC 8489 §9.2.2): MD5(username ":" realm ":" password) or SHA-256 of the same,
// chosen by PASSWORD-ALGORITHM. Returned as bytes (16 or 32). The strings are hashed as given: the
// OpaqueString (RFC 8265) / SASLprep preparation the RFC asks for is the caller's, done once when credentials
// are configured. Throws std::invalid_argument for an algorithm outside the enum (check a received
// PASSWORD-ALGORITHM against the offer first).
std::vector<uint8_t> LongTermKey(std::string_view username, std::string_view realm, std::string_view password,
                                 PasswordAlgorithm algorithm = PasswordAlgorithm::kMd5);
// USERHASH (RFC 8489 §14.4): SHA-256(username ":" realm), strings hashed as given (see LongTermKey).
std::array<uint8_t, 32> UserHash(std::string_view username, std::string_view realm);

// XOR-address transform (RFC 8489 §14.2), exposed for tools that patch addresses in place.
SocketAddress XorAddress(const SocketAddress& addr, const TransactionId& tid);

// Creates a new random transaction id from `bytes` (12 random bytes supplied by the caller's Rng).
inline TransactionId MakeTransactionId(std::span<const uint8_t, 12> bytes) {
  TransactionId t;
  for (size_t i = 0; i < 12; ++i) t[i] = bytes[i];
  return t;
}

}  // namespace tandem::stun
