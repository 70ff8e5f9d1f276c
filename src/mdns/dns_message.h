// DNS message codec (RFC 1035 §4) with the Multicast DNS twists (RFC 6762): the QU bit in the question class
// (§5.4) and the cache-flush bit in the record class (§10.2). Parsing is bounded: at most kMaxMessageSize
// bytes, kMaxQuestions questions and kMaxRecords records, names of at most 255 octets with labels of at most
// 63, and compression pointers that must point strictly backwards (so that no loop can exist, RFC 1035
// §4.1.4) with a hop limit. Serialization compresses names against the ones already written.
//
// A and AAAA records are decoded into addresses; other record data is kept as opaque bytes (which may contain
// compression pointers relative to the message it came from: such records are for inspection, not
// re-sending).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/socket_address.h"

namespace tandem::mdns {

inline constexpr size_t kHeaderSize = 12;
// RFC 6762 §17: a Multicast DNS message may be up to 9000 bytes (jumbo frames); nothing legitimate is larger.
inline constexpr size_t kMaxMessageSize = 9000;
inline constexpr size_t kMaxQuestions = 64;
inline constexpr size_t kMaxRecords = 256;     // answers + authorities + additionals
inline constexpr size_t kMaxLabelLength = 63;  // RFC 1035 §2.3.4
inline constexpr size_t kMaxNameLength = 255;  // wire octets, length bytes and the root included
inline constexpr int kMaxPointerHops = 32;

// RFC 1035 §3.2.2, RFC 3596 (AAAA), RFC 4034 (NSEC).
namespace type {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kPtr = 12;
inline constexpr uint16_t kTxt = 16;
inline constexpr uint16_t kAaaa = 28;
inline constexpr uint16_t kSrv = 33;
inline constexpr uint16_t kNsec = 47;
inline constexpr uint16_t kAny = 255;
}  // namespace type
inline constexpr uint16_t kClassIn = 1;

// A domain name as a list of labels (without the root). Comparison is case-insensitive for ASCII (RFC 1035
// §2.3.3, RFC 6762 §16).
class DnsName {
 public:
  DnsName() = default;
  explicit DnsName(std::vector<std::string> labels) : labels_(std::move(labels)) {}
  // "a.b.local" or "a.b.local." → labels; nullopt for empty labels, labels over 63 bytes, names over 255
  // octets. No escapes: a label cannot contain '.'.
  static std::optional<DnsName> Parse(std::string_view text);

  const std::vector<std::string>& labels() const { return labels_; }
  bool empty() const { return labels_.empty(); }
  // Dotted form without the trailing dot ("" for the root).
  std::string ToString() const;
  // Wire length (length octets + labels + the root octet).
  size_t WireLength() const;
  bool Equals(const DnsName& other) const;  // case-insensitive
  bool operator==(const DnsName& other) const { return Equals(other); }
  // The name in lowercase dotted form: a key for maps.
  std::string CanonicalKey() const;

 private:
  std::vector<std::string> labels_;
};

struct Header {
  uint16_t id = 0;
  bool response = false;       // QR
  uint8_t opcode = 0;          // 4 bits; mDNS requires 0 (RFC 6762 §18.3)
  bool authoritative = false;  // AA: set in mDNS responses (§18.4)
  bool truncated = false;      // TC: more known answers follow (§18.5)
  bool recursion_desired = false;
  bool recursion_available = false;
  uint8_t rcode = 0;  // 4 bits; mDNS ignores messages with a non-zero one (§18.11)
};

struct Question {
  DnsName name;
  uint16_t type = type::kA;
  uint16_t qclass = kClassIn;     // without the top bit
  bool unicast_response = false;  // the QU bit (RFC 6762 §5.4)
};

struct ResourceRecord {
  DnsName name;
  uint16_t type = type::kA;
  uint16_t rclass = kClassIn;  // without the top bit
  bool cache_flush = false;    // RFC 6762 §10.2
  uint32_t ttl = 0;            // seconds; 0 announces removal ("goodbye", §10.1)
  IpAddress address;           // A / AAAA
  std::vector<uint8_t> rdata;  // other types, as received
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authorities;
  std::vector<ResourceRecord> additionals;

  // Bounded, allocation-per-record parse (mDNS traffic is low-rate). kTruncated/kMalformed/kLimitExceeded on
  // bad input; trailing bytes after the last record are an error too.
  static Result<Message> Parse(ByteSpan bytes);
  // Appends the encoded message to `out` (cleared first), compressing names. kInvalidArgument when a record
  // does not fit its type (an A record without an IPv4 address) or when the result would exceed
  // kMaxMessageSize.
  Status Serialize(std::vector<uint8_t>& out) const;
};

// A Multicast DNS host name that ICE may carry (draft-ietf-mmusic-mdns-ice-candidates: "<uuid>.local"): ends
// in
// ".local" (RFC 6762 §3, case-insensitive), at least one label before it, labels of letters, digits and
// hyphens (no leading or trailing hyphen) of 1-63 bytes, at most 255 octets in all. A trailing dot is
// accepted.
bool IsValidLocalName(std::string_view name);

}  // namespace tandem::mdns
