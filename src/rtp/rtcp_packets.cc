#include "rtp/rtcp_packets.h"

#include <algorithm>

#include "rtp/sequence.h"

namespace tandem::rtp {
namespace {

size_t Padded4(size_t n) { return (n + 3) & ~size_t{3}; }

// RFC 3550 §6.4.1: a report block list of `count` entries after `offset` bytes of the payload.
bool ParseReportBlocks(ByteSpan payload, size_t offset, size_t count, std::vector<ReportBlock>& out) {
  if (payload.size() < offset + count * ReportBlock::kSize) return false;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i)
    out.push_back(ReportBlock::Parse(&payload[offset + i * ReportBlock::kSize]));
  return true;
}

}  // namespace

ReportBlock ReportBlock::Parse(const uint8_t* p) {
  ReportBlock b;
  b.source_ssrc = LoadBe32(p);
  b.fraction_lost = p[4];
  // 24-bit two's complement (RFC 3550 §6.4.1: "cumulative number of packets lost ... signed").
  int32_t lost = static_cast<int32_t>((uint32_t{p[5]} << 16) | (uint32_t{p[6]} << 8) | p[7]);
  if (lost & 0x800000) lost -= 0x1000000;
  b.cumulative_lost = lost;
  b.extended_highest_sequence = LoadBe32(p + 8);
  b.jitter = LoadBe32(p + 12);
  b.last_sr = LoadBe32(p + 16);
  b.delay_since_last_sr = LoadBe32(p + 20);
  return b;
}

void ReportBlock::SerializeTo(ByteWriter& w) const {
  w.WriteU32(source_ssrc);
  w.WriteU8(fraction_lost);
  const int32_t lost = std::clamp(cumulative_lost, kMinCumulativeLost, kMaxCumulativeLost);
  const uint32_t lost24 = static_cast<uint32_t>(lost) & 0xFFFFFF;
  w.WriteU8(static_cast<uint8_t>(lost24 >> 16));
  w.WriteU16(static_cast<uint16_t>(lost24));
  w.WriteU32(extended_highest_sequence);
  w.WriteU32(jitter);
  w.WriteU32(last_sr);
  w.WriteU32(delay_since_last_sr);
}

std::optional<SenderReport> SenderReport::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kSenderReport || h.payload.size() < 24) return std::nullopt;
  SenderReport sr;
  const ByteSpan p = h.payload;
  sr.sender_ssrc = LoadBe32(&p[0]);
  sr.ntp_timestamp = (uint64_t{LoadBe32(&p[4])} << 32) | LoadBe32(&p[8]);
  sr.rtp_timestamp = LoadBe32(&p[12]);
  sr.packet_count = LoadBe32(&p[16]);
  sr.octet_count = LoadBe32(&p[20]);
  if (!ParseReportBlocks(p, 24, h.count, sr.report_blocks)) return std::nullopt;
  return sr;
}

bool SenderReport::SerializeTo(ByteWriter& w) const {
  if (report_blocks.size() > kMaxRtcpCount) return false;
  WriteRtcpHeader(w, static_cast<uint8_t>(report_blocks.size()), rtcp_type::kSenderReport,
                  SerializedSize() - kRtcpHeaderSize);
  w.WriteU32(sender_ssrc);
  w.WriteU64(ntp_timestamp);
  w.WriteU32(rtp_timestamp);
  w.WriteU32(packet_count);
  w.WriteU32(octet_count);
  for (const ReportBlock& b : report_blocks) b.SerializeTo(w);
  return true;
}

std::optional<ReceiverReport> ReceiverReport::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kReceiverReport || h.payload.size() < 4) return std::nullopt;
  ReceiverReport rr;
  rr.sender_ssrc = LoadBe32(&h.payload[0]);
  if (!ParseReportBlocks(h.payload, 4, h.count, rr.report_blocks)) return std::nullopt;
  return rr;
}

bool ReceiverReport::SerializeTo(ByteWriter& w) const {
  if (report_blocks.size() > kMaxRtcpCount) return false;
  WriteRtcpHeader(w, static_cast<uint8_t>(report_blocks.size()), rtcp_type::kReceiverReport,
                  SerializedSize() - kRtcpHeaderSize);
  w.WriteU32(sender_ssrc);
  for (const ReportBlock& b : report_blocks) b.SerializeTo(w);
  return true;
}

const std::string* Sdes::Chunk::cname() const {
  for (const Item& item : items) {
    if (item.type == kCname) return &item.value;
  }
  return nullptr;
}

std::optional<Sdes> Sdes::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kSdes) return std::nullopt;
  Sdes sdes;
  ByteReader r(h.payload);
  for (size_t c = 0; c < h.count; ++c) {
    // RFC 3550 §6.5: chunks start on a 32-bit boundary; items end with a zero type octet, then zero padding
    // up to the next boundary.
    Chunk chunk;
    if (!r.ReadU32(chunk.ssrc)) return std::nullopt;
    while (true) {
      uint8_t type = 0;
      if (!r.ReadU8(type)) return std::nullopt;
      if (type == 0) break;
      uint8_t length = 0;
      ByteSpan value;
      if (!r.ReadU8(length) || !r.ReadBytes(length, value)) return std::nullopt;
      chunk.items.push_back({type, std::string(AsStringView(value))});
    }
    const size_t pad = Padded4(r.position()) - r.position();
    if (!r.Skip(pad)) return std::nullopt;
    sdes.chunks.push_back(std::move(chunk));
  }
  return sdes;
}

size_t Sdes::SerializedSize() const {
  size_t size = kRtcpHeaderSize;
  for (const Chunk& c : chunks) {
    size_t chunk = 4;
    for (const Item& item : c.items) chunk += 2 + item.value.size();
    size += Padded4(chunk + 1);  // at least one terminating zero octet
  }
  return size;
}

bool Sdes::SerializeTo(ByteWriter& w) const {
  if (chunks.size() > kMaxRtcpCount || SerializedSize() > kMaxRtcpPacketSize) return false;
  for (const Chunk& c : chunks) {
    for (const Item& item : c.items) {
      if (item.type == 0 || item.value.size() > 255) return false;
    }
  }
  WriteRtcpHeader(w, static_cast<uint8_t>(chunks.size()), rtcp_type::kSdes,
                  SerializedSize() - kRtcpHeaderSize);
  for (const Chunk& c : chunks) {
    size_t chunk = 4;
    w.WriteU32(c.ssrc);
    for (const Item& item : c.items) {
      w.WriteU8(item.type);
      w.WriteU8(static_cast<uint8_t>(item.value.size()));
      w.WriteBytes(AsBytes(item.value));
      chunk += 2 + item.value.size();
    }
    w.WriteZeros(Padded4(chunk + 1) - chunk);
  }
  return true;
}

std::optional<Bye> Bye::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kBye) return std::nullopt;
  Bye bye;
  ByteReader r(h.payload);
  for (size_t i = 0; i < h.count; ++i) {
    uint32_t ssrc = 0;
    if (!r.ReadU32(ssrc)) return std::nullopt;
    bye.ssrcs.push_back(ssrc);
  }
  // RFC 3550 §6.6: an optional length-prefixed reason, padded to 32 bits.
  uint8_t length = 0;
  if (r.ReadU8(length)) {
    ByteSpan reason;
    if (!r.ReadBytes(length, reason)) return std::nullopt;
    bye.reason.assign(AsStringView(reason));
  }
  return bye;
}

size_t Bye::SerializedSize() const {
  size_t size = kRtcpHeaderSize + 4 * ssrcs.size();
  if (!reason.empty()) size += Padded4(1 + reason.size());
  return size;
}

bool Bye::SerializeTo(ByteWriter& w) const {
  if (ssrcs.size() > kMaxRtcpCount || reason.size() > 255) return false;
  WriteRtcpHeader(w, static_cast<uint8_t>(ssrcs.size()), rtcp_type::kBye, SerializedSize() - kRtcpHeaderSize);
  for (uint32_t ssrc : ssrcs) w.WriteU32(ssrc);
  if (!reason.empty()) {
    w.WriteU8(static_cast<uint8_t>(reason.size()));
    w.WriteBytes(AsBytes(reason));
    w.WriteZeros(Padded4(1 + reason.size()) - 1 - reason.size());
  }
  return true;
}

std::optional<Nack> Nack::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kRtpFeedback || h.count != rtpfb_fmt::kNack) return std::nullopt;
  auto ssrcs = ReadFeedbackSsrcs(h.payload);
  // RFC 4585 §6.2.1: one or more FCI entries of 4 bytes.
  if (!ssrcs || h.payload.size() < 12 || (h.payload.size() - 8) % 4 != 0) return std::nullopt;
  Nack nack;
  nack.sender_ssrc = ssrcs->sender_ssrc;
  nack.media_ssrc = ssrcs->media_ssrc;
  for (size_t pos = 8; pos < h.payload.size(); pos += 4) {
    const uint16_t pid = LoadBe16(&h.payload[pos]);
    const uint16_t blp = LoadBe16(&h.payload[pos + 2]);
    nack.packet_ids.push_back(pid);
    for (int bit = 0; bit < 16; ++bit) {
      // "bit i of the BLP is set to 1 if ... packet PID+i+1 ... is lost" (LSB is bit 0).
      if (blp & (1u << bit)) nack.packet_ids.push_back(static_cast<uint16_t>(pid + bit + 1));
    }
    if (nack.packet_ids.size() > kMaxPacketIds) return std::nullopt;
  }
  return nack;
}

namespace {
// Packs sequence numbers into (PID, BLP) items; calls f(pid, blp) for each.
template <typename F>
void PackNackItems(const std::vector<uint16_t>& ids, F&& f) {
  size_t i = 0;
  while (i < ids.size()) {
    const uint16_t pid = ids[i++];
    uint16_t blp = 0;
    while (i < ids.size()) {
      const int64_t d = ForwardDiff<uint16_t>(ids[i], pid);
      if (d < 1 || d > 16) break;
      blp = static_cast<uint16_t>(blp | (1u << (d - 1)));
      ++i;
    }
    f(pid, blp);
  }
}
}  // namespace

size_t Nack::SerializedSize() const {
  size_t items = 0;
  PackNackItems(packet_ids, [&](uint16_t, uint16_t) { ++items; });
  return kRtcpFeedbackHeaderSize + 4 * items;
}

bool Nack::SerializeTo(ByteWriter& w) const {
  const size_t size = SerializedSize();
  if (packet_ids.empty() || size > kMaxRtcpPacketSize) return false;
  WriteRtcpHeader(w, rtpfb_fmt::kNack, rtcp_type::kRtpFeedback, size - kRtcpHeaderSize);
  w.WriteU32(sender_ssrc);
  w.WriteU32(media_ssrc);
  PackNackItems(packet_ids, [&](uint16_t pid, uint16_t blp) {
    w.WriteU16(pid);
    w.WriteU16(blp);
  });
  return true;
}

std::optional<Pli> Pli::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kPsFeedback || h.count != psfb_fmt::kPli) return std::nullopt;
  auto ssrcs = ReadFeedbackSsrcs(h.payload);
  if (!ssrcs) return std::nullopt;
  return Pli{ssrcs->sender_ssrc, ssrcs->media_ssrc};
}

bool Pli::SerializeTo(ByteWriter& w) const {
  WriteRtcpHeader(w, psfb_fmt::kPli, rtcp_type::kPsFeedback, 8);
  w.WriteU32(sender_ssrc);
  w.WriteU32(media_ssrc);
  return true;
}

std::optional<Fir> Fir::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kPsFeedback || h.count != psfb_fmt::kFir) return std::nullopt;
  auto ssrcs = ReadFeedbackSsrcs(h.payload);
  // RFC 5104 §4.3.1.1: one or more 8-byte FCI entries: SSRC, Seq nr., 24 reserved bits.
  if (!ssrcs || h.payload.size() < 16 || (h.payload.size() - 8) % 8 != 0) return std::nullopt;
  Fir fir;
  fir.sender_ssrc = ssrcs->sender_ssrc;
  for (size_t pos = 8; pos < h.payload.size(); pos += 8) {
    fir.requests.push_back({LoadBe32(&h.payload[pos]), h.payload[pos + 4]});
  }
  return fir;
}

bool Fir::SerializeTo(ByteWriter& w) const {
  if (requests.empty() || SerializedSize() > kMaxRtcpPacketSize) return false;
  WriteRtcpHeader(w, psfb_fmt::kFir, rtcp_type::kPsFeedback, SerializedSize() - kRtcpHeaderSize);
  w.WriteU32(sender_ssrc);
  w.WriteU32(0);  // RFC 5104 §4.3.1.2: SSRC of media source is not used and SHALL be 0
  for (const Request& r : requests) {
    w.WriteU32(r.ssrc);
    w.WriteU8(r.sequence_number);
    w.WriteZeros(3);
  }
  return true;
}

std::optional<Remb> Remb::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kPsFeedback || h.count != psfb_fmt::kApplicationLayer) return std::nullopt;
  auto ssrcs = ReadFeedbackSsrcs(h.payload);
  if (!ssrcs || h.payload.size() < 16) return std::nullopt;
  const ByteSpan p = h.payload;
  if (p[8] != 'R' || p[9] != 'E' || p[10] != 'M' || p[11] != 'B') return std::nullopt;
  const size_t count = p[12];
  const uint8_t exponent = p[13] >> 2;
  const uint64_t mantissa = (uint64_t{p[13] & 0x03u} << 16) | (uint64_t{p[14]} << 8) | p[15];
  if (p.size() < 16 + 4 * count) return std::nullopt;
  // A mantissa shifted past 64 bits is not a bitrate anyone means.
  if (mantissa != 0 && (exponent >= 64 || (mantissa << exponent) >> exponent != mantissa))
    return std::nullopt;
  Remb remb;
  remb.sender_ssrc = ssrcs->sender_ssrc;
  remb.bitrate_bps = mantissa << exponent;
  for (size_t i = 0; i < count; ++i) remb.ssrcs.push_back(LoadBe32(&p[16 + 4 * i]));
  return remb;
}

bool Remb::SerializeTo(ByteWriter& w) const {
  if (ssrcs.size() > 255) return false;
  constexpr uint64_t kMaxMantissa = (1u << 18) - 1;
  uint8_t exponent = 0;
  while ((bitrate_bps >> exponent) > kMaxMantissa) ++exponent;
  const uint32_t mantissa = static_cast<uint32_t>(bitrate_bps >> exponent);
  WriteRtcpHeader(w, psfb_fmt::kApplicationLayer, rtcp_type::kPsFeedback, SerializedSize() - kRtcpHeaderSize);
  w.WriteU32(sender_ssrc);
  w.WriteU32(0);  // draft-alvestrand-rmcat-remb §2.2: SSRC of media source is always 0
  w.WriteBytes(AsBytes("REMB"));
  w.WriteU8(static_cast<uint8_t>(ssrcs.size()));
  w.WriteU8(static_cast<uint8_t>((exponent << 2) | (mantissa >> 16)));
  w.WriteU16(static_cast<uint16_t>(mantissa));
  for (uint32_t ssrc : ssrcs) w.WriteU32(ssrc);
  return true;
}

}  // namespace tandem::rtp
