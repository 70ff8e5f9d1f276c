// RTCP packet types (RFC 3550 §6.4-§6.6, RFC 4585 §6.2.1/§6.3.1, RFC 5104 §4.3.1, REMB) and compound parsing
// and building: hand-assembled wire bytes, round trips, and malformed input.
#include <gtest/gtest.h>

#include <vector>

#include "rtp/ntp_time.h"
#include "rtp/rtcp_compound.h"
#include "rtp/rtcp_packets.h"

namespace tandem::rtp {
namespace {

std::vector<uint8_t> Bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

RtcpHeader Only(const std::vector<uint8_t>& packet) {
  RtcpPacketIterator it(packet);
  auto h = it.Next();
  EXPECT_TRUE(h.has_value());
  EXPECT_FALSE(it.Next().has_value());
  EXPECT_FALSE(it.error());
  return h.value_or(RtcpHeader{});
}

template <typename T>
std::vector<uint8_t> Serialize(const T& p) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  EXPECT_TRUE(p.SerializeTo(w));
  EXPECT_EQ(out.size(), p.SerializedSize());
  return out;
}

TEST(RtcpIteratorTest, FramingAndPadding) {
  // Two packets: an empty RR, then a PLI with P set and 4 bytes of padding (length counts them).
  const auto c = Bytes({0x80, 0xC9, 0x00, 0x01, 0, 0, 0, 1,  //
                        0xA1, 0xCE, 0x00, 0x03, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4});
  RtcpPacketIterator it(c);
  auto a = it.Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->packet_type, rtcp_type::kReceiverReport);
  EXPECT_EQ(a->payload.size(), 4u);
  auto b = it.Next();
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->padding);
  EXPECT_EQ(b->count, psfb_fmt::kPli);
  EXPECT_EQ(b->payload.size(), 8u);
  EXPECT_EQ(b->packet.size(), 16u);
  EXPECT_FALSE(it.Next());
  EXPECT_FALSE(it.error());
  EXPECT_TRUE(IsValidRtcpCompound(c));

  // Length past the end, version 1, padding count 0, trailing garbage, empty.
  EXPECT_FALSE(IsValidRtcpCompound(Bytes({0x80, 0xC9, 0x00, 0x02, 0, 0, 0, 1})));
  EXPECT_FALSE(IsValidRtcpCompound(Bytes({0x40, 0xC9, 0x00, 0x01, 0, 0, 0, 1})));
  EXPECT_FALSE(IsValidRtcpCompound(Bytes({0xA0, 0xC9, 0x00, 0x01, 0, 0, 0, 0})));
  EXPECT_FALSE(IsValidRtcpCompound(Bytes({0x80, 0xC9, 0x00, 0x01, 0, 0, 0, 1, 0x80})));
  EXPECT_FALSE(IsValidRtcpCompound({}));
}

TEST(SenderReportTest, WireLayoutAndRoundTrip) {
  // RFC 3550 §6.4.1, one report block.
  const auto wire = Bytes({0x81, 0xC8, 0x00, 0x0C,                          // RC=1, PT=200, 13 words
                           0x11, 0x22, 0x33, 0x44,                          // SSRC of sender
                           0x83, 0xAA, 0x7E, 0x80, 0x80, 0x00, 0x00, 0x00,  // NTP: Unix epoch + 0.5 s
                           0x00, 0x01, 0x5F, 0x90,                          // RTP timestamp 90000
                           0x00, 0x00, 0x00, 0x0A,                          // packet count
                           0x00, 0x00, 0x03, 0xE8,                          // octet count
                           0x55, 0x66, 0x77, 0x88,                          // block: SSRC_1
                           0x40, 0xFF, 0xFF, 0xFE,                          // fraction 1/4, lost -2
                           0x00, 0x01, 0x00, 0x05,                          // ext. highest seq
                           0x00, 0x00, 0x00, 0x20,                          // jitter
                           0xB7, 0x05, 0x20, 0x00,                          // LSR
                           0x00, 0x05, 0x40, 0x00});                        // DLSR 5.25 s
  auto sr = SenderReport::Parse(Only(wire));
  ASSERT_TRUE(sr);
  EXPECT_EQ(sr->sender_ssrc, 0x11223344u);
  EXPECT_EQ(NtpTime(sr->ntp_timestamp).seconds(), 0x83AA7E80u);
  EXPECT_EQ(NtpTime(sr->ntp_timestamp).fraction(), 0x80000000u);
  EXPECT_EQ(sr->rtp_timestamp, 90000u);
  EXPECT_EQ(sr->packet_count, 10u);
  EXPECT_EQ(sr->octet_count, 1000u);
  ASSERT_EQ(sr->report_blocks.size(), 1u);
  const ReportBlock& b = sr->report_blocks[0];
  EXPECT_EQ(b.source_ssrc, 0x55667788u);
  EXPECT_EQ(b.fraction_lost, 0x40);
  EXPECT_EQ(b.cumulative_lost, -2);  // 24-bit two's complement
  EXPECT_EQ(b.extended_highest_sequence, 0x00010005u);
  EXPECT_EQ(b.jitter, 32u);
  EXPECT_EQ(b.last_sr, 0xB7052000u);
  EXPECT_EQ(b.delay_since_last_sr, 0x00054000u);
  EXPECT_EQ(Serialize(*sr), wire);

  // RC says two blocks but only one is there.
  auto bad = wire;
  bad[0] = 0x82;
  EXPECT_FALSE(SenderReport::Parse(Only(bad)));
}

TEST(ReceiverReportTest, RoundTripClampsLostAndRejectsTooManyBlocks) {
  ReceiverReport rr;
  rr.sender_ssrc = 1;
  ReportBlock b;
  b.source_ssrc = 2;
  b.cumulative_lost = 10'000'000;  // beyond 24 bits: clamped to 0x7FFFFF on the wire
  rr.report_blocks.push_back(b);
  const auto wire = Serialize(rr);
  EXPECT_EQ(wire.size(), 32u);
  EXPECT_EQ(wire[0], 0x81);
  EXPECT_EQ(wire[1], 201);
  auto parsed = ReceiverReport::Parse(Only(wire));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->report_blocks[0].cumulative_lost, ReportBlock::kMaxCumulativeLost);
  b.cumulative_lost = -10'000'000;
  rr.report_blocks = {b};
  EXPECT_EQ(ReceiverReport::Parse(Only(Serialize(rr)))->report_blocks[0].cumulative_lost,
            ReportBlock::kMinCumulativeLost);
  rr.report_blocks.assign(32, b);
  std::vector<uint8_t> out;
  ByteWriter w(out);
  EXPECT_FALSE(rr.SerializeTo(w));
  EXPECT_TRUE(out.empty());
  // Profile-specific extension after the blocks is ignored.
  rr.report_blocks.clear();
  auto ext = Serialize(rr);
  ext[3] = 2;
  ext.insert(ext.end(), {9, 9, 9, 9});
  EXPECT_TRUE(ReceiverReport::Parse(Only(ext)));
}

TEST(SdesTest, CnameWireLayoutAndRoundTrip) {
  // RFC 3550 §6.5: SSRC, CNAME item (type 1, length 8), a terminating null and padding to 32 bits.
  const auto wire = Bytes({0x81, 0xCA, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x01, 0x08,
                           'a',  'b',  'c',  'd',  'e',  'f',  'g',  'h',  0x00, 0x00});
  auto sdes = Sdes::Parse(Only(wire));
  ASSERT_TRUE(sdes);
  ASSERT_EQ(sdes->chunks.size(), 1u);
  EXPECT_EQ(sdes->chunks[0].ssrc, 1u);
  ASSERT_NE(sdes->chunks[0].cname(), nullptr);
  EXPECT_EQ(*sdes->chunks[0].cname(), "abcdefgh");
  EXPECT_EQ(Serialize(*sdes), wire);

  // Two chunks, one with no items (a whole word of nulls), one with CNAME and a NOTE.
  Sdes two;
  two.chunks.push_back({7, {}});
  two.chunks.push_back({8, {{Sdes::kCname, "x"}, {7, "note"}}});
  auto parsed = Sdes::Parse(Only(Serialize(two)));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, two);
  EXPECT_EQ(parsed->chunks[0].cname(), nullptr);

  // An item running past the packet.
  auto bad = wire;
  bad[9] = 0x20;
  EXPECT_FALSE(Sdes::Parse(Only(bad)));
}

TEST(ByeTest, WithAndWithoutReason) {
  Bye bye;
  bye.ssrcs = {1, 2};
  const auto plain = Serialize(bye);
  EXPECT_EQ(plain.size(), 12u);
  EXPECT_EQ(plain[0], 0x82);
  EXPECT_EQ(*Bye::Parse(Only(plain)), bye);
  bye.reason = "bye!";
  const auto with_reason = Serialize(bye);
  EXPECT_EQ(with_reason.size(), 20u);  // 1 length byte + 4, padded to 8
  EXPECT_EQ(with_reason[12], 4);
  EXPECT_EQ(*Bye::Parse(Only(with_reason)), bye);
  auto bad = with_reason;
  bad[12] = 9;  // reason length past the end
  EXPECT_FALSE(Bye::Parse(Only(bad)));
}

TEST(NackTest, Rfc4585FciBitmask) {
  // RFC 4585 §6.2.1: PID 100 with BLP 0b0000000000000101 asks for 100, 101 and 103.
  const auto wire = Bytes({0x81, 0xCD, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x64, 0x00, 0x05});
  auto nack = Nack::Parse(Only(wire));
  ASSERT_TRUE(nack);
  EXPECT_EQ(nack->sender_ssrc, 1u);
  EXPECT_EQ(nack->media_ssrc, 2u);
  EXPECT_EQ(nack->packet_ids, (std::vector<uint16_t>{100, 101, 103}));
  EXPECT_EQ(Serialize(*nack), wire);
}

TEST(NackTest, PackingAcrossItemsAndWrap) {
  Nack nack;
  nack.sender_ssrc = 1;
  nack.media_ssrc = 2;
  // 65534 covers 65535..14 (BLP bits 0..15); 15 starts a second item; 40 a third.
  nack.packet_ids = {65534, 65535, 0, 14, 15, 40};
  const auto wire = Serialize(nack);
  ASSERT_EQ(wire.size(), 12u + 3 * 4);
  EXPECT_EQ(LoadBe16(&wire[12]), 65534);
  EXPECT_EQ(LoadBe16(&wire[14]), (1u << 0) | (1u << 1) | (1u << 15));
  EXPECT_EQ(LoadBe16(&wire[16]), 15);
  EXPECT_EQ(LoadBe16(&wire[18]), 0);
  EXPECT_EQ(LoadBe16(&wire[20]), 40);
  EXPECT_EQ(Nack::Parse(Only(wire))->packet_ids, nack.packet_ids);
  // Seventeen consecutive numbers fit one item (PID + 16 BLP bits); the eighteenth starts a second one.
  nack.packet_ids.clear();
  for (uint16_t s = 1000; s < 1017; ++s) nack.packet_ids.push_back(s);
  EXPECT_EQ(Serialize(nack).size(), 12u + 4);
  nack.packet_ids.push_back(1017);
  const auto full = Serialize(nack);
  ASSERT_EQ(full.size(), 12u + 2 * 4);
  EXPECT_EQ(LoadBe16(&full[14]), 0xFFFF);
  EXPECT_EQ(LoadBe16(&full[16]), 1017);
  EXPECT_EQ(Nack::Parse(Only(full))->packet_ids, nack.packet_ids);
  // No FCI at all, and an empty request list, are refused.
  EXPECT_FALSE(Nack::Parse(Only(Bytes({0x81, 0xCD, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2}))));
  std::vector<uint8_t> out;
  ByteWriter w(out);
  EXPECT_FALSE(Nack{}.SerializeTo(w));
}

TEST(PsfbTest, PliAndFir) {
  const auto pli_wire = Bytes({0x81, 0xCE, 0x00, 0x02, 0, 0, 0, 5, 0, 0, 0, 6});
  auto pli = Pli::Parse(Only(pli_wire));
  ASSERT_TRUE(pli);
  EXPECT_EQ(pli->sender_ssrc, 5u);
  EXPECT_EQ(pli->media_ssrc, 6u);
  EXPECT_EQ(Serialize(*pli), pli_wire);
  EXPECT_FALSE(Fir::Parse(Only(pli_wire)));  // FMT mismatch

  // RFC 5104 §4.3.1: media SSRC zero, FCI = target SSRC, command sequence number, 3 reserved bytes.
  const auto fir_wire = Bytes({0x84, 0xCE, 0x00, 0x04, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0x2A, 0, 0, 0});
  auto fir = Fir::Parse(Only(fir_wire));
  ASSERT_TRUE(fir);
  EXPECT_EQ(fir->sender_ssrc, 5u);
  ASSERT_EQ(fir->requests.size(), 1u);
  EXPECT_EQ(fir->requests[0].ssrc, 6u);
  EXPECT_EQ(fir->requests[0].sequence_number, 42);
  EXPECT_EQ(Serialize(*fir), fir_wire);
  auto short_fir = fir_wire;
  short_fir[3] = 3;
  short_fir.resize(16);
  EXPECT_FALSE(Fir::Parse(Only(short_fir)));
}

TEST(RembTest, WireLayoutExponentAndMantissa) {
  // 1 000 000 bps = 250000 << 2: exponent 2, mantissa 0x3D090.
  const auto wire = Bytes({0x8F, 0xCE, 0x00, 0x05, 0,    0,    0,    9,    0,    0,    0,    0,
                           'R',  'E',  'M',  'B',  0x01, 0x0B, 0xD0, 0x90, 0x12, 0x34, 0x56, 0x78});
  auto remb = Remb::Parse(Only(wire));
  ASSERT_TRUE(remb);
  EXPECT_EQ(remb->sender_ssrc, 9u);
  EXPECT_EQ(remb->bitrate_bps, 1000000u);
  EXPECT_EQ(remb->ssrcs, (std::vector<uint32_t>{0x12345678}));
  EXPECT_EQ(Serialize(*remb), wire);
  // Large values lose low bits (18-bit mantissa) but never round up.
  Remb big{1, 123456789012ull, {}};
  auto parsed = Remb::Parse(Only(Serialize(big)));
  ASSERT_TRUE(parsed);
  EXPECT_LE(parsed->bitrate_bps, big.bitrate_bps);
  EXPECT_GT(parsed->bitrate_bps, big.bitrate_bps - (big.bitrate_bps >> 17));
  // Not "REMB", and an exponent that overflows 64 bits.
  auto other = wire;
  other[12] = 'X';
  EXPECT_FALSE(Remb::Parse(Only(other)));
  auto overflow = wire;
  overflow[17] = 0xFF;  // exponent 63 with a non-zero mantissa
  EXPECT_FALSE(Remb::Parse(Only(overflow)));
}

TEST(RtcpCompoundTest, ParsesKnownSkipsUnknownCountsMalformed) {
  std::vector<uint8_t> buf;
  RtcpCompoundBuilder builder(buf);
  SenderReport sr;
  sr.sender_ssrc = 1;
  sr.ntp_timestamp = NtpTime::FromParts(100, 0).value();
  ASSERT_TRUE(builder.Add(sr));
  Sdes sdes;
  sdes.chunks.push_back({1, {{Sdes::kCname, "tandem"}}});
  ASSERT_TRUE(builder.Add(sdes));
  ASSERT_TRUE(builder.Add(RtcpPacket(Pli{1, 2})));
  // APP (RFC 3550 §6.7), an XR, and a TMMBR (RTPFB FMT 3): skipped.
  const auto app = Bytes({0x80, 0xCC, 0x00, 0x02, 0, 0, 0, 1, 'n', 'a', 'm', 'e'});
  const auto xr = Bytes({0x80, 0xCF, 0x00, 0x01, 0, 0, 0, 1});
  const auto tmmbr = Bytes({0x83, 0xCD, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2});
  // A NACK without FCI: well framed, malformed content.
  const auto bad_nack = Bytes({0x81, 0xCD, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2});
  for (const auto* extra : {&app, &xr, &tmmbr, &bad_nack})
    buf.insert(buf.end(), extra->begin(), extra->end());
  ASSERT_TRUE(builder.Add(Remb{1, 500000, {2}}));

  auto parsed = ParseRtcpCompound(buf);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  ASSERT_EQ(parsed->packets.size(), 4u);
  EXPECT_TRUE(std::holds_alternative<SenderReport>(parsed->packets[0]));
  EXPECT_EQ(*std::get<Sdes>(parsed->packets[1]).chunks[0].cname(), "tandem");
  EXPECT_EQ(std::get<Pli>(parsed->packets[2]).media_ssrc, 2u);
  EXPECT_EQ(std::get<Remb>(parsed->packets[3]).bitrate_bps, 500000u);
  EXPECT_EQ(parsed->skipped, 3u);
  EXPECT_EQ(parsed->malformed, 1u);

  // Broken framing anywhere rejects the whole compound.
  buf.push_back(0x80);
  EXPECT_FALSE(ParseRtcpCompound(buf).ok());
  EXPECT_FALSE(ParseRtcpCompound({}).ok());
}

TEST(RtcpCompoundTest, BuilderRespectsMaxSize) {
  std::vector<uint8_t> buf;
  RtcpCompoundBuilder builder(buf, 40);
  ReceiverReport rr{1, {ReportBlock{}}};  // 32 bytes
  ASSERT_TRUE(builder.Add(rr));
  EXPECT_FALSE(builder.Add(Pli{1, 2}));  // 12 more would make 44
  EXPECT_EQ(builder.size(), 32u);
  EXPECT_EQ(builder.remaining(), 8u);
  Bye too_many;
  too_many.ssrcs.assign(1, 1);
  too_many.reason = std::string(300, 'x');  // not encodable: nothing written
  RtcpCompoundBuilder big(buf, 2000);
  EXPECT_FALSE(big.Add(too_many));
  EXPECT_TRUE(big.empty());
}

TEST(NtpTimeTest, ConversionsAndRfc3550RttExample) {
  // RFC 3550 §6.4.1 example: A = 0xb710:8000 (46864.5 s), LSR = 0xb705:2000 (46853.125 s),
  // DLSR = 0x0005:4000 (5.25 s) -> delay 0x0006:2000 (6.125 s).
  auto rtt = RttFromCompactNtp(0xB7108000u, 0xB7052000u, 0x00054000u);
  ASSERT_TRUE(rtt);
  EXPECT_EQ(rtt->us(), 6125000);
  EXPECT_FALSE(RttFromCompactNtp(0xB7108000u, 0, 0x00054000u));            // no SR received yet
  EXPECT_FALSE(RttFromCompactNtp(0xB7050000u, 0xB7052000u, 0x00054000u));  // negative
  // Unix epoch is NTP 2208988800; half a second is fraction 2^31.
  const NtpTime t = NtpTime::FromUnixMicros(500000);
  EXPECT_EQ(t.seconds(), 2208988800u);
  EXPECT_EQ(t.fraction(), 0x80000000u);
  EXPECT_EQ(t.ToUnixMicros(), 500000);
  EXPECT_EQ(NtpTime::FromUnixMicros(1700000000123456).ToUnixMicros(), 1700000000123456);
  EXPECT_EQ(NtpTime::FromParts(0x12345678, 0x9ABCDEF0).Compact(), 0x56789ABCu);
  EXPECT_EQ(DeltaToCompactNtp(TimeDelta::Millis(5250)), 0x00054000u);
  EXPECT_EQ(CompactNtpToDelta(0x00054000u).us(), 5250000);
}

}  // namespace
}  // namespace tandem::rtp
