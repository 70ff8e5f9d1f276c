// libFuzzer harness for the SCTP stack (src/sctp): every chunk parser (with serialize/parse round trips) and
// an Association fed arbitrary packets in various states. The packets' verification tag and CRC32c are fixed
// up (unless the input asks otherwise) so that parsing goes past the checksum and into the state machine.
//
// Input: byte 0 picks the scenario (closed/listening, COOKIE-WAIT, ESTABLISHED with DATA, ESTABLISHED with
// I-DATA, SHUTDOWN-PENDING with data queued), then records of [flags:1][length:2][chunks:length]: each
// becomes one packet. flags bit 0: keep the record's own tag instead of the expected one; bit 1: corrupt the
// checksum; bit 2: also queue a message to send; bits 3-7: milliseconds x 64 to advance the clock afterwards.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/rng.h"
#include "sctp/association.h"
#include "sctp/chunks.h"
#include "sctp/packet.h"

namespace {

using namespace tandem;        // NOLINT(google-build-using-namespace): harness only
using namespace tandem::sctp;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

template <typename Chunk>
void RoundTrip(ByteSpan raw) {
  auto parsed = Chunk::Parse(raw);
  if (!parsed) return;
  std::vector<uint8_t> out;
  ByteWriter w(out);
  parsed->SerializeTo(w);
  FUZZ_CHECK(out.size() % 4 == 0);
  auto again = Chunk::Parse(ByteSpan(out).first(LoadBe16(&out[2])));
  FUZZ_CHECK(again.has_value());
}

void ParseAllChunks(ByteSpan packet) {
  auto view = PacketView::Parse(packet, false);
  if (!view) return;
  for (const ChunkView& c : *view) {
    FUZZ_CHECK(c.raw.size() >= 4 && c.raw.data() >= packet.data() &&
               c.raw.data() + c.raw.size() <= packet.data() + packet.size());
    switch (c.type) {
      case chunk_type::kData: {
        auto d = DataChunk::Parse(c.raw);
        FUZZ_CHECK(d.has_value() == (c.raw.size() >= kDataChunkHeaderSize));  // any length >= 16 parses
        RoundTrip<DataChunk>(c.raw);
        break;
      }
      case chunk_type::kIData:
        RoundTrip<IDataChunk>(c.raw);
        break;
      case chunk_type::kInit:
        RoundTrip<InitChunk>(c.raw);
        break;
      case chunk_type::kInitAck:
        RoundTrip<InitAckChunk>(c.raw);
        break;
      case chunk_type::kSack: {
        auto s = SackChunk::Parse(c.raw);
        if (s) FUZZ_CHECK(s->SerializedSize() == c.raw.size());
        RoundTrip<SackChunk>(c.raw);
        break;
      }
      case chunk_type::kHeartbeat:
        RoundTrip<HeartbeatChunk>(c.raw);
        break;
      case chunk_type::kHeartbeatAck:
        RoundTrip<HeartbeatAckChunk>(c.raw);
        break;
      case chunk_type::kAbort: {
        auto a = AbortChunk::Parse(c.raw);
        if (a) (void)DescribeErrorCauses(a->causes);
        RoundTrip<AbortChunk>(c.raw);
        break;
      }
      case chunk_type::kError:
        RoundTrip<ErrorChunk>(c.raw);
        break;
      case chunk_type::kShutdown:
        RoundTrip<ShutdownChunk>(c.raw);
        break;
      case chunk_type::kCookieEcho:
        RoundTrip<CookieEchoChunk>(c.raw);
        break;
      case chunk_type::kForwardTsn:
        RoundTrip<ForwardTsnChunk>(c.raw);
        break;
      case chunk_type::kIForwardTsn:
        RoundTrip<IForwardTsnChunk>(c.raw);
        break;
      case chunk_type::kReConfig: {
        auto r = ReConfigChunk::Parse(c.raw);
        if (r) {
          for (const auto& p : r->parameters) {
            (void)OutgoingSsnResetRequest::Parse(p.value);
            (void)IncomingSsnResetRequest::Parse(p.value);
            (void)ReconfigurationResponse::Parse(p.value);
          }
        }
        RoundTrip<ReConfigChunk>(c.raw);
        break;
      }
      default:
        break;
    }
  }
}

void Drain(Association& assoc, Timestamp now, std::vector<std::vector<uint8_t>>* sent = nullptr) {
  for (int i = 0; i < 1000; ++i) {
    auto p = assoc.PollTransmit(now);
    if (!p) break;
    FUZZ_CHECK(p->size() <= kMaxPacketSize);
    // Everything we send is well-formed (the CRC is not re-verified here: it is the bulk of the cost under
    // instrumentation, and the unit tests check it).
    FUZZ_CHECK(PacketView::Parse(*p, /*verify_checksum=*/false).has_value());
    if (sent) sent->emplace_back(p->begin(), p->end());
  }
  while (assoc.PollEvent()) {
  }
}

// Runs a handshake between `victim` and a helper peer over a perfect in-memory link; returns the tag the
// victim expects on incoming packets.
uint32_t Establish(Association& victim, Association& peer, Timestamp now) {
  peer.Connect(now);
  uint32_t expected_tag = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<std::vector<uint8_t>> to_victim, to_peer;
    Drain(peer, now, &to_victim);
    for (auto& p : to_victim) {
      if (LoadBe32(&p[4]) != 0) expected_tag = LoadBe32(&p[4]);
      victim.HandleReceive(now, p);
    }
    Drain(victim, now, &to_peer);
    for (auto& p : to_peer) peer.HandleReceive(now, p);
    if (to_victim.empty() && to_peer.empty()) break;
  }
  return expected_tag;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t scenario = data[0] % 5;
  ByteReader r(ByteSpan(data + 1, size - 1));

  Options options;
  options.max_message_size = 64 * 1024;
  options.max_receive_buffer = 256 * 1024;
  options.max_send_buffer = 1 << 20;
  options.enable_interleaving = scenario == 3;
  options.heartbeat_interval = TimeDelta::Seconds(1);
  SeededRng rng_victim(1), rng_peer(2);
  Association victim(options, rng_victim);
  Association peer(options, rng_peer);
  Timestamp now = Timestamp::Seconds(100);
  uint32_t expected_tag = 0;
  if (scenario == 1) {
    victim.Connect(now);
    std::vector<std::vector<uint8_t>> init;
    Drain(victim, now, &init);
    // Peers address a COOKIE-WAIT association with the tag from its INIT.
    if (!init.empty() && init[0].size() >= 20) expected_tag = LoadBe32(&init[0][16]);
  } else if (scenario >= 2) {
    expected_tag = Establish(victim, peer, now);
    FUZZ_CHECK(victim.state() == State::kEstablished);
    const uint8_t payload[1500] = {};
    (void)victim.Send(now, 1, 51, ByteSpan(payload, sizeof(payload)));
    if (scenario == 4) {
      (void)victim.Send(now, 2, 51, ByteSpan(payload, 100));
      victim.Shutdown(now);
    }
    Drain(victim, now);
  }

  std::vector<uint8_t> packet;
  while (r.remaining() >= 3) {
    uint8_t flags = 0;
    uint16_t length = 0;
    ByteSpan chunks;
    r.ReadU8(flags);
    r.ReadU16(length);
    if (!r.ReadBytes(std::min<size_t>(length, r.remaining()), chunks)) break;
    packet.clear();
    ByteWriter w(packet);
    w.WriteU16(options.remote_port);
    w.WriteU16(options.local_port);
    w.WriteU32(0);
    w.WriteU32(0);
    w.WriteBytes(chunks);
    // The tag: the expected one (so the packet is processed), or the INIT's 0, or the first 4 chunk bytes'
    // worth.
    uint32_t tag = expected_tag;
    if (flags & 1) tag = chunks.size() >= 4 ? LoadBe32(chunks.data()) : 0;
    if (!chunks.empty() && chunks[0] == chunk_type::kInit) tag = 0;
    StoreBe32(&packet[4], tag);
    WritePacketChecksum(packet);
    if (flags & 2) packet[8] ^= 0x5a;
    ParseAllChunks(packet);
    victim.HandleReceive(now, packet);
    if (flags & 4) {
      const uint8_t payload[2000] = {};
      (void)victim.Send(now, static_cast<uint16_t>(flags), 53, ByteSpan(payload, 1 + flags * 7));
    }
    Drain(victim, now);
    now = now + TimeDelta::Millis(64 * (flags >> 3));
    if (victim.PollTimeout() <= now) victim.HandleTimeout(now);
    Drain(victim, now);
    // Memory stays bounded whatever the peer sends.
    const Stats s = victim.stats();
    FUZZ_CHECK(s.reassembly_bytes <= 2 * options.max_receive_buffer + options.max_message_size);
    FUZZ_CHECK(s.queued_bytes <= options.max_send_buffer);
  }
  // Let timers run out: nothing may loop forever or grow.
  for (int i = 0; i < 20 && !victim.PollTimeout().IsInfinite(); ++i) {
    now = std::max(now, victim.PollTimeout());
    victim.HandleTimeout(now);
    Drain(victim, now);
  }
  return 0;
}
