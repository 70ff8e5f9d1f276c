// Two RtpSessions (a sends, z receives, and back) with SRTP keys from a real DTLS handshake, over simulated
// links on a fake clock: frames and audio end to end, loss repaired by NACK/RTX, PLI/FIR, BUNDLE
// demultiplexing, RTCP reports and RTT, transport-wide feedback and the bandwidth estimate, REMB, BYE,
// pacing, and hostile input.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "rtp/rtcp_compound.h"
#include "session/rtp_session.h"
#include "session/session_test_util.h"

namespace tandem::session {
namespace {

using namespace tandem::session::test;  // NOLINT(google-build-using-namespace): test helpers

constexpr uint32_t kVideoSsrc = 0x11110001;
constexpr uint32_t kVideoRtxSsrc = 0x11110002;
constexpr uint32_t kAudioSsrc = 0x11110003;
constexpr uint32_t kVideo2Ssrc = 0x11110004;
constexpr uint32_t kVideo2RtxSsrc = 0x11110005;

// Checks that every frame is a synthetic frame sent by the encoder, in order, and returns their indices.
std::vector<uint32_t> CheckedIndices(const std::vector<ReceivedFrame>& frames, uint32_t salt = 0) {
  std::vector<uint32_t> indices;
  for (const auto& f : frames) {
    EXPECT_TRUE(IsSyntheticVp8Frame(f.data, f.key_frame, salt)) << "frame bytes are exactly what was sent";
    const uint32_t index = SyntheticVp8Index(f.data, f.key_frame);
    if (!indices.empty()) {
      EXPECT_GT(index, indices.back()) << "frames come out in order";
    }
    indices.push_back(index);
  }
  return indices;
}

// Sends `count` frames of `encoder` on a's stream at the encoder's frame rate (and audio every 20 ms when
// given), running the harness in between; key frame requests reach the encoder.
struct Sender {
  Harness& h;
  StreamId video = 0;
  FakeVideoEncoder* encoder = nullptr;
  StreamId audio = 0;
  uint32_t audio_sent = 0;

  void Run(TimeDelta duration) {
    const Timestamp end = h.now + duration;
    Timestamp next_video = h.now;
    Timestamp next_audio = h.now;
    while (true) {
      const Timestamp next =
          std::min(encoder ? next_video : Timestamp::Infinity(), audio ? next_audio : Timestamp::Infinity());
      if (next >= end) break;
      h.AdvanceTo(next);
      if (encoder && h.now >= next_video) {
        EncodedFrame f = encoder->Next();
        EXPECT_TRUE(h.a->SendFrame(h.now, video, f).ok());
        next_video = next_video + encoder->frame_interval();
      }
      if (audio && h.now >= next_audio) {
        auto packet = SyntheticOpusPacket(audio_sent);
        EncodedFrame f;
        f.data = packet;
        f.rtp_timestamp = audio_sent * 960;
        f.audio_level = rtp::AudioLevel{true, static_cast<uint8_t>(audio_sent % 100)};
        EXPECT_TRUE(h.a->SendFrame(h.now, audio, f).ok());
        ++audio_sent;
        next_audio = next_audio + TimeDelta::Millis(20);
      }
    }
    h.AdvanceTo(end);
  }
};

// Key frame requests and the bitrate allocation reach the encoder, as the track layer does it.
void ConnectEncoder(Harness& h, StreamId stream, FakeVideoEncoder& encoder) {
  h.a.on_event = [stream, &encoder](const Event& e) {
    if (const auto* k = std::get_if<KeyFrameRequested>(&e); k && k->stream == stream)
      encoder.RequestKeyFrame();
    if (const auto* t = std::get_if<TargetBitrateChanged>(&e)) {
      for (const auto& [id, bps] : t->allocation) {
        if (id == stream) encoder.set_bitrate(bps);
      }
    }
  };
}

// --- Basics ---

TEST(RtpSessionTest, VideoAndAudioArriveCompleteAndInOrder) {
  Harness h;
  h.SetExtensions(AllExtensions());
  h.SetKeys();
  const StreamId video = h.a->AddSendStream(VideoSend("0", kVideoSsrc, kVideoRtxSsrc)).value();
  const StreamId audio = h.a->AddSendStream(AudioSend("1", kAudioSsrc)).value();
  const StreamId video_in = h.z->AddReceiveStream(VideoReceive("0")).value();
  const StreamId audio_in = h.z->AddReceiveStream(AudioReceive("1")).value();
  FakeVideoEncoder encoder(400'000);
  ConnectEncoder(h, video, encoder);
  Sender{h, video, &encoder, audio}.Run(TimeDelta::Seconds(3));
  h.Advance(TimeDelta::Millis(500));

  const auto frames = h.z.FramesOf(video_in);
  const auto indices = CheckedIndices(frames);
  ASSERT_EQ(indices.size(), encoder.frames());
  for (uint32_t i = 0; i < indices.size(); ++i) EXPECT_EQ(indices[i], i);
  EXPECT_TRUE(frames.front().key_frame);
  EXPECT_EQ(frames.front().width, 320);
  EXPECT_EQ(frames.front().codec, media::VideoCodec::kVp8);
  EXPECT_EQ(frames.front().payload_type, 96);
  EXPECT_EQ(frames.front().ssrc, kVideoSsrc);

  // Audio: every packet played once, in order.
  const auto played = h.z.AudioOf(audio_in, media::AudioPlayoutKind::kPacket);
  ASSERT_GE(played.size(), 140u);
  for (size_t i = 0; i < played.size(); ++i) {
    EXPECT_EQ(SyntheticOpusIndex(played[i].payload), i);
    EXPECT_EQ(played[i].payload, SyntheticOpusPacket(static_cast<uint32_t>(i)));
  }

  // Both streams were found through the MID extension and announced.
  const auto learned = h.z.EventsOf<RemoteSsrcLearned>();
  ASSERT_EQ(learned.size(), 2u);
  EXPECT_EQ(h.z->RemoteSsrc(video_in), kVideoSsrc);
  EXPECT_EQ(h.z->RemoteSsrc(audio_in), kAudioSsrc);

  const Stats a = h.a->GetStats();
  const Stats z = h.z->GetStats();
  ASSERT_EQ(a.outbound.size(), 2u);
  ASSERT_EQ(z.inbound.size(), 2u);
  EXPECT_EQ(a.outbound[0].frames_encoded, encoder.frames());
  EXPECT_EQ(a.outbound[0].packets_sent, z.inbound[0].packets_received);
  EXPECT_EQ(a.outbound[0].bytes_sent, z.inbound[0].bytes_received);
  EXPECT_EQ(z.inbound[0].packets_lost, 0);
  EXPECT_EQ(z.inbound[0].frames_received, encoder.frames());
  EXPECT_EQ(z.inbound[0].key_frames_received, 1u);
  EXPECT_EQ(z.inbound[0].frames_dropped, 0u);
  EXPECT_EQ(a.outbound[1].packets_sent, h.z->GetStats().inbound[1].packets_received);
  ASSERT_TRUE(z.inbound[1].audio_level.has_value());
  EXPECT_TRUE(z.inbound[1].audio_level->voice_activity);
  EXPECT_EQ(a.outbound[0].retransmitted_packets_sent, 0u);
  EXPECT_EQ(z.transport.unroutable_rtp, 0u);
  EXPECT_EQ(z.transport.srtp_auth_failures, 0u);
  EXPECT_GT(z.inbound[0].jitter_buffer_emitted_count, 0u);
}

TEST(RtpSessionTest, NothingIsSentBeforeTheKeysAndEarlyPacketsWait) {
  Harness h;
  h.SetExtensions(AllExtensions());
  const StreamId video = h.a->AddSendStream(VideoSend("0", kVideoSsrc, kVideoRtxSsrc)).value();
  h.z->AddReceiveStream(VideoReceive("0")).value();
  FakeVideoEncoder encoder;
  EXPECT_EQ(h.a->SendFrame(h.now, video, encoder.Next()).error().code, ErrorCode::kUnavailable);
  h.Advance(TimeDelta::Seconds(2));
  EXPECT_EQ(h.a_to_z.sent, 0);
  EXPECT_EQ(h.a->GetStats().outbound[0].frames_dropped, 1u);
  EXPECT_TRUE(h.a->PollTimeout().IsInfinite());

  // a gets its keys first (as a DTLS server does): z keeps what arrives until it has its own.
  ASSERT_TRUE(h.a->SetSrtpKeys(h.now, DtlsKeys().a).ok());
  encoder.RequestKeyFrame();
  ASSERT_TRUE(h.a->SendFrame(h.now, video, encoder.Next()).ok());
  h.Advance(TimeDelta::Millis(100));
  EXPECT_GT(h.a_to_z.sent, 0);
  EXPECT_TRUE(h.z.frames.empty());
  ASSERT_TRUE(h.z->SetSrtpKeys(h.now, DtlsKeys().z).ok());
  h.Advance(TimeDelta::Millis(200));
  ASSERT_EQ(h.z.frames.size(), 1u);
  EXPECT_TRUE(h.z.frames[0].key_frame);
}

TEST(RtpSessionTest, ConfigurationErrorsAreValues) {
  SeededRng rng(1);
  RtpSession s(DefaultConfig("cname"), rng);
  EXPECT_EQ(s.AddSendStream(VideoSend("0", kVideoSsrc, {}, OpusCodec())).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.AddSendStream(VideoSend("0", 0, {})).error().code, ErrorCode::kInvalidArgument);
  Codec unknown = Vp8Codec();
  unknown.name = "AV1";
  EXPECT_EQ(s.AddSendStream(VideoSend("0", kVideoSsrc, {}, unknown)).error().code,
            ErrorCode::kInvalidArgument);
  const StreamId id = s.AddSendStream(VideoSend("0", kVideoSsrc, kVideoRtxSsrc)).value();
  EXPECT_EQ(s.AddSendStream(VideoSend("1", kVideoRtxSsrc, {})).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.UpdateSendCodec(id, OpusCodec()).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.UpdateSendCodec(999, Vp8Codec()).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s.SendFrame(Timestamp::Seconds(1), 999, {}).error().code, ErrorCode::kNotFound);

  EXPECT_EQ(s.AddReceiveStream(VideoReceive("")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.AddReceiveStream(VideoReceive("0", {OpusCodec()})).error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(s.AddReceiveStream(VideoReceive("0")).ok());
  EXPECT_EQ(s.AddReceiveStream(VideoReceive("0")).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(s.RequestKeyFrame(Timestamp::Seconds(1), 999).error().code, ErrorCode::kNotFound);

  dtls::SrtpKeyingMaterial bad;
  EXPECT_FALSE(s.SetSrtpKeys(Timestamp::Seconds(1), bad).ok());
  EXPECT_FALSE(s.has_srtp_keys());
  // An MID/codec combination in bounds: limits are enforced.
  Config small = DefaultConfig("c");
  small.max_send_streams = 1;
  small.max_receive_streams = 1;
  RtpSession limited(small, rng);
  ASSERT_TRUE(limited.AddSendStream(VideoSend("0", 1, {})).ok());
  EXPECT_EQ(limited.AddSendStream(VideoSend("1", 2, {})).error().code, ErrorCode::kLimitExceeded);
  ASSERT_TRUE(limited.AddReceiveStream(VideoReceive("0")).ok());
  EXPECT_EQ(limited.AddReceiveStream(VideoReceive("1")).error().code, ErrorCode::kLimitExceeded);
}

// --- Loss ---

struct LossRun {
  std::vector<uint32_t> indices;
  uint32_t frames_sent = 0;
  Stats a, z;
  int lost = 0;
  std::vector<KeyFrameRequested> key_requests;
};

LossRun RunWithLoss(double loss, dtls::SrtpProfile profile, uint64_t seed, bool rtx = true,
                    TimeDelta duration = TimeDelta::Seconds(10)) {
  LinkConfig forward{
      .delay = TimeDelta::Millis(30), .jitter = TimeDelta::Millis(5), .loss = loss, .seed = seed};
  LinkConfig back{
      .delay = TimeDelta::Millis(30), .jitter = TimeDelta::Millis(5), .loss = loss, .seed = seed + 1};
  // The first key frame crosses a clean link: a receiver cannot ask for packets sent before the first one
  // it saw (a lost start is repaired by PLI, covered below).
  const double link_loss = loss;
  forward.loss = back.loss = 0;
  Harness h(DefaultConfig("a-cname"), DefaultConfig("z-cname"), forward, back);
  h.SetExtensions(AllExtensions());
  h.SetKeys(profile);
  const StreamId video =
      h.a->AddSendStream(
             VideoSend("0", kVideoSsrc, rtx ? std::optional<uint32_t>(kVideoRtxSsrc) : std::nullopt))
          .value();
  h.z->AddReceiveStream(VideoReceive("0", {Vp8Codec()}, {}, {})).value();
  FakeVideoEncoder encoder(600'000);
  ConnectEncoder(h, video, encoder);
  Sender sender{h, video, &encoder};
  sender.Run(TimeDelta::Millis(200));
  h.a_to_z.set_loss(link_loss);
  h.z_to_a.set_loss(link_loss);
  sender.Run(duration - TimeDelta::Millis(200));
  h.Advance(TimeDelta::Seconds(1));
  LossRun run;
  run.indices = CheckedIndices(h.z.frames);
  run.frames_sent = encoder.frames();
  run.a = h.a->GetStats();
  run.z = h.z->GetStats();
  run.lost = h.a_to_z.lost;
  run.key_requests = h.a.EventsOf<KeyFrameRequested>();
  return run;
}

class LossTest : public ::testing::TestWithParam<dtls::SrtpProfile> {};

// The acceptance (3): with 5% random loss both ways, NACK/RTX keeps every frame and the stats show
// the retransmissions.
TEST_P(LossTest, FivePercentLossIsRepairedByNackAndRtx) {
  const LossRun run = RunWithLoss(0.05, GetParam(), 7);
  EXPECT_GT(run.lost, 20) << "the link really lost packets";
  ASSERT_EQ(run.indices.size(), run.frames_sent) << "no frame lost";
  for (uint32_t i = 0; i < run.indices.size(); ++i) ASSERT_EQ(run.indices[i], i);
  const OutboundRtpStats& out = run.a.outbound[0];
  const InboundRtpStats& in = run.z.inbound[0];
  EXPECT_GT(out.nack_count, 0u);
  EXPECT_GT(out.retransmitted_packets_sent, 0u);
  EXPECT_GT(out.retransmitted_bytes_sent, 0u);
  EXPECT_GT(in.nack_count, 0u);
  EXPECT_GT(in.retransmitted_packets_received, 0u);
  EXPECT_EQ(in.frames_dropped, 0u);
  EXPECT_EQ(in.key_frames_received, 1u) << "no key frame was needed";
  EXPECT_TRUE(run.key_requests.empty());
  EXPECT_LE(in.packets_lost, 0) << "every loss was repaired (duplicates may make it negative)";
  // The sender's view from the receiver's reports.
  EXPECT_TRUE(out.remote.valid);
  ASSERT_TRUE(out.remote.round_trip_time.has_value());
}

INSTANTIATE_TEST_SUITE_P(Profiles, LossTest,
                         ::testing::Values(dtls::SrtpProfile::kAeadAes128Gcm,
                                           dtls::SrtpProfile::kAes128CmSha1_80),
                         [](const auto& info) {
                           return info.index == 0 ? "AeadAes128Gcm" : "Aes128CmSha1_80";
                         });

TEST(RtpSessionLossTest, WithoutRtxTheOriginalIsResent) {
  const LossRun run = RunWithLoss(0.05, dtls::SrtpProfile::kAeadAes128Gcm, 9, /*rtx=*/false);
  ASSERT_EQ(run.indices.size(), run.frames_sent);
  EXPECT_GT(run.a.outbound[0].retransmitted_packets_sent, 0u);
  EXPECT_EQ(run.z.inbound[0].retransmitted_packets_received, 0u) << "no RTX stream";
  EXPECT_EQ(run.z.inbound[0].frames_dropped, 0u);
}

TEST(RtpSessionLossTest, HeavyLossFallsBackToKeyFrames) {
  const LossRun run = RunWithLoss(0.25, dtls::SrtpProfile::kAeadAes128Gcm, 11);
  // Some frames could not be repaired in time: the receiver asked for key frames and kept decoding from them.
  EXPECT_GT(run.z.inbound[0].pli_count, 0u);
  EXPECT_GT(run.a.outbound[0].pli_count, 0u);
  EXPECT_FALSE(run.key_requests.empty());
  EXPECT_GT(run.z.inbound[0].key_frames_received, 1u);
  EXPECT_GT(run.indices.size(), run.frames_sent / 2) << "most frames still arrive";
  EXPECT_GT(run.indices.back(), run.frames_sent - 30) << "and decoding goes on to the end";
}

TEST(RtpSessionLossTest, OutageEndsWithPliAndKeyFrame) {
  Harness h(DefaultConfig("a"), DefaultConfig("z"), {.delay = TimeDelta::Millis(25)},
            {.delay = TimeDelta::Millis(25)});
  h.SetExtensions(AllExtensions());
  h.SetKeys();
  const StreamId video = h.a->AddSendStream(VideoSend("0", kVideoSsrc, kVideoRtxSsrc)).value();
  const StreamId in = h.z->AddReceiveStream(VideoReceive("0")).value();
  FakeVideoEncoder encoder(600'000);
  ConnectEncoder(h, video, encoder);
  Sender sender{h, video, &encoder};
  sender.Run(TimeDelta::Seconds(2));
  const uint32_t before = encoder.frames();
  h.a_to_z.down = true;  // longer than the history keeps packets (1 s)
  sender.Run(TimeDelta::Millis(1500));
  h.a_to_z.down = false;
  const Timestamp link_back = h.now;
  sender.Run(TimeDelta::Seconds(2));
  h.Advance(TimeDelta::Millis(500));

  const auto frames = h.z.FramesOf(in);
  const auto indices = CheckedIndices(frames);
  EXPECT_GE(encoder.key_frames, 2) << "a key frame answered the PLI";
  EXPECT_FALSE(h.a.EventsOf<KeyFrameRequested>().empty());
  EXPECT_GT(h.z->GetStats().inbound[0].pli_count, 0u);
  // Frames before the outage, then from a key frame on after it, to the end.
  ASSERT_FALSE(frames.empty());
  auto first_after = std::find_if(frames.begin(), frames.end(), [&](const ReceivedFrame& f) {
    return SyntheticVp8Index(f.data, f.key_frame) >= before + 45;
  });
  ASSERT_NE(first_after, frames.end());
  EXPECT_TRUE(first_after->key_frame) << "decoding resumed at a key frame";
  EXPECT_LT(first_after->at - link_back, TimeDelta::Millis(600))
      << "soon after the link came back: useless repairs of the outage did not delay the key frame";
  EXPECT_EQ(indices.back(), encoder.frames() - 1);
  EXPECT_GT(h.a->GetStats().outbound[0].retransmissions_not_found, 0u) << "the history had expired";
}

// --- BUNDLE ---

// Audio, video and a second video on one transport, told apart by the MID extension (SSRCs learned).
TEST(RtpSessionBundleTest, DemultiplexesByMid) {
  Harness h;
  h.SetExtensions(AllExtensions());
  h.SetKeys();
  const StreamId v1 = h.a->AddSendStream(VideoSend("v1", kVideoSsrc, kVideoRtxSsrc)).value();
  const StreamId v2 = h.a->AddSendStream(VideoSend("v2", kVideo2Ssrc, kVideo2RtxSsrc)).value();
  const StreamId au = h.a->AddSendStream(AudioSend("a", kAudioSsrc)).value();
  const StreamId in_au = h.z->AddReceiveStream(AudioReceive("a")).value();
  const StreamId in_v2 = h.z->AddReceiveStream(VideoReceive("v2")).value();
  const StreamId in_v1 = h.z->AddReceiveStream(VideoReceive("v1")).value();
  h.a_to_z.set_loss(0.03);  // RTX must find its way too
  FakeVideoEncoder e1(300'000, 30, 1), e2(200'000, 15, 2);
  uint32_t audio_sent = 0;
  for (int ms = 0; ms < 3000; ms += 10) {
    h.AdvanceTo(h.now + TimeDelta::Millis(10));
    if (ms % 30 == 0) ASSERT_TRUE(h.a->SendFrame(h.now, v1, e1.Next()).ok());
    if (ms % 60 == 0) ASSERT_TRUE(h.a->SendFrame(h.now, v2, e2.Next()).ok());
    if (ms % 20 == 0) {
      auto p = SyntheticOpusPacket(audio_sent);
      ASSERT_TRUE(h.a->SendFrame(h.now, au, {.data = p, .rtp_timestamp = audio_sent++ * 960}).ok());
    }
  }
  h.Advance(TimeDelta::Seconds(1));
  EXPECT_EQ(CheckedIndices(h.z.FramesOf(in_v1), 1).size(), e1.frames());
  EXPECT_EQ(CheckedIndices(h.z.FramesOf(in_v2), 2).size(), e2.frames());
  EXPECT_GT(h.z.AudioOf(in_au, media::AudioPlayoutKind::kPacket).size(), 130u);
  EXPECT_EQ(h.z->RemoteSsrc(in_v1), kVideoSsrc);
  EXPECT_EQ(h.z->RemoteSsrc(in_v2), kVideo2Ssrc);
  EXPECT_EQ(h.z->RemoteSsrc(in_au), kAudioSsrc);
  const Stats z = h.z->GetStats();
  EXPECT_EQ(z.transport.unroutable_rtp, 0u);
  for (const auto& s : z.inbound) {
    if (s.kind == MediaKind::kVideo) {
      EXPECT_GT(s.retransmitted_packets_received, 0u) << s.mid;
      EXPECT_EQ(s.rtx_ssrc, s.mid == "v1" ? kVideoRtxSsrc : kVideo2RtxSsrc) << "RTX SSRC learned by MID";
    }
  }
}

// The same without the MID extension (a peer that did not negotiate it): signaled SSRCs route the packets,
// and two video m-sections with the same payload types stay apart.
TEST(RtpSessionBundleTest, DemultiplexesBySignaledSsrc) {
  Harness h;
  Extensions no_mid = AllExtensions();
  no_mid.mid = 0;
  h.SetExtensions(no_mid);
  h.SetKeys();
  const StreamId v1 = h.a->AddSendStream(VideoSend("v1", kVideoSsrc, kVideoRtxSsrc)).value();
  const StreamId v2 = h.a->AddSendStream(VideoSend("v2", kVideo2Ssrc, kVideo2RtxSsrc)).value();
  const StreamId au = h.a->AddSendStream(AudioSend("a", kAudioSsrc)).value();
  const StreamId in_v1 =
      h.z->AddReceiveStream(VideoReceive("v1", {Vp8Codec()}, {kVideoSsrc}, kVideoRtxSsrc)).value();
  const StreamId in_v2 =
      h.z->AddReceiveStream(VideoReceive("v2", {Vp8Codec()}, {kVideo2Ssrc}, kVideo2RtxSsrc)).value();
  // Audio's payload type is unique in the bundle: RFC 8843 §9.2's last resort finds it without an SSRC.
  const StreamId in_au = h.z->AddReceiveStream(AudioReceive("a")).value();
  h.a_to_z.set_loss(0.03);
  FakeVideoEncoder e1(300'000, 30, 1), e2(300'000, 30, 2);
  uint32_t audio_sent = 0;
  for (int ms = 0; ms < 3000; ms += 10) {
    h.AdvanceTo(h.now + TimeDelta::Millis(10));
    if (ms % 30 == 0) {
      ASSERT_TRUE(h.a->SendFrame(h.now, v1, e1.Next()).ok());
      ASSERT_TRUE(h.a->SendFrame(h.now, v2, e2.Next()).ok());
    }
    if (ms % 20 == 0) {
      auto p = SyntheticOpusPacket(audio_sent);
      ASSERT_TRUE(h.a->SendFrame(h.now, au, {.data = p, .rtp_timestamp = audio_sent++ * 960}).ok());
    }
  }
  h.Advance(TimeDelta::Seconds(1));
  EXPECT_EQ(CheckedIndices(h.z.FramesOf(in_v1), 1).size(), e1.frames());
  EXPECT_EQ(CheckedIndices(h.z.FramesOf(in_v2), 2).size(), e2.frames());
  EXPECT_GT(h.z.AudioOf(in_au, media::AudioPlayoutKind::kPacket).size(), 130u);
  EXPECT_TRUE(h.z.EventsOf<RemoteSsrcLearned>().size() == 1) << "only audio's SSRC was learned";
  EXPECT_EQ(h.z->GetStats().transport.unroutable_rtp, 0u);
}

// --- RTCP ---

TEST(RtpSessionRtcpTest, SenderAndReceiverReportsGiveTheRoundTripTime) {
  Harness h(DefaultConfig("a"), DefaultConfig("z"), {.delay = TimeDelta::Millis(40)},
            {.delay = TimeDelta::Millis(60)});
  h.SetExtensions(AllExtensions());
  h.SetKeys();
  const StreamId a_video = h.a->AddSendStream(VideoSend("0", kVideoSsrc, kVideoRtxSsrc)).value();
  const StreamId z_audio = h.z->AddSendStream(AudioSend("1", 0x22220001)).value();
  h.z->AddReceiveStream(VideoReceive("0")).value();
  h.a->AddReceiveStream(AudioReceive("1")).value();
  FakeVideoEncoder encoder(300'000);
  uint32_t audio_sent = 0;
  for (int ms = 0; ms < 5000; ms += 10) {
    h.AdvanceTo(h.now + TimeDelta::Millis(10));
    if (ms % 30 == 0) ASSERT_TRUE(h.a->SendFrame(h.now, a_video, encoder.Next()).ok());
    if (ms % 20 == 0) {
      auto p = SyntheticOpusPacket(audio_sent);
      ASSERT_TRUE(h.z->SendFrame(h.now, z_audio, {.data = p, .rtp_timestamp = audio_sent++ * 960}).ok());
    }
  }
  for (Side* side : {&h.a, &h.z}) {
    const Stats s = (*side)->GetStats();
    const auto& remote = s.outbound[0].remote;
    ASSERT_TRUE(remote.round_trip_time.has_value());
    // 40 + 60 ms of propagation; the RTT is measured to within DLSR's resolution (15 us) plus pacing.
    EXPECT_GE(remote.round_trip_time->us(), 99'000);
    EXPECT_LE(remote.round_trip_time->us(), 106'000);
    EXPECT_GE(remote.round_trip_time_measurements, 3u);
    EXPECT_EQ(remote.packets_lost, 0);
    ASSERT_TRUE(s.transport.round_trip_time.has_value());
    EXPECT_GT(s.inbound[0].remote_reports, 0u) << "the peer's SRs arrived";
    EXPECT_GT(s.inbound[0].remote_packets_sent, 0u);
  }
}

}  // namespace
}  // namespace tandem::session
