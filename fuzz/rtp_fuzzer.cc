// libFuzzer harness for RTP (src/rtp): parse arbitrary bytes as an RTP packet; on success check the view's
// invariants, read every typed header extension, rebuild the packet with RtpPacketBuilder and check it parses
// to the same header, extensions and payload, wrap it in RTX (RFC 4588) and restore it byte for byte, and
// feed it to the BUNDLE demuxer, reception statistics, NACK generator and TWCC receiver.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "rtp/bundle_demuxer.h"
#include "rtp/header_extensions.h"
#include "rtp/nack_generator.h"
#include "rtp/rtp_packet.h"
#include "rtp/rtp_stats.h"
#include "rtp/rtx.h"
#include "rtp/twcc_receiver.h"

namespace {

using namespace tandem;       // NOLINT(google-build-using-namespace): harness only
using namespace tandem::rtp;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

ExtensionMap MakeMap() {
  ExtensionMap map;
  map.Register(1, ExtensionType::kMid);
  map.Register(2, ExtensionType::kRtpStreamId);
  map.Register(3, ExtensionType::kRepairedRtpStreamId);
  map.Register(4, ExtensionType::kAbsSendTime);
  map.Register(5, ExtensionType::kTransportSequenceNumber);
  map.Register(6, ExtensionType::kAudioLevel);
  map.Register(7, ExtensionType::kVideoOrientation);
  return map;
}

bool SameBytes(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

void CheckInvariants(const RtpPacketView& v) {
  FUZZ_CHECK(v.header_size() + v.payload_size() + v.padding_size() == v.size());
  FUZZ_CHECK(v.header_size() >= kFixedHeaderSize + 4 * v.csrc_count());
  FUZZ_CHECK(v.payload().data() == v.bytes().data() + v.header_size());
  const ByteSpan block = v.extension_block();
  const size_t block_start = static_cast<size_t>(block.data() - v.bytes().data());
  for (const ExtensionElement& e : v.extensions()) {
    FUZZ_CHECK(e.id != 0);
    FUZZ_CHECK(e.offset >= block_start);
    FUZZ_CHECK(size_t{e.offset} + e.size <= block_start + block.size());
    if (v.extension_form() == ExtensionForm::kOneByte) FUZZ_CHECK(e.id <= 14 && e.size >= 1 && e.size <= 16);
    auto value = v.GetExtension(e.id);
    FUZZ_CHECK(value.has_value());
  }
  if (v.extension_form() == ExtensionForm::kNone || v.extension_form() == ExtensionForm::kOther) {
    FUZZ_CHECK(v.extensions().empty());
  }
}

void ReadTypedExtensions(const RtpPacketView& v, const ExtensionMap& map) {
  volatile size_t sink = 0;
  if (auto m = GetExtension<MidExtension>(v, map)) sink = sink + m->size();
  if (auto r = GetExtension<RtpStreamIdExtension>(v, map)) sink = sink + r->size();
  if (auto r = GetExtension<RepairedRtpStreamIdExtension>(v, map)) sink = sink + r->size();
  if (auto a = GetExtension<AbsSendTimeExtension>(v, map)) FUZZ_CHECK(*a <= 0xFFFFFF);
  if (auto t = GetExtension<TransportSequenceNumberExtension>(v, map)) sink = sink + *t;
  if (auto l = GetExtension<AudioLevelExtension>(v, map)) FUZZ_CHECK(l->level <= 127);
  if (auto o = GetExtension<VideoOrientationExtension>(v, map))
    FUZZ_CHECK(o->rotation % 90 == 0 && o->rotation < 360);
  (void)sink;
}

// Rebuilds the packet from its parsed parts; the rebuilt one must parse to the same thing.
void Rebuild(const RtpPacketView& v) {
  if (v.extension_form() == ExtensionForm::kOther) return;  // a profile the builder does not write
  RtpPacketBuilder b;
  b.SetMarker(v.marker())
      .SetPayloadType(v.payload_type())
      .SetSequenceNumber(v.sequence_number())
      .SetTimestamp(v.timestamp())
      .SetSsrc(v.ssrc());
  for (size_t i = 0; i < v.csrc_count(); ++i) FUZZ_CHECK(b.AddCsrc(v.csrc(i)));
  b.UseTwoByteExtensions(v.extension_form() == ExtensionForm::kTwoByte);
  for (const ExtensionElement& e : v.extensions()) {
    if (v.FindExtension(e.id) != &e) continue;                 // duplicates: the first wins
    if (!b.SetExtension(e.id, *v.GetExtension(e.id))) return;  // more than the builder holds
  }
  // A rebuilt header is at most 12 + 60 + 4 + 16 * 2 + 512 bytes (the builder's limits).
  std::vector<uint8_t> out(v.payload_size() + v.padding_size() + 700);
  auto n = b.Build(out, v.payload(), static_cast<uint8_t>(v.padding_size()));
  if (!n.ok()) return;  // a larger header (padding to 32 bits) may not fit
  auto r = RtpPacketView::Parse(ByteSpan(out).first(*n));
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(r->marker() == v.marker() && r->payload_type() == v.payload_type());
  FUZZ_CHECK(r->sequence_number() == v.sequence_number() && r->timestamp() == v.timestamp());
  FUZZ_CHECK(r->ssrc() == v.ssrc() && r->csrc_count() == v.csrc_count());
  FUZZ_CHECK(SameBytes(r->payload(), v.payload()));
  FUZZ_CHECK(r->padding_size() == v.padding_size());
  for (const ExtensionElement& e : v.extensions()) {
    auto original = v.GetExtension(e.id);
    auto rebuilt = r->GetExtension(e.id);
    FUZZ_CHECK(rebuilt.has_value() && SameBytes(*original, *rebuilt));
  }
}

void RtxRoundTrip(const RtpPacketView& v, const ExtensionMap& map) {
  std::vector<uint8_t> rtx(v.size() + 2);
  auto n = BuildRtxPacket(v, {0x12345678, 97, 4242}, rtx);
  if (!n.ok()) return;
  auto r = RtpPacketView::Parse(ByteSpan(rtx).first(*n));
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(r->ssrc() == 0x12345678 && r->payload_type() == 97 && r->sequence_number() == 4242);
  FUZZ_CHECK(r->payload_size() == v.payload_size() + 2);
  std::vector<uint8_t> restored(v.size());
  auto m = RestoreFromRtx(*r, v.ssrc(), v.payload_type(), restored);
  FUZZ_CHECK(m.ok());
  // The original without its padding.
  std::vector<uint8_t> expected(v.bytes().begin(),
                                v.bytes().begin() + static_cast<ptrdiff_t>(v.header_size()));
  expected[0] &= static_cast<uint8_t>(~0x20);
  expected.insert(expected.end(), v.payload().begin(), v.payload().end());
  FUZZ_CHECK(SameBytes(ByteSpan(restored).first(*m), expected));
  // With RID relabeling: still valid RTP that restores.
  n = BuildRtxPacket(v, {1, 97, 1}, rtx, &map);
  FUZZ_CHECK(n.ok());
  r = RtpPacketView::Parse(ByteSpan(rtx).first(*n));
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(RestoreFromRtx(*r, v.ssrc(), v.payload_type(), restored, &map).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ExtensionMap map = MakeMap();
  const ByteSpan in(data, size);
  (void)IsRtcpPacket(in);
  auto v = RtpPacketView::Parse(in);
  if (!v.ok()) return 0;
  CheckInvariants(*v);
  ReadTypedExtensions(*v, map);
  Rebuild(*v);
  RtxRoundTrip(*v, map);

  // The receive path a peer runs on every packet.
  BundleDemuxer demuxer(8);
  demuxer.SetExtensionMap(map);
  demuxer.AddSink(1, {.mid = "0", .rids = {}, .payload_types = {111}, .ssrcs = {}});
  demuxer.AddSink(2, {.mid = "1", .rids = {"h", "l"}, .payload_types = {96, 97}, .ssrcs = {}});
  const DemuxResult routed = demuxer.Route(*v);
  FUZZ_CHECK(routed.sink == kUnknownSink || routed.sink == 1 || routed.sink == 2);
  const Timestamp now = Timestamp::Seconds(100);
  RtpReceiveStatistics stats(v->ssrc(), 90000);
  stats.OnPacket(now, v->sequence_number(), v->timestamp());
  stats.OnPacket(now + TimeDelta::Millis(20), static_cast<uint16_t>(v->sequence_number() + 3),
                 v->timestamp() + 1800);
  (void)stats.BuildReportBlock(now + TimeDelta::Millis(30));
  NackGenerator nack;
  nack.OnPacket(now, 0);
  nack.OnPacket(now, v->sequence_number(), v->marker());
  std::vector<uint16_t> seqs;
  nack.PollNack(seqs);
  FUZZ_CHECK(seqs.size() <= NackConfig{}.max_nack_list);
  if (auto tsn = GetExtension<TransportSequenceNumberExtension>(*v, map)) {
    TwccReceiver twcc;
    twcc.OnPacket(now, 0);
    twcc.OnPacket(now + TimeDelta::Millis(1), *tsn);
    twcc.HandleTimeout(now + TimeDelta::Seconds(1));
    while (auto fb = twcc.PollFeedback())
      FUZZ_CHECK(fb->SerializedSize() <= TransportFeedback::kDefaultMaxSize);
  }
  return 0;
}
