// Typed RTP header extensions and the id <-> URI map negotiated with a=extmap (RFC 8285 §5-§6).
//
// Each extension is a struct with the URI, a Value type and
//   static std::optional<Value> Parse(ByteSpan value);           // nullopt when malformed
//   static size_t ValueSize(const Value&);
//   static bool Write(MutableByteSpan out, const Value&);        // out.size() == ValueSize(v)
// and the free templates GetExtension<Ext>(view, map) / SetExtension<Ext>(builder, map, value) look the id up
// in the ExtensionMap.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.h"
#include "core/time.h"
#include "rtp/rtp_packet.h"

namespace tandem::rtp {

enum class ExtensionType : uint8_t {
  kNone = 0,
  kMid,                      // RFC 8843 §15
  kRtpStreamId,              // RFC 8852 §3.1 (rid)
  kRepairedRtpStreamId,      // RFC 8852 §3.2 (repaired-rid)
  kAbsSendTime,              // webrtc.org abs-send-time
  kTransportSequenceNumber,  // draft-holmer-rmcat-transport-wide-cc-extensions-01 §2
  kAudioLevel,               // RFC 6464
  kVideoOrientation,         // 3GPP TS 26.114 §7.4.5 (CVO)
};
inline constexpr size_t kExtensionTypeCount = 8;

const char* ToString(ExtensionType type);

// The URIs of a=extmap lines.
namespace uri {
inline constexpr std::string_view kMid = "urn:ietf:params:rtp-hdrext:sdes:mid";
inline constexpr std::string_view kRtpStreamId = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
inline constexpr std::string_view kRepairedRtpStreamId =
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
inline constexpr std::string_view kAbsSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
inline constexpr std::string_view kTransportSequenceNumber =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
inline constexpr std::string_view kAudioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
inline constexpr std::string_view kVideoOrientation = "urn:3gpp:video-orientation";
}  // namespace uri

// The URI of a type ("" for kNone) and the type of a URI (kNone when we do not implement it).
std::string_view UriOf(ExtensionType type);
ExtensionType ExtensionTypeFromUri(std::string_view uri);

// Which local id carries which extension in one BUNDLE transport (RFC 8285 §5: ids 1-14 for the one-byte
// form, 1-255 with the two-byte form; RFC 8843 §9.1: one id space for the whole bundle).
class ExtensionMap {
 public:
  // False when the id is 0, the type is kNone, or the id is already bound to another type. Re-registering a
  // type under a new id moves it.
  bool Register(uint8_t id, ExtensionType type);
  // Register by a=extmap URI. False for unknown URIs (they are ignored, RFC 8285 §5) or an id conflict.
  bool RegisterUri(uint8_t id, std::string_view uri);
  void Unregister(ExtensionType type);
  void Clear();

  // 0 when the type is not registered.
  uint8_t IdOf(ExtensionType type) const { return ids_[static_cast<size_t>(type)]; }
  ExtensionType TypeOf(uint8_t id) const { return types_[id]; }
  bool IsRegistered(ExtensionType type) const { return IdOf(type) != 0; }

 private:
  std::array<ExtensionType, 256> types_{};
  std::array<uint8_t, kExtensionTypeCount> ids_{};
};

// RFC 8843 §15 / RFC 8852 §3: an SDES item carried as an extension: 1-255 bytes of text (mid tokens and
// rid-ids are alphanumeric, RFC 8851 §10). Trailing NULs are stripped, as some senders pad the value.
struct SdesStringExtension {
  using Value = std::string_view;  // a view into the packet
  static constexpr size_t kMaxSize = 255;
  static std::optional<Value> Parse(ByteSpan value);
  static size_t ValueSize(Value v) { return v.size(); }
  static bool Write(MutableByteSpan out, Value v);
};
struct MidExtension : SdesStringExtension {
  static constexpr ExtensionType kType = ExtensionType::kMid;
  static constexpr std::string_view kUri = uri::kMid;
};
struct RtpStreamIdExtension : SdesStringExtension {
  static constexpr ExtensionType kType = ExtensionType::kRtpStreamId;
  static constexpr std::string_view kUri = uri::kRtpStreamId;
};
struct RepairedRtpStreamIdExtension : SdesStringExtension {
  static constexpr ExtensionType kType = ExtensionType::kRepairedRtpStreamId;
  static constexpr std::string_view kUri = uri::kRepairedRtpStreamId;
};

// abs-send-time: the send time as a 24-bit 6.18 fixed-point number of seconds (wraps every 64 s).
struct AbsSendTimeExtension {
  static constexpr ExtensionType kType = ExtensionType::kAbsSendTime;
  static constexpr std::string_view kUri = uri::kAbsSendTime;
  using Value = uint32_t;  // 24 bits used
  static std::optional<Value> Parse(ByteSpan value);
  static size_t ValueSize(Value) { return 3; }
  static bool Write(MutableByteSpan out, Value v);
  // The 6.18 representation of a time (only differences matter: any epoch works).
  static Value FromTimestamp(Timestamp t) {
    return static_cast<Value>(((static_cast<uint64_t>(t.us()) << 18) / 1000000) & 0xFFFFFF);
  }
  // 6.18 units to microseconds.
  static int64_t ToMicros(int64_t units) { return units * 1000000 / (1 << 18); }
};

// draft-holmer-rmcat-transport-wide-cc-extensions-01 §2: a 16-bit transport-wide sequence number.
struct TransportSequenceNumberExtension {
  static constexpr ExtensionType kType = ExtensionType::kTransportSequenceNumber;
  static constexpr std::string_view kUri = uri::kTransportSequenceNumber;
  using Value = uint16_t;
  static std::optional<Value> Parse(ByteSpan value);
  static size_t ValueSize(Value) { return 2; }
  static bool Write(MutableByteSpan out, Value v);
};

// RFC 6464 §3: voice activity flag and the level in -dBov (0 loudest .. 127 silence).
struct AudioLevel {
  bool voice_activity = false;
  uint8_t level = 127;
  bool operator==(const AudioLevel&) const = default;
};
struct AudioLevelExtension {
  static constexpr ExtensionType kType = ExtensionType::kAudioLevel;
  static constexpr std::string_view kUri = uri::kAudioLevel;
  using Value = AudioLevel;
  static std::optional<Value> Parse(ByteSpan value);
  static size_t ValueSize(const Value&) { return 1; }
  static bool Write(MutableByteSpan out, const Value& v);
};

// 3GPP TS 26.114 §7.4.5 coordination of video orientation: 0 0 0 0 C F R1 R0 (camera, flip, rotation).
struct VideoOrientation {
  bool back_camera = false;      // C
  bool horizontal_flip = false;  // F
  uint16_t rotation = 0;         // degrees clockwise: 0, 90, 180, 270
  bool operator==(const VideoOrientation&) const = default;
};
struct VideoOrientationExtension {
  static constexpr ExtensionType kType = ExtensionType::kVideoOrientation;
  static constexpr std::string_view kUri = uri::kVideoOrientation;
  using Value = VideoOrientation;
  static std::optional<Value> Parse(ByteSpan value);
  static size_t ValueSize(const Value&) { return 1; }
  static bool Write(MutableByteSpan out, const Value& v);
};

// The typed value of extension Ext in a packet, or nullopt when the map has no id for it, the packet does not
// carry it, or its value is malformed.
template <typename Ext>
std::optional<typename Ext::Value> GetExtension(const RtpPacketView& packet, const ExtensionMap& map) {
  const uint8_t id = map.IdOf(Ext::kType);
  if (id == 0) return std::nullopt;
  auto raw = packet.GetExtension(id);
  if (!raw) return std::nullopt;
  return Ext::Parse(*raw);
}

// Sets extension Ext on a builder. False when the map has no id for it or the value cannot be encoded.
template <typename Ext>
bool SetExtension(RtpPacketBuilder& builder, const ExtensionMap& map, const typename Ext::Value& value) {
  const uint8_t id = map.IdOf(Ext::kType);
  if (id == 0) return false;
  const size_t size = Ext::ValueSize(value);
  if (size > kMaxTwoByteExtensionSize) return false;
  std::array<uint8_t, kMaxTwoByteExtensionSize> buf;
  if (!Ext::Write(MutableByteSpan(buf.data(), size), value)) return false;
  return builder.SetExtension(id, ByteSpan(buf.data(), size));
}

// Rewrites extension Ext in place in a parsed packet (same size). False when absent or of another size.
template <typename Ext>
bool RewriteExtension(MutableByteSpan packet, const RtpPacketView& view, const ExtensionMap& map,
                      const typename Ext::Value& value) {
  const uint8_t id = map.IdOf(Ext::kType);
  if (id == 0) return false;
  MutableByteSpan out = MutableExtension(packet, view, id);
  if (out.empty() || out.size() != Ext::ValueSize(value)) return false;
  return Ext::Write(out, value);
}

}  // namespace tandem::rtp
