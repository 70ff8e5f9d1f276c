// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): the
// draft's chunk examples, hand-assembled packets in the shape libwebrtc sends (sender SSRC 0xFA17FA17, P bit
// padding), parse/build round trips, limits; and the receiver that generates the feedback.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "core/rng.h"
#include "rtp/rtcp_compound.h"
#include "rtp/transport_feedback.h"
#include "rtp/twcc_receiver.h"

namespace tandem::rtp {
namespace {

using Status = TransportFeedback::Status;

std::vector<uint8_t> Bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

std::vector<uint8_t> Serialize(const TransportFeedback& fb) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  EXPECT_TRUE(fb.SerializeTo(w));
  EXPECT_EQ(out.size(), fb.SerializedSize());
  return out;
}

std::optional<TransportFeedback> ParseOne(ByteSpan packet) {
  RtcpPacketIterator it(packet);
  auto h = it.Next();
  if (!h || it.Next() || it.error()) return std::nullopt;
  return TransportFeedback::Parse(*h);
}

std::vector<uint16_t> Encode(std::initializer_list<Status> symbols) {
  std::vector<uint16_t> chunks;
  TransportFeedback::ChunkEncoder e;
  for (Status s : symbols) e.Add(s, &chunks);
  e.Finish(&chunks);
  return chunks;
}

TEST(TransportFeedbackChunkTest, DraftExamples) {
  // §3.1.3 example 1: a run of 221 packets not received is 0x00DD.
  std::vector<uint16_t> chunks;
  TransportFeedback::ChunkEncoder e;
  for (int i = 0; i < 221; ++i) e.Add(Status::kNotReceived, &chunks);
  e.Finish(&chunks);
  EXPECT_EQ(chunks, (std::vector<uint16_t>{0x00DD}));
  // §3.1.4 example 1: a one-bit vector: not received, five received, three not, three received, two not.
  const Status N = Status::kNotReceived, R = Status::kSmallDelta, L = Status::kLargeDelta;
  EXPECT_EQ(Encode({N, R, R, R, R, R, N, N, N, R, R, R, N, N}), (std::vector<uint16_t>{0x9F1C}));
  // A large delta forces two-bit symbols, seven per chunk: 1 1 | 01 10 00 01 01 01 01.
  EXPECT_EQ(Encode({R, L, N, R, R, R, R}), (std::vector<uint16_t>{0xD855}));
  // Runs longer than the 13-bit field split.
  chunks.clear();
  TransportFeedback::ChunkEncoder big;
  for (int i = 0; i < 8191 + 10; ++i) big.Add(Status::kSmallDelta, &chunks);
  big.Finish(&chunks);
  EXPECT_EQ(chunks, (std::vector<uint16_t>{0x3FFF, 0x200A}));
}

TEST(TransportFeedbackTest, HandBuiltPacketParsesAndBuilderReproducesIt) {
  // base 100, five statuses: received +4 ms (small), lost, +1 ms (small), +70 ms (large), -1 ms (large).
  // One two-bit vector chunk 11 01 00 01 10 10 00 00 00 = 0xD1A0; deltas 0x10, 0x04, 0x0118, 0xFFFC.
  const auto wire = Bytes({0x8F, 0xCD, 0x00, 0x06,  // FMT 15, PT 205, 7 words
                           0xFA, 0x17, 0xFA, 0x17,  // sender SSRC (libwebrtc's default feedback SSRC)
                           0x11, 0x22, 0x33, 0x44,  // media SSRC
                           0x00, 0x64, 0x00, 0x05,  // base 100, count 5
                           0x00, 0x00, 0x10, 0x07,  // reference time 16 (1.024 s), feedback count 7
                           0xD1, 0xA0,              // chunk
                           0x10, 0x04, 0x01, 0x18, 0xFF, 0xFC});
  auto fb = ParseOne(wire);
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->sender_ssrc(), 0xFA17FA17u);
  EXPECT_EQ(fb->media_ssrc(), 0x11223344u);
  EXPECT_EQ(fb->base_sequence_number(), 100);
  EXPECT_EQ(fb->packet_status_count(), 5);
  EXPECT_EQ(fb->reference_time(), 16);
  EXPECT_EQ(fb->BaseTimeUs(), 1024000);
  EXPECT_EQ(fb->feedback_count(), 7);
  using RP = TransportFeedback::ReceivedPacket;
  EXPECT_EQ(fb->received_packets(), (std::vector<RP>{{100, 16}, {102, 4}, {103, 280}, {104, -4}}));
  EXPECT_EQ(fb->Statuses(),
            (std::vector<Status>{Status::kSmallDelta, Status::kNotReceived, Status::kSmallDelta,
                                 Status::kLargeDelta, Status::kLargeDelta}));
  EXPECT_EQ(Serialize(*fb), wire);

  TransportFeedback built(0xFA17FA17, 0x11223344, 7);
  built.SetBase(100, Timestamp::Micros(1024000 + 3000));  // rounded down to 64 ms
  ASSERT_TRUE(built.AddReceivedPacket(100, Timestamp::Micros(1028000)));
  ASSERT_TRUE(built.AddReceivedPacket(102, Timestamp::Micros(1029000)));
  ASSERT_TRUE(built.AddReceivedPacket(103, Timestamp::Micros(1099000)));
  ASSERT_TRUE(built.AddReceivedPacket(104, Timestamp::Micros(1098000)));
  EXPECT_EQ(Serialize(built), wire);
  EXPECT_EQ(built, *fb);
}

TEST(TransportFeedbackTest, PaddedSinglePacketAsLibwebrtcSendsIt) {
  // One packet received 10 ms after the reference time: 23 bytes, so one byte of padding with the P bit set
  // and the count in the last byte.
  const auto wire = Bytes({0xAF, 0xCD, 0x00, 0x05, 0xFA, 0x17, 0xFA, 0x17, 0x01, 0x02, 0x03, 0x04,
                           0x01, 0xF4, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x20, 0x01, 0x28, 0x01});
  auto fb = ParseOne(wire);
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->base_sequence_number(), 500);
  EXPECT_EQ(fb->reference_time(), 256);
  ASSERT_EQ(fb->received_packets().size(), 1u);
  EXPECT_EQ(fb->received_packets()[0].delta_ticks, 40);
  EXPECT_EQ(Serialize(*fb), wire);
  // The same without the P bit, with plain zero padding ("zero padding" in the draft's figure): also
  // accepted.
  auto zero_padded = wire;
  zero_padded[0] = 0x8F;
  zero_padded.back() = 0;
  auto fb2 = ParseOne(zero_padded);
  ASSERT_TRUE(fb2);
  EXPECT_EQ(*fb2, *fb);
}

TEST(TransportFeedbackTest, RejectsMalformed) {
  const auto good =
      Bytes({0x8F, 0xCD, 0x00, 0x06, 0xFA, 0x17, 0xFA, 0x17, 0x11, 0x22, 0x33, 0x44, 0x00, 0x64,
             0x00, 0x05, 0x00, 0x00, 0x10, 0x07, 0xD1, 0xA0, 0x10, 0x04, 0x01, 0x18, 0xFF, 0xFC});
  ASSERT_TRUE(ParseOne(good));
  auto zero_count = good;
  zero_count[15] = 0;
  EXPECT_FALSE(ParseOne(zero_count));
  auto reserved = good;
  reserved[20] = 0xF1;  // first symbol 11: reserved
  EXPECT_FALSE(ParseOne(reserved));
  auto more_statuses = good;
  more_statuses[15] = 40;  // chunks run out
  EXPECT_FALSE(ParseOne(more_statuses));
  auto more_deltas = good;
  more_deltas[21] = 0xA5;  // 11 01 00 01 10 10 01 01: two more received packets, no bytes for them
  more_deltas[15] = 7;
  EXPECT_FALSE(ParseOne(more_deltas));
  auto too_short = Bytes({0x8F, 0xCD, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 1});
  EXPECT_FALSE(ParseOne(too_short));
}

TEST(TransportFeedbackTest, RoundTripsAcrossGapsWrapAndDeltaKinds) {
  SeededRng rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    TransportFeedback fb(1, 2, static_cast<uint8_t>(trial), 5000);
    uint16_t seq = static_cast<uint16_t>(65500 + trial);  // crosses the 16-bit wrap in many trials
    int64_t t = 5'000'000 + trial * 1000;
    fb.SetBase(seq, Timestamp::Micros(t));
    const int packets = 1 + static_cast<int>(rng.Uniform(0, 150));
    for (int i = 0; i < packets; ++i) {
      const uint32_t kind = rng.Uniform(0, 9);
      if (kind == 0)
        seq = static_cast<uint16_t>(seq + rng.Uniform(1, 300));  // a burst of losses
      else if (kind < 3)
        seq = static_cast<uint16_t>(seq + 1);  // one lost
      t += kind == 4 ? 100000 : (kind == 5 ? -3000 : static_cast<int64_t>(rng.Uniform(0, 3000)));
      ASSERT_TRUE(fb.AddReceivedPacket(seq, Timestamp::Micros(t)));
      seq = static_cast<uint16_t>(seq + 1);
    }
    const auto wire = Serialize(fb);
    auto parsed = ParseOne(wire);
    ASSERT_TRUE(parsed) << "trial " << trial;
    EXPECT_EQ(*parsed, fb);
    EXPECT_EQ(Serialize(*parsed), wire);
    // Receive times reconstruct to within half a tick of the truth, without drift.
    int64_t reconstructed = parsed->BaseTimeUs();
    for (const auto& p : parsed->received_packets())
      reconstructed += p.delta_ticks * TransportFeedback::kDeltaTickUs;
    EXPECT_LE(std::llabs(reconstructed - t), TransportFeedback::kDeltaTickUs / 2);
  }
}

TEST(TransportFeedbackTest, BuilderLimits) {
  TransportFeedback fb(1, 2, 0, 60);  // room for 40 bytes of chunks and deltas
  fb.SetBase(10, Timestamp::Millis(1000));
  ASSERT_TRUE(fb.AddReceivedPacket(10, Timestamp::Millis(1001)));
  EXPECT_FALSE(fb.AddReceivedPacket(10, Timestamp::Millis(1002)));  // not after the previous
  EXPECT_FALSE(fb.AddReceivedPacket(9, Timestamp::Millis(1002)));
  EXPECT_FALSE(fb.AddReceivedPacket(11, Timestamp::Millis(1001 + 8200)));  // delta past int16 ticks
  EXPECT_FALSE(fb.AddReceivedPacket(11, Timestamp::Millis(1001 - 8200)));
  int added = 1;
  uint16_t seq = 11;
  // Alternating lost/received with large deltas costs 2 bytes per packet plus a chunk per 7 statuses.
  while (fb.AddReceivedPacket(seq, Timestamp::Millis(1001 + added * 100))) {
    ++added;
    seq = static_cast<uint16_t>(seq + 2);
  }
  EXPECT_LE(fb.SerializedSize(), 60u);
  EXPECT_EQ(static_cast<int>(fb.received_packets().size()), added);
  EXPECT_GT(added, 5);
  // The status count cannot pass 0xFFFF.
  TransportFeedback wide(1, 2, 0, 5000);
  wide.SetBase(0, Timestamp::Millis(0));
  EXPECT_FALSE(wide.AddReceivedPacket(0xFFFF, Timestamp::Millis(1)));
  EXPECT_TRUE(wide.AddReceivedPacket(0xFFFE, Timestamp::Millis(1)));
  EXPECT_EQ(wide.packet_status_count(), 0xFFFF);
  EXPECT_EQ(ParseOne(Serialize(wide))->received_packets().size(), 1u);
}

TEST(TransportFeedbackTest, ReferenceTimeWraps) {
  // 2^24 ticks of 64 ms: the reference time is 24-bit signed on the wire, differences survive the wrap.
  TransportFeedback a(1, 2, 0), b(1, 2, 1);
  a.SetBase(0, Timestamp::Micros((int64_t{1} << 24) * 64000 - 64000));  // tick 2^24 - 1 -> -1 on the wire
  b.SetBase(0, Timestamp::Micros((int64_t{1} << 24) * 64000 + 64000));  // tick 2^24 + 1 -> 1
  EXPECT_EQ(a.reference_time(), -1);
  EXPECT_EQ(b.reference_time(), 1);
  EXPECT_EQ(b.BaseDeltaUs(a), 128000);
  EXPECT_EQ(a.BaseDeltaUs(b), -128000);
  TransportFeedback c(1, 2, 0);
  c.SetBase(0, Timestamp::Micros(int64_t{0x7FFFFF} * 64000));
  ASSERT_TRUE(c.AddReceivedPacket(0, Timestamp::Micros(int64_t{0x7FFFFF} * 64000)));
  EXPECT_EQ(ParseOne(Serialize(c))->reference_time(), 0x7FFFFF);
}

// --- TwccReceiver ---

TEST(TwccReceiverTest, ReportsEveryIntervalWithLosses) {
  TwccReceiver rx({.sender_ssrc = 9, .media_ssrc = 10, .interval = TimeDelta::Millis(100)});
  EXPECT_TRUE(rx.PollTimeout().IsInfinite());
  const Timestamp t0 = Timestamp::Millis(10'000);
  for (uint16_t s = 0; s < 20; ++s) {
    if (s == 5 || s == 6) continue;  // lost
    rx.OnPacket(t0 + TimeDelta::Millis(2 * s), s);
  }
  EXPECT_EQ(rx.PollTimeout(), t0 + TimeDelta::Millis(100));
  rx.HandleTimeout(t0 + TimeDelta::Millis(50));  // not yet due
  EXPECT_FALSE(rx.PollFeedback());
  rx.HandleTimeout(t0 + TimeDelta::Millis(100));
  auto fb = rx.PollFeedback();
  ASSERT_TRUE(fb);
  EXPECT_FALSE(rx.PollFeedback());
  EXPECT_EQ(fb->sender_ssrc(), 9u);
  EXPECT_EQ(fb->media_ssrc(), 10u);
  EXPECT_EQ(fb->base_sequence_number(), 0);
  EXPECT_EQ(fb->packet_status_count(), 20);
  EXPECT_EQ(fb->received_packets().size(), 18u);
  EXPECT_EQ(fb->feedback_count(), 0);
  EXPECT_TRUE(rx.PollTimeout().IsInfinite());  // nothing new

  // The next report starts right after the last one.
  rx.OnPacket(t0 + TimeDelta::Millis(150), 21);
  rx.HandleTimeout(t0 + TimeDelta::Millis(200));
  fb = rx.PollFeedback();
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->base_sequence_number(), 20);  // 20 was never seen: reported lost
  EXPECT_EQ(fb->packet_status_count(), 2);
  EXPECT_EQ(fb->feedback_count(), 1);
  EXPECT_EQ(rx.stats().feedback_packets, 2u);
}

TEST(TwccReceiverTest, LatePacketIsReportedAgain) {
  TwccReceiver rx({.interval = TimeDelta::Millis(100)});
  const Timestamp t0 = Timestamp::Millis(1000);
  rx.OnPacket(t0, 1);
  rx.OnPacket(t0 + TimeDelta::Millis(1), 3);
  rx.HandleTimeout(t0 + TimeDelta::Millis(100));
  ASSERT_TRUE(rx.PollFeedback());
  rx.OnPacket(t0 + TimeDelta::Millis(120), 2);  // was reported lost
  rx.HandleTimeout(t0 + TimeDelta::Millis(200));
  auto fb = rx.PollFeedback();
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->base_sequence_number(), 2);
  ASSERT_EQ(fb->received_packets().size(), 2u);  // 2, and 3 again (still remembered)
  EXPECT_EQ(rx.stats().late, 1u);
  rx.OnPacket(t0 + TimeDelta::Millis(210), 3);  // a duplicate of a reported packet
  EXPECT_EQ(rx.stats().duplicates, 1u);
}

TEST(TwccReceiverTest, SplitsLargeReportsAndStaysBounded) {
  TwccReceiver rx({.interval = TimeDelta::Millis(100), .max_packet_size = 200, .max_tracked_packets = 1000});
  const Timestamp t0 = Timestamp::Millis(1000);
  // 400 packets with alternating large deltas: more than one 200-byte feedback holds.
  for (uint16_t s = 0; s < 400; ++s) rx.OnPacket(t0 + TimeDelta::Millis(s % 2 ? 0 : 90), s);
  rx.HandleTimeout(t0 + TimeDelta::Millis(200));
  int packets = 0;
  int64_t next = 0;
  while (auto fb = rx.PollFeedback()) {
    EXPECT_LE(fb->SerializedSize(), 200u);
    EXPECT_EQ(fb->base_sequence_number(), next);
    next = fb->base_sequence_number() + fb->packet_status_count();
    ++packets;
  }
  EXPECT_GT(packets, 1);
  EXPECT_EQ(next, 400);
  // A flood of distinct sequence numbers is bounded by max_tracked_packets.
  for (int i = 0; i < 5000; ++i) rx.OnPacket(t0 + TimeDelta::Millis(200), static_cast<uint16_t>(400 + i));
  EXPECT_GT(rx.stats().dropped_records, 0u);
}

}  // namespace
}  // namespace tandem::rtp
