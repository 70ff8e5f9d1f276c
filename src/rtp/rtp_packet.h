// RTP packets (RFC 3550 §5.1) with RFC 8285 header extensions: a zero-copy parsed view, a builder that writes
// into a caller buffer, and in-place rewriting of header fields (what an SFU or an RTX sender changes).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//   |                           timestamp                           |
//   |           synchronization source (SSRC) identifier            |
//   |            contributing source (CSRC) identifiers (CC)        |
//   |   profile (0xBEDE / 0x100x)   |  extension length (words)     |  (X = 1, RFC 3550 §5.3.1)
//   |                  extension elements ...                       |
//   |                  payload ... [padding ... | pad count]        |  (P = 1)
//
// Parsing allocates nothing: RtpPacketView keeps the caller's span and an inline index of up to
// kMaxExtensionElements extension elements (RFC 8285 §4.2 one-byte and §4.3 two-byte forms).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/bytes.h"
#include "core/result.h"

namespace tandem::rtp {

inline constexpr size_t kFixedHeaderSize = 12;       // RFC 3550 §5.1
inline constexpr size_t kMaxPacketSize = 65535;      // a UDP payload; larger input is refused
inline constexpr size_t kMaxCsrcs = 15;              // CC is 4 bits
inline constexpr size_t kMaxExtensionElements = 32;  // more is refused (a real sender uses fewer than 10)
inline constexpr uint16_t kOneByteExtensionProfile = 0xBEDE;  // RFC 8285 §4.2
inline constexpr uint16_t kTwoByteExtensionProfile = 0x1000;  // RFC 8285 §4.3: 0x100 then 4 "appbits"
inline constexpr uint8_t kMaxOneByteExtensionId = 14;         // RFC 8285 §4.2: 15 is reserved
inline constexpr size_t kMaxOneByteExtensionSize = 16;        // RFC 8285 §4.2: L+1 with 4-bit L
inline constexpr size_t kMaxTwoByteExtensionSize = 255;       // RFC 8285 §4.3

enum class ExtensionForm : uint8_t {
  kNone,     // X bit clear
  kOneByte,  // profile 0xBEDE (RFC 8285 §4.2)
  kTwoByte,  // profile 0x100X (RFC 8285 §4.3)
  kOther,    // some other profile: the block is kept raw, no elements
};

// One extension element inside the packet: its id and where its value lies.
struct ExtensionElement {
  uint8_t id = 0;
  uint8_t size = 0;     // value length; 0 only in the two-byte form
  uint16_t offset = 0;  // of the value, from the start of the packet
};

// A parsed RTP packet: a view over the caller's bytes, valid while they are.
class RtpPacketView {
 public:
  // RFC 3550 §5.1 and Appendix A.1 header validity: version 2, the CSRC list, the extension block and the
  // padding count all inside the packet, a non-zero padding count; at most kMaxPacketSize bytes. Extension
  // elements are indexed (ids 0 are padding; one-byte id 15 ends the list, RFC 8285 §4.2); an element that
  // runs past the block ends the list and sets extensions_truncated() (the packet is still accepted, as
  // receivers ignore what they cannot parse). More than kMaxExtensionElements elements: kLimitExceeded.
  static Result<RtpPacketView> Parse(ByteSpan packet);

  bool has_padding() const { return (bytes_[0] & 0x20) != 0; }
  bool has_extension() const { return (bytes_[0] & 0x10) != 0; }
  bool marker() const { return (bytes_[1] & 0x80) != 0; }
  uint8_t payload_type() const { return bytes_[1] & 0x7F; }
  uint16_t sequence_number() const { return LoadBe16(&bytes_[2]); }
  uint32_t timestamp() const { return LoadBe32(&bytes_[4]); }
  uint32_t ssrc() const { return LoadBe32(&bytes_[8]); }
  size_t csrc_count() const { return bytes_[0] & 0x0F; }
  uint32_t csrc(size_t i) const { return LoadBe32(&bytes_[kFixedHeaderSize + 4 * i]); }

  ExtensionForm extension_form() const { return form_; }
  uint16_t extension_profile() const { return extension_profile_; }
  // The extension block's elements area (after the 4-byte extension header), raw.
  ByteSpan extension_block() const { return bytes_.subspan(extension_offset_, extension_size_); }
  std::span<const ExtensionElement> extensions() const { return {elements_.data(), element_count_}; }
  bool extensions_truncated() const { return extensions_truncated_; }
  // The first element with this id (RFC 8285 leaves duplicates undefined; the first wins), or nullopt.
  std::optional<ByteSpan> GetExtension(uint8_t id) const;
  const ExtensionElement* FindExtension(uint8_t id) const;

  size_t header_size() const { return header_size_; }  // fixed header + CSRCs + extension block
  ByteSpan payload() const { return bytes_.subspan(header_size_, payload_size_); }
  size_t payload_size() const { return payload_size_; }
  size_t padding_size() const { return padding_size_; }
  ByteSpan bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  ByteSpan bytes_;
  uint16_t header_size_ = 0;
  uint16_t payload_size_ = 0;
  uint8_t padding_size_ = 0;
  ExtensionForm form_ = ExtensionForm::kNone;
  bool extensions_truncated_ = false;
  uint16_t extension_profile_ = 0;
  uint16_t extension_offset_ = 0;
  uint16_t extension_size_ = 0;
  uint8_t element_count_ = 0;
  std::array<ExtensionElement, kMaxExtensionElements> elements_{};
};

// A cheap check used before parsing: at least a fixed header and version 2.
inline bool LooksLikeRtpOrRtcp(ByteSpan packet) { return packet.size() >= 4 && (packet[0] >> 6) == 2; }

// Builds an RTP packet into a caller buffer. Extension values are copied into inline storage when set; the
// form is chosen at build time: one-byte (RFC 8285 §4.2) when every id is 1..14 and every value 1..16 bytes,
// otherwise two-byte (§4.3; the peer must have offered a=extmap-allow-mixed, RFC 8285 §6), which can be
// forced with UseTwoByteExtensions(). The builder allocates nothing.
class RtpPacketBuilder {
 public:
  static constexpr size_t kMaxExtensions = 16;
  static constexpr size_t kExtensionStorage = 512;

  RtpPacketBuilder& SetMarker(bool marker) {
    marker_ = marker;
    return *this;
  }
  RtpPacketBuilder& SetPayloadType(uint8_t pt) {
    payload_type_ = pt & 0x7F;
    return *this;
  }
  RtpPacketBuilder& SetSequenceNumber(uint16_t seq) {
    sequence_number_ = seq;
    return *this;
  }
  RtpPacketBuilder& SetTimestamp(uint32_t ts) {
    timestamp_ = ts;
    return *this;
  }
  RtpPacketBuilder& SetSsrc(uint32_t ssrc) {
    ssrc_ = ssrc;
    return *this;
  }
  // False when 15 CSRCs are already set.
  bool AddCsrc(uint32_t csrc);
  // Sets (or replaces) the value of extension `id` (1..255). False when the id is 0, the value is longer than
  // 255 bytes, or the inline storage is full.
  bool SetExtension(uint8_t id, ByteSpan value);
  bool RemoveExtension(uint8_t id);
  RtpPacketBuilder& UseTwoByteExtensions(bool force) {
    force_two_byte_ = force;
    return *this;
  }
  void ClearExtensions() {
    extension_count_ = 0;
    extension_bytes_used_ = 0;
  }

  ExtensionForm extension_form() const;
  // Fixed header + CSRCs + extension block (padded to 32 bits).
  size_t HeaderSize() const;
  // Writes the header into `out` and returns its size; the payload goes right after it (zero-copy packetizers
  // write there directly). kLimitExceeded when `out` is too small.
  Result<size_t> WriteHeader(MutableByteSpan out) const;
  // Writes header + payload + `padding` bytes of RFC 3550 padding (0: none; otherwise the last byte holds the
  // count) and returns the packet's length.
  Result<size_t> Build(MutableByteSpan out, ByteSpan payload, uint8_t padding = 0) const;

 private:
  struct Entry {
    uint8_t id = 0;
    uint8_t size = 0;
    uint16_t offset = 0;  // into extension_storage_
  };
  size_t ExtensionBlockSize() const;  // 4-byte extension header + elements + padding; 0 without extensions

  bool marker_ = false;
  uint8_t payload_type_ = 0;
  uint16_t sequence_number_ = 0;
  uint32_t timestamp_ = 0;
  uint32_t ssrc_ = 0;
  uint8_t csrc_count_ = 0;
  std::array<uint32_t, kMaxCsrcs> csrcs_{};
  bool force_two_byte_ = false;
  uint8_t extension_count_ = 0;
  uint16_t extension_bytes_used_ = 0;
  std::array<Entry, kMaxExtensions> extensions_{};
  std::array<uint8_t, kExtensionStorage> extension_storage_{};
};

// In-place rewriting of a packet that RtpPacketView::Parse accepted (an SFU rewrites SSRC, sequence number,
// timestamp and payload type; a pacer stamps abs-send-time and the transport-wide sequence number at send
// time). The packet must be at least kFixedHeaderSize bytes (a programmer error otherwise).
void WriteMarker(MutableByteSpan packet, bool marker);
void WritePayloadType(MutableByteSpan packet, uint8_t payload_type);
void WriteSequenceNumber(MutableByteSpan packet, uint16_t seq);
void WriteTimestamp(MutableByteSpan packet, uint32_t timestamp);
void WriteSsrc(MutableByteSpan packet, uint32_t ssrc);
// The writable value of extension `id` in `packet` (which `view` was parsed from), or an empty span when the
// packet does not carry it. Values keep their size: a rewrite must fit.
MutableByteSpan MutableExtension(MutableByteSpan packet, const RtpPacketView& view, uint8_t id);

}  // namespace tandem::rtp
