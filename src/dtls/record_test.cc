// DTLS record header parsing and the epoch-0 plaintext checks (RFC 6347 §4.1, §4.2.2).
#include "dtls/record.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::dtls {
namespace {

std::vector<uint8_t> Record(uint8_t type, uint16_t epoch, uint64_t seq, const std::vector<uint8_t>& body,
                            uint16_t version = 0xFEFD) {
  std::vector<uint8_t> r = {type, static_cast<uint8_t>(version >> 8), static_cast<uint8_t>(version),
                            static_cast<uint8_t>(epoch >> 8), static_cast<uint8_t>(epoch)};
  for (int shift = 40; shift >= 0; shift -= 8) r.push_back(static_cast<uint8_t>(seq >> shift));
  r.push_back(static_cast<uint8_t>(body.size() >> 8));
  r.push_back(static_cast<uint8_t>(body.size()));
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

// A handshake fragment: msg_type, length, message_seq, fragment_offset, fragment_length, then the bytes.
std::vector<uint8_t> Fragment(uint32_t length, uint32_t offset, uint32_t fragment_length, size_t body) {
  std::vector<uint8_t> f = {1,
                            static_cast<uint8_t>(length >> 16),
                            static_cast<uint8_t>(length >> 8),
                            static_cast<uint8_t>(length),
                            0,
                            0,
                            static_cast<uint8_t>(offset >> 16),
                            static_cast<uint8_t>(offset >> 8),
                            static_cast<uint8_t>(offset),
                            static_cast<uint8_t>(fragment_length >> 16),
                            static_cast<uint8_t>(fragment_length >> 8),
                            static_cast<uint8_t>(fragment_length)};
  f.resize(f.size() + body, 0xAB);
  return f;
}

TEST(RecordTest, ParsesHeader) {
  auto r = Record(23, 1, 0x0102030405, {9, 9, 9});
  auto h = RecordHeader::Parse(r);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->type, ContentType::kApplicationData);
  EXPECT_EQ(h->version, 0xFEFD);
  EXPECT_EQ(h->epoch, 1);
  EXPECT_EQ(h->sequence_number, 0x0102030405u);
  EXPECT_EQ(h->length, 3);
  EXPECT_EQ(h->record_size(), 16u);
}

TEST(RecordTest, RejectsBadHeaders) {
  auto good = Record(22, 0, 0, {1, 2});
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(RecordHeader::Parse(ByteSpan(good).first(n))) << "truncated to " << n;
  }
  EXPECT_FALSE(RecordHeader::Parse(Record(19, 0, 0, {1})));
  EXPECT_FALSE(RecordHeader::Parse(Record(24, 0, 0, {1})));          // heartbeat
  EXPECT_FALSE(RecordHeader::Parse(Record(22, 0, 0, {1}, 0x0303)));  // TLS 1.2
  EXPECT_TRUE(RecordHeader::Parse(Record(22, 0, 0, {1}, 0xFEFF)));   // DTLS 1.0 ClientHello record
  std::vector<uint8_t> huge = Record(23, 1, 0, {});
  huge[11] = 0x48;  // 18433 > 2^14 + 2048
  huge[12] = 0x01;
  huge.resize(huge.size() + 18433);
  EXPECT_FALSE(RecordHeader::Parse(huge));
}

TEST(RecordTest, ForEachRecordSplitsADatagram) {
  auto a = Record(22, 0, 1, Fragment(4, 0, 4, 4));
  auto b = Record(20, 0, 2, {1});
  auto c = Record(22, 1, 0, std::vector<uint8_t>(40, 7));
  std::vector<uint8_t> datagram = a;
  datagram.insert(datagram.end(), b.begin(), b.end());
  datagram.insert(datagram.end(), c.begin(), c.end());
  std::vector<size_t> sizes;
  EXPECT_TRUE(ForEachRecord(datagram, [&](const RecordHeader& h, ByteSpan r) {
    sizes.push_back(r.size());
    EXPECT_EQ(h.record_size(), r.size());
  }));
  EXPECT_EQ(sizes, (std::vector<size_t>{a.size(), b.size(), c.size()}));
  datagram.push_back(0);  // trailing junk
  sizes.clear();
  EXPECT_FALSE(ForEachRecord(datagram, [&](const RecordHeader&, ByteSpan r) { sizes.push_back(r.size()); }));
  EXPECT_EQ(sizes.size(), 3u);
  EXPECT_FALSE(ForEachRecord({}, [](const RecordHeader&, ByteSpan) {}));
}

TEST(RecordTest, WellFormedPlaintext) {
  auto check = [](const std::vector<uint8_t>& r) { return IsWellFormedRecord(*RecordHeader::Parse(r), r); };
  EXPECT_TRUE(check(Record(20, 0, 0, {1})));
  EXPECT_FALSE(check(Record(20, 0, 0, {2})));
  EXPECT_FALSE(check(Record(20, 0, 0, {1, 1})));
  EXPECT_TRUE(check(Record(21, 0, 0, {2, 40})));
  EXPECT_TRUE(check(Record(21, 0, 0, {1, 0})));
  EXPECT_FALSE(check(Record(21, 0, 0, {3, 40})));
  EXPECT_FALSE(check(Record(21, 0, 0, {2})));
  EXPECT_FALSE(check(Record(23, 0, 0, {1, 2, 3})));  // application data is never plaintext
  EXPECT_TRUE(check(Record(22, 0, 0, Fragment(100, 0, 10, 10))));
  EXPECT_TRUE(check(Record(22, 0, 0, Fragment(100, 90, 10, 10))));
  EXPECT_TRUE(check(Record(22, 0, 0, Fragment(0, 0, 0, 0))));        // e.g. ServerHelloDone
  EXPECT_FALSE(check(Record(22, 0, 0, Fragment(100, 91, 10, 10))));  // past the message end
  EXPECT_FALSE(check(Record(22, 0, 0, Fragment(100, 0, 11, 10))));   // fragment_length vs record length
  EXPECT_FALSE(check(Record(22, 0, 0, Fragment(100, 0, 9, 10))));
  EXPECT_FALSE(check(Record(22, 0, 0, {1, 0, 0})));  // shorter than the handshake header
  // Later epochs are encrypted: left to OpenSSL's MAC check.
  EXPECT_TRUE(check(Record(23, 1, 0, {1, 2, 3})));
  EXPECT_TRUE(check(Record(22, 1, 0, {1})));
}

}  // namespace
}  // namespace tandem::dtls
