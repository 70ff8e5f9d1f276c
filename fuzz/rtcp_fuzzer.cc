// libFuzzer harness for RTCP (src/rtp): parse arbitrary bytes as a compound packet; every packet it yields
// must serialize and parse back to the same value (transport-wide CC feedback included: parse -> build ->
// parse), the whole compound must rebuild, framing validity must agree with the parser, and the values must
// be safe to feed to the consumers: the send-side bandwidth estimator, RTT from report blocks, the NACK
// responder's history.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <variant>
#include <vector>

#include "rtp/bandwidth_estimator.h"
#include "rtp/packet_history.h"
#include "rtp/rtcp_compound.h"
#include "rtp/rtp_stats.h"

namespace {

using namespace tandem;       // NOLINT(google-build-using-namespace): harness only
using namespace tandem::rtp;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

std::vector<uint16_t> SortedUnique(std::vector<uint16_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

template <typename T>
void CheckRoundTrip(const T& packet) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  FUZZ_CHECK(packet.SerializeTo(w));  // anything we parsed, we can write
  FUZZ_CHECK(out.size() == packet.SerializedSize());
  RtcpPacketIterator it(out);
  auto h = it.Next();
  FUZZ_CHECK(h.has_value() && !it.Next() && !it.error());
  auto again = T::Parse(*h);
  FUZZ_CHECK(again.has_value());
  if constexpr (std::is_same_v<T, Nack>) {
    // Packing folds numbers into the nearest PID's bitmask: order and duplicates may change, the set not.
    FUZZ_CHECK(again->sender_ssrc == packet.sender_ssrc && again->media_ssrc == packet.media_ssrc);
    FUZZ_CHECK(SortedUnique(again->packet_ids) == SortedUnique(packet.packet_ids));
  } else {
    FUZZ_CHECK(*again == packet);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan in(data, size);
  auto compound = ParseRtcpCompound(in);
  FUZZ_CHECK(compound.ok() == IsValidRtcpCompound(in));
  if (!compound.ok()) return 0;

  std::vector<uint8_t> rebuilt;
  RtcpCompoundBuilder builder(rebuilt, kMaxRtcpPacketSize * 4);
  for (const RtcpPacket& p : compound->packets) {
    std::visit([](const auto& packet) { CheckRoundTrip(packet); }, p);
    FUZZ_CHECK(builder.Add(p));
  }
  if (!compound->packets.empty()) {
    auto again = ParseRtcpCompound(rebuilt);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->packets.size() == compound->packets.size());
    FUZZ_CHECK(again->malformed == 0 && again->skipped == 0);
  }

  // Consumers of what was parsed (built only when needed: the harness should stay fast).
  const Timestamp now = Timestamp::Seconds(1000);
  std::optional<SendSideBandwidthEstimator> bwe;
  std::optional<RtpSendStatistics> send_stats;
  std::optional<RtpPacketHistory> history;
  for (const RtcpPacket& p : compound->packets) {
    if (const auto* fb = std::get_if<TransportFeedback>(&p)) {
      if (!bwe) bwe.emplace();
      // Pretend we sent the packets around the feedback's range, then let the estimator digest it.
      for (int i = -8; i < 64; ++i) {
        bwe->OnPacketSent(now + TimeDelta::Millis(i + 8),
                          static_cast<uint16_t>(fb->base_sequence_number() + i), 1200);
      }
      bwe->OnTransportFeedback(now + TimeDelta::Millis(100), *fb);
      const int64_t target = bwe->target_bitrate_bps();
      FUZZ_CHECK(target >= BandwidthEstimatorConfig{}.min_bitrate_bps &&
                 target <= BandwidthEstimatorConfig{}.max_bitrate_bps);
    } else if (const auto* remb = std::get_if<Remb>(&p)) {
      if (!bwe) bwe.emplace();
      bwe->OnRemb(now, remb->bitrate_bps);
      FUZZ_CHECK(bwe->target_bitrate_bps() >= BandwidthEstimatorConfig{}.min_bitrate_bps);
    } else if (const auto* sr = std::get_if<SenderReport>(&p)) {
      if (!send_stats) send_stats.emplace(0x11111111, 90000);
      for (const ReportBlock& b : sr->report_blocks) (void)send_stats->OnReportBlock(now, b);
    } else if (const auto* rr = std::get_if<ReceiverReport>(&p)) {
      if (!send_stats) send_stats.emplace(0x11111111, 90000);
      if (!bwe) bwe.emplace();
      for (const ReportBlock& b : rr->report_blocks) {
        (void)send_stats->OnReportBlock(now, b);
        bwe->OnReceiverReportLoss(now, b.fraction_lost, 100);
      }
    } else if (const auto* nack = std::get_if<Nack>(&p)) {
      if (!history) {
        history.emplace(16, TimeDelta::Seconds(1), 16);
        for (uint16_t s = 0; s < 16; ++s) {
          const uint8_t header[12] = {0x80, 96,   0,   static_cast<uint8_t>(s), 0, 0, 0, 0, 0x11,
                                      0x11, 0x11, 0x11};
          history->Put(now, header);
        }
      }
      for (uint16_t seq : nack->packet_ids)
        (void)history->GetForRetransmission(now, seq, TimeDelta::Millis(10));
    }
  }
  return 0;
}
