#include "rtp/bundle_demuxer.h"

#include <algorithm>

namespace tandem::rtp {

const char* ToString(RouteReason reason) {
  switch (reason) {
    case RouteReason::kMid:
      return "mid";
    case RouteReason::kRid:
      return "rid";
    case RouteReason::kSsrc:
      return "ssrc";
    case RouteReason::kPayloadType:
      return "payload-type";
    case RouteReason::kUnknown:
      return "unknown";
  }
  return "unknown";
}

bool BundleDemuxer::AddSink(SinkId id, SinkConfig config) {
  if (id == kUnknownSink) return false;
  for (const Sink& s : sinks_) {
    if (s.id == id) return false;
  }
  for (uint32_t ssrc : config.ssrcs) bindings_[ssrc] = id;  // signaled: not subject to max_bindings
  sinks_.push_back({id, std::move(config)});
  return true;
}

void BundleDemuxer::RemoveSink(SinkId id) {
  std::erase_if(sinks_, [id](const Sink& s) { return s.id == id; });
  std::erase_if(bindings_, [id](const auto& kv) { return kv.second == id; });
}

SinkId BundleDemuxer::SinkForSsrc(uint32_t ssrc) const {
  auto it = bindings_.find(ssrc);
  return it == bindings_.end() ? kUnknownSink : it->second;
}

void BundleDemuxer::Bind(uint32_t ssrc, SinkId sink) {
  auto it = bindings_.find(ssrc);
  if (it != bindings_.end()) {
    it->second = sink;
    return;
  }
  if (bindings_.size() >= max_bindings_) {
    ++stats_.bindings_refused;
    return;
  }
  bindings_.emplace(ssrc, sink);
}

const BundleDemuxer::Sink* BundleDemuxer::FindByMidAndRid(std::string_view mid, std::string_view rid,
                                                          uint32_t ssrc) const {
  const Sink* exact = nullptr;  // lists this rid
  const Sink* any = nullptr;    // takes every rid
  size_t with_mid = 0;
  const Sink* only = nullptr;
  for (const Sink& s : sinks_) {
    if (s.config.mid != mid) continue;
    ++with_mid;
    only = &s;
    if (!rid.empty() && std::find(s.config.rids.begin(), s.config.rids.end(), rid) != s.config.rids.end()) {
      exact = &s;
    }
    if (s.config.rids.empty()) any = &s;
  }
  if (exact != nullptr) return exact;
  if (!rid.empty()) return any;  // a RID no layer lists goes to a catch-all sink only
  if (with_mid == 1) return only;
  // Several layers share the MID and this packet has no RID (RFC 8852 senders may stop sending it once the
  // SSRC is known): the SSRC's existing binding decides, if it is one of them.
  const SinkId bound = SinkForSsrc(ssrc);
  for (const Sink& s : sinks_) {
    if (s.id == bound && s.config.mid == mid) return &s;
  }
  return any;
}

DemuxResult BundleDemuxer::Route(const RtpPacketView& packet) {
  DemuxResult result;
  const uint32_t ssrc = packet.ssrc();
  auto rid = GetExtension<RtpStreamIdExtension>(packet, map_);
  if (!rid) {
    rid = GetExtension<RepairedRtpStreamIdExtension>(packet, map_);
    result.repaired = rid.has_value();
  }
  if (rid) result.rid = *rid;

  if (auto mid = GetExtension<MidExtension>(packet, map_)) {
    // RFC 8843 §9.2: the MID decides, and updates the SSRC's binding.
    const Sink* sink = FindByMidAndRid(*mid, result.rid, ssrc);
    if (sink == nullptr) {
      ++stats_.unknown;
      ++stats_.unknown_mid;
      return result;
    }
    Bind(ssrc, sink->id);
    result.sink = sink->id;
    result.reason = result.rid.empty() ? RouteReason::kMid : RouteReason::kRid;
    ++(result.reason == RouteReason::kMid ? stats_.by_mid : stats_.by_rid);
    return result;
  }

  if (const SinkId bound = SinkForSsrc(ssrc); bound != kUnknownSink) {
    result.sink = bound;
    result.reason = RouteReason::kSsrc;
    ++stats_.by_ssrc;
    return result;
  }

  // RFC 8843 §9.2 last resort: a payload type that only one m-section uses.
  const Sink* match = nullptr;
  size_t matches = 0;
  for (const Sink& s : sinks_) {
    const auto& pts = s.config.payload_types;
    if (std::find(pts.begin(), pts.end(), packet.payload_type()) != pts.end()) {
      match = &s;
      ++matches;
    }
  }
  if (matches == 1) {
    Bind(ssrc, match->id);
    result.sink = match->id;
    result.reason = RouteReason::kPayloadType;
    ++stats_.by_payload_type;
    return result;
  }
  ++stats_.unknown;
  return result;
}

}  // namespace tandem::rtp
