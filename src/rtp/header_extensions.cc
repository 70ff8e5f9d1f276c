#include "rtp/header_extensions.h"

#include <cstring>

namespace tandem::rtp {

const char* ToString(ExtensionType type) {
  switch (type) {
    case ExtensionType::kNone:
      return "none";
    case ExtensionType::kMid:
      return "mid";
    case ExtensionType::kRtpStreamId:
      return "rid";
    case ExtensionType::kRepairedRtpStreamId:
      return "repaired-rid";
    case ExtensionType::kAbsSendTime:
      return "abs-send-time";
    case ExtensionType::kTransportSequenceNumber:
      return "transport-wide-cc";
    case ExtensionType::kAudioLevel:
      return "ssrc-audio-level";
    case ExtensionType::kVideoOrientation:
      return "video-orientation";
  }
  return "unknown";
}

std::string_view UriOf(ExtensionType type) {
  switch (type) {
    case ExtensionType::kNone:
      return {};
    case ExtensionType::kMid:
      return uri::kMid;
    case ExtensionType::kRtpStreamId:
      return uri::kRtpStreamId;
    case ExtensionType::kRepairedRtpStreamId:
      return uri::kRepairedRtpStreamId;
    case ExtensionType::kAbsSendTime:
      return uri::kAbsSendTime;
    case ExtensionType::kTransportSequenceNumber:
      return uri::kTransportSequenceNumber;
    case ExtensionType::kAudioLevel:
      return uri::kAudioLevel;
    case ExtensionType::kVideoOrientation:
      return uri::kVideoOrientation;
  }
  return {};
}

ExtensionType ExtensionTypeFromUri(std::string_view u) {
  for (size_t i = 1; i < kExtensionTypeCount; ++i) {
    const auto type = static_cast<ExtensionType>(i);
    if (UriOf(type) == u) return type;
  }
  return ExtensionType::kNone;
}

bool ExtensionMap::Register(uint8_t id, ExtensionType type) {
  if (id == 0 || type == ExtensionType::kNone || static_cast<size_t>(type) >= kExtensionTypeCount)
    return false;
  if (types_[id] != ExtensionType::kNone && types_[id] != type) return false;
  Unregister(type);
  types_[id] = type;
  ids_[static_cast<size_t>(type)] = id;
  return true;
}

bool ExtensionMap::RegisterUri(uint8_t id, std::string_view u) {
  const ExtensionType type = ExtensionTypeFromUri(u);
  if (type == ExtensionType::kNone) return false;
  return Register(id, type);
}

void ExtensionMap::Unregister(ExtensionType type) {
  const size_t index = static_cast<size_t>(type);
  if (index >= kExtensionTypeCount) return;
  const uint8_t id = ids_[index];
  if (id != 0) types_[id] = ExtensionType::kNone;
  ids_[index] = 0;
}

void ExtensionMap::Clear() {
  types_.fill(ExtensionType::kNone);
  ids_.fill(0);
}

std::optional<std::string_view> SdesStringExtension::Parse(ByteSpan value) {
  size_t n = value.size();
  while (n > 0 && value[n - 1] == 0) --n;
  if (n == 0) return std::nullopt;
  const std::string_view s = AsStringView(value.first(n));
  // RFC 8851 §10 rid-id and RFC 8843 §15 mid values are tokens; control characters mean garbage.
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E) return std::nullopt;
  }
  return s;
}

bool SdesStringExtension::Write(MutableByteSpan out, std::string_view v) {
  if (v.empty() || v.size() > kMaxSize || out.size() != v.size()) return false;
  std::memcpy(out.data(), v.data(), v.size());
  return true;
}

std::optional<uint32_t> AbsSendTimeExtension::Parse(ByteSpan value) {
  if (value.size() != 3) return std::nullopt;
  return (uint32_t{value[0]} << 16) | (uint32_t{value[1]} << 8) | value[2];
}

bool AbsSendTimeExtension::Write(MutableByteSpan out, uint32_t v) {
  if (out.size() != 3 || v > 0xFFFFFF) return false;
  out[0] = static_cast<uint8_t>(v >> 16);
  out[1] = static_cast<uint8_t>(v >> 8);
  out[2] = static_cast<uint8_t>(v);
  return true;
}

std::optional<uint16_t> TransportSequenceNumberExtension::Parse(ByteSpan value) {
  if (value.size() != 2) return std::nullopt;
  return LoadBe16(value.data());
}

bool TransportSequenceNumberExtension::Write(MutableByteSpan out, uint16_t v) {
  if (out.size() != 2) return false;
  StoreBe16(out.data(), v);
  return true;
}

std::optional<AudioLevel> AudioLevelExtension::Parse(ByteSpan value) {
  // RFC 6464 §3: |V| level |, one byte in either form.
  if (value.size() != 1) return std::nullopt;
  return AudioLevel{(value[0] & 0x80) != 0, static_cast<uint8_t>(value[0] & 0x7F)};
}

bool AudioLevelExtension::Write(MutableByteSpan out, const AudioLevel& v) {
  if (out.size() != 1 || v.level > 127) return false;
  out[0] = static_cast<uint8_t>((v.voice_activity ? 0x80 : 0) | v.level);
  return true;
}

std::optional<VideoOrientation> VideoOrientationExtension::Parse(ByteSpan value) {
  if (value.size() != 1) return std::nullopt;
  static constexpr uint16_t kRotation[4] = {0, 90, 180, 270};
  return VideoOrientation{(value[0] & 0x08) != 0, (value[0] & 0x04) != 0, kRotation[value[0] & 0x03]};
}

bool VideoOrientationExtension::Write(MutableByteSpan out, const VideoOrientation& v) {
  if (out.size() != 1 || v.rotation % 90 != 0 || v.rotation >= 360) return false;
  out[0] =
      static_cast<uint8_t>((v.back_camera ? 0x08 : 0) | (v.horizontal_flip ? 0x04 : 0) | (v.rotation / 90));
  return true;
}

}  // namespace tandem::rtp
