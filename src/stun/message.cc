// STUN message parsing, building, integrity and fingerprint (RFC 8489), with the TURN (RFC 8656), TURN-TCP
// (RFC 6062), ICE (RFC 8445) and NAT behaviour discovery (RFC 5780) attribute encodings.
#include "stun/message.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/crypto.h"

namespace tandem::stun {
namespace {

constexpr size_t kAttributeHeaderSize = 4;
// The header's length field is 16 bits and always a multiple of 4 (RFC 8489 §5).
constexpr size_t kMaxBodySize = 0xFFFC;
constexpr size_t kMessageIntegritySize = 20;        // HMAC-SHA1, RFC 8489 §14.5
constexpr size_t kMessageIntegritySha256Size = 32;  // HMAC-SHA256, RFC 8489 §14.6
constexpr size_t kMessageIntegritySha256MinSize = 16;
constexpr size_t kFingerprintSize = 4;
constexpr uint32_t kFingerprintXor = 0x5354554e;  // RFC 8489 §14.7
constexpr size_t kMaxReasonBytes = 763;   // RFC 8489 §14.8: < 128 characters, up to 763 bytes decoded
constexpr uint16_t kMethodMask = 0x0FFF;  // 12 method bits (RFC 8489 §5)

constexpr size_t Padded(size_t n) { return (n + 3) & ~size_t{3}; }

// RFC 8489 §5, Figure 3: the 14-bit message type interleaves the class bits C1 C0 with the method bits as
// M11..M7 C1 M6..M4 C0 M3..M0.
constexpr uint16_t EncodeMessageType(uint16_t method, MessageClass cls) {
  const auto c = static_cast<uint16_t>(cls);
  return static_cast<uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                               ((c & 0x1) << 4) | ((c & 0x2) << 7));
}
constexpr uint16_t DecodeMethod(uint16_t type) {
  return static_cast<uint16_t>((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
}
constexpr MessageClass DecodeClass(uint16_t type) {
  return static_cast<MessageClass>(((type >> 4) & 0x1) | ((type >> 7) & 0x2));
}
static_assert(EncodeMessageType(0x001, MessageClass::kSuccessResponse) == 0x0101);
static_assert(EncodeMessageType(0x003, MessageClass::kErrorResponse) == 0x0113);
static_assert(EncodeMessageType(0x006, MessageClass::kIndication) == 0x0016);
static_assert(DecodeMethod(0x3EEF) == 0x0FFF && DecodeClass(0x0110) == MessageClass::kErrorResponse);

// Longest value a receiver must accept for the string attributes (RFC 8489 §14.3, §14.9, §14.10, §14.14: 763
// bytes decoded; §14.16: ALTERNATE-DOMAIN is at most 255 ASCII characters).
size_t MaxStringBytes(uint16_t type) {
  switch (type) {
    case attr::kUsername:
    case attr::kRealm:
    case attr::kNonce:
    case attr::kSoftware:
      return 763;
    case attr::kAlternateDomain:
      return 255;
    default:
      return 0xFFFF;
  }
}

// Cuts a reason phrase to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view TruncateUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  // s[n] is the first byte dropped; while it continues a sequence, that sequence started before the cut.
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// MAPPED-ADDRESS layout (RFC 8489 §14.1): zero byte, family, port, then 4 or 16 address bytes. A family needs
// its exact length; any other family is unknown.
std::optional<SocketAddress> DecodeAddress(ByteSpan v) {
  if (v.size() < 4) return std::nullopt;
  const uint8_t family = v[1];
  const uint16_t port = LoadBe16(&v[2]);
  if (family == kFamilyIPv4 && v.size() == 4 + 4) {
    return SocketAddress(IpAddress::V4(std::array<uint8_t, 4>{v[4], v[5], v[6], v[7]}), port);
  }
  if (family == kFamilyIPv6 && v.size() == 4 + 16) {
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), &v[4], 16);
    return SocketAddress(IpAddress::V6(b), port);
  }
  return std::nullopt;
}

// Error class and number (RFC 8489 §14.8): class 3..6 in the low 3 bits of byte 2, number 0..99 in byte 3.
// The other reserved bits are ignored as the RFC requires.
std::optional<uint16_t> DecodeErrorClassNumber(uint8_t class_byte, uint8_t number) {
  const uint8_t cls = class_byte & 0x07;
  if (cls < 3 || cls > 6 || number > 99) return std::nullopt;
  return static_cast<uint16_t>(cls * 100 + number);
}

// HMAC inputs per RFC 8489 §14.5/§14.6: the message up to the integrity attribute, with the header's length
// field rewritten to end after that attribute. Only the 20-byte header is copied; the rest is hashed in
// place.
struct IntegrityInput {
  std::array<uint8_t, kHeaderSize> header;
  ByteSpan rest;
};
IntegrityInput MakeIntegrityInput(ByteSpan message, const RawAttribute& a) {
  IntegrityInput in;
  std::memcpy(in.header.data(), message.data(), kHeaderSize);
  const size_t end = a.offset + kAttributeHeaderSize + a.value.size();
  StoreBe16(&in.header[2], static_cast<uint16_t>(end - kHeaderSize));
  in.rest = message.subspan(kHeaderSize, a.offset - kHeaderSize);
  return in;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Parsing.

bool MessageView::LooksLikeStun(ByteSpan bytes) {
  // RFC 8489 §6.3 (and RFC 7983: the first byte is 0..3).
  return bytes.size() >= kHeaderSize && (bytes[0] & 0xC0) == 0 && LoadBe32(&bytes[4]) == kMagicCookie &&
         LoadBe16(&bytes[2]) % 4 == 0;
}

Result<MessageView> MessageView::Parse(ByteSpan bytes) {
  // RFC 8489 §6: header checks.
  if (bytes.size() < kHeaderSize) {
    return MakeError(ErrorCode::kTruncated, "STUN: shorter than the 20-byte header");
  }
  const uint16_t type = LoadBe16(&bytes[0]);
  if ((type & 0xC000) != 0) {
    return MakeError(ErrorCode::kMalformed, "STUN: top two bits of the type are not zero");
  }
  if (LoadBe32(&bytes[4]) != kMagicCookie) return MakeError(ErrorCode::kMalformed, "STUN: bad magic cookie");
  const size_t length = LoadBe16(&bytes[2]);
  if (length % 4 != 0) return MakeError(ErrorCode::kMalformed, "STUN: length is not a multiple of 4");
  if (kHeaderSize + length > bytes.size()) {
    return MakeError(ErrorCode::kTruncated, "STUN: length exceeds the data");
  }
  if (kHeaderSize + length < bytes.size()) {
    return MakeError(ErrorCode::kMalformed, "STUN: bytes after the message");
  }

  MessageView v;
  v.bytes_ = bytes;
  v.method_raw_ = DecodeMethod(type);
  v.method_ = static_cast<Method>(v.method_raw_);
  v.class_ = DecodeClass(type);
  std::memcpy(v.transaction_id_.data(), &bytes[8], v.transaction_id_.size());

  // RFC 8489 §14: TLVs padded to 32 bits. Integrity (§14.5, §14.6): attributes after MESSAGE-INTEGRITY other
  // than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, and after MESSAGE-INTEGRITY-SHA256 all but
  // FINGERPRINT; they are bounds-checked but not indexed, so no getter can see unauthenticated data.
  // FINGERPRINT is last (§14.7): anything after it makes the message malformed.
  ByteReader r(bytes.subspan(kHeaderSize));
  size_t seen = 0;
  bool after_integrity = false;
  bool after_integrity_sha256 = false;
  bool after_fingerprint = false;
  while (!r.empty()) {
    const size_t offset = kHeaderSize + r.position();
    uint16_t at = 0, alen = 0;
    ByteSpan value;
    if (!r.ReadU16(at) || !r.ReadU16(alen)) {
      return MakeError(ErrorCode::kTruncated, "STUN: truncated attribute header");
    }
    if (!r.ReadBytes(alen, value)) {
      return MakeError(ErrorCode::kTruncated, "STUN: attribute runs past the message");
    }
    if (!r.Skip(Padded(alen) - alen)) {
      return MakeError(ErrorCode::kTruncated, "STUN: attribute padding runs past the message");
    }
    if (after_fingerprint) return MakeError(ErrorCode::kMalformed, "STUN: attribute after FINGERPRINT");
    // Every TLV counts, indexed or not: the limit bounds the work as well as the index.
    if (++seen > kMaxAttributes) return MakeError(ErrorCode::kLimitExceeded, "STUN: too many attributes");

    bool index = true;
    if (after_integrity_sha256) {
      index = at == attr::kFingerprint;
    } else if (after_integrity) {
      index = at == attr::kFingerprint || at == attr::kMessageIntegritySha256;
    }
    if (!index) continue;
    if (at == attr::kMessageIntegrity) after_integrity = true;
    if (at == attr::kMessageIntegritySha256) after_integrity_sha256 = true;
    if (at == attr::kFingerprint) after_fingerprint = true;
    v.attributes_[v.attribute_count_++] = RawAttribute{at, static_cast<uint32_t>(offset), value};
  }
  return v;
}

const RawAttribute* MessageView::Find(uint16_t type) const {
  for (size_t i = 0; i < attribute_count_; ++i) {
    if (attributes_[i].type == type) return &attributes_[i];
  }
  return nullptr;
}

std::optional<SocketAddress> MessageView::GetAddress(uint16_t type) const {
  const RawAttribute* a = Find(type);
  if (a == nullptr) return std::nullopt;
  return DecodeAddress(a->value);
}

std::optional<SocketAddress> MessageView::GetXorAddress(uint16_t type) const {
  auto addr = GetAddress(type);
  if (!addr) return std::nullopt;
  return XorAddress(*addr, transaction_id_);
}

size_t MessageView::GetAllXorAddresses(uint16_t type, std::span<SocketAddress> out, bool* malformed) const {
  size_t n = 0;
  if (malformed != nullptr) *malformed = false;
  for (const RawAttribute& a : attributes()) {
    if (a.type != type) continue;
    auto addr = DecodeAddress(a.value);
    if (!addr) {
      if (malformed != nullptr) *malformed = true;
      continue;
    }
    if (n < out.size()) out[n++] = XorAddress(*addr, transaction_id_);
  }
  return n;
}

std::optional<uint32_t> MessageView::GetU32(uint16_t type) const {
  const RawAttribute* a = Find(type);
  if (a == nullptr || a->value.size() != 4) return std::nullopt;
  return LoadBe32(a->value.data());
}

std::optional<uint64_t> MessageView::GetU64(uint16_t type) const {
  const RawAttribute* a = Find(type);
  if (a == nullptr || a->value.size() != 8) return std::nullopt;
  return (uint64_t{LoadBe32(a->value.data())} << 32) | LoadBe32(a->value.data() + 4);
}

std::optional<std::string_view> MessageView::GetString(uint16_t type) const {
  const RawAttribute* a = Find(type);
  if (a == nullptr || a->value.size() > MaxStringBytes(type)) return std::nullopt;
  return AsStringView(a->value);
}

std::optional<ByteSpan> MessageView::GetBytes(uint16_t type) const {
  const RawAttribute* a = Find(type);
  if (a == nullptr) return std::nullopt;
  return a->value;
}

std::optional<ErrorCodeValue> MessageView::GetErrorCode() const {
  const RawAttribute* a = Find(attr::kErrorCode);
  if (a == nullptr || a->value.size() < 4 || a->value.size() - 4 > kMaxReasonBytes) return std::nullopt;
  auto code = DecodeErrorClassNumber(a->value[2], a->value[3]);
  if (!code) return std::nullopt;
  return ErrorCodeValue{*code, AsStringView(a->value.subspan(4))};
}

std::optional<AddressErrorCodeValue> MessageView::GetAddressErrorCode() const {
  // RFC 8656 §18.12: family (8 bits), reserved (13 bits), class (3 bits), number (8 bits), reason phrase.
  const RawAttribute* a = Find(attr::kAddressErrorCode);
  if (a == nullptr || a->value.size() < 4 || a->value.size() - 4 > kMaxReasonBytes) return std::nullopt;
  const uint8_t family = a->value[0];
  if (family != kFamilyIPv4 && family != kFamilyIPv6) return std::nullopt;
  auto code = DecodeErrorClassNumber(a->value[2], a->value[3]);
  if (!code) return std::nullopt;
  return AddressErrorCodeValue{family, *code, AsStringView(a->value.subspan(4))};
}

std::vector<uint16_t> MessageView::GetUnknownAttributes() const {
  std::vector<uint16_t> out;
  const RawAttribute* a = Find(attr::kUnknownAttributes);
  if (a == nullptr || a->value.size() % 2 != 0) return out;
  out.reserve(a->value.size() / 2);
  for (size_t i = 0; i < a->value.size(); i += 2) out.push_back(LoadBe16(&a->value[i]));
  return out;
}

std::optional<uint16_t> MessageView::GetChannelNumber() const {
  // RFC 8656 §18.1: 16-bit channel number followed by 16 RFFU bits (ignored on receipt).
  const RawAttribute* a = Find(attr::kChannelNumber);
  if (a == nullptr || a->value.size() != 4) return std::nullopt;
  return LoadBe16(a->value.data());
}

std::optional<uint8_t> MessageView::GetRequestedTransport() const {
  // RFC 8656 §18.8: protocol (8 bits) followed by 24 RFFU bits.
  const RawAttribute* a = Find(attr::kRequestedTransport);
  if (a == nullptr || a->value.size() != 4) return std::nullopt;
  return a->value[0];
}

std::optional<uint8_t> MessageView::GetAddressFamily(uint16_t type) const {
  // RFC 8656 §18.6 / §18.11: family (8 bits) followed by 24 reserved bits.
  const RawAttribute* a = Find(type);
  if (a == nullptr || a->value.size() != 4) return std::nullopt;
  return a->value[0];
}

std::optional<bool> MessageView::GetEvenPortReserve() const {
  // RFC 8656 §18.7: one byte, R in the top bit, the other 7 bits RFFU; the attribute is padded like any
  // other.
  const RawAttribute* a = Find(attr::kEvenPort);
  if (a == nullptr || a->value.size() != 1) return std::nullopt;
  return (a->value[0] & 0x80) != 0;
}

std::optional<MessageView::ChangeRequest> MessageView::GetChangeRequest() const {
  // RFC 5780 §7.2: 32 bits, 0x4 = change IP, 0x2 = change port.
  auto flags = GetU32(attr::kChangeRequest);
  if (!flags) return std::nullopt;
  return ChangeRequest{(*flags & 0x4) != 0, (*flags & 0x2) != 0};
}

std::optional<PasswordAlgorithm> MessageView::GetPasswordAlgorithm() const {
  // RFC 8489 §14.12: algorithm (16 bits), parameters length (16 bits), parameters padded to 32 bits.
  const RawAttribute* a = Find(attr::kPasswordAlgorithm);
  if (a == nullptr) return std::nullopt;
  ByteReader r(a->value);
  uint16_t algorithm = 0, params_len = 0;
  if (!r.ReadU16(algorithm) || !r.ReadU16(params_len) || params_len > r.remaining()) return std::nullopt;
  return static_cast<PasswordAlgorithm>(algorithm);
}

std::vector<PasswordAlgorithm> MessageView::GetPasswordAlgorithms() const {
  // RFC 8489 §14.11: a list of PASSWORD-ALGORITHM-shaped entries, each one's parameters padded to 32 bits.
  // The last entry's padding may have been counted as attribute padding instead, so only the parameters must
  // fit.
  std::vector<PasswordAlgorithm> out;
  const RawAttribute* a = Find(attr::kPasswordAlgorithms);
  if (a == nullptr) return out;
  ByteReader r(a->value);
  while (!r.empty()) {
    uint16_t algorithm = 0, params_len = 0;
    if (!r.ReadU16(algorithm) || !r.ReadU16(params_len) || params_len > r.remaining()) return {};
    r.Skip(std::min(Padded(params_len), r.remaining()));
    out.push_back(static_cast<PasswordAlgorithm>(algorithm));
  }
  return out;
}

std::vector<uint16_t> MessageView::UnknownComprehensionRequired(std::span<const uint16_t> known) const {
  std::vector<uint16_t> out;
  for (const RawAttribute& a : attributes()) {
    if (!attr::IsComprehensionRequired(a.type)) continue;
    if (std::find(known.begin(), known.end(), a.type) != known.end()) continue;
    if (std::find(out.begin(), out.end(), a.type) != out.end()) continue;
    out.push_back(a.type);
  }
  return out;
}

bool MessageView::VerifyMessageIntegrity(ByteSpan key) const {
  const RawAttribute* a = Find(attr::kMessageIntegrity);
  if (a == nullptr || key.empty() || a->value.size() != kMessageIntegritySize) return false;
  const IntegrityInput in = MakeIntegrityInput(bytes_, *a);
  const crypto::Sha1Digest mac = crypto::HmacSha1(key, in.header, in.rest);
  return crypto::ConstantTimeEqual(mac, a->value);
}

bool MessageView::VerifyMessageIntegritySha256(ByteSpan key) const {
  // RFC 8489 §14.6: the value may be a truncated HMAC-SHA256: at least 16 bytes, a multiple of 4, at most 32.
  const RawAttribute* a = Find(attr::kMessageIntegritySha256);
  if (a == nullptr || key.empty()) return false;
  const size_t n = a->value.size();
  if (n < kMessageIntegritySha256MinSize || n > kMessageIntegritySha256Size || n % 4 != 0) return false;
  const IntegrityInput in = MakeIntegrityInput(bytes_, *a);
  const crypto::Sha256Digest mac = crypto::HmacSha256(key, in.header, in.rest);
  return crypto::ConstantTimeEqual(ByteSpan(mac).first(n), a->value);
}

bool MessageView::HasValidFingerprint() const {
  // RFC 8489 §14.7. Parse already rejects attributes after FINGERPRINT; checking that it ends the message
  // also means the header's length field already counts it, as the CRC requires.
  const RawAttribute* a = Find(attr::kFingerprint);
  if (a == nullptr || a->value.size() != kFingerprintSize) return false;
  if (a->offset + kAttributeHeaderSize + kFingerprintSize != bytes_.size()) return false;
  const uint32_t expected = crypto::Crc32(bytes_.first(a->offset)) ^ kFingerprintXor;
  return LoadBe32(a->value.data()) == expected;
}

// ---------------------------------------------------------------------------------------------------------------
// Building.

MessageBuilder::MessageBuilder(std::vector<uint8_t>& out, Method method, MessageClass cls,
                               const TransactionId& tid)
    : out_(out) {
  const auto m = static_cast<uint16_t>(method);
  if ((m & ~kMethodMask) != 0) throw std::invalid_argument("STUN: method does not fit in 12 bits");
  out_.clear();
  ByteWriter w(out_);
  w.WriteU16(EncodeMessageType(m, cls));
  w.WriteU16(0);
  w.WriteU32(kMagicCookie);
  w.WriteBytes(tid);
}

void MessageBuilder::BeginAttribute(uint16_t type, size_t value_len) {
  if (sealed_) throw std::logic_error("STUN: attribute added after FINGERPRINT");
  if (value_len > 0xFFFF ||
      out_.size() - kHeaderSize + kAttributeHeaderSize + Padded(value_len) > kMaxBodySize) {
    throw std::length_error("STUN: message would exceed the 16-bit length field");
  }
  ByteWriter w(out_);
  w.WriteU16(type);
  w.WriteU16(static_cast<uint16_t>(value_len));
}

void MessageBuilder::EndAttribute(size_t value_len) {
  // RFC 8489 §14: padding bytes are zero on sending.
  out_.insert(out_.end(), Padded(value_len) - value_len, 0);
  SetLength(out_.size());
}

void MessageBuilder::SetLength(size_t total) {
  StoreBe16(&out_[2], static_cast<uint16_t>(total - kHeaderSize));
}

MessageBuilder& MessageBuilder::AddAddress(uint16_t type, const SocketAddress& addr) {
  if (!addr.IsSet()) throw std::invalid_argument("STUN: address without a family");
  const size_t ip_len = addr.ip().size();
  BeginAttribute(type, 4 + ip_len);
  ByteWriter w(out_);
  w.WriteU8(0);
  w.WriteU8(addr.ip().is_v4() ? kFamilyIPv4 : kFamilyIPv6);
  w.WriteU16(addr.port());
  w.WriteBytes(ByteSpan(addr.ip().bytes()).first(ip_len));
  EndAttribute(4 + ip_len);
  return *this;
}

MessageBuilder& MessageBuilder::AddXorAddress(uint16_t type, const SocketAddress& addr) {
  // The transaction id is already in the header (bytes 8..19).
  TransactionId tid;
  std::memcpy(tid.data(), &out_[8], tid.size());
  return AddAddress(type, XorAddress(addr, tid));
}

MessageBuilder& MessageBuilder::AddU32(uint16_t type, uint32_t value) {
  BeginAttribute(type, 4);
  ByteWriter(out_).WriteU32(value);
  EndAttribute(4);
  return *this;
}

MessageBuilder& MessageBuilder::AddU64(uint16_t type, uint64_t value) {
  BeginAttribute(type, 8);
  ByteWriter(out_).WriteU64(value);
  EndAttribute(8);
  return *this;
}

MessageBuilder& MessageBuilder::AddString(uint16_t type, std::string_view value) {
  return AddBytes(type, AsBytes(value));
}

MessageBuilder& MessageBuilder::AddBytes(uint16_t type, ByteSpan value) {
  BeginAttribute(type, value.size());
  ByteWriter(out_).WriteBytes(value);
  EndAttribute(value.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddEmpty(uint16_t type) {
  BeginAttribute(type, 0);
  EndAttribute(0);
  return *this;
}

MessageBuilder& MessageBuilder::AddErrorCode(uint16_t code, std::string_view reason) {
  // RFC 8489 §14.8: 21 reserved zero bits, class (hundreds digit) in 3 bits, number (code % 100) in 8 bits.
  if (code < 300 || code > 699) throw std::invalid_argument("STUN: error code outside 300..699");
  const std::string_view text =
      TruncateUtf8(reason.empty() ? error::DefaultReason(code) : reason, kMaxReasonBytes);
  BeginAttribute(attr::kErrorCode, 4 + text.size());
  ByteWriter w(out_);
  w.WriteU16(0);
  w.WriteU8(static_cast<uint8_t>(code / 100));
  w.WriteU8(static_cast<uint8_t>(code % 100));
  w.WriteBytes(AsBytes(text));
  EndAttribute(4 + text.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddUnknownAttributes(std::span<const uint16_t> types) {
  // RFC 8489 §14.13: a list of 16-bit types with ordinary attribute padding (not RFC 3489's repeated last
  // type).
  const size_t len = 2 * types.size();
  BeginAttribute(attr::kUnknownAttributes, len);
  ByteWriter w(out_);
  for (uint16_t t : types) w.WriteU16(t);
  EndAttribute(len);
  return *this;
}

MessageBuilder& MessageBuilder::AddChannelNumber(uint16_t channel) {
  // RFC 8656 §18.1: channel number, then 16 RFFU bits set to zero.
  return AddU32(attr::kChannelNumber, uint32_t{channel} << 16);
}

MessageBuilder& MessageBuilder::AddRequestedTransport(uint8_t protocol) {
  // RFC 8656 §18.8: protocol, then 24 RFFU bits set to zero.
  return AddU32(attr::kRequestedTransport, uint32_t{protocol} << 24);
}

MessageBuilder& MessageBuilder::AddAddressFamily(uint16_t type, uint8_t family) {
  // RFC 8656 §18.6 / §18.11: family, then 24 reserved bits set to zero.
  return AddU32(type, uint32_t{family} << 24);
}

MessageBuilder& MessageBuilder::AddEvenPort(bool reserve) {
  // RFC 8656 §18.7: one byte with R in the top bit, padded to 4 like any attribute.
  const uint8_t value = reserve ? 0x80 : 0x00;
  return AddBytes(attr::kEvenPort, ByteSpan(&value, 1));
}

MessageBuilder& MessageBuilder::AddChangeRequest(bool change_ip, bool change_port) {
  // RFC 5780 §7.2: A (0x4) change IP, B (0x2) change port.
  return AddU32(attr::kChangeRequest, (change_ip ? 0x4u : 0u) | (change_port ? 0x2u : 0u));
}

MessageBuilder& MessageBuilder::AddPasswordAlgorithm(PasswordAlgorithm algorithm) {
  // RFC 8489 §14.12: algorithm and a zero parameter length (MD5 and SHA-256 have no parameters, §18.5).
  return AddU32(attr::kPasswordAlgorithm, uint32_t{static_cast<uint16_t>(algorithm)} << 16);
}

MessageBuilder& MessageBuilder::AddPasswordAlgorithms(std::span<const PasswordAlgorithm> algorithms) {
  // RFC 8489 §14.11: a list of (algorithm, zero parameter length) entries.
  const size_t len = 4 * algorithms.size();
  BeginAttribute(attr::kPasswordAlgorithms, len);
  ByteWriter w(out_);
  for (PasswordAlgorithm a : algorithms) {
    w.WriteU16(static_cast<uint16_t>(a));
    w.WriteU16(0);
  }
  EndAttribute(len);
  return *this;
}

MessageBuilder& MessageBuilder::AddAddressErrorCode(uint8_t family, uint16_t code, std::string_view reason) {
  // RFC 8656 §18.12: family, 13 reserved bits, class (3 bits), number (8 bits), reason phrase.
  if (code < 300 || code > 699) throw std::invalid_argument("STUN: error code outside 300..699");
  const std::string_view text =
      TruncateUtf8(reason.empty() ? error::DefaultReason(code) : reason, kMaxReasonBytes);
  BeginAttribute(attr::kAddressErrorCode, 4 + text.size());
  ByteWriter w(out_);
  w.WriteU8(family);
  w.WriteU8(0);
  w.WriteU8(static_cast<uint8_t>(code / 100));
  w.WriteU8(static_cast<uint8_t>(code % 100));
  w.WriteBytes(AsBytes(text));
  EndAttribute(4 + text.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddMessageIntegrity(ByteSpan key) {
  // RFC 8489 §14.5: HMAC-SHA1 over everything written so far, with the length field already counting this
  // attribute. Writing the TLV header first and setting the length then hashing the bytes before that header
  // is exactly that, with no copy.
  if (key.empty()) throw std::invalid_argument("STUN: empty MESSAGE-INTEGRITY key");
  const size_t start = out_.size();
  BeginAttribute(attr::kMessageIntegrity, kMessageIntegritySize);
  SetLength(out_.size() + kMessageIntegritySize);
  const crypto::Sha1Digest mac = crypto::HmacSha1(key, ByteSpan(out_.data(), start));
  ByteWriter(out_).WriteBytes(mac);
  EndAttribute(kMessageIntegritySize);
  return *this;
}

MessageBuilder& MessageBuilder::AddMessageIntegritySha256(ByteSpan key) {
  // RFC 8489 §14.6, full 32-byte value (truncation is only for STUN Usages that allow it).
  if (key.empty()) throw std::invalid_argument("STUN: empty MESSAGE-INTEGRITY-SHA256 key");
  const size_t start = out_.size();
  BeginAttribute(attr::kMessageIntegritySha256, kMessageIntegritySha256Size);
  SetLength(out_.size() + kMessageIntegritySha256Size);
  const crypto::Sha256Digest mac = crypto::HmacSha256(key, ByteSpan(out_.data(), start));
  ByteWriter(out_).WriteBytes(mac);
  EndAttribute(kMessageIntegritySha256Size);
  return *this;
}

MessageBuilder& MessageBuilder::AddFingerprint() {
  // RFC 8489 §14.7: CRC-32 of everything before this attribute, length field counting it, XOR 0x5354554e.
  const size_t start = out_.size();
  BeginAttribute(attr::kFingerprint, kFingerprintSize);
  SetLength(out_.size() + kFingerprintSize);
  const uint32_t crc = crypto::Crc32(ByteSpan(out_.data(), start)) ^ kFingerprintXor;
  ByteWriter(out_).WriteU32(crc);
  EndAttribute(kFingerprintSize);
  sealed_ = true;
  return *this;
}

ByteSpan MessageBuilder::Finish() { return ByteSpan(out_.data(), out_.size()); }

// ---------------------------------------------------------------------------------------------------------------
// Credentials and helpers.

std::vector<uint8_t> LongTermKey(std::string_view username, std::string_view realm, std::string_view password,
                                 PasswordAlgorithm algorithm) {
  // RFC 8489 §9.2.2: key = H(username ":" OpaqueString(realm) ":" OpaqueString(password)). The strings are
  // hashed as given: OpaqueString/SASLprep (RFC 8265 / RFC 4013) preparation is the caller's, done once when
  // credentials are configured, not per packet.
  std::string input;
  input.reserve(username.size() + realm.size() + password.size() + 2);
  input.append(username).append(1, ':').append(realm).append(1, ':').append(password);
  switch (algorithm) {
    case PasswordAlgorithm::kMd5: {
      const crypto::Md5Digest d = crypto::Md5(AsBytes(input));
      return {d.begin(), d.end()};
    }
    case PasswordAlgorithm::kSha256: {
      const crypto::Sha256Digest d = crypto::Sha256(AsBytes(input));
      return {d.begin(), d.end()};
    }
  }
  // A value straight off the wire that the caller did not check: never fall back to a guessable key.
  throw std::invalid_argument("STUN: unsupported password algorithm");
}

std::array<uint8_t, 32> UserHash(std::string_view username, std::string_view realm) {
  // RFC 8489 §14.4: SHA-256(OpaqueString(username) ":" OpaqueString(realm)); preparation as for LongTermKey.
  std::string input;
  input.reserve(username.size() + realm.size() + 1);
  input.append(username).append(1, ':').append(realm);
  return crypto::Sha256(AsBytes(input));
}

SocketAddress XorAddress(const SocketAddress& addr, const TransactionId& tid) {
  // RFC 8489 §14.2: port XOR the cookie's top 16 bits; IPv4 XOR the cookie; IPv6 XOR cookie || transaction
  // id.
  std::array<uint8_t, 16> mask;
  StoreBe32(mask.data(), kMagicCookie);
  std::memcpy(mask.data() + 4, tid.data(), tid.size());
  const auto port = static_cast<uint16_t>(addr.port() ^ (kMagicCookie >> 16));
  std::array<uint8_t, 16> b = addr.ip().bytes();
  for (size_t i = 0; i < addr.ip().size(); ++i) b[i] ^= mask[i];
  if (addr.ip().is_v4()) {
    return SocketAddress(IpAddress::V4(std::array<uint8_t, 4>{b[0], b[1], b[2], b[3]}), port);
  }
  if (addr.ip().is_v6()) return SocketAddress(IpAddress::V6(b), port);
  return addr;
}

}  // namespace tandem::stun
