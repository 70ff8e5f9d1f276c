// Demultiplexing of media on one transport: RTP vs RTCP under rtcp-mux (RFC 5761 §4), and RTP packets of a
// BUNDLE group to the receiver ("sink") of their m-section (RFC 8843 §9.2), by MID header extension, then by
// a known SSRC, then by a payload type only one m-section uses, learning SSRC -> sink bindings on the way.
// RID and repaired RID (RFC 8852) pick the simulcast layer sink when several share a MID.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "rtp/header_extensions.h"
#include "rtp/rtp_packet.h"

namespace tandem::rtp {

// RFC 5761 §4: RTCP packet types 192-223 occupy the marker bit and payload type, so an RTP payload type of
// 64-95 (marker ignored) means RTCP. Both need version 2.
inline bool IsRtcpPacket(ByteSpan packet) {
  if (packet.size() < 2 || (packet[0] >> 6) != 2) return false;
  const uint8_t pt = packet[1] & 0x7F;
  return pt >= 64 && pt <= 95;
}
inline bool IsRtpPacket(ByteSpan packet) {
  return packet.size() >= kFixedHeaderSize && (packet[0] >> 6) == 2 && !IsRtcpPacket(packet);
}

using SinkId = uint32_t;
inline constexpr SinkId kUnknownSink = 0xFFFFFFFF;

// What the SDP says about one receiving m-section (or one simulcast layer of it).
struct SinkConfig {
  std::string mid = {};                     // a=mid (RFC 8843 §7)
  std::vector<std::string> rids = {};       // a=rid ... recv (RFC 8851) this sink takes; empty: any or none
  std::vector<uint8_t> payload_types = {};  // media and RTX payload types of the m-section
  std::vector<uint32_t> ssrcs = {};         // a=ssrc / a=ssrc-group SSRCs, if signaled
};

enum class RouteReason : uint8_t { kMid, kRid, kSsrc, kPayloadType, kUnknown };
const char* ToString(RouteReason reason);

struct DemuxResult {
  SinkId sink = kUnknownSink;
  RouteReason reason = RouteReason::kUnknown;
  std::string_view rid;   // RID or repaired RID of this packet (a view into it), empty if none
  bool repaired = false;  // the RID came from repaired-rid: a retransmission/FEC stream of that layer
};

struct BundleDemuxerStats {
  uint64_t by_mid = 0;
  uint64_t by_rid = 0;
  uint64_t by_ssrc = 0;
  uint64_t by_payload_type = 0;
  uint64_t unknown = 0;           // no sink found: dropped by the caller
  uint64_t unknown_mid = 0;       // ... of which carried a MID no sink has
  uint64_t bindings_refused = 0;  // learned bindings not stored because max_bindings was reached
};

class BundleDemuxer {
 public:
  explicit BundleDemuxer(size_t max_bindings = 1024) : max_bindings_(max_bindings) {}

  // The extension ids of the bundle (one id space, RFC 8843 §9.1).
  void SetExtensionMap(const ExtensionMap& map) { map_ = map; }
  const ExtensionMap& extension_map() const { return map_; }

  // False when the id is kUnknownSink or already present. Signaled SSRCs are bound at once.
  bool AddSink(SinkId id, SinkConfig config);
  // Removes the sink and every SSRC binding to it.
  void RemoveSink(SinkId id);

  // The sink of an RTP packet. Learns SSRC -> sink from MID/RID and unique payload types (RFC 8843 §9.2: a
  // packet whose MID names another m-section than its SSRC's binding moves the binding).
  DemuxResult Route(const RtpPacketView& packet);

  // The sink an SSRC is bound to (for RTCP routing by media SSRC), or kUnknownSink.
  SinkId SinkForSsrc(uint32_t ssrc) const;
  size_t binding_count() const { return bindings_.size(); }
  const BundleDemuxerStats& stats() const { return stats_; }

 private:
  struct Sink {
    SinkId id;
    SinkConfig config;
  };
  const Sink* FindByMidAndRid(std::string_view mid, std::string_view rid, uint32_t ssrc) const;
  void Bind(uint32_t ssrc, SinkId sink);

  size_t max_bindings_;
  ExtensionMap map_;
  std::vector<Sink> sinks_;
  std::unordered_map<uint32_t, SinkId> bindings_;
  BundleDemuxerStats stats_;
};

}  // namespace tandem::rtp
