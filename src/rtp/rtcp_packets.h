// RTCP packet types, one value type each (dcSCTP style): `static std::optional<X> Parse(const RtcpHeader&)`
// over one packet found by RtcpPacketIterator (nullopt when the type/FMT is not X's or its layout is
// inconsistent), `SerializedSize()` and `SerializeTo(ByteWriter&)`, which appends the whole packet (header
// included) and returns false, writing nothing, when the value cannot be encoded (too many items for a 5-bit
// count, strings longer than 255 bytes...). Profile-specific extensions after SR/RR report blocks are ignored
// when parsing.
//
// Transport-wide congestion control feedback is in transport_feedback.h; compound parsing and building in
// rtcp_compound.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "rtp/rtcp_common.h"

namespace tandem::rtp {

// RFC 3550 §6.4.1 report block (24 bytes): reception statistics about one source.
struct ReportBlock {
  static constexpr size_t kSize = 24;
  static constexpr int32_t kMaxCumulativeLost = 0x7FFFFF;  // 24-bit signed
  static constexpr int32_t kMinCumulativeLost = -0x800000;

  uint32_t source_ssrc = 0;
  uint8_t fraction_lost = 0;               // fixed point, lost / expected * 256 since the previous report
  int32_t cumulative_lost = 0;             // may be negative with duplicates; clamped to 24 bits when written
  uint32_t extended_highest_sequence = 0;  // cycles << 16 | highest sequence number
  uint32_t jitter = 0;                     // interarrival jitter, RTP timestamp units
  uint32_t last_sr = 0;                    // LSR: middle 32 bits of the last SR's NTP time, 0 if none
  uint32_t delay_since_last_sr = 0;        // DLSR, 1/65536 s

  static ReportBlock Parse(const uint8_t* p);  // exactly kSize bytes at p
  void SerializeTo(ByteWriter& w) const;
  bool operator==(const ReportBlock&) const = default;
};

// RFC 3550 §6.4.1 SR.
struct SenderReport {
  uint32_t sender_ssrc = 0;
  uint64_t ntp_timestamp = 0;  // 32.32 fixed point seconds since 1900 (see ntp_time.h)
  uint32_t rtp_timestamp = 0;  // the same instant on the RTP clock
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;                // payload octets
  std::vector<ReportBlock> report_blocks;  // at most 31

  static std::optional<SenderReport> Parse(const RtcpHeader& h);
  size_t SerializedSize() const { return kRtcpHeaderSize + 24 + ReportBlock::kSize * report_blocks.size(); }
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const SenderReport&) const = default;
};

// RFC 3550 §6.4.2 RR.
struct ReceiverReport {
  uint32_t sender_ssrc = 0;
  std::vector<ReportBlock> report_blocks;  // at most 31

  static std::optional<ReceiverReport> Parse(const RtcpHeader& h);
  size_t SerializedSize() const { return kRtcpHeaderSize + 4 + ReportBlock::kSize * report_blocks.size(); }
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const ReceiverReport&) const = default;
};

// RFC 3550 §6.5 SDES: chunks of items per source. WebRTC uses CNAME (RFC 7022) only; other items are kept.
struct Sdes {
  static constexpr uint8_t kCname = 1;  // RFC 3550 §6.5.1
  struct Item {
    uint8_t type = 0;
    std::string value;  // at most 255 bytes
    bool operator==(const Item&) const = default;
  };
  struct Chunk {
    uint32_t ssrc = 0;
    std::vector<Item> items;
    // The CNAME item's value, or nullptr.
    const std::string* cname() const;
    bool operator==(const Chunk&) const = default;
  };
  std::vector<Chunk> chunks;  // at most 31

  static std::optional<Sdes> Parse(const RtcpHeader& h);
  size_t SerializedSize() const;
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const Sdes&) const = default;
};

// RFC 3550 §6.6 BYE.
struct Bye {
  std::vector<uint32_t> ssrcs;  // at most 31
  std::string reason;           // optional, at most 255 bytes

  static std::optional<Bye> Parse(const RtcpHeader& h);
  size_t SerializedSize() const;
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const Bye&) const = default;
};

// RFC 4585 §6.2.1 Generic NACK: lost packets of one media source as PID + 16-bit bitmask (BLP) pairs.
struct Nack {
  static constexpr size_t kMaxPacketIds = 4096;  // a parse limit well above any sane request

  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
  // Sequence numbers requested, in the order encountered (PID then its BLP bits, lowest first). When
  // building, pass them oldest first: each PID covers the next 16 numbers after it.
  std::vector<uint16_t> packet_ids;

  static std::optional<Nack> Parse(const RtcpHeader& h);
  size_t SerializedSize() const;
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const Nack&) const = default;
};

// RFC 4585 §6.3.1 Picture Loss Indication (no FCI).
struct Pli {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;

  static std::optional<Pli> Parse(const RtcpHeader& h);
  size_t SerializedSize() const { return kRtcpFeedbackHeaderSize; }
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const Pli&) const = default;
};

// RFC 5104 §4.3.1 Full Intra Request: one (SSRC, command sequence number) entry per target; the "media
// source" field is unused and zero (§4.3.1.2).
struct Fir {
  struct Request {
    uint32_t ssrc = 0;
    uint8_t sequence_number = 0;  // incremented per new request (§4.3.1.1)
    bool operator==(const Request&) const = default;
  };
  uint32_t sender_ssrc = 0;
  std::vector<Request> requests;

  static std::optional<Fir> Parse(const RtcpHeader& h);
  size_t SerializedSize() const { return kRtcpFeedbackHeaderSize + 8 * requests.size(); }
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const Fir&) const = default;
};

// draft-alvestrand-rmcat-remb-03 §2.2 Receiver Estimated Maximum Bitrate: an application-layer PSFB whose FCI
// starts with "REMB", then the SSRC count, a 6-bit exponent and an 18-bit mantissa, then the SSRCs.
struct Remb {
  uint32_t sender_ssrc = 0;
  uint64_t bitrate_bps = 0;     // encoded as mantissa << exponent: low bits of large values are truncated
  std::vector<uint32_t> ssrcs;  // at most 255

  static std::optional<Remb> Parse(const RtcpHeader& h);
  size_t SerializedSize() const { return kRtcpFeedbackHeaderSize + 8 + 4 * ssrcs.size(); }
  bool SerializeTo(ByteWriter& w) const;
  bool operator==(const Remb&) const = default;
};

}  // namespace tandem::rtp
