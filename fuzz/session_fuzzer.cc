// libFuzzer harness for the RTP media session (src/session): arbitrary plaintext RTP and RTCP packets, each
// protected with the peer's SRTP keys so that they pass authentication, go into a session with an audio, a
// video (with RTX) and a send stream, between timer runs. This reaches what SRTP shields from the other
// harnesses: BUNDLE demultiplexing, RTX restoration, receive statistics, NACK, both jitter buffers, RTCP
// handling (reports, NACK, PLI/FIR, TWCC, REMB, BYE) and the bandwidth estimator. The session must neither
// crash nor grow without bound: its queues and stream counts are checked after every packet.
//
// Input: a sequence of [1-byte flags][2-byte big-endian length][payload]; flags bit 0 = advance the clock
// by (flags >> 1) ms before the packet.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "core/rng.h"
#include "rtp/bundle_demuxer.h"
#include "session/rtp_session.h"
#include "srtp/srtp_session.h"

namespace {

using namespace tandem;           // NOLINT(google-build-using-namespace): harness only
using namespace tandem::session;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

dtls::SrtpKeyingMaterial Keys(bool flip) {
  dtls::SrtpKeyingMaterial k;
  k.profile = dtls::SrtpProfile::kAes128CmSha1_80;
  std::vector<uint8_t> key_a(16, 0x11), salt_a(14, 0x22), key_b(16, 0x33), salt_b(14, 0x44);
  k.local_key = flip ? key_b : key_a;
  k.local_salt = flip ? salt_b : salt_a;
  k.remote_key = flip ? key_a : key_b;
  k.remote_salt = flip ? salt_a : salt_b;
  return k;
}

Codec Vp8() {
  Codec c;
  c.payload_type = 96;
  c.name = "VP8";
  c.clock_rate = 90000;
  c.rtx_payload_type = 97;
  c.nack = c.pli = c.fir = c.transport_cc = c.remb = true;
  return c;
}

Codec Opus() {
  Codec c;
  c.payload_type = 111;
  c.name = "opus";
  c.clock_rate = 48000;
  c.channels = 2;
  c.transport_cc = true;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SeededRng rng(1);
  Config config;
  config.cname = "fuzz-session-cname";
  RtpSession session(config, rng);
  Extensions extensions;
  extensions.mid = 1;
  extensions.abs_send_time = 2;
  extensions.transport_cc = 3;
  extensions.audio_level = 4;
  session.SetExtensions(extensions);
  Timestamp now = Timestamp::Seconds(100);
  FUZZ_CHECK(session.SetSrtpKeys(now, Keys(false)).ok());

  ReceiveStreamConfig audio{.kind = MediaKind::kAudio, .mid = "0", .codecs = {Opus()}, .ssrcs = {1111}};
  ReceiveStreamConfig video{
      .kind = MediaKind::kVideo, .mid = "1", .codecs = {Vp8()}, .ssrcs = {2222}, .rtx_ssrc = 3333};
  FUZZ_CHECK(session.AddReceiveStream(audio).ok());
  FUZZ_CHECK(session.AddReceiveStream(video).ok());
  SendStreamConfig send{
      .kind = MediaKind::kVideo, .mid = "1", .ssrc = 4444, .rtx_ssrc = 5555, .codec = Vp8()};
  const StreamId sent = session.AddSendStream(send).value();

  // The remote side: protects the fuzzer's plaintext with the keys the session expects.
  auto remote = srtp::SrtpSession::Create(Keys(true), {.allow_repeat_tx = true});
  FUZZ_CHECK(remote.ok());

  // A few frames so that NACKs and PLIs have something to act on.
  std::vector<uint8_t> frame(3000, 0x5a);
  (void)session.SendFrame(now, sent, EncodedFrame{.data = frame, .rtp_timestamp = 0, .key_frame = true});

  auto drain = [&] {
    size_t transmitted = 0;
    while (session.PollTransmit()) FUZZ_CHECK(++transmitted < 100000);
    size_t events = 0;
    while (session.PollEvent()) FUZZ_CHECK(++events < 100000);
  };
  drain();

  std::vector<uint8_t> buffer;
  size_t offset = 0;
  int packets = 0;
  while (offset + 3 <= size && packets++ < 512) {
    const uint8_t flags = data[offset];
    const size_t length = (static_cast<size_t>(data[offset + 1]) << 8) | data[offset + 2];
    offset += 3;
    const size_t take = std::min(length, size - offset);
    if (flags & 1) {
      now = now + TimeDelta::Millis(flags >> 1);
      session.HandleTimeout(now);
    }
    buffer.assign(data + offset, data + offset + take);
    offset += take;
    buffer.resize(take + 64);
    const bool rtcp = rtp::IsRtcpPacket(ByteSpan(buffer.data(), take));
    auto protected_size = rtcp ? remote->ProtectRtcp(buffer, take) : remote->ProtectRtp(buffer, take);
    if (!protected_size.ok()) {
      // Not protectable (too short for a header): the session must still take it in as garbage.
      session.HandlePacket(now, ByteSpan(data + offset - take, take));
    } else {
      session.HandlePacket(now, ByteSpan(buffer.data(), *protected_size));
    }
    drain();
    const Timestamp wake = session.PollTimeout();
    if (wake <= now + TimeDelta::Seconds(10)) {
      now = std::max(now, wake);
      session.HandleTimeout(now);
      drain();
    }
    const Stats stats = session.GetStats();
    FUZZ_CHECK(stats.inbound.size() <= 2);
    FUZZ_CHECK(stats.transport.pacer_queue_packets <= 4096);
  }
  return 0;
}
