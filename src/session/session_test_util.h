// Test support for the session tests: SRTP keys from a real DTLS handshake, a one-way simulated link (delay,
// jitter, random loss, a rate limit with a drop-tail queue, outages), two RtpSessions joined by two links on
// a fake clock, synthetic VP8/Opus/H.264 encoders whose output a receiver can verify byte for byte, and a
// "tap" that unprotects a copy of what a session sends.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/rng.h"
#include "dtls/dtls_test_pair.h"
#include "media/media_test_util.h"
#include "session/rtp_session.h"
#include "srtp/srtp_session.h"

namespace tandem::session::test {

// --- Keys ---

struct KeyPair {
  dtls::SrtpKeyingMaterial a;  // the DTLS client's
  dtls::SrtpKeyingMaterial z;  // the DTLS server's
};

// RFC 5764 keys exported by a real DTLS handshake between two of our transports (once per profile).
inline const KeyPair& DtlsKeys(dtls::SrtpProfile profile = dtls::SrtpProfile::kAeadAes128Gcm) {
  static std::map<dtls::SrtpProfile, KeyPair> cache;
  auto it = cache.find(profile);
  if (it != cache.end()) return it->second;
  auto client = dtls::testing::DtlsPair::ClientConfig();
  auto server = dtls::testing::DtlsPair::ServerConfig();
  client.srtp_profiles = {profile};
  server.srtp_profiles = {dtls::SrtpProfile::kAeadAes128Gcm, dtls::SrtpProfile::kAes128CmSha1_80};
  dtls::testing::DtlsPair pair(client, server);
  EXPECT_TRUE(pair.Handshake());
  KeyPair keys{pair.client().ExportSrtpKeys().value(), pair.server().ExportSrtpKeys().value()};
  EXPECT_EQ(keys.a.profile, profile);
  return cache.emplace(profile, keys).first->second;
}

// --- One direction of the network ---

struct LinkConfig {
  TimeDelta delay = TimeDelta::Millis(20);
  TimeDelta jitter = TimeDelta::Zero();                // uniform extra delay (reorders)
  double loss = 0;                                     // random, independent
  int64_t rate_bps = 0;                                // 0: unlimited
  TimeDelta max_queue_delay = TimeDelta::Millis(300);  // drop-tail bound of the rate limiter's queue
  uint64_t seed = 1;
};

class Link {
 public:
  explicit Link(LinkConfig config) : config_(config), rng_(config.seed) {}

  void Send(Timestamp now, ByteSpan datagram) {
    ++sent;
    if (down || (drop && drop(datagram))) {
      ++dropped;
      return;
    }
    if (config_.loss > 0 && rng_.Uniform(0, 999999) < static_cast<uint32_t>(config_.loss * 1e6)) {
      ++lost;
      return;
    }
    Timestamp depart = now;
    if (config_.rate_bps > 0) {
      const Timestamp start = std::max(now, busy_until_);
      if (start - now > config_.max_queue_delay) {
        ++queue_drops;
        return;
      }
      busy_until_ =
          start + TimeDelta::Micros(static_cast<int64_t>(datagram.size()) * 8 * 1000000 / config_.rate_bps);
      depart = busy_until_;
    }
    TimeDelta extra = TimeDelta::Zero();
    if (config_.jitter > TimeDelta::Zero()) {
      extra = TimeDelta::Micros(rng_.Uniform(0, static_cast<uint32_t>(config_.jitter.us())));
    }
    queue_.emplace(std::make_pair(depart + config_.delay + extra, order_++),
                   std::vector<uint8_t>(datagram.begin(), datagram.end()));
  }
  Timestamp NextDelivery() const {
    return queue_.empty() ? Timestamp::Infinity() : queue_.begin()->first.first;
  }
  bool PopDue(Timestamp now, std::vector<uint8_t>& out) {
    if (queue_.empty() || queue_.begin()->first.first > now) return false;
    out = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    return true;
  }
  void set_rate(int64_t bps) { config_.rate_bps = bps; }
  void set_loss(double loss) { config_.loss = loss; }
  const LinkConfig& config() const { return config_; }

  bool down = false;
  std::function<bool(ByteSpan)> drop;
  int sent = 0, lost = 0, dropped = 0, queue_drops = 0;

 private:
  LinkConfig config_;
  SeededRng rng_;
  Timestamp busy_until_;
  uint64_t order_ = 0;
  std::map<std::pair<Timestamp, uint64_t>, std::vector<uint8_t>> queue_;
};

// --- Two sessions ---

struct ReceivedFrame {
  StreamId stream = 0;
  uint32_t ssrc = 0;
  uint8_t payload_type = 0;
  std::vector<uint8_t> data;
  bool key_frame = false;
  media::VideoCodec codec = media::VideoCodec::kVp8;
  uint32_t rtp_timestamp = 0;
  int width = 0, height = 0;
  std::optional<rtp::VideoOrientation> orientation;
  Timestamp at;
};

struct ReceivedAudio {
  StreamId stream = 0;
  media::AudioPlayoutKind kind = media::AudioPlayoutKind::kPacket;
  std::vector<uint8_t> payload;
  uint32_t rtp_timestamp = 0;
  bool dtx = false;
  Timestamp at;
};

struct Side {
  std::unique_ptr<SeededRng> rng;
  std::unique_ptr<RtpSession> session;
  std::vector<ReceivedFrame> frames;
  std::vector<ReceivedAudio> audio;
  std::vector<Event> events;  // every other event (they hold no views)
  std::vector<std::pair<Timestamp, std::vector<uint8_t>>> transmitted;  // when capture is on
  bool capture = false;
  std::function<void(const Event&)> on_event;

  RtpSession* operator->() { return session.get(); }

  template <typename T>
  std::vector<T> EventsOf() const {
    std::vector<T> out;
    for (const Event& e : events) {
      if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
    }
    return out;
  }
  std::vector<ReceivedFrame> FramesOf(StreamId stream) const {
    std::vector<ReceivedFrame> out;
    for (const auto& f : frames) {
      if (f.stream == stream) out.push_back(f);
    }
    return out;
  }
  std::vector<ReceivedAudio> AudioOf(StreamId stream, media::AudioPlayoutKind kind) const {
    std::vector<ReceivedAudio> out;
    for (const auto& a : audio) {
      if (a.stream == stream && a.kind == kind) out.push_back(a);
    }
    return out;
  }
};

inline Config DefaultConfig(const std::string& cname) {
  Config c;
  c.cname = cname;
  return c;
}

class Harness {
 public:
  Harness(Config a_config, Config z_config, LinkConfig a_to_z_config = {}, LinkConfig z_to_a_config = {})
      : a_to_z(a_to_z_config), z_to_a(z_to_a_config) {
    a.rng = std::make_unique<SeededRng>(101);
    z.rng = std::make_unique<SeededRng>(202);
    a.session = std::make_unique<RtpSession>(std::move(a_config), *a.rng);
    z.session = std::make_unique<RtpSession>(std::move(z_config), *z.rng);
  }
  Harness() : Harness(DefaultConfig("a-cname-0123456789"), DefaultConfig("z-cname-0123456789")) {}

  void SetKeys(dtls::SrtpProfile profile = dtls::SrtpProfile::kAeadAes128Gcm) {
    const KeyPair& keys = DtlsKeys(profile);
    ASSERT_TRUE(a->SetSrtpKeys(now, keys.a).ok());
    ASSERT_TRUE(z->SetSrtpKeys(now, keys.z).ok());
  }
  void SetExtensions(const Extensions& e) {
    a->SetExtensions(e);
    z->SetExtensions(e);
  }

  // Runs both sessions and the links until `t`, handling every timeout and delivery in time order.
  void AdvanceTo(Timestamp t) {
    int spins = 0;
    Timestamp last = now;
    while (true) {
      Drain();
      Timestamp next =
          std::min({a->PollTimeout(), z->PollTimeout(), a_to_z.NextDelivery(), z_to_a.NextDelivery()});
      if (next > t) break;
      next = std::max(next, now);
      if (next == last) {
        if (++spins > 10000) {
          ADD_FAILURE() << "no progress at " << now.us() << " us (a timeout that does not advance)";
          break;
        }
      } else {
        spins = 0;
        last = next;
      }
      now = next;
      std::vector<uint8_t> datagram;
      while (a_to_z.PopDue(now, datagram)) z->HandlePacket(now, datagram);
      while (z_to_a.PopDue(now, datagram)) a->HandlePacket(now, datagram);
      if (a->PollTimeout() <= now) a->HandleTimeout(now);
      if (z->PollTimeout() <= now) z->HandleTimeout(now);
    }
    now = std::max(now, t);
    Drain();
  }
  void Advance(TimeDelta d) { AdvanceTo(now + d); }

  void Drain() {
    DrainSide(a, a_to_z);
    DrainSide(z, z_to_a);
  }

  Timestamp now = Timestamp::Seconds(1000);
  Side a, z;
  Link a_to_z, z_to_a;

 private:
  void DrainSide(Side& side, Link& link) {
    while (auto datagram = side->PollTransmit()) {
      if (side.capture)
        side.transmitted.emplace_back(now, std::vector<uint8_t>(datagram->begin(), datagram->end()));
      link.Send(now, *datagram);
    }
    while (auto event = side->PollEvent()) {
      if (side.on_event) side.on_event(*event);
      if (const auto* v = std::get_if<VideoFrameReceived>(&*event)) {
        ReceivedFrame f;
        f.stream = v->stream;
        f.ssrc = v->ssrc;
        f.payload_type = v->payload_type;
        f.data.assign(v->frame.data.begin(), v->frame.data.end());
        f.key_frame = v->frame.key_frame;
        f.codec = v->frame.codec;
        f.rtp_timestamp = v->frame.rtp_timestamp;
        f.width = v->frame.width;
        f.height = v->frame.height;
        f.orientation = v->orientation;
        f.at = now;
        side.frames.push_back(std::move(f));
      } else if (const auto* au = std::get_if<AudioFrameReceived>(&*event)) {
        side.audio.push_back({au->stream, au->playout.kind,
                              std::vector<uint8_t>(au->playout.payload.begin(), au->playout.payload.end()),
                              au->playout.rtp_timestamp, au->playout.dtx, now});
      } else {
        side.events.push_back(*event);
      }
    }
  }
};

// --- Synthetic media ---

// A VP8 frame (valid frame tag; key frames with start code and size) carrying its index, the rest
// pseudo-random bytes derived from (index, key, size): a receiver can rebuild it and compare byte for byte.
inline std::vector<uint8_t> SyntheticVp8Frame(uint32_t index, bool key, size_t size, uint32_t salt = 0) {
  size = std::max<size_t>(size, 20);
  auto f = media::test::FakeVp8Frame(
      key, size, (uint64_t{salt} << 33) ^ (uint64_t{index} << 1) ^ (key ? 1 : 0) ^ size, 320, 240);
  StoreBe32(&f[key ? 10 : 3], index);
  return f;
}
inline uint32_t SyntheticVp8Index(const std::vector<uint8_t>& data, bool key) {
  const size_t at = key ? 10 : 3;
  return data.size() >= at + 4 ? LoadBe32(&data[at]) : 0xFFFFFFFF;
}
inline bool IsSyntheticVp8Frame(const std::vector<uint8_t>& data, bool key, uint32_t salt = 0) {
  return data == SyntheticVp8Frame(SyntheticVp8Index(data, key), key, data.size(), salt);
}

// Produces frames sized to follow a bitrate (as a real rate-controlled encoder does), key frames on request.
class FakeVideoEncoder {
 public:
  explicit FakeVideoEncoder(int64_t bitrate_bps = 500'000, int fps = 30, uint32_t salt = 0)
      : bitrate_bps_(bitrate_bps), fps_(fps), salt_(salt) {}
  EncodedFrame Next() {
    const bool key = key_next_;
    key_next_ = false;
    size_t size = static_cast<size_t>(std::max<int64_t>(bitrate_bps_ / fps_ / 8, 100));
    if (key) size *= 3;
    data_ = SyntheticVp8Frame(index_, key, size, salt_);
    EncodedFrame f;
    f.data = data_;
    f.rtp_timestamp = index_ * (90000 / fps_);
    f.key_frame = key;
    f.width = 320;
    f.height = 240;
    ++index_;
    if (key) ++key_frames;
    return f;
  }
  void RequestKeyFrame() { key_next_ = true; }
  void set_bitrate(int64_t bps) { bitrate_bps_ = bps; }
  int64_t bitrate() const { return bitrate_bps_; }
  TimeDelta frame_interval() const { return TimeDelta::Micros(1000000 / fps_); }
  uint32_t frames() const { return index_; }
  int key_frames = 0;

 private:
  int64_t bitrate_bps_;
  int fps_;
  uint32_t salt_;
  bool key_next_ = true;
  uint32_t index_ = 0;
  std::vector<uint8_t> data_;
};

// A valid single-frame Opus packet (RFC 6716 §3.1: TOC config 31 = CELT FB 20 ms, code 0) of `size` bytes
// carrying its index.
inline std::vector<uint8_t> SyntheticOpusPacket(uint32_t index, size_t size = 80) {
  std::vector<uint8_t> p(std::max<size_t>(size, 8));
  SeededRng rng(index + 7);
  rng.Fill(p);
  p[0] = 31 << 3;
  StoreBe32(&p[1], index);
  return p;
}
inline uint32_t SyntheticOpusIndex(const std::vector<uint8_t>& p) {
  return p.size() >= 5 ? LoadBe32(&p[1]) : 0;
}

// --- Common stream configurations ---

inline Codec Vp8Codec(uint8_t pt = 96, std::optional<uint8_t> rtx = 97) {
  Codec c;
  c.payload_type = pt;
  c.name = "VP8";
  c.clock_rate = 90000;
  c.rtx_payload_type = rtx;
  c.nack = c.pli = c.fir = c.transport_cc = c.remb = true;
  return c;
}
inline Codec H264Codec(uint8_t pt = 102, std::optional<uint8_t> rtx = 103) {
  Codec c = Vp8Codec(pt, rtx);
  c.name = "H264";
  c.fmtp = {{"packetization-mode", "1"}, {"profile-level-id", "42e01f"}};
  return c;
}
inline Codec OpusCodec(uint8_t pt = 111) {
  Codec c;
  c.payload_type = pt;
  c.name = "opus";
  c.clock_rate = 48000;
  c.channels = 2;
  c.transport_cc = true;
  c.fmtp = {{"minptime", "10"}, {"useinbandfec", "1"}};
  return c;
}
inline Extensions AllExtensions() {
  Extensions e;
  e.mid = 1;
  e.abs_send_time = 2;
  e.transport_cc = 3;
  e.audio_level = 4;
  e.video_orientation = 5;
  e.rid = 6;
  e.repaired_rid = 7;
  return e;
}
inline SendStreamConfig VideoSend(const std::string& mid, uint32_t ssrc, std::optional<uint32_t> rtx_ssrc,
                                  Codec codec = Vp8Codec()) {
  SendStreamConfig c;
  c.kind = MediaKind::kVideo;
  c.mid = mid;
  c.ssrc = ssrc;
  c.rtx_ssrc = rtx_ssrc;
  c.codec = std::move(codec);
  return c;
}
inline SendStreamConfig AudioSend(const std::string& mid, uint32_t ssrc) {
  SendStreamConfig c;
  c.kind = MediaKind::kAudio;
  c.mid = mid;
  c.ssrc = ssrc;
  c.codec = OpusCodec();
  return c;
}
inline ReceiveStreamConfig VideoReceive(const std::string& mid, std::vector<Codec> codecs = {Vp8Codec()},
                                        std::vector<uint32_t> ssrcs = {}, std::optional<uint32_t> rtx = {}) {
  ReceiveStreamConfig c;
  c.kind = MediaKind::kVideo;
  c.mid = mid;
  c.codecs = std::move(codecs);
  c.ssrcs = std::move(ssrcs);
  c.rtx_ssrc = rtx;
  return c;
}
inline ReceiveStreamConfig AudioReceive(const std::string& mid, std::vector<uint32_t> ssrcs = {}) {
  ReceiveStreamConfig c;
  c.kind = MediaKind::kAudio;
  c.mid = mid;
  c.codecs = {OpusCodec()};
  c.ssrcs = std::move(ssrcs);
  return c;
}

// Unprotects copies of what a session sent, with the receiving side's keys (its own replay state).
class Tap {
 public:
  explicit Tap(const dtls::SrtpKeyingMaterial& receiver_keys)
      : srtp_(srtp::SrtpSession::Create(receiver_keys, {.replay_window = 32767, .allow_repeat_tx = true})
                  .value()) {}
  // The plain packet, or nullopt when it does not authenticate.
  std::optional<std::vector<uint8_t>> Unprotect(const std::vector<uint8_t>& datagram) {
    std::vector<uint8_t> copy = datagram;
    auto n = rtp::IsRtcpPacket(copy) ? srtp_.UnprotectRtcp(copy) : srtp_.UnprotectRtp(copy);
    if (!n.ok()) return std::nullopt;
    copy.resize(*n);
    return copy;
  }

 private:
  srtp::SrtpSession srtp_;
};

}  // namespace tandem::session::test
