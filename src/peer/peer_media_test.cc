// Media through the public API (include/tandem/) over real loopback sockets: tracks added on one
// PeerConnection arrive as remote tracks on the other (W3C "track" event), are decoded to frames of the sent
// size, can be recorded to files that play back, and come and go with renegotiation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "media/ivf.h"
#include "media/ogg_opus.h"
#include "media/vp8_codec.h"
#include "peer/peer_connection_test_util.h"
#include "tandem/media.h"
#include "tandem/peer_connection.h"

namespace tandem {
namespace {

using namespace testing_pc;  // NOLINT(google-build-using-namespace): test helpers

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/tandem_media_" + std::to_string(getpid()) + "_" + name;
}

// What the receiving side saw, written by its callbacks.
struct RemoteMedia {
  std::vector<std::shared_ptr<MediaStreamTrack>> tracks;
  std::vector<std::vector<std::string>> stream_ids;
  int video_frames = 0;
  int audio_frames = 0;
  int width = 0, height = 0;
  size_t i420_size = 0;
  int audio_rate = 0;
  int ended = 0;

  std::shared_ptr<MediaStreamTrack> Of(MediaKind kind) const {
    for (const auto& t : tracks)
      if (t->kind() == kind) return t;
    return nullptr;
  }
};

void Watch(Pair& p, PeerConnection& pc, RemoteMedia& seen) {
  pc.OnTrack([&p, &seen](const TrackEvent& e) {
    auto track = e.track;
    track->OnVideoFrame([&p, &seen](const VideoFrame& f) {
      p.rec.Do([&] {
        ++seen.video_frames;
        seen.width = f.width;
        seen.height = f.height;
        seen.i420_size = f.i420.size();
      });
    });
    track->OnAudioFrame([&p, &seen](const AudioFrame& f) {
      p.rec.Do([&] {
        ++seen.audio_frames;
        seen.audio_rate = f.sample_rate;
      });
    });
    track->OnEnded([&p, &seen] { p.rec.Do([&] { ++seen.ended; }); });
    p.rec.Do([&] {
      seen.tracks.push_back(track);
      seen.stream_ids.push_back(e.stream_ids);
    });
  });
}

TEST(PeerMediaTest, VideoAndAudioArriveDecodedAtTheSentSize) {
  RemoteMedia at_b;
  Pair p;
  Watch(p, p.b, at_b);
  auto video = CreateTestPatternTrack({.width = 320, .height = 240, .fps = 30});
  auto audio = CreateToneTrack({});
  ASSERT_TRUE(p.a.AddTrack(video, {"stream-1"}));
  ASSERT_TRUE(p.a.AddTrack(audio, {"stream-1"}));
  p.Negotiate();
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(p.RunUntil([&] { return at_b.video_frames >= 30 && at_b.audio_frames >= 50; }))
      << "video " << at_b.video_frames << " audio " << at_b.audio_frames;
  EXPECT_EQ(at_b.tracks.size(), 2u);
  EXPECT_EQ(at_b.stream_ids[0], std::vector<std::string>{"stream-1"});
  p.rec.Do([&] {
    EXPECT_EQ(at_b.width, 320);
    EXPECT_EQ(at_b.height, 240);
    EXPECT_EQ(at_b.i420_size, 320u * 240 * 3 / 2);
    EXPECT_EQ(at_b.audio_rate, 48000);
  });
  const TrackStats received = at_b.Of(MediaKind::kVideo)->stats();
  EXPECT_GE(received.key_frames, 1u);
  EXPECT_EQ(received.decode_errors, 0u);

  // The W3C stats: outbound-rtp at the sender, inbound-rtp at the receiver, per kind.
  const StatsReport sent = p.a.GetStats(), got = p.b.GetStats();
  ASSERT_EQ(sent.OfType("outbound-rtp").size(), 2u);
  ASSERT_EQ(got.OfType("inbound-rtp").size(), 2u);
  for (const RtcStats* s : got.OfType("inbound-rtp")) {
    EXPECT_GT(s->Number("packetsReceived").value_or(0), 0) << s->String("kind").value_or("?");
    EXPECT_GT(s->Number("bytesReceived").value_or(0), 0);
  }
  for (const RtcStats* s : sent.OfType("outbound-rtp")) EXPECT_GT(s->Number("packetsSent").value_or(0), 0);
}

TEST(PeerMediaTest, BothSidesSendOnOneTransceiverEach) {
  RemoteMedia at_a, at_b;
  Pair p;
  Watch(p, p.a, at_a);
  Watch(p, p.b, at_b);
  ASSERT_TRUE(p.a.AddTrack(CreateTestPatternTrack({.width = 160, .height = 120, .fps = 30})));
  p.a.SetLocalDescription(p.a.CreateOffer());
  p.b.SetRemoteDescription(*p.a.LocalDescription());
  // Answering with our own media: addTrack reuses the transceiver the offer created (W3C §5.1 addTrack).
  ASSERT_TRUE(p.b.AddTrack(CreateTestPatternTrack({.width = 176, .height = 144, .fps = 30})));
  EXPECT_EQ(p.b.GetTransceivers().size(), 1u);
  p.b.SetLocalDescription(p.b.CreateAnswer());
  p.a.SetRemoteDescription(*p.b.LocalDescription());
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(p.RunUntil([&] { return at_a.video_frames >= 10 && at_b.video_frames >= 10; }));
  p.rec.Do([&] {
    EXPECT_EQ(at_b.width, 160);
    EXPECT_EQ(at_a.width, 176);
  });
  ASSERT_EQ(p.a.GetTransceivers().size(), 1u);
  EXPECT_EQ(p.a.GetTransceivers()[0]->current_direction(), TransceiverDirection::kSendRecv);
}

// A receive-only transceiver answered with media, then replaceTrack: the new source's frames arrive without
// renegotiation (W3C §5.2 replaceTrack), and a direction change to inactive stops them with one.
TEST(PeerMediaTest, RecvOnlyTransceiverReplaceTrackAndDirection) {
  RemoteMedia at_a;
  Pair p;
  Watch(p, p.a, at_a);
  auto transceiver = p.a.AddTransceiver(MediaKind::kVideo, {.direction = TransceiverDirection::kRecvOnly});
  ASSERT_TRUE(transceiver);
  EXPECT_EQ(transceiver->direction(), TransceiverDirection::kRecvOnly);
  p.a.SetLocalDescription(p.a.CreateOffer());
  p.b.SetRemoteDescription(*p.a.LocalDescription());
  auto sender = p.b.AddTrack(CreateTestPatternTrack({.width = 160, .height = 120, .fps = 30}));
  ASSERT_TRUE(sender);
  p.b.SetLocalDescription(p.b.CreateAnswer());
  p.a.SetRemoteDescription(*p.b.LocalDescription());
  ASSERT_TRUE(p.Connected());
  EXPECT_EQ(transceiver->current_direction(), TransceiverDirection::kRecvOnly);
  ASSERT_TRUE(p.RunUntil([&] { return at_a.video_frames >= 10; }));

  sender->ReplaceTrack(CreateTestPatternTrack({.width = 320, .height = 180, .fps = 30}));
  ASSERT_TRUE(p.RunUntil([&] { return at_a.width == 320 && at_a.height == 180; }))
      << "the replacement's frames arrive on the same stream";
  EXPECT_EQ(p.a.signaling_state(), SignalingState::kStable) << "no renegotiation was needed";

  transceiver->SetDirection(TransceiverDirection::kInactive);
  p.Negotiate();
  // (Predicates run under the recorder's lock, which callbacks take: they must not call into a connection.)
  ASSERT_TRUE(p.RunUntil([&] { return at_a.ended == 1; })) << "the remote track ends when we stop receiving";
  EXPECT_EQ(transceiver->current_direction(), TransceiverDirection::kInactive);
  int after = 0;
  p.rec.Do([&] { after = at_a.video_frames; });
  EXPECT_FALSE(p.RunUntil([&] { return at_a.video_frames > after + 3; }, std::chrono::milliseconds(500)));
}

TEST(PeerMediaTest, RecordedFilesPlayBack) {
  RemoteMedia at_b;
  Pair p;
  Watch(p, p.b, at_b);
  ASSERT_TRUE(p.a.AddTrack(CreateTestPatternTrack({.width = 320, .height = 240, .fps = 30})));
  ASSERT_TRUE(p.a.AddTrack(CreateToneTrack({})));
  p.Negotiate();
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(p.RunUntil([&] { return at_b.tracks.size() == 2; }));
  const std::string ivf = TempPath("video.ivf"), ogg = TempPath("audio.ogg");
  at_b.Of(MediaKind::kVideo)->Record(ivf);
  at_b.Of(MediaKind::kAudio)->Record(ogg);
  const int start = at_b.video_frames;
  ASSERT_TRUE(p.RunUntil([&] { return at_b.video_frames >= start + 45; }));
  at_b.Of(MediaKind::kVideo)->StopRecording();
  at_b.Of(MediaKind::kAudio)->StopRecording();

  // The IVF file: VP8 frames that a decoder turns back into 320x240 pictures, starting at a key frame.
  const std::vector<uint8_t> video_file = ReadFile(ivf);
  auto reader = media::IvfReader::Open(video_file);
  ASSERT_TRUE(reader.ok()) << reader.error().reason;
  auto decoder = media::Vp8Decoder::Create();
  ASSERT_TRUE(decoder.ok());
  media::VideoFrame picture;
  int frames = 0;
  for (;;) {
    auto frame = reader->ReadFrame();
    ASSERT_TRUE(frame.ok()) << frame.error().reason;
    if (!frame->has_value()) break;
    auto decoded = (*decoder)->Decode((*frame)->data, picture);
    ASSERT_TRUE(decoded.ok()) << "frame " << frames << ": " << decoded.error().reason;
    ++frames;
  }
  EXPECT_GE(frames, 40);
  EXPECT_EQ(picture.width, 320);
  EXPECT_EQ(picture.height, 240);

  // The Ogg file (RFC 7845): Opus packets, 20 ms each, about as long as the video.
  const std::vector<uint8_t> audio_file = ReadFile(ogg);
  auto ogg_reader = media::OggOpusReader::Open(audio_file);
  ASSERT_TRUE(ogg_reader.ok()) << ogg_reader.error().reason;
  int packets = 0;
  for (;;) {
    auto packet = ogg_reader->ReadPacket();
    ASSERT_TRUE(packet.ok()) << packet.error().reason;
    if (!packet->has_value()) break;
    ++packets;
  }
  EXPECT_GE(packets, 50);
  std::remove(ivf.c_str());
  std::remove(ogg.c_str());
}

TEST(PeerMediaTest, RenegotiationAddsAndRemovesATrack) {
  RemoteMedia at_b;
  Pair p;
  Watch(p, p.b, at_b);
  auto channel = p.a.CreateDataChannel("chat");
  p.Negotiate();
  ASSERT_TRUE(p.Connected());

  // Mid-call: a camera is added, offered again, and its frames flow.
  auto sender = p.a.AddTrack(CreateTestPatternTrack({.width = 160, .height = 120, .fps = 30}));
  ASSERT_TRUE(sender);
  p.Negotiate();
  ASSERT_TRUE(p.RunUntil([&] { return at_b.video_frames >= 10; }));
  ASSERT_EQ(at_b.tracks.size(), 1u);

  // And removed: the remote track ends, nothing more arrives.
  p.a.RemoveTrack(sender);
  p.Negotiate();
  ASSERT_TRUE(p.RunUntil([&] { return at_b.ended == 1; }));
  EXPECT_TRUE(at_b.tracks[0]->ended());
  EXPECT_EQ(p.b.GetTransceivers()[0]->current_direction(), TransceiverDirection::kInactive);
  int after_end = 0;
  p.rec.Do([&] { after_end = at_b.video_frames; });
  ASSERT_FALSE(p.RunUntil([&] { return at_b.video_frames > after_end + 3; }, std::chrono::milliseconds(500)))
      << "frames still arrive after the track ended";
  EXPECT_EQ(channel->ready_state(), DataChannelState::kOpen) << "the data channel lived through it";
}

}  // namespace
}  // namespace tandem
