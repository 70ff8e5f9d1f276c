// Chunk, parameter and packet codecs: round trips, wire layouts from RFC 9260 §3, malformed inputs rejected.
#include "sctp/chunks.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "sctp/crc32c.h"
#include "sctp/packet.h"
#include "sctp/state_cookie.h"

namespace tandem::sctp {
namespace {

template <typename Chunk>
std::vector<uint8_t> Bytes(const Chunk& c) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  c.SerializeTo(w);
  return out;
}

// The chunk without its trailing padding (what Parse takes: the header's length).
ByteSpan Unpadded(const std::vector<uint8_t>& b) { return ByteSpan(b).first(LoadBe16(&b[2])); }

std::vector<uint8_t> Payload(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  return p;
}

TEST(DataChunkTest, RoundTripAndWireLayout) {
  const auto payload = Payload(5);
  DataChunk d;
  d.tsn = 0x01020304;
  d.stream = 7;
  d.ssn = 9;
  d.ppid = 51;
  d.beginning = true;
  d.end = true;
  d.unordered = true;
  d.immediate = true;
  d.payload = payload;
  const auto bytes = Bytes(d);
  // RFC 9260 §3.3.1: type 0, flags I U B E, length 16 + 5 = 21, padded to 24.
  ASSERT_EQ(bytes.size(), 24u);
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[1], 0x0f);
  EXPECT_EQ(LoadBe16(&bytes[2]), 21);
  EXPECT_EQ(LoadBe32(&bytes[4]), 0x01020304u);
  EXPECT_EQ(LoadBe16(&bytes[8]), 7);
  EXPECT_EQ(LoadBe16(&bytes[10]), 9);
  EXPECT_EQ(LoadBe32(&bytes[12]), 51u);
  EXPECT_EQ(bytes[21], 0);  // padding is zero
  auto parsed = DataChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->tsn, d.tsn);
  EXPECT_EQ(parsed->stream, 7);
  EXPECT_EQ(parsed->ssn, 9);
  EXPECT_EQ(parsed->ppid, 51u);
  EXPECT_TRUE(parsed->beginning && parsed->end && parsed->unordered && parsed->immediate);
  EXPECT_TRUE(std::equal(parsed->payload.begin(), parsed->payload.end(), payload.begin(), payload.end()));
}

TEST(DataChunkTest, RejectsShortOrInconsistent) {
  std::vector<uint8_t> b(15, 0);
  StoreBe16(&b[2], 15);
  EXPECT_FALSE(DataChunk::Parse(b));  // shorter than the 16-byte header
  std::vector<uint8_t> ok(20, 0);
  StoreBe16(&ok[2], 20);
  EXPECT_TRUE(DataChunk::Parse(ok));
  StoreBe16(&ok[2], 24);  // length field beyond the span
  EXPECT_FALSE(DataChunk::Parse(ok));
  ok[0] = 1;  // wrong type
  StoreBe16(&ok[2], 20);
  EXPECT_FALSE(DataChunk::Parse(ok));
  // An empty DATA parses (the association aborts with No User Data, RFC 9260 §6.2).
  std::vector<uint8_t> empty(16, 0);
  StoreBe16(&empty[2], 16);
  auto d = DataChunk::Parse(empty);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->payload.empty());
}

TEST(IDataChunkTest, RoundTripFirstAndMiddleFragments) {
  const auto payload = Payload(10);
  IDataChunk first;
  first.tsn = 100;
  first.stream = 3;
  first.mid = 0xdeadbeef;
  first.ppid = 53;
  first.beginning = true;
  first.payload = payload;
  auto bytes = Bytes(first);
  // RFC 8260 §2.1: 20-byte header; the PPID sits where later fragments carry the FSN.
  EXPECT_EQ(bytes[0], 64);
  EXPECT_EQ(LoadBe16(&bytes[2]), 30);
  EXPECT_EQ(LoadBe32(&bytes[16]), 53u);
  auto p = IDataChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->mid, 0xdeadbeefu);
  EXPECT_EQ(p->ppid, 53u);
  EXPECT_EQ(p->fsn, 0u);
  EXPECT_TRUE(p->beginning);
  EXPECT_FALSE(p->end);

  IDataChunk middle = first;
  middle.beginning = false;
  middle.end = true;
  middle.fsn = 4;
  middle.unordered = true;
  bytes = Bytes(middle);
  EXPECT_EQ(LoadBe32(&bytes[16]), 4u);
  p = IDataChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->fsn, 4u);
  EXPECT_EQ(p->ppid, 0u);
  EXPECT_TRUE(p->end && p->unordered);
  std::vector<uint8_t> short_chunk(19, 0);
  short_chunk[0] = 64;
  StoreBe16(&short_chunk[2], 19);
  EXPECT_FALSE(IDataChunk::Parse(short_chunk));
}

TEST(InitChunkTest, RoundTripWithExtensions) {
  InitChunk init;
  init.initiate_tag = 0x11223344;
  init.a_rwnd = 131072;
  init.outbound_streams = 1024;
  init.inbound_streams = 2048;
  init.initial_tsn = 0xfffffff0;
  init.supported_extensions = {chunk_type::kReConfig, chunk_type::kForwardTsn, chunk_type::kIData};
  init.forward_tsn_supported = true;
  const auto bytes = Bytes(init);
  EXPECT_EQ(bytes[0], 1);
  auto p = InitChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->initiate_tag, init.initiate_tag);
  EXPECT_EQ(p->a_rwnd, init.a_rwnd);
  EXPECT_EQ(p->outbound_streams, 1024);
  EXPECT_EQ(p->inbound_streams, 2048);
  EXPECT_EQ(p->initial_tsn, init.initial_tsn);
  EXPECT_TRUE(p->forward_tsn_supported);
  EXPECT_TRUE(p->SupportsExtension(chunk_type::kIData));
  EXPECT_FALSE(p->SupportsExtension(chunk_type::kIForwardTsn));
  EXPECT_FALSE(p->state_cookie);
  // An INIT is not an INIT ACK.
  EXPECT_FALSE(InitAckChunk::Parse(Unpadded(bytes)));
}

TEST(InitChunkTest, InitAckCarriesCookieAndUnrecognizedParameters) {
  InitAckChunk ack;
  ack.initiate_tag = 5;
  ack.a_rwnd = 1500;
  ack.outbound_streams = ack.inbound_streams = 1;
  ack.state_cookie = std::vector<uint8_t>{1, 2, 3, 4, 5};
  ack.unrecognized_parameters = {{0x40, 0x01, 0x00, 0x05, 0xaa}};
  const auto bytes = Bytes(ack);
  auto p = InitAckChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->state_cookie);
  EXPECT_EQ(*p->state_cookie, (std::vector<uint8_t>{1, 2, 3, 4, 5}));
  ASSERT_EQ(p->unrecognized_parameters.size(), 1u);
  EXPECT_EQ(p->unrecognized_parameters[0], ack.unrecognized_parameters[0]);
}

TEST(InitChunkTest, UnknownParametersFollowTheirTypeBits) {
  // RFC 9260 §3.2.1: 0x4xxx = stop and report, 0xCxxx = skip and report, 0x8xxx = skip silently.
  auto build = [](std::vector<std::pair<uint16_t, std::vector<uint8_t>>> params) {
    std::vector<uint8_t> out;
    ByteWriter w(out);
    w.WriteU8(1);
    w.WriteU8(0);
    w.WriteU16(0);
    w.WriteU32(1);
    w.WriteU32(100000);
    w.WriteU16(10);
    w.WriteU16(10);
    w.WriteU32(1);
    for (auto& [type, value] : params) WriteParameter(w, type, value);
    w.PatchU16(2, static_cast<uint16_t>(out.size()));
    return out;
  };
  auto p = InitChunk::Parse(build({{0xC123, {1, 2}}, {0x8123, {3}}, {param_type::kForwardTsnSupported, {}}}));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->unrecognized_to_report.size(), 1u);  // only the 0xC123 one is reported
  EXPECT_EQ(LoadBe16(p->unrecognized_to_report[0].data()), 0xC123);
  EXPECT_TRUE(p->forward_tsn_supported);  // processing continued
  p = InitChunk::Parse(build({{0x4123, {1}}, {param_type::kForwardTsnSupported, {}}}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->unrecognized_to_report.size(), 1u);
  EXPECT_FALSE(p->forward_tsn_supported);  // stopped at the 0x4123 parameter
  p = InitChunk::Parse(build({{0x0123, {1}}, {param_type::kForwardTsnSupported, {}}}));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->unrecognized_to_report.empty());
  EXPECT_FALSE(p->forward_tsn_supported);
}

TEST(InitChunkTest, RejectsBrokenParameterLengths) {
  InitChunk init;
  init.initiate_tag = 1;
  init.supported_extensions = {130};
  auto bytes = Bytes(init);
  auto chunk = std::vector<uint8_t>(Unpadded(bytes).begin(), Unpadded(bytes).end());
  StoreBe16(&chunk[22], 200);  // the parameter's length runs past the chunk
  EXPECT_FALSE(InitChunk::Parse(chunk));
  StoreBe16(&chunk[22], 3);  // shorter than a parameter header
  EXPECT_FALSE(InitChunk::Parse(chunk));
  std::vector<uint8_t> tiny(19, 0);
  tiny[0] = 1;
  StoreBe16(&tiny[2], 19);
  EXPECT_FALSE(InitChunk::Parse(tiny));
}

TEST(SackChunkTest, RoundTripWithGapsAndDuplicates) {
  SackChunk s;
  s.cumulative_tsn_ack = 1000;
  s.a_rwnd = 65536;
  s.gap_blocks = {{2, 3}, {5, 9}};
  s.duplicate_tsns = {999, 998};
  const auto bytes = Bytes(s);
  EXPECT_EQ(bytes.size(), s.SerializedSize());
  EXPECT_EQ(LoadBe16(&bytes[12]), 2);  // number of gap blocks
  EXPECT_EQ(LoadBe16(&bytes[14]), 2);  // number of duplicates
  auto p = SackChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->cumulative_tsn_ack, 1000u);
  EXPECT_EQ(p->a_rwnd, 65536u);
  EXPECT_EQ(p->gap_blocks, s.gap_blocks);
  EXPECT_EQ(p->duplicate_tsns, s.duplicate_tsns);
  auto bad = bytes;
  StoreBe16(&bad[12], 3);  // claims more gap blocks than present
  EXPECT_FALSE(SackChunk::Parse(bad));
}

TEST(HeartbeatChunkTest, RoundTripAndMandatoryInfo) {
  HeartbeatChunk hb;
  hb.info = {1, 2, 3, 4, 5, 6};
  auto bytes = Bytes(hb);
  auto p = HeartbeatChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->info, hb.info);
  HeartbeatAckChunk ack;
  ack.info = hb.info;
  bytes = Bytes(ack);
  EXPECT_EQ(bytes[0], 5);
  auto a = HeartbeatAckChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->info, hb.info);
  EXPECT_FALSE(HeartbeatChunk::Parse(Unpadded(bytes)));     // type mismatch
  std::vector<uint8_t> no_info = {4, 0, 0, 8, 0, 9, 0, 4};  // a parameter that is not Heartbeat Info
  EXPECT_FALSE(HeartbeatChunk::Parse(no_info));
}

TEST(AbortChunkTest, RoundTripCausesAndTBit) {
  AbortChunk a;
  a.tag_reflected = true;
  a.causes = {ErrorCause::UserInitiatedAbort("bye"), ErrorCause::NoUserData(77)};
  const auto bytes = Bytes(a);
  EXPECT_EQ(bytes[1], 1);
  auto p = AbortChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->tag_reflected);
  ASSERT_EQ(p->causes.size(), 2u);
  EXPECT_EQ(p->causes[0], a.causes[0]);
  EXPECT_EQ(p->causes[1], a.causes[1]);
  EXPECT_EQ(DescribeErrorCauses(p->causes), "User-Initiated Abort: bye; No User Data");
}

TEST(ErrorChunkTest, RoundTripAndSanitizedDescription) {
  ErrorChunk e;
  e.causes = {ErrorCause::ProtocolViolation(std::string("bad\x01thing")), ErrorCause::StaleCookie(1234)};
  auto p = ErrorChunk::Parse(Unpadded(Bytes(e)));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->causes.size(), 2u);
  EXPECT_EQ(p->causes[0].ToString(), "Protocol Violation: bad?thing");
  EXPECT_EQ(p->causes[1].code, cause_code::kStaleCookie);
  EXPECT_EQ(LoadBe32(p->causes[1].info.data()), 1234u);
}

TEST(ShutdownChunksTest, RoundTrips) {
  auto s = ShutdownChunk::Parse(Unpadded(Bytes(ShutdownChunk{0xabcdef01})));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->cumulative_tsn_ack, 0xabcdef01u);
  EXPECT_TRUE(ShutdownAckChunk::Parse(Unpadded(Bytes(ShutdownAckChunk{}))));
  auto c = ShutdownCompleteChunk::Parse(Unpadded(Bytes(ShutdownCompleteChunk{true})));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->tag_reflected);
  std::vector<uint8_t> long_shutdown = {7, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_FALSE(ShutdownChunk::Parse(long_shutdown));  // SHUTDOWN is exactly 8 bytes
}

TEST(CookieChunksTest, RoundTrips) {
  const std::vector<uint8_t> cookie = {9, 8, 7};
  const auto bytes = Bytes(CookieEchoChunk{cookie});
  auto e = CookieEchoChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(e);
  EXPECT_TRUE(std::equal(e->cookie.begin(), e->cookie.end(), cookie.begin(), cookie.end()));
  EXPECT_TRUE(CookieAckChunk::Parse(Unpadded(Bytes(CookieAckChunk{}))));
}

TEST(ForwardTsnChunkTest, RoundTrips) {
  ForwardTsnChunk f;
  f.new_cumulative_tsn = 42;
  f.skipped = {{1, 5}, {2, 65535}};
  const auto bytes = Bytes(f);
  EXPECT_EQ(bytes[0], 192);
  auto p = ForwardTsnChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->new_cumulative_tsn, 42u);
  EXPECT_EQ(p->skipped, f.skipped);
  auto bad = bytes;
  bad.push_back(0);
  bad.push_back(0);
  StoreBe16(&bad[2], static_cast<uint16_t>(bad.size()));
  EXPECT_FALSE(ForwardTsnChunk::Parse(bad));  // not a whole number of entries

  IForwardTsnChunk i;
  i.new_cumulative_tsn = 7;
  i.skipped = {{1, true, 9}, {4, false, 0xffffffff}};
  const auto ib = Bytes(i);
  EXPECT_EQ(ib[0], 194);
  auto ip = IForwardTsnChunk::Parse(Unpadded(ib));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->skipped, i.skipped);
}

TEST(ReConfigChunkTest, RequestAndResponseRoundTrip) {
  OutgoingSsnResetRequest req;
  req.request_sequence = 10;
  req.response_sequence = 20;
  req.senders_last_assigned_tsn = 30;
  req.streams = {1, 2, 3};
  ReconfigurationResponse resp;
  resp.response_sequence = 5;
  resp.result = ReconfigurationResponse::Result::kInProgress;
  ReConfigChunk c;
  c.parameters = {ReConfigChunk::Parameter::From(req), ReConfigChunk::Parameter::From(resp)};
  const auto bytes = Bytes(c);
  EXPECT_EQ(bytes[0], 130);
  // RFC 6525 §4.1: 16 + 2 * 3 = 22 bytes, padded to 24 before the next parameter.
  EXPECT_EQ(LoadBe16(&bytes[4]), 13);
  EXPECT_EQ(LoadBe16(&bytes[6]), 22);
  auto p = ReConfigChunk::Parse(Unpadded(bytes));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->parameters.size(), 2u);
  auto req2 = OutgoingSsnResetRequest::Parse(p->parameters[0].value);
  ASSERT_TRUE(req2);
  EXPECT_EQ(req2->request_sequence, 10u);
  EXPECT_EQ(req2->senders_last_assigned_tsn, 30u);
  EXPECT_EQ(req2->streams, req.streams);
  auto resp2 = ReconfigurationResponse::Parse(p->parameters[1].value);
  ASSERT_TRUE(resp2);
  EXPECT_EQ(resp2->result, ReconfigurationResponse::Result::kInProgress);
  EXPECT_FALSE(resp2->senders_next_tsn);

  IncomingSsnResetRequest in;
  in.request_sequence = 3;
  in.streams = {9};
  auto in2 = IncomingSsnResetRequest::Parse(in.SerializeValue());
  ASSERT_TRUE(in2);
  EXPECT_EQ(in2->streams, in.streams);
  // Odd stream list length and unknown result values are malformed.
  auto odd = req.SerializeValue();
  odd.push_back(0);
  EXPECT_FALSE(OutgoingSsnResetRequest::Parse(odd));
  auto bad_result = resp.SerializeValue();
  StoreBe32(&bad_result[4], 99);
  EXPECT_FALSE(ReconfigurationResponse::Parse(bad_result));
  // A RE-CONFIG with three parameters is malformed (RFC 6525 §3.1: one or two).
  c.parameters.push_back(c.parameters[0]);
  EXPECT_FALSE(ReConfigChunk::Parse(Unpadded(Bytes(c))));
}

TEST(PacketTest, Crc32cByteOrderMatchesRfc9260AppendixA) {
  // The CRC32c check value of "123456789" is 0xE3069283; SCTP stores it least significant byte first.
  EXPECT_EQ(crypto::Crc32c(AsBytes("123456789")), 0xE3069283u);
  std::vector<uint8_t> buffer;
  PacketBuilder b(buffer, 5000, 5000, 0x01020304, 1200);
  b.Add(CookieAckChunk{});
  const ByteSpan packet = b.Finish();
  ASSERT_EQ(packet.size(), 16u);
  std::vector<uint8_t> zeroed(packet.begin(), packet.end());
  std::memset(&zeroed[8], 0, 4);
  const uint32_t crc = crypto::Crc32c(zeroed);
  EXPECT_EQ(packet[8], crc & 0xff);
  EXPECT_EQ(packet[11], crc >> 24);
  auto view = PacketView::Parse(packet);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header().verification_tag, 0x01020304u);
  EXPECT_EQ(view->chunk_count(), 1u);
  std::vector<uint8_t> corrupt(packet.begin(), packet.end());
  corrupt[13] ^= 0x10;
  EXPECT_FALSE(PacketView::Parse(corrupt));
  EXPECT_TRUE(PacketView::Parse(corrupt, /*verify_checksum=*/false));
}

TEST(Crc32cTest, MatchesCoreImplementationAtEverySizeAndAlignment) {
  std::vector<uint8_t> data(3000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + (i >> 7));
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t size : {0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1199, 1200, 2991}) {
      const ByteSpan span(data.data() + offset, size);
      ASSERT_EQ(Crc32c(span), crypto::Crc32c(span)) << offset << " " << size;
      // Incremental in two parts.
      const size_t cut = size / 3;
      EXPECT_EQ(Crc32cFinish(Crc32cExtend(Crc32cExtend(kCrc32cInit, span.first(cut)), span.subspan(cut))),
                crypto::Crc32c(span));
    }
  }
  EXPECT_EQ(Crc32c(AsBytes("123456789")), 0xE3069283u);
}

TEST(PacketTest, KnownPacketFromTheWire) {
  // A COOKIE ACK packet from ports 5000 to 5000 with tag 0x0a0b0c0d, checksum computed independently:
  // CRC32c over the 16 bytes with a zero checksum field, stored least significant byte first.
  std::vector<uint8_t> packet = {0x13, 0x88, 0x13, 0x88, 0x0a, 0x0b, 0x0c, 0x0d,
                                 0,    0,    0,    0,    0x0b, 0x00, 0x00, 0x04};
  const uint32_t crc = crypto::Crc32c(packet);
  packet[8] = crc & 0xff;
  packet[9] = (crc >> 8) & 0xff;
  packet[10] = (crc >> 16) & 0xff;
  packet[11] = crc >> 24;
  auto view = PacketView::Parse(packet);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header().source_port, 5000);
  EXPECT_EQ(view->begin()->type, chunk_type::kCookieAck);
}

TEST(PacketTest, RejectsBadFraming) {
  std::vector<uint8_t> buffer;
  PacketBuilder b(buffer, 1, 2, 3, 1200);
  b.Add(ShutdownChunk{5});
  b.Add(CookieAckChunk{});
  std::vector<uint8_t> packet(b.Finish().begin(), b.Finish().end());
  EXPECT_TRUE(PacketView::Parse(packet));
  {
    auto p = PacketView::Parse(packet);
    std::vector<uint8_t> types;
    for (const ChunkView& c : *p) types.push_back(c.type);
    EXPECT_EQ(types, (std::vector<uint8_t>{7, 11}));
  }
  auto bad = packet;
  StoreBe16(&bad[14], 2);  // chunk length < 4
  EXPECT_FALSE(PacketView::Parse(bad, false));
  bad = packet;
  StoreBe16(&bad[14], 100);  // past the end
  EXPECT_FALSE(PacketView::Parse(bad, false));
  bad = packet;
  bad.push_back(1);  // a stray byte cannot be a chunk header
  EXPECT_FALSE(PacketView::Parse(bad, false));
  EXPECT_FALSE(PacketView::Parse(ByteSpan(packet).first(12), false));  // no chunks
  EXPECT_FALSE(PacketView::Parse(ByteSpan(packet).first(8), false));
}

TEST(StateCookieTest, SignedRoundTripAndTamperDetection) {
  const std::vector<uint8_t> key(32, 7);
  StateCookie c;
  c.created_at = Timestamp::Millis(123456);
  c.my_tag = 1;
  c.my_initial_tsn = 2;
  c.peer_tag = 3;
  c.peer_initial_tsn = 4;
  c.peer_a_rwnd = 5;
  c.peer_outbound_streams = 6;
  c.peer_inbound_streams = 7;
  c.peer_forward_tsn = true;
  c.peer_interleaving = true;
  c.local_tie_tag = 8;
  c.peer_tie_tag = 9;
  auto bytes = c.Serialize(key);
  ASSERT_EQ(bytes.size(), StateCookie::kSerializedSize);
  auto p = StateCookie::Parse(bytes, key);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->created_at, c.created_at);
  EXPECT_EQ(p->peer_tag, 3u);
  EXPECT_EQ(p->peer_tie_tag, 9u);
  EXPECT_TRUE(p->peer_forward_tsn);
  EXPECT_FALSE(p->peer_reconfig);
  EXPECT_TRUE(p->peer_interleaving);
  bytes[10] ^= 1;
  EXPECT_FALSE(StateCookie::Parse(bytes, key));
  bytes[10] ^= 1;
  EXPECT_FALSE(StateCookie::Parse(bytes, std::vector<uint8_t>(32, 8)));  // another key
  bytes.pop_back();
  EXPECT_FALSE(StateCookie::Parse(bytes, key));
}

}  // namespace
}  // namespace tandem::sctp
